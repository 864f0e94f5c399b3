package endpoint

import (
	"errors"
	"net/http"

	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/refresh"
)

// Revoke returns the token revocation endpoint (RFC 7009), form-encoded:
// token, and an optional token_type_hint (access_token or refresh_token),
// with the client authentication of Token. A refresh token's family is
// revoked with the access tokens issued from it; an access token is put
// on the revocation list until it expires. As §2.2 asks, an invalid,
// unknown or expired token is answered 200 like a revoked one; a store
// that cannot answer is 503, and nothing is half revoked that a retry
// cannot finish.
func (s *Server) Revoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !post(w, r) {
			return
		}
		form, c, err := s.clientForm(w, r)
		if err == nil {
			err = s.revoke(r, c, form.Get("token"), form.Get("token_type_hint"))
		}
		if err != nil {
			s.fail(w, r, "revocation", err)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		w.WriteHeader(http.StatusOK)
	})
}

var errOtherClient = invalidRequest("the token was issued to another client")

// revoke revokes raw. The hint only says where to look first (§2.1); the
// shape of the token decides: refresh tokens have their own format.
func (s *Server) revoke(r *http.Request, c clients.Client, raw, hint string) error {
	switch {
	case raw == "":
		return invalidRequest("token is required")
	case hint != "" && hint != "access_token" && hint != "refresh_token":
		// §2.1: an unknown hint is ignored, the search goes on.
	}
	ctx := r.Context()
	if refresh.Check(raw) == nil {
		g, err := s.refresh.Lookup(ctx, raw)
		switch {
		case errors.Is(err, refresh.ErrInvalidGrant):
			return nil // unknown: nothing to revoke
		case err != nil:
			return err
		case g.ClientID != c.ID:
			return errOtherClient
		}
		if err := s.refresh.Revoke(ctx, raw, g.Subject); err != nil && !errors.Is(err, refresh.ErrInvalidGrant) {
			return err
		}
		s.log.InfoContext(ctx, "refresh token revoked", "sub", g.Subject)
		s.audit(r, Event{Kind: Revoked, Subject: g.Subject, ClientID: c.ID})
		return nil
	}
	at, err := s.cfg.Verifier.Verify(raw)
	if err != nil {
		return nil // invalid or expired: nothing to revoke
	}
	if at.ClientID != c.ID {
		return errOtherClient
	}
	if err := s.cfg.Revocation.RevokeToken(ctx, at.Issuer, at.ID, at.ExpiresAt); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "access token revoked", "sub", at.Subject, "jti", at.ID)
	s.audit(r, Event{Kind: Revoked, Subject: at.Subject, TokenID: at.ID, ClientID: c.ID})
	return nil
}
