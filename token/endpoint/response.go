package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/refresh"
)

// tokenResponse is a successful access token response (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

func newTokenResponse(access string, c token.Claims, refreshToken string) tokenResponse {
	typ := "Bearer"
	if c.JKT != "" {
		typ = "DPoP" // RFC 9449 §5
	}
	return tokenResponse{
		AccessToken:  access,
		TokenType:    typ,
		ExpiresIn:    int64(c.ExpiresAt.Sub(c.IssuedAt) / time.Second),
		RefreshToken: refreshToken,
		Scope:        c.Scope,
	}
}

// oauthError is a refusal the client is told about (RFC 6749 §5.2).
type oauthError struct {
	status      int
	code        string
	description string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func invalidRequest(format string, args ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, args...)}
}

// internalError marks a failure that retrying cannot fix (a malformed
// stored password hash, a signing error): 500, where a store that cannot
// answer is 503.
type internalError struct{ err error }

func (e internalError) Error() string { return e.err.Error() }
func (e internalError) Unwrap() error { return e.err }

// fail answers err: the refusal it carries, 500 for an internal error, an
// unrevocable entry as 400, anything else as a store that cannot answer
// now: 503 with Retry-After, never a 4xx that makes the client give up
// and never a 200.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	var oerr *oauthError
	var ie internalError
	switch {
	case errors.As(err, &oerr):
		if oerr.status == http.StatusUnauthorized && oerr.code == "invalid_client" { // RFC 6749 §5.2: with the scheme the client used
			w.Header().Set("WWW-Authenticate", `Basic realm="`+s.cfg.Realm+`"`)
		}
		s.log.InfoContext(r.Context(), what+" refused", "error", oerr.code)
		httpx.WriteOAuthError(w, oerr.status, oerr.code, oerr.description)
	case isThrottled(err):
		s.throttled(w, r, "", err)
	case errors.As(err, new(crossOriginError)):
		// CSRF: a page of another origin, in the user's browser.
		s.log.InfoContext(r.Context(), what+" refused", "err", err)
		httpx.WriteOAuthError(w, http.StatusForbidden, "cross_origin", "a request from another origin cannot use this browser's cookies")
	case errors.As(err, &ie):
		s.log.ErrorContext(r.Context(), what+" failed", "err", err)
		httpx.WriteOAuthError(w, http.StatusInternalServerError, "server_error", "internal error")
	case errors.Is(err, revocation.ErrInvalidEntry):
		// A token the verifier accepts can always be revoked
		// (token.MaxIDLength); one from elsewhere may not.
		s.log.WarnContext(r.Context(), what+" refused", "err", err)
		httpx.WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "this token cannot be revoked")
	case errors.Is(err, password.ErrBusy):
		// A flood of password attempts: refused at once rather than
		// queued behind the hashes already running.
		s.log.InfoContext(r.Context(), what+" refused: password hashing is busy")
		w.Header().Set("Retry-After", "1")
		httpx.WriteOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "too many logins in progress; retry in a moment")
	case r.Context().Err() != nil:
		httpx.WriteOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "request cancelled")
	default:
		s.log.ErrorContext(r.Context(), what+" failed", "err", err)
		w.Header().Set("Retry-After", "1")
		httpx.WriteOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "a backing store is unavailable; retry later")
	}
}

// maxUsernameLen bounds usernames, checked before any store sees them.
const maxUsernameLen = 1024

// checkUsername refuses, before the user store or the throttle sees it, a
// username no store should be asked about: not UTF-8, with NUL, or
// longer than 1 KiB.
func checkUsername(name string) *oauthError {
	if len(name) > maxUsernameLen || strings.IndexByte(name, 0) >= 0 || !utf8.ValidString(name) {
		return invalidRequest("the username must be UTF-8 without NUL, at most %d bytes", maxUsernameLen)
	}
	return nil
}

// errBadCredentials: unknown user or wrong password, the same answer.
var errBadCredentials = errors.New("endpoint: invalid username or password")

// checkPassword returns the user with this name and password. Unknown
// users and wrong passwords get errBadCredentials after the same amount
// of work; another error means the store cannot answer (or, as an
// internalError, that the stored hash is broken).
func (s *Server) checkPassword(r *http.Request, name, pw string) (User, error) {
	ctx := r.Context()
	u, err := s.cfg.Users.UserByName(ctx, name)
	if err != nil && !errors.Is(err, ErrUnknownUser) {
		return User{}, err
	}
	if err == nil {
		// The user's own budget, whatever name found it: a store that
		// matches names more loosely than the throttle folds them (accents,
		// widths) gives each variant a budget of its own, not the user.
		if terr := s.throttle.subjectAttempt(r, u.Subject); terr != nil {
			return User{}, terr
		}
	}
	ok, reason := false, "unknown_user_or_bad_password"
	switch {
	case errors.Is(err, ErrUnknownUser) || !strings.HasPrefix(u.PasswordHash, "$argon2id$"):
		// No user, or no password login for this one ("", "!locked"):
		// the work of a wrong password, so timing tells nothing.
		if err == nil {
			reason = "locked"
		}
		err = s.cfg.Passwords.VerifyNone(ctx, pw)
	default:
		ok, err = s.cfg.Passwords.Verify(ctx, u.PasswordHash, pw)
	}
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, password.ErrBusy) {
			return User{}, err // 503: the request ended while waiting, or too many hashes
		}
		return User{}, internalError{err} // an argon2id hash that is corrupt
	}
	if !ok {
		s.audit(r, Event{Kind: LoginFailed, Username: name, Reason: reason})
		return User{}, errBadCredentials
	}
	return u, nil
}

// isThrottled reports whether err is a refusal of the throttle.
func isThrottled(err error) bool {
	return errors.As(err, new(*LimitError)) || errors.Is(err, ErrLimiterUnavailable)
}

// checkPasswordDone is checkPassword, then done, even if the check panics
// (a user store's bug must not hold the in-flight slots for good).
func (s *Server) checkPasswordDone(r *http.Request, name, pw string, done func()) (User, error) {
	defer done()
	return s.checkPassword(r, name, pw)
}

// issueTokens issues an access token for u with scope, and the first
// refresh token of a new family.
func (s *Server) issueTokens(r *http.Request, u User, username, scope, jkt string, cookie bool) (issued, error) {
	return s.issueTokensFor(r, s.firstParty, u, username, scope, jkt, nil, cookie)
}

// issueTokensFor issues tokens whose access token has the audience aud
// (nil: the issuer's). The access token names the refresh family as its
// "sid": logging out with it ends the family, and the devices list tells
// the caller's own. In cookie mode the access token must fit a cookie.
func (s *Server) issueTokensFor(r *http.Request, c clients.Client, u User, username, scope, jkt string, aud []string, cookie bool) (issued, error) {
	var resource string // the family keeps the resource it was granted for (RFC 8707)
	if len(aud) == 1 {
		resource = aud[0]
	}
	var t issued
	g := refresh.Grant{Subject: u.Subject, ClientID: c.ID, Scope: scope, JKT: jkt, Resource: resource,
		UserAgent: r.UserAgent()}
	rt, family, err := s.refresh.Start(r.Context(), g, func(_ context.Context, m refresh.Minting) (refresh.AccessToken, error) {
		var err error
		t.access, t.claims, err = s.issueAccessFor(c, u, scope, jkt, aud, m.Family, refresh.AccessToken{})
		if err == nil && cookie {
			err = checkCookieSize(t.access)
		}
		return accessOf(t.claims), err
	})
	if err != nil {
		return issued{}, err
	}
	t.refresh, t.roles, t.family = rt, rolesFor(c, u), family
	abs, idle := s.refresh.Lifetimes()
	t.refreshAge = min(abs, idle)
	s.log.InfoContext(r.Context(), "tokens issued", "sub", t.claims.Subject, "jti", t.claims.ID)
	if username != "" {
		s.audit(r, Event{Kind: LoginSucceeded, Username: username, Subject: u.Subject, TokenID: t.claims.ID, ClientID: c.ID})
	}
	return t, nil
}

// issueAccessFor issues an access token of the refresh family sid. With
// a reissue (a rotation within the grace period of the refresh manager)
// it has that token's jti and expiry, so that revoking the family
// revokes it too.
func (s *Server) issueAccessFor(cl clients.Client, u User, scope, jkt string, aud []string, sid string, reissue refresh.AccessToken) (string, token.Claims, error) {
	c := token.Claims{Subject: u.Subject, Scope: scope, Roles: rolesFor(cl, u), ClientID: cl.ID, JKT: jkt, Audience: aud}
	if sid != "" {
		c.Extra = map[string]any{"sid": sid}
	}
	if reissue.ID != "" {
		c.ID, c.ExpiresAt = reissue.ID, reissue.ExpiresAt
	}
	raw, c, err := s.cfg.Issuer.Issue(c)
	if err != nil {
		return "", token.Claims{}, internalError{err}
	}
	return raw, c, nil
}

// rolesFor is the roles an access token for c carries: the user's for
// the app's own clients, none for a third-party client, which the user
// allowed scopes (shown on the consent page), not the user's roles (an
// "admin" role would make any app the user allowed an administrator).
func rolesFor(c clients.Client, u User) []string {
	if c.FirstParty {
		return u.Roles
	}
	return nil
}

func accessOf(c token.Claims) refresh.AccessToken {
	return refresh.AccessToken{Issuer: c.Issuer, ID: c.ID, ExpiresAt: c.ExpiresAt}
}
