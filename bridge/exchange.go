package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/refresh"
)

// Destroyer is an optional interface of a middleware.SessionSource:
// Destroy ends the session the cookie's value names in its store, as the
// legacy application's logout does (session_destroy()); a session
// already gone is no error, an error wrapping identity.ErrUnavailable
// means the store cannot answer (503, the client may retry), and one
// wrapping errors.ErrUnsupported that this source cannot destroy
// sessions (the exchange then only clears the cookie, as for a source
// that is no Destroyer). phpsession.Source and gorilla.Source implement
// it.
type Destroyer interface {
	Destroy(ctx context.Context, value string) error
}

// DefaultMaxBodyBytes bounds the exchange's request body when
// Config.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 4 << 10

// Config configures an [Exchange]. CookieName, Source, Issuer, Refresh and
// ClientID are required.
type Config struct {
	// CookieName is the legacy session cookie, as in
	// middleware.SessionConfig.
	CookieName string
	// Source reads the session, as the middleware does (the same value).
	// It is asked on every exchange: the middleware's cache is not
	// used. When it implements [Destroyer], a request may end the
	// session in the same step.
	Source middleware.SessionSource
	// Issuer signs the access tokens: the issuer of the token endpoints.
	Issuer *token.Issuer
	// Refresh issues the refresh tokens: the token endpoints' own
	// (endpoint.Server.Refresh), so that the refresh tokens issued here
	// refresh at their /token like those of a login.
	Refresh *refresh.Manager
	// ClientID is the public client of the token endpoints
	// (endpoint.Config.ClientID): the tokens' "client_id", which their
	// refresh grant checks.
	ClientID string
	// Users, when set, is the token endpoints' user store
	// (endpoint.Config.Users): the session's subject must be a user it
	// finds, and the tokens carry that user's scopes and roles, as a
	// login's would. Nil: the scopes and roles of the session's
	// principal. Either way a refresh at the token endpoints gets what
	// Users says then.
	Users endpoint.Users
	// Revocation is the middleware's revocation list (Config.Revocation):
	// a session it refuses, or whose subject is logged out everywhere as
	// a subject of Issuer (revocation.List.RevokeSubject, whatever issuer
	// the source names), gets no tokens, which would be issued after the
	// cut-off and so escape it. Nil: nothing is checked; give it whenever
	// the middleware has one.
	Revocation middleware.RevocationChecker
	// CrossOrigin refuses exchanges that browsers report as coming from
	// another origin (Sec-Fetch-Site, else Origin against Host): a page
	// elsewhere must not make a user's browser trade its session, or
	// destroy it. Nil means http.NewCrossOriginProtection(): same origin
	// only.
	CrossOrigin *http.CrossOriginProtection
	// CookiePath and CookieDomain are the Path and Domain the legacy
	// cookie was set with (PHP's session.cookie_path and
	// session.cookie_domain, gorilla's Options.Path and Domain): a
	// destroyed session's cookie is cleared with them, for a browser
	// matches them to replace it. Default "/" and "" (host-only).
	CookiePath, CookieDomain string
	// MaxBodyBytes bounds request bodies. Zero means DefaultMaxBodyBytes
	// (4 KiB).
	MaxBodyBytes int64
	// Audit receives one event per exchange.
	Audit func(r *http.Request, e Event)
	// Logger receives one line per outcome, never a session id or a
	// token. Nil discards.
	Logger *slog.Logger
}

// Event is an exchange that succeeded. It carries no session id and no
// token.
type Event struct {
	Subject string
	// Session is the session's middleware.SessionTokenID.
	Session string
	// TokenID is the "jti" of the access token issued.
	TokenID string
	// Destroyed reports whether the session was ended in its store.
	Destroyed bool
}

// Exchange is the endpoint where a client with a live legacy session
// gets first-party tokens: see the package documentation. Build it with
// [New]; it is safe for concurrent use.
type Exchange struct {
	cfg   Config
	cross *http.CrossOriginProtection
	log   *slog.Logger
}

// New checks cfg and returns the endpoint.
func New(cfg Config) (*Exchange, error) {
	switch {
	case cfg.CookieName == "" || cfg.Source == nil:
		return nil, errors.New("bridge: CookieName and Source are required")
	case cfg.Issuer == nil || cfg.Refresh == nil:
		return nil, errors.New("bridge: Issuer and Refresh are required")
	case cfg.ClientID == "":
		return nil, errors.New("bridge: ClientID is required: the token endpoints' client, whose refresh grant checks it")
	case cfg.MaxBodyBytes < 0:
		return nil, errors.New("bridge: negative MaxBodyBytes")
	case strings.ContainsAny(cfg.CookiePath+cfg.CookieDomain, ";\r\n"):
		return nil, errors.New("bridge: CookiePath and CookieDomain must not contain ; or line breaks")
	}
	if cfg.CookiePath == "" {
		cfg.CookiePath = "/"
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	e := &Exchange{cfg: cfg, cross: cfg.CrossOrigin, log: cfg.Logger}
	if e.cross == nil {
		e.cross = http.NewCrossOriginProtection()
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e, nil
}

// maxSessionValue bounds the cookie's value, as the middleware's
// MaxTokenLength does by default.
const maxSessionValue = 8 << 10

// request is the exchange's JSON body.
type request struct {
	Scope          string `json:"scope"`
	DestroySession bool   `json:"destroy_session"`
}

// tokenResponse is the answer of the token endpoints (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope,omitempty"`
}

// refusal is an answer other than 200 (RFC 6749 §5.2), with its cause
// for the log.
type refusal struct {
	status      int
	code        string
	description string
	cause       error
}

func (r *refusal) Error() string { return r.code + ": " + r.description }

func invalidGrant(desc string, cause error) *refusal {
	return &refusal{http.StatusUnauthorized, "invalid_grant", desc, cause}
}

func unavailable(cause error) *refusal {
	return &refusal{http.StatusServiceUnavailable, "temporarily_unavailable", "a backing store is unavailable; retry later", cause}
}

// ServeHTTP answers POST with a JSON body, {} or {"scope": "a b",
// "destroy_session": true}, and the session cookie.
func (e *Exchange) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, err := e.exchange(w, r)
	if err == nil {
		httpx.WriteJSON(w, http.StatusOK, resp)
		return
	}
	var ref *refusal
	if !errors.As(err, &ref) {
		ref = unavailable(err)
	}
	switch ref.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	level := slog.LevelInfo
	if ref.status >= 500 {
		level = slog.LevelError
	}
	e.log.LogAttrs(r.Context(), level, "session exchange refused", slog.String("error", ref.code), slog.Any("cause", ref.cause))
	httpx.WriteOAuthError(w, ref.status, ref.code, ref.description)
}

func (e *Exchange) exchange(w http.ResponseWriter, r *http.Request) (*tokenResponse, error) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		return nil, &refusal{http.StatusMethodNotAllowed, "invalid_request", "use POST", nil}
	}
	// Cross-site requests first: nothing of the session is read for them.
	if err := e.cross.Check(r); err != nil {
		return nil, &refusal{http.StatusForbidden, "invalid_request", "a cross-origin request cannot exchange a session", err}
	}
	// A JSON body: no HTML form, and no cross-origin fetch without a
	// CORS preflight, can send one.
	var body request
	if err := httpx.DecodeJSON(w, r, e.cfg.MaxBodyBytes, &body); err != nil {
		var be *httpx.BodyError
		if !errors.As(err, &be) {
			return nil, &refusal{http.StatusBadRequest, "invalid_request", "the body could not be read", err}
		}
		return nil, &refusal{be.Status, "invalid_request", be.Message, err}
	}
	value, err := e.cookie(r)
	if err != nil {
		return nil, err
	}
	p, err := e.session(ctx, value)
	if err != nil {
		return nil, err
	}
	granted, roles := p.Scopes, p.Roles
	if e.cfg.Users != nil {
		u, err := e.cfg.Users.UserBySubject(ctx, p.Subject)
		switch {
		case errors.Is(err, endpoint.ErrUnknownUser):
			return nil, invalidGrant("the session's user has no account here", err)
		case err != nil:
			return nil, unavailable(err)
		}
		granted, roles = u.Scopes, u.Roles
	}
	scope, err := narrowScope(body.Scope, granted)
	if err != nil {
		return nil, err
	}
	access, claims, err := e.cfg.Issuer.Issue(token.Claims{Subject: p.Subject, Scope: scope, Roles: roles, ClientID: e.cfg.ClientID})
	if err != nil {
		return nil, &refusal{http.StatusInternalServerError, "server_error", "internal error", err}
	}
	rt, err := e.cfg.Refresh.Issue(ctx, refresh.Grant{Subject: p.Subject, ClientID: e.cfg.ClientID, Scope: scope},
		refresh.AccessToken{Issuer: claims.Issuer, ID: claims.ID, ExpiresAt: claims.ExpiresAt})
	if err != nil {
		return nil, unavailable(err)
	}
	destroyed := false
	if body.DestroySession {
		if d, ok := e.cfg.Source.(Destroyer); ok {
			switch err := d.Destroy(ctx, value); {
			case errors.Is(err, errors.ErrUnsupported):
				// Not a failure a retry would mend: the cookie is cleared.
			case err != nil:
				// The session lives on, so the client may retry: the
				// tokens it will not get are of no use to anyone.
				if rerr := e.cfg.Refresh.Revoke(ctx, rt, p.Subject); rerr != nil {
					e.log.WarnContext(ctx, "session exchange: revoking the undelivered refresh token", "err", rerr)
				}
				return nil, unavailable(fmt.Errorf("destroying the session: %w", err))
			default:
				destroyed = true
			}
		}
		e.clearCookie(w, r)
	}
	ev := Event{Subject: p.Subject, Session: middleware.SessionTokenID(value), TokenID: claims.ID, Destroyed: destroyed}
	e.log.InfoContext(ctx, "session exchanged", "sub", ev.Subject, "session", ev.Session, "jti", ev.TokenID, "destroyed", destroyed)
	if e.cfg.Audit != nil {
		e.cfg.Audit(r, ev)
	}
	return &tokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(claims.ExpiresAt.Sub(claims.IssuedAt) / time.Second),
		RefreshToken: rt,
		Scope:        claims.Scope,
	}, nil
}

// cookie returns the value of the request's one session cookie.
func (e *Exchange) cookie(r *http.Request) (string, error) {
	cs := r.CookiesNamed(e.cfg.CookieName)
	switch {
	case len(cs) > 1:
		// Cookie tossing: a sibling subdomain set a second one.
		return "", &refusal{http.StatusBadRequest, "invalid_request", "more than one session cookie", nil}
	case len(cs) == 0 || cs[0].Value == "":
		return "", invalidGrant("no session cookie", nil)
	case len(cs[0].Value) > maxSessionValue:
		return "", invalidGrant("the session is unknown, expired or logged out", errors.New("a session cookie over 8 KiB"))
	}
	return cs[0].Value, nil
}

// session returns the principal of the live session value names, unless
// the revocation list refuses it.
func (e *Exchange) session(ctx context.Context, value string) (*identity.Principal, error) {
	p, err := e.cfg.Source.Session(ctx, value)
	switch {
	case err != nil && errors.Is(err, identity.ErrUnavailable):
		return nil, unavailable(err)
	case err != nil:
		return nil, invalidGrant("the session is unknown, expired or logged out", err)
	case p == nil || p.Subject == "":
		return nil, invalidGrant("the session is unknown, expired or logged out", errors.New("the source returned no subject"))
	}
	own := *p
	own.Method = identity.Session
	if own.TokenID == "" {
		own.TokenID = middleware.SessionTokenID(value)
	}
	if e.cfg.Revocation == nil {
		return &own, nil
	}
	// The principal as the middleware checks it, and as a subject of the
	// issuer whose tokens it is about to get: a user logged out
	// everywhere gets no tokens issued after the cut-off, whatever
	// issuer the source names.
	check := []*identity.Principal{&own}
	if own.Issuer != e.cfg.Issuer.Name() {
		mint := own
		mint.Issuer = e.cfg.Issuer.Name()
		check = append(check, &mint)
	}
	for _, p := range check {
		revoked, err := e.cfg.Revocation.Revoked(ctx, p)
		switch {
		case err != nil:
			return nil, unavailable(err)
		case revoked:
			return nil, invalidGrant("the session is unknown, expired or logged out", errors.New("revoked"))
		}
	}
	return &own, nil
}

// narrowScope returns the scope asked for: all of granted when requested
// is empty, else requested, which must be a subset of granted (RFC 6749
// §3.3), each scope once.
func narrowScope(requested string, granted []string) (string, error) {
	var want []string
	if requested == "" {
		for _, sc := range granted {
			if !slices.Contains(want, sc) {
				want = append(want, sc)
			}
		}
		return strings.Join(want, " "), nil
	}
	for sc := range strings.FieldsSeq(requested) {
		if !slices.Contains(granted, sc) {
			return "", &refusal{http.StatusBadRequest, "invalid_scope", "scope " + sc + " is not granted", nil}
		}
		if !slices.Contains(want, sc) {
			want = append(want, sc)
		}
	}
	return strings.Join(want, " "), nil
}

// clearCookie tells the browser to drop the session cookie: the same
// name, path and domain, expired. Secure when the request came over TLS
// or the name requires it (__Secure-, __Host-).
func (e *Exchange) clearCookie(w http.ResponseWriter, r *http.Request) {
	name := e.cfg.CookieName
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     e.cfg.CookiePath,
		Domain:   e.cfg.CookieDomain,
		MaxAge:   -1,
		Expires:  time.Unix(1, 0),
		HttpOnly: true,
		Secure:   r.TLS != nil || strings.HasPrefix(name, "__Secure-") || strings.HasPrefix(name, "__Host-"),
	})
}
