package endpoint

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sessionless/sessionless/token/authcode"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/consent"
)

// codeGrant redeems an authorization code (RFC 6749 §4.1.3, RFC 7636
// §4.5): the code must be the client's, for the same redirect URI, with
// the verifier of its challenge, and with a proof by its DPoP key when
// the request named one (dpop_jkt). The tokens carry the scopes granted
// that the user still holds; the refresh family records the client, the
// resource and the DPoP key (a proof at the token request binds the
// tokens when the code was not bound).
func (s *Server) codeGrant(r *http.Request, form url.Values, c clients.Client, jkt string) (issued, error) {
	code, verifier := form.Get("code"), form.Get("code_verifier")
	switch {
	case code == "":
		return issued{}, invalidRequest("code is required")
	case verifier == "":
		return issued{}, invalidRequest("code_verifier is required (PKCE, RFC 7636)")
	case len(r.Header.Values(TokenDeliveryHeader)) > 0:
		return issued{}, invalidRequest("%s is for the login endpoint", TokenDeliveryHeader)
	}
	aud, err := s.resource(form)
	if err != nil {
		return issued{}, err
	}
	var t issued
	_, _, err = s.authz.codes.Redeem(r.Context(), code, c.ID, form.Get("redirect_uri"), verifier,
		func(ctx context.Context, g authcode.Grant) (authcode.Issued, error) {
			if g.Resource != "" {
				aud = []string{g.Resource}
			}
			u, err := s.cfg.Users.UserBySubject(ctx, g.Subject)
			if errors.Is(err, ErrUnknownUser) {
				return authcode.Issued{}, &oauthError{http.StatusBadRequest, "invalid_grant", "the user of this code no longer exists"}
			}
			if err != nil {
				return authcode.Issued{}, err
			}
			var held []string
			for sc := range strings.FieldsSeq(g.Scope) {
				if slices.Contains(u.Scopes, sc) {
					held = append(held, sc)
				}
			}
			if t, err = s.issueTokensFor(r, c, u, "", strings.Join(held, " "), cmp.Or(g.JKT, jkt), aud, false); err != nil {
				return authcode.Issued{}, err
			}
			return authcode.Issued{RefreshFamily: t.family, AccessIssuer: t.claims.Issuer, AccessID: t.claims.ID,
				AccessExpiresAt: t.claims.ExpiresAt}, nil
		}, authcode.DPoPKey(jkt), authcode.CheckGrant(func(g authcode.Grant) error {
			// A code granted for one resource stays for it (RFC 8707
			// §2.2); refused before the code is spent.
			if g.Resource != "" && aud != nil && aud[0] != g.Resource {
				return &oauthError{http.StatusBadRequest, "invalid_target", "the code was granted for another resource"}
			}
			// A consent withdrawn since the code was issued withdraws it.
			return s.checkConsent(r.Context(), c, g.Subject, g.Scope)
		}))
	if errors.Is(err, authcode.ErrInvalidGrant) {
		if errors.Is(err, authcode.ErrReused) {
			s.log.WarnContext(r.Context(), "authorization code reused: its tokens revoked", "client_id", c.ID)
			s.audit(r, Event{Kind: CodeReused, ClientID: c.ID})
		}
		return issued{}, &oauthError{http.StatusBadRequest, "invalid_grant", codeDescription(err)}
	}
	if err != nil {
		return issued{}, err
	}
	if reg, ok := s.authz.clients.(interface {
		MarkUsed(context.Context, clients.Client) error
	}); ok {
		// An unused registration expires; this one is in use now. A
		// failure costs the client its registration later, not these
		// tokens.
		if err := reg.MarkUsed(r.Context(), c); err != nil {
			s.log.WarnContext(r.Context(), "marking a client registration used", "client_id", c.ID, "err", err)
		}
	}
	s.log.InfoContext(r.Context(), "authorization code redeemed", "sub", t.claims.Subject, "jti", t.claims.ID, "client_id", c.ID)
	return t, nil
}

// errConsentWithdrawn: the user withdrew the consent a code or refresh
// token of a third-party client stands on.
var errConsentWithdrawn = &oauthError{http.StatusBadRequest, "invalid_grant", "the user has withdrawn the consent to this client"}

// checkConsent refuses a grant of scope to the third-party client c for
// subject that the user's consent no longer covers: withdrawn since
// (DELETE …/consents), codes and refresh tokens stop at once. A
// first-party client needs no consent.
func (s *Server) checkConsent(ctx context.Context, c clients.Client, subject, scope string) error {
	if c.FirstParty || s.authz == nil {
		return nil
	}
	have, err := s.authz.consents.Get(ctx, subject, c.ID)
	if errors.Is(err, consent.ErrNotFound) {
		return errConsentWithdrawn
	}
	if err != nil {
		return err
	}
	if !consent.Covers(have, strings.Fields(scope)) {
		return errConsentWithdrawn
	}
	return nil
}

// codeDescription says why a code was refused.
func codeDescription(err error) string {
	switch {
	case errors.Is(err, authcode.ErrReused):
		return "the code was already used; the tokens issued from it have been revoked"
	case errors.Is(err, authcode.ErrExpired):
		return "the code has expired"
	case errors.Is(err, authcode.ErrMismatch):
		return "the code was issued to another client or redirect URI"
	case errors.Is(err, authcode.ErrPKCE):
		return "the code_verifier does not match the code_challenge"
	case errors.Is(err, authcode.ErrDPoP):
		return "the code is bound to another DPoP key (dpop_jkt)"
	}
	return "the code is invalid"
}
