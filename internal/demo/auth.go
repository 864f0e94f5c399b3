package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/refresh"
)

const maxFormBody = 64 << 10

// errBadCredentials: unknown user or wrong password (the same answer).
var errBadCredentials = errors.New("invalid username or password")

// internalError marks a failure that retrying cannot fix (a broken
// password hash, a signing error): 500, where a store outage is 503.
type internalError struct{ err error }

func (e internalError) Error() string { return e.err.Error() }
func (e internalError) Unwrap() error { return e.err }

// fail answers err: 500 for an internalError, else 503 (a store cannot
// answer; the client may retry).
func (s *server) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	var ie internalError
	if errors.As(err, &ie) {
		s.serverError(w, r, what, err)
		return
	}
	s.storeError(w, r, what, err)
}

// checkPassword returns the user with this username and password. Unknown
// users and wrong passwords get errBadCredentials after the same amount
// of work; any other error means the store cannot answer.
func (s *server) checkPassword(ctx context.Context, username, password string) (User, error) {
	u, err := s.users.UserByUsername(ctx, username)
	if err != nil && !errors.Is(err, ErrUserNotFound) {
		return User{}, err
	}
	ok := false
	if errors.Is(err, ErrUserNotFound) {
		err = s.passwords.verifyDummy(ctx, password)
	} else {
		ok, err = s.passwords.verify(ctx, u.PasswordHash, password)
	}
	if err != nil {
		return User{}, internalError{err}
	}
	if !ok {
		return User{}, errBadCredentials
	}
	return u, nil
}

// issueTokens issues an access token for u with scope, and the first
// refresh token of a new family.
func (s *server) issueTokens(ctx context.Context, u User, scope string) (tokenResponse, error) {
	raw, claims, err := s.issueAccess(u, scope)
	if err != nil {
		return tokenResponse{}, internalError{err}
	}
	rt, err := s.refresh.Issue(ctx, refresh.Grant{Subject: u.ID, ClientID: clientID, Scope: scope}, accessOf(claims))
	if err != nil {
		return tokenResponse{}, err
	}
	s.log.InfoContext(ctx, "tokens issued", "sub", claims.Subject, "jti", claims.ID)
	return newTokenResponse(raw, claims, rt), nil
}

// newTokenResponse is the response for an access token and the refresh
// token issued with it.
func newTokenResponse(access string, c token.Claims, refreshToken string) tokenResponse {
	return tokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(c.ExpiresAt.Sub(c.IssuedAt) / time.Second),
		RefreshToken: refreshToken,
		Scope:        c.Scope,
	}
}

func (s *server) issueAccess(u User, scope string) (string, token.Claims, error) {
	return s.issuer.Issue(token.Claims{Subject: u.ID, Scope: scope, Roles: u.Roles, ClientID: clientID})
}

func accessOf(c token.Claims) refresh.AccessToken {
	return refresh.AccessToken{Issuer: c.Issuer, ID: c.ID, ExpiresAt: c.ExpiresAt}
}

// writeTokens writes a token response, never cached (RFC 6749 §5.1).
func writeTokens(w http.ResponseWriter, resp tokenResponse) {
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// storeError answers a failure of a store: 503 (retry later), never a
// 4xx that would make the client give up, never a 200.
func (s *server) storeError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if r.Context().Err() != nil {
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "request cancelled")
		return
	}
	s.log.ErrorContext(r.Context(), what+" failed", "err", err)
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "a backing store is unavailable; retry later")
}

// login trades a JSON username and password for an access token and a
// refresh token.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req loginRequest
	if err := decodeJSON(w, r, &req, maxLoginBody); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if req.Username == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "username and password are required")
		return
	}
	u, err := s.checkPassword(ctx, req.Username, req.Password)
	if errors.Is(err, errBadCredentials) {
		s.log.InfoContext(ctx, "login failed")
		writeError(w, http.StatusUnauthorized, "invalid_grant", "invalid username or password")
		return
	}
	if err != nil {
		s.fail(w, r, "login", err)
		return
	}
	resp, err := s.issueTokens(ctx, u, strings.Join(u.Scopes, " "))
	if err != nil {
		s.fail(w, r, "login: issuing tokens", err)
		return
	}
	writeTokens(w, resp)
}

// oauthError is an error of the token endpoint (RFC 6749 §5.2).
type oauthError struct {
	status      int
	code        string
	description string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func invalidRequest(format string, args ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, args...)}
}

// token is the OAuth 2.0 token endpoint (RFC 6749 §3.2) for the public
// client "demo-api": grant_type=refresh_token (§6) rotates a refresh
// token, grant_type=password (§4.3) checks a username and password.
func (s *server) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, oerr := s.tokenForm(w, r)
	if oerr == nil {
		oerr = checkClient(r, form)
	}
	var resp tokenResponse
	var err error
	if oerr == nil {
		switch form["grant_type"] {
		case "refresh_token":
			resp, err = s.refreshGrant(ctx, form)
		case "password":
			resp, err = s.passwordGrant(ctx, form)
		case "":
			err = invalidRequest("grant_type is required")
		default:
			err = &oauthError{http.StatusBadRequest, "unsupported_grant_type", "use refresh_token or password"}
		}
	} else {
		err = oerr
	}
	if errors.As(err, &oerr) {
		if oerr.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
		}
		s.log.InfoContext(ctx, "token request refused", "error", oerr.code, "grant_type", form["grant_type"])
		w.Header().Set("Pragma", "no-cache")
		writeError(w, oerr.status, oerr.code, oerr.description)
		return
	}
	if err != nil {
		s.fail(w, r, "token endpoint", err)
		return
	}
	writeTokens(w, resp)
}

// tokenForm reads the form-encoded body of a token request. Parameters
// may appear once (RFC 6749 §3.2); parameters in the URL query are not
// read.
func (s *server) tokenForm(w http.ResponseWriter, r *http.Request) (map[string]string, *oauthError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, invalidRequest("the body is larger than %d bytes", maxFormBody)
		}
		return nil, invalidRequest("the body is not a valid form")
	}
	form := make(map[string]string, len(r.PostForm))
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, invalidRequest("parameter %q is repeated", k)
		}
		form[k] = v[0]
	}
	return form, nil
}

// checkClient authenticates the client: only the public client
// "demo-api" exists, with no secret. client_id may come as a parameter or
// as the user of HTTP Basic authentication (RFC 6749 §2.3.1), not both.
func checkClient(r *http.Request, form map[string]string) *oauthError {
	user, pass, basic := r.BasicAuth()
	if basic && (form["client_id"] != "" || form["client_secret"] != "") {
		return invalidRequest("use one client authentication method")
	}
	id, secret := form["client_id"], form["client_secret"]
	if basic {
		id, secret = user, pass
	}
	if (id != "" || basic) && id != clientID || secret != "" {
		return &oauthError{http.StatusUnauthorized, "invalid_client", "unknown client or unexpected secret: the public client is " + clientID}
	}
	return nil
}

// narrowScope returns the scope a token request asks for: all of granted
// when requested is empty, else requested, which must be a subset of
// granted (RFC 6749 §3.3, §6).
func narrowScope(requested string, granted []string) (string, error) {
	if requested == "" {
		return strings.Join(granted, " "), nil
	}
	want := strings.Fields(requested)
	for _, sc := range want {
		if !slices.Contains(granted, sc) {
			return "", &oauthError{http.StatusBadRequest, "invalid_scope", "scope " + sc + " is not granted"}
		}
	}
	return strings.Join(want, " "), nil
}

// errUserGone: the subject of a refresh token no longer exists.
var errUserGone = &oauthError{http.StatusBadRequest, "invalid_grant", "the user of this refresh token no longer exists"}

// refreshGrant rotates a refresh token (RFC 6749 §6). The new access token
// carries the user's current roles and the scopes both granted to the
// family and still held by the user, narrowed by the scope parameter.
func (s *server) refreshGrant(ctx context.Context, form map[string]string) (tokenResponse, error) {
	rt := form["refresh_token"]
	if rt == "" {
		return tokenResponse{}, invalidRequest("refresh_token is required")
	}
	var access string
	var claims token.Claims
	next, _, err := s.refresh.Rotate(ctx, rt, func(ctx context.Context, g refresh.Grant) (refresh.AccessToken, error) {
		u, err := s.users.UserByID(ctx, g.Subject)
		if errors.Is(err, ErrUserNotFound) {
			return refresh.AccessToken{}, errUserGone
		}
		if err != nil {
			return refresh.AccessToken{}, err
		}
		var held []string
		for _, sc := range strings.Fields(g.Scope) {
			if slices.Contains(u.Scopes, sc) {
				held = append(held, sc)
			}
		}
		scope, err := narrowScope(form["scope"], held)
		if err != nil {
			return refresh.AccessToken{}, err
		}
		if access, claims, err = s.issueAccess(u, scope); err != nil {
			return refresh.AccessToken{}, internalError{err}
		}
		return accessOf(claims), nil
	})
	if errors.Is(err, refresh.ErrInvalidGrant) {
		if errors.Is(err, refresh.ErrReused) {
			s.log.WarnContext(ctx, "refresh token reused: family revoked")
		}
		return tokenResponse{}, &oauthError{http.StatusBadRequest, "invalid_grant", grantDescription(err)}
	}
	if err != nil {
		return tokenResponse{}, err
	}
	s.log.InfoContext(ctx, "refresh token rotated", "sub", claims.Subject, "jti", claims.ID)
	return newTokenResponse(access, claims, next), nil
}

// grantDescription says why a refresh token was refused.
func grantDescription(err error) string {
	switch {
	case errors.Is(err, refresh.ErrReused):
		return "the refresh token was already used; its family has been revoked"
	case errors.Is(err, refresh.ErrExpired):
		return "the refresh token has expired"
	case errors.Is(err, refresh.ErrRevoked):
		return "the refresh token has been revoked"
	}
	return "the refresh token is invalid"
}

// passwordGrant is the resource owner password credentials grant (RFC
// 6749 §4.3), with the rules of /auth/login.
func (s *server) passwordGrant(ctx context.Context, form map[string]string) (tokenResponse, error) {
	if form["username"] == "" || form["password"] == "" {
		return tokenResponse{}, invalidRequest("username and password are required")
	}
	u, err := s.checkPassword(ctx, form["username"], form["password"])
	if errors.Is(err, errBadCredentials) {
		return tokenResponse{}, &oauthError{http.StatusBadRequest, "invalid_grant", "invalid username or password"}
	}
	if err != nil {
		return tokenResponse{}, err
	}
	scope, err := narrowScope(form["scope"], u.Scopes)
	if err != nil {
		return tokenResponse{}, err
	}
	return s.issueTokens(ctx, u, scope)
}

// revokeError answers a failed revocation: 503 when the store cannot be
// reached. An entry the list refuses cannot come from a token the verifier
// accepted (token.MaxIDLength keeps sub and jti revocable): 400, never
// 500.
func (s *server) revokeError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, revocation.ErrInvalidEntry) {
		s.log.WarnContext(r.Context(), what, "err", err)
		writeError(w, http.StatusBadRequest, "invalid_request", "this token cannot be revoked")
		return
	}
	s.storeError(w, r, what, err)
}

type logoutRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// logout revokes the bearer access token and, when the JSON body names
// one, the family of a refresh token of the same user. An unknown or
// someone else's refresh token is ignored, as in token revocation (RFC
// 7009 §2.2). The refresh family goes first: if the access token then
// fails to be revoked, the client can retry with it.
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, _ := identity.FromContext(ctx)
	var req logoutRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLoginBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("the request body is larger than %d bytes", maxLoginBody))
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", `the body must be empty or {"refresh_token": "..."}`)
			return
		}
	}
	if req.RefreshToken != "" {
		err := s.refresh.Revoke(ctx, req.RefreshToken, p.Subject)
		if err != nil && !errors.Is(err, refresh.ErrInvalidGrant) {
			s.storeError(w, r, "logout: revoking the refresh family", err)
			return
		}
	}
	if err := s.revocations.RevokePrincipal(ctx, p); err != nil {
		s.revokeError(w, r, "logout: revoking the access token", err)
		return
	}
	s.log.InfoContext(ctx, "logout", "sub", p.Subject, "jti", p.TokenID)
	w.WriteHeader(http.StatusNoContent)
}

// logoutAll revokes every access and refresh token of the user issued
// before now, on every instance: the refresh families in the database,
// the access tokens with a subject revocation.
func (s *server) logoutAll(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, _ := identity.FromContext(ctx)
	if err := s.refresh.RevokeSubject(ctx, p.Subject); err != nil {
		s.storeError(w, r, "logout-all: revoking refresh tokens", err)
		return
	}
	// The moment is taken once the refresh tokens are revoked: an access
	// token minted by a refresh racing this request is older than it, and
	// so revoked too.
	now := s.now()
	if err := s.revocations.RevokeSubject(ctx, p.Issuer, p.Subject, now); err != nil {
		s.revokeError(w, r, "logout-all: revoking access tokens", err)
		return
	}
	s.log.InfoContext(ctx, "logout everywhere", "sub", p.Subject)
	w.WriteHeader(http.StatusNoContent)
}
