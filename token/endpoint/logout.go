package endpoint

import (
	"errors"
	"net/http"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/refresh"
)

// Logout returns the logout endpoint, to be mounted behind the
// authentication middleware (a request authenticated with an API token is
// 400: those are revoked through package apitoken): the access token the
// request was authenticated with is revoked on every instance sharing the
// revocation store (by its jti; a token without one, from a provider that
// writes none, by subject: it and the user's tokens of its issuer issued
// no later; without an iat either, 400), and, when the access token is
// this issuer's, the refresh family it was issued with (its "sid"; not
// for a token narrowed to one resource, which logs only itself out) and
// the family of the refresh token the body names ({"refresh_token": …},
// application/json) if it is the same user's. An
// unknown or someone else's refresh token is ignored (as RFC 7009 §2.2
// does). The refresh families go first: if the access token then fails to
// be revoked (503), the client retries with it. 204 on success; a request
// authenticated by the cookie of cookie mode gets both cookies cleared.
func (s *Server) Logout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.principal(w, r)
		if !ok {
			return
		}
		rt, oerr := s.logoutBody(w, r)
		if oerr != nil {
			s.fail(w, r, "logout", oerr)
			return
		}
		ctx := r.Context()
		// Refresh tokens are keyed by subject: only a token of this issuer
		// speaks for their owner (another trusted issuer may use the same
		// sub for someone else).
		if rt != "" && s.ours(p) {
			if err := s.refresh.Revoke(ctx, rt, p.Subject); err != nil && !errors.Is(err, refresh.ErrInvalidGrant) {
				s.fail(w, r, "logout: revoking the refresh family", err)
				return
			}
		}
		// The family the access token was issued with (its "sid"): in
		// cookie mode the refresh token's cookie is not sent here. Not
		// for a token narrowed to one resource (RFC 8707), which acts for
		// that resource alone: it revokes itself.
		if sid := s.sessionID(p); sid != "" && !s.narrowed(p) {
			// The sid is in a token this server signed for this subject:
			// the family is the subject's. Revoked again on a retry, its
			// access tokens too.
			if err := s.refresh.RevokeFamily(ctx, sid); err != nil {
				s.fail(w, r, "logout: revoking the refresh family", err)
				return
			}
		}
		// A token without a jti (Auth0's often have none) is revoked by
		// subject: it and every token of the user from its issuer issued
		// no later than its iat (to the nanosecond: tokens issued after it
		// stay valid, unless issued within the same second of a provider
		// that writes whole seconds). Without an iat either it cannot be
		// told from later tokens: refused.
		revoke := func() error { return s.cfg.Revocation.RevokePrincipal(ctx, p) }
		if p.TokenID == "" {
			if p.IssuedAt.IsZero() {
				s.fail(w, r, "logout", invalidRequest("this token has neither jti nor iat: it cannot be revoked alone"))
				return
			}
			revoke = func() error {
				return s.cfg.Revocation.RevokeSubject(ctx, p.Issuer, p.Subject, p.IssuedAt.Add(time.Nanosecond))
			}
		}
		if err := revoke(); err != nil {
			s.fail(w, r, "logout: revoking the access token", err)
			return
		}
		s.log.InfoContext(ctx, "logout", "sub", p.Subject, "jti", p.TokenID)
		s.audit(r, Event{Kind: LoggedOut, Subject: p.Subject, TokenID: p.TokenID, ClientID: p.ClientID, Issuer: p.Issuer})
		if p.FromCookie {
			s.clearCookies(w)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// LogoutAll returns the "log out everywhere" endpoint, to be mounted
// behind the authentication middleware (an API token is 400, as for
// Logout): every access token of the user (of the issuer of the caller's
// token) issued before now, and, when that issuer is this server's, every
// refresh token of the user, stop working on every instance. The user's
// API tokens, credentials of their own for scripts, stay, unless
// Config.APITokens is set: then they are revoked too, and none is made
// any more for a credential of the user issued before now. 204 on
// success.
func (s *Server) LogoutAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.principal(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		if s.narrowed(p) {
			// Logging out everywhere acts for the whole server, not for
			// the one resource the token was asked for (RFC 8707).
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+s.cfg.Realm+`", error="invalid_token", error_description="a token for one resource cannot log out everywhere"`)
			httpx.WriteOAuthError(w, http.StatusUnauthorized, "invalid_token", "a token for one resource cannot log out everywhere")
			return
		}
		if !s.firstPartyOnly(w, r, p) {
			return
		}
		if s.ours(p) {
			if err := s.refresh.RevokeSubject(ctx, p.Subject); err != nil {
				s.fail(w, r, "logout-all: revoking refresh tokens", err)
				return
			}
		}
		// The moment is taken once the refresh tokens are revoked: an
		// access token minted by a refresh racing this request is older
		// than it, and so revoked too.
		cut := s.now()
		if s.ours(p) && s.cfg.APITokens != nil {
			// The same cut-off as the access tokens': one of them (known
			// as revoked on another instance only later) mints no API
			// token from now on, and those it minted before are revoked.
			// Before the access token is revoked, so that a failure here
			// can be retried with it.
			if _, err := s.cfg.APITokens.RevokeSubjectBefore(ctx, p.Subject, cut); err != nil {
				s.fail(w, r, "logout-all: revoking API tokens", err)
				return
			}
		}
		if err := s.cfg.Revocation.RevokeSubject(ctx, p.Issuer, p.Subject, cut); err != nil {
			s.fail(w, r, "logout-all: revoking access tokens", err)
			return
		}
		s.log.InfoContext(ctx, "logout everywhere", "sub", p.Subject)
		s.audit(r, Event{Kind: LoggedOutAll, Subject: p.Subject, ClientID: p.ClientID, Issuer: p.Issuer})
		if p.FromCookie {
			s.clearCookies(w)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// narrowed reports whether p's token is one of this server's, asked for
// one of Config.Resources other than the issuer itself (RFC 8707): every
// audience it has is such a resource.
func (s *Server) narrowed(p *identity.Principal) bool {
	c, ok := p.Claims.(*token.Claims)
	if !ok || !s.ours(p) || len(c.Audience) == 0 {
		return false
	}
	for _, aud := range c.Audience {
		if aud == s.cfg.Issuer.Name() || !s.serves(aud) {
			return false
		}
	}
	return true
}

// ours reports whether p was authenticated with an access token of this
// server's issuer, whose subjects are the subjects of its refresh tokens.
func (s *Server) ours(p *identity.Principal) bool { return p.Issuer == s.cfg.Issuer.Name() }

// principal returns the caller's principal, which the authentication
// middleware put in the context; without one it answers 401.
func (s *Server) principal(w http.ResponseWriter, r *http.Request) (*identity.Principal, bool) {
	if !post(w, r) {
		return nil, false
	}
	return s.caller(w, r)
}

// caller returns the caller's principal, which the authentication
// middleware put in the context; without one it answers 401, for an API
// token 400.
func (s *Server) caller(w http.ResponseWriter, r *http.Request) (*identity.Principal, bool) {
	p, ok := identity.FromContext(r.Context())
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+s.cfg.Realm+`"`)
		httpx.WriteOAuthError(w, http.StatusUnauthorized, "invalid_token", "authentication required")
		return nil, false
	}
	if p.Method == identity.APIToken {
		// An API token is not a login: its revocation must reach its
		// database, and a token without any scope must not end its
		// owner's other tokens.
		httpx.WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "this endpoint takes an access token; API tokens are revoked through their own API")
		return nil, false
	}
	return p, true
}

// logoutBody reads an empty body or {"refresh_token": …}.
func (s *Server) logoutBody(w http.ResponseWriter, r *http.Request) (string, *oauthError) {
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if _, err := httpx.DecodeOptionalJSON(w, r, s.cfg.MaxBodyBytes, &body); err != nil {
		return "", bodyError(err, false)
	}
	return body.RefreshToken, nil
}
