package endpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sessionless/sessionless/internal/exturl"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/refresh"
)

// Users is the application's user store: the one part of logging in this
// package cannot own. Methods must be safe for concurrent use. An error
// that is not ErrUnknownUser means the store cannot answer now: the
// endpoints answer 503, never 401 and never 200.
type Users interface {
	// UserByName returns the user who logs in with name, with its
	// password hash (a PHC string from password.Hasher.Hash).
	UserByName(ctx context.Context, name string) (User, error)
	// UserBySubject returns the user whose tokens carry subject, as it is
	// now: a refreshed access token gets the user's current roles, and
	// only the granted scopes the user still holds. PasswordHash may be
	// empty.
	UserBySubject(ctx context.Context, subject string) (User, error)
}

// User is an account as [Users] returns it.
type User struct {
	// Subject is the tokens' "sub": stable and unique, never reused (not
	// a login name that can change).
	Subject string
	// PasswordHash is the argon2id PHC string of the password. An empty
	// one, or one that is not argon2id ("!locked"), means the user
	// cannot log in with a password: the answer is a wrong password's,
	// after the same work.
	PasswordHash string
	// Scopes are what the user may be granted; a token request may ask
	// for fewer. Roles go into the access token as they are.
	Scopes, Roles []string
}

// ErrUnknownUser is what [Users] returns for a name or subject without a
// user.
var ErrUnknownUser = errors.New("endpoint: unknown user")

// EventKind says what an [Event] reports.
type EventKind string

// The events [Hooks.Audit] receives.
const (
	LoginSucceeded EventKind = "login"          // a password checked (login or password grant), tokens issued
	LoginFailed    EventKind = "login_failed"   // unknown user, wrong password, or no password login (Event.Reason)
	Refreshed      EventKind = "refresh"        // a refresh token rotated
	RefreshReused  EventKind = "refresh_reuse"  // a spent refresh token presented: its family was revoked
	LoggedOut      EventKind = "logout"         // an access token (and maybe its refresh family) revoked
	LoggedOutAll   EventKind = "logout_all"     // every token of a subject revoked
	Revoked        EventKind = "revoke"         // a token revoked at the revocation endpoint (RFC 7009)
	Throttled      EventKind = "throttled"      // a request refused 429 by the Throttle (Username set for a password attempt)
	DeviceEnded    EventKind = "device_end"     // a refresh family ended from the devices list
	CodeIssued     EventKind = "authorize"      // an authorization code issued to a client
	CodeReused     EventKind = "code_reuse"     // an authorization code presented again: what it issued was revoked
	ConsentGranted EventKind = "consent"        // a user allowed a third-party client
	ConsentDenied  EventKind = "consent_deny"   // a user denied a third-party client
	ConsentRevoked EventKind = "consent_revoke" // a user withdrew a consent: the client's tokens revoked
)

// Event is one outcome worth an audit log. It never carries a password or
// a token, only the access token's ID. Package audit turns events into
// log records of a stable schema (audit.EndpointHook).
type Event struct {
	Kind     EventKind
	Username string // login attempts, as sent
	Subject  string // empty for a failed login
	// TokenID is the "jti" of the access token issued or revoked; for
	// DeviceEnded, the refresh family's id.
	TokenID string
	// Reason says why: for LoginFailed, "unknown_user_or_bad_password",
	// or "locked" (the user has no password login: a hash that is not
	// argon2id, such as "!locked" or ""); for Throttled, the [Budget]
	// the request was over.
	Reason string
	// ClientID is the OAuth client concerned, when there is one: the
	// client logged in, refreshing, redeeming or consented to.
	ClientID string
	// Issuer is the issuer of Subject: the endpoints' own, or a
	// provider's for a logout with one of its tokens.
	Issuer string
	// ClientAddr is the address of the request's client as the
	// endpoints see it ([Server.ClientAddr]).
	ClientAddr netip.Addr
}

// Hooks let the application watch and throttle the endpoints. Nil fields
// are skipped; hooks run on the request's goroutine.
type Hooks struct {
	// Allow runs before a password is checked (login and the password
	// grant), after the built-in [Throttle] let the attempt through, with
	// the username as sent: for a limit of the application's own (the
	// Throttle already limits per username and per address). When it
	// returns false the request is refused with 429 Too Many Requests and
	// a Retry-After of retryAfter (at least one second), and no password
	// is checked.
	Allow func(r *http.Request, username string) (ok bool, retryAfter time.Duration)
	// Audit receives one event per outcome (see EventKind).
	Audit func(r *http.Request, e Event)
}

// DefaultMaxBodyBytes bounds request bodies when Config.MaxBodyBytes is
// zero.
const DefaultMaxBodyBytes = 64 << 10

// Config configures a [Server]. Issuer, Verifier, Users, Revocation and
// ClientID are required.
type Config struct {
	// Issuer signs the access tokens.
	Issuer *token.Issuer
	// Verifier verifies access tokens presented to the revocation
	// endpoint: the issuer's own.
	Verifier *token.Verifier
	// Users finds users and their password hashes.
	Users Users
	// RefreshStore keeps the refresh tokens, hashed: with several
	// instances, a store they share (token/refresh/sqlstore). Nil: a
	// refresh.MemoryStore, for one process. New builds the
	// refresh.Manager on it ([Server.Refresh]), revoking through
	// Revocation the access tokens of every family it revokes.
	RefreshStore refresh.Store
	// RefreshLifetime and RefreshIdle are the absolute and idle lifetimes
	// of refresh token families. Zero: refresh.DefaultAbsoluteLifetime
	// (30 days) and refresh.DefaultIdleLifetime (7 days).
	RefreshLifetime, RefreshIdle time.Duration
	// RefreshGracePeriod is how long after a refresh token is rotated a
	// second presentation of it yields the same rotation instead of
	// revoking the family as a reuse: two tabs of a browser (or two
	// requests of an app) that refresh at the same moment both stay
	// logged in. Zero: refresh.DefaultGracePeriod (10 s); negative: none,
	// every second presentation revokes. See refresh.Config.GracePeriod.
	RefreshGracePeriod time.Duration
	// Revocation revokes access tokens (logout, logout-all, RFC 7009, a
	// refresh token family revoked). Give the middleware the same list.
	Revocation *revocation.List
	// APITokens, when set, makes LogoutAll revoke the user's API tokens
	// too (*apitoken.Manager implements it), and refuse, on every
	// instance, to make new ones for the user's credentials issued
	// before (a stolen access token not yet known as revoked elsewhere
	// cannot mint one that survives). Its subjects must be this issuer's:
	// New checks it. Nil: logging out everywhere ends the user's sessions
	// of tokens (access and refresh), and the API tokens the user made for
	// scripts keep working.
	APITokens SubjectRevoker
	// ClientID is the one OAuth 2.0 client of these endpoints, a public
	// client (RFC 6749 §2.1: no secret; a client_secret is refused). It
	// goes into the tokens' "client_id". Required.
	ClientID string
	// Passwords verifies passwords. Nil means password.New with its
	// defaults (argon2id, RFC 9106 parameters).
	Passwords *password.Hasher
	// MaxBodyBytes bounds request bodies. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Realm is the realm of the Basic challenge of an invalid_client
	// answer. Default "api".
	Realm string
	// Throttle configures the login protection, on by default: per
	// client address and per username token buckets taken before any
	// password is checked (429 with Retry-After), bounded password checks
	// in flight per username and per address, the client address read
	// behind TrustedProxies only, and, with Throttle.Shared, budgets
	// shared by every instance. The zero value is the documented defaults
	// of [ThrottleConfig], per instance.
	Throttle ThrottleConfig
	// InsecureSkipThrottle turns that protection off: password guessing
	// is then bounded only by the password hasher's cost. Acceptable only
	// when something in front of every instance limits the same (per
	// client and per username) before the requests arrive.
	InsecureSkipThrottle bool
	// Hooks throttle password attempts further and report outcomes.
	Hooks Hooks
	// Logger receives one line per outcome, never a secret. Nil discards.
	Logger *slog.Logger
	// Now returns the current time (the moment of a logout-all). Nil
	// means time.Now.
	Now func() time.Time
	// DPoP, when set, binds tokens to the client's key (RFC 9449 §5): a
	// request to the token endpoint (password and refresh_token grants)
	// or to the login endpoint with a DPoP proof header gets an access
	// token with cnf.jkt and token_type DPoP, and its refresh family bound
	// to the key (a refresh with a proof binds a family not bound yet):
	// refreshing a bound family needs a proof by the same key.
	// *dpop.Verifier implements it. Nil: DPoP headers are ignored, tokens
	// are bearer tokens. IssueTokens (a browser redirect, which cannot
	// carry a proof) issues bearer tokens.
	DPoP ProofChecker
	// ExternalURL is the public URL of the server's root, as clients call
	// it ("https://api.example"; a path when a proxy strips one): a
	// proof's htu must be it followed by the path of the request as it
	// arrived. Required with DPoP: the Host header proves nothing.
	ExternalURL string
	// Resources are the protected resources (RFC 8707, RFC 9728) a token
	// request may name with its resource parameter, the values the
	// middleware takes too (middleware.Config.Resources): the access
	// token's audience is then that resource's URL alone (its verifiers
	// must accept it, token.VerifierConfig.Audiences: New refuses a
	// Verifier that would not, since such tokens could not be revoked
	// at Revoke), and the refresh
	// family keeps it: its refreshes issue tokens for it alone. Another
	// resource is 400 invalid_target. Empty: the parameter is refused. A
	// token for one of them other than the issuer's own URL cannot log
	// out everywhere (LogoutAll answers 401): it acts for that resource
	// alone. Routes of your own that act for the whole server check the
	// same with middleware.Authenticator.Protect. Their scopes are the
	// scopes_supported of [Server.Metadata].
	Resources []middleware.Resource
	// Cookies, when set, turns on cookie mode for browsers: a login that
	// asks for it ("Token-Delivery: cookie") gets its tokens in HttpOnly
	// cookies, refreshes by cookie, and is cleared at logout; see
	// [CookieConfig]. Give the middleware the access cookie's name
	// (middleware.Config.CookieName) and the same CrossOrigin. Nil: off,
	// tokens in the body only.
	Cookies *CookieConfig
	// Authorization, when set, turns on the authorization code grant
	// with PKCE: the authorization endpoint with its login and consent
	// pages, registered clients, and optionally dynamic registration. See
	// [AuthorizationConfig]. Nil: off; the one client is ClientID.
	Authorization *AuthorizationConfig
}

// SubjectRevoker revokes every credential of a subject it keeps, and
// refuses from then on to make new ones for the subject's credentials
// issued before the moment before; it says how many it revoked, and an
// error means the store cannot answer (503). SubjectIssuer names the
// issuer of its subjects. *apitoken.Manager implements it. It must be
// safe for concurrent use.
type SubjectRevoker interface {
	RevokeSubjectBefore(ctx context.Context, subject string, before time.Time) (int, error)
	SubjectIssuer() string
}

// ProofChecker checks DPoP proofs (RFC 9449). *dpop.Verifier implements
// it.
type ProofChecker interface {
	// CheckProof verifies proof for a request of method to url (with
	// accessToken, "" at the token endpoint) and returns its key's
	// thumbprint. An error wrapping identity.ErrUnavailable means it
	// cannot tell now.
	CheckProof(ctx context.Context, proof, method, url, accessToken string) (jkt string, err error)
	// Nonce returns a fresh server nonce for the DPoP-Nonce header, or ""
	// when none is required. A CheckProof error with NonceRequired() true
	// means the proof lacks it (RFC 9449 §8).
	Nonce() string
	// AlgNames lists the proof algorithms accepted, for the metadata.
	AlgNames() []string
}

// Server holds the endpoints. Build it with [New]; it is safe for
// concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	refresh  *refresh.Manager
	throttle *Throttle // nil with InsecureSkipThrottle
	cookies  *cookies  // nil: cookie mode is off
	authz    *authz    // nil: no authorization endpoint
	// firstParty is Config.ClientID's client when AuthorizationConfig.
	// Clients does not have it: public, password and refresh grants.
	firstParty clients.Client
}

// New checks cfg and returns the endpoints.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Issuer == nil || cfg.Verifier == nil:
		return nil, errors.New("endpoint: Issuer and Verifier are required")
	case cfg.Users == nil || cfg.Revocation == nil:
		return nil, errors.New("endpoint: Users and Revocation are required")
	case cfg.ClientID == "" || strings.ContainsAny(cfg.ClientID, "\"\\\r\n:"):
		return nil, errors.New("endpoint: ClientID is required, without quotes, backslashes, colons or line breaks")
	case cfg.MaxBodyBytes < 0:
		return nil, errors.New("endpoint: negative MaxBodyBytes")
	}
	if cfg.Realm == "" {
		cfg.Realm = "api"
	}
	if strings.ContainsAny(cfg.Realm, "\"\\\r\n") {
		return nil, errors.New("endpoint: Realm must not contain quotes, backslashes or line breaks")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.DPoP != nil && cfg.ExternalURL == "" {
		return nil, errors.New("endpoint: DPoP needs ExternalURL, the public URL the proofs' htu name (the Host header proves nothing)")
	}
	if cfg.ExternalURL != "" {
		ext, err := exturl.Parse(cfg.ExternalURL)
		if err != nil {
			return nil, fmt.Errorf("endpoint: ExternalURL: %w", err)
		}
		cfg.ExternalURL = ext
	}
	if cfg.APITokens != nil && cfg.APITokens.SubjectIssuer() != cfg.Issuer.Name() {
		// LogoutAll would revoke another issuer's subject of the same name.
		return nil, fmt.Errorf("endpoint: APITokens keeps the tokens of subjects of %q, not of this issuer, %q", cfg.APITokens.SubjectIssuer(), cfg.Issuer.Name())
	}
	cfg.Resources = slices.Clone(cfg.Resources)
	for i, r := range cfg.Resources {
		if !cfg.Verifier.Accepts(r.URL) {
			// Its tokens could be issued, but neither revoked (RFC 7009)
			// nor used at the endpoints.
			return nil, fmt.Errorf("endpoint: the Verifier refuses tokens for the resource %q: add it to token.VerifierConfig.Audiences", r.URL)
		}
		cfg.Resources[i].Scopes, cfg.Resources[i].AuthorizationServers = slices.Clone(r.Scopes), slices.Clone(r.AuthorizationServers)
		cfg.Resources[i].Except = slices.Clone(r.Except)
	}
	if cfg.Passwords == nil {
		var err error
		if cfg.Passwords, err = password.New(password.Config{}); err != nil {
			return nil, fmt.Errorf("endpoint: %w", err)
		}
	}
	ck, err := newCookies(cfg.Cookies)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, cookies: ck}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if !cfg.InsecureSkipThrottle {
		tc := cfg.Throttle
		if tc.Logger == nil {
			tc.Logger = s.log
		}
		if tc.Now == nil {
			tc.Now = s.now
		}
		if s.throttle, err = NewThrottle(tc); err != nil {
			return nil, err
		}
	}
	s.refresh, err = refresh.New(refresh.Config{Store: cfg.RefreshStore, AbsoluteLifetime: cfg.RefreshLifetime,
		IdleLifetime: cfg.RefreshIdle, GracePeriod: cfg.RefreshGracePeriod, Revoker: cfg.Revocation, Now: s.now})
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	s.firstParty = clients.Client{ID: cfg.ClientID, Kind: clients.Configured, FirstParty: true,
		GrantTypes: []string{clients.GrantPassword, clients.GrantRefreshToken}}
	if cfg.Authorization != nil {
		if s.authz, err = s.newAuthz(*cfg.Authorization); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Refresh returns the refresh token manager of the endpoints: for the
// operator's jobs, such as revoking a user's tokens when an administrator
// resets the password (RevokeSubject), or deleting expired families
// (Purge) now and then.
func (s *Server) Refresh() *refresh.Manager { return s.refresh }

// Throttle returns the login protection of the endpoints (nil with
// InsecureSkipThrottle, which throttles nothing): its Limit puts routes of
// your own under the same address budget, such as the callback of an
// OpenID Connect login.
func (s *Server) Throttle() *Throttle { return s.throttle }

// Router is where [Server.Mount] registers the endpoints: an
// *http.ServeMux or a chi.Router (both take "POST /path" patterns).
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Mount registers the endpoints on mux under prefix ("/auth"):
// POST prefix/login, /token, /revoke, and, behind authenticate (the
// middleware that puts the caller's principal in the context; its
// revocation list must be Config.Revocation, or logouts do not stop
// tokens), POST prefix/logout and /logout-all, GET prefix/devices and
// DELETE prefix/devices/{id}; with Config.Authorization, GET and POST
// prefix/authorize, GET and DELETE prefix/consents (behind authenticate)
// and, with registration on, POST prefix/register. In cookie mode,
// CookieConfig.RefreshPath must be prefix/token.
func (s *Server) Mount(mux Router, prefix string, authenticate func(http.Handler) http.Handler) {
	prefix = strings.TrimRight(prefix, "/")
	mux.Handle("POST "+prefix+"/login", s.Login())
	mux.Handle("POST "+prefix+"/token", s.Token())
	mux.Handle("POST "+prefix+"/revoke", s.Revoke())
	mux.Handle("POST "+prefix+"/logout", authenticate(s.Logout()))
	mux.Handle("POST "+prefix+"/logout-all", authenticate(s.LogoutAll()))
	mux.Handle("GET "+prefix+"/devices", authenticate(s.Devices()))
	mux.Handle("DELETE "+prefix+"/devices/{id}", authenticate(s.EndDevice()))
	if s.authz != nil {
		mux.Handle("GET "+prefix+"/authorize", s.Authorize())
		mux.Handle("POST "+prefix+"/authorize", s.Authorize())
		mux.Handle("GET "+prefix+"/consents", authenticate(s.Consents()))
		mux.Handle("DELETE "+prefix+"/consents", authenticate(s.RevokeConsent()))
		if h := s.Register(); h != nil {
			mux.Handle("POST "+prefix+"/register", h)
		}
	}
}

// Cookies returns cookie mode's configuration with its defaults filled
// in (the cookies' names, the refresh cookie's path, the origin check),
// and whether it is on (Config.Cookies).
func (s *Server) Cookies() (CookieConfig, bool) {
	c := s.cookies
	if c == nil {
		return CookieConfig{}, false
	}
	return CookieConfig{AccessName: c.access, RefreshName: c.refresh, BindName: c.bind, RefreshPath: c.path, CrossOrigin: c.cross}, true
}

func (s *Server) audit(r *http.Request, e Event) {
	if h := s.cfg.Hooks.Audit; h != nil {
		if e.Issuer == "" {
			e.Issuer = s.cfg.Issuer.Name()
		}
		e.ClientAddr = s.ClientAddr(r)
		h(r, e)
	}
}

// ClientAddr returns the address of r's client as the endpoints see it,
// what [Event.ClientAddr] holds: the [Throttle]'s, read behind
// ThrottleConfig.TrustedProxies ([Throttle.ClientAddr]); with
// InsecureSkipThrottle, the connection's. The zero Addr means the
// connection's address is not an IP.
func (s *Server) ClientAddr(r *http.Request) netip.Addr {
	if s.throttle == nil {
		return peerAddr(r.RemoteAddr)
	}
	a, _ := s.throttle.addrsOf.clientAddr(r)
	return a
}

// limitAddress takes a token of the budget of r's client address; false
// means it answered (429, or 503).
func (s *Server) limitAddress(w http.ResponseWriter, r *http.Request) bool {
	err := s.throttle.CheckAddress(r)
	if err != nil {
		s.throttled(w, r, "", err)
	}
	return err == nil
}

// beginPassword lets a password attempt for username through the
// throttle and Hooks.Allow, or answers it (429, or 503) and returns false.
// Call done once the password is checked.
func (s *Server) beginPassword(w http.ResponseWriter, r *http.Request, username string) (done func(), ok bool) {
	done, err := s.throttle.PasswordAttempt(r, username)
	if err != nil {
		s.throttled(w, r, username, err)
		return nil, false
	}
	if h := s.cfg.Hooks.Allow; h != nil {
		if ok, after := h(r, username); !ok {
			done()
			s.throttled(w, r, username, &LimitError{Budget: BudgetUsername, RetryAfter: after})
			return nil, false
		}
	}
	return done, true
}

// budgetOf names the budget a refusal of the throttle is over, for
// Event.Reason; "" for another error.
func budgetOf(err error) string {
	var le *LimitError
	if errors.As(err, &le) {
		return string(le.Budget)
	}
	return ""
}

// throttled answers a refusal of the throttle, and audits and logs it.
func (s *Server) throttled(w http.ResponseWriter, r *http.Request, username string, err error) {
	var le *LimitError
	if errors.As(err, &le) {
		// Debug: a flood is thousands of these; the audit event has each.
		s.log.DebugContext(r.Context(), "request throttled", "budget", string(le.Budget), "retry_after", le.RetryAfter)
		s.audit(r, Event{Kind: Throttled, Username: username, Reason: string(le.Budget)})
	} else if r.Context().Err() == nil {
		s.log.ErrorContext(r.Context(), "request refused: the throttle cannot answer", "err", err)
	}
	writeThrottled(w, r, err)
}
