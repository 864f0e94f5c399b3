package middleware

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sessionless/sessionless/identity"
)

// SessionSource reads a legacy server-side session: the bridge that lets
// routes accept the session cookie of the application being replaced
// while its logged-in users move to tokens
// (docs/migrating-from-sessions.md). Session returns the principal of the
// live session the cookie's value names.
//
// It only reads: it never locks the session, writes it, or extends its
// lifetime. An error wrapping [ErrUnavailable] means the session store
// cannot answer now (503); any other error, or a nil principal, means no
// live session has that value — unknown, expired, destroyed, logged out
// or malformed — and the request is refused with [ErrInvalidSession].
// The value comes from the request as it is: the source checks its syntax
// before it becomes a file name or a key. The value is a credential:
// errors, which are logged, must not hold it. Session must be safe for
// concurrent use.
//
// bridge/phpsession (PHP's files and Redis save handlers) and
// bridge/gorilla (github.com/gorilla/sessions stores) implement it.
type SessionSource interface {
	Session(ctx context.Context, value string) (*identity.Principal, error)
}

// Bounds of [SessionConfig.CacheAge].
const (
	// DefaultSessionCacheAge is how long a session's principal is served
	// from the cache when SessionConfig.CacheAge is zero: long enough for
	// the burst of calls a page makes to read the session once, short
	// enough that a logout in the legacy application is honoured at
	// once as far as a user can tell.
	DefaultSessionCacheAge = time.Second
	// MaxSessionCacheAge is the longest SessionConfig.CacheAge New
	// accepts. A session can end in its store at any moment (a logout, an
	// administrator, the garbage collector), which the cache does not
	// see: every instance keeps accepting it until its entry expires.
	MaxSessionCacheAge = 10 * time.Second
)

// SessionConfig accepts a legacy session cookie beside tokens, during a
// migration from server sessions. A request without a token (no
// Authorization header, token cookie or query parameter) that carries
// the cookie is authenticated by [SessionSource.Session]; its principal's
// Method is [identity.Session]. A token always wins: the session cookie
// of a request with a token is not read, and a request with an invalid
// token is refused, whatever session it also carries (never downgraded
// to it).
type SessionConfig struct {
	// CookieName is the session cookie: "PHPSESSID" (PHP's session.name),
	// the name a gorilla/sessions store is asked for, or scs's
	// Cookie.Name ("session"). Required with Source; it must differ from
	// Config.CookieName. Two cookies of this name (cookie tossing: a
	// sibling subdomain sets a second one) are refused with 400, as
	// Config.CookieName's are.
	CookieName string
	// Source reads the session. Nil (the default): no session is
	// accepted.
	Source SessionSource
	// CacheAge is how long a session's principal is served from the
	// verified-token cache (Config.CacheSize) before the source is read
	// again, and never past the principal's ExpiresAt; revocation is
	// checked on every hit. A session destroyed in its store is accepted
	// until then, on every instance that cached it. Zero means
	// DefaultSessionCacheAge (1s); New refuses more than
	// MaxSessionCacheAge (10s); negative reads the session on every
	// request.
	CacheAge time.Duration
	// CrossOrigin refuses session-authenticated requests that browsers
	// report as coming from another origin (Sec-Fetch-Site, else Origin
	// against Host) with an unsafe method (POST, PUT, PATCH, DELETE): 403
	// [ErrCrossOrigin], before the session is read. Browsers attach the
	// cookie to cross-site requests on their own (CSRF); they never
	// attach a bearer token, so token requests are not checked. Trust an
	// origin of your own with AddTrustedOrigin. Nil means
	// Config.CrossOrigin's, which is same origin only when nil too.
	CrossOrigin *http.CrossOriginProtection
}

// session is what an Authenticator keeps of its SessionConfig.
type session struct {
	cookie string
	src    SessionSource
	cross  *http.CrossOriginProtection
	route  *route // for the cache: maxAge is CacheAge
	keyer  *keyer // cache keys of session values, apart from tokens'
	cached bool   // CacheAge > 0 and the cache is on
}

// newSession checks cfg.Session; nil when no session is accepted.
func newSession(cfg Config) (*session, error) {
	sc := cfg.Session
	switch {
	case sc.Source == nil && sc.CookieName == "":
		return nil, nil
	case sc.Source == nil || sc.CookieName == "":
		return nil, errors.New("middleware: Session needs both a CookieName and a Source")
	case sc.CookieName == cfg.CookieName:
		return nil, fmt.Errorf("middleware: the session cookie %q is also Config.CookieName", sc.CookieName)
	case !validCookieName(sc.CookieName):
		return nil, fmt.Errorf("middleware: bad session cookie name %q", sc.CookieName)
	case sc.CacheAge > MaxSessionCacheAge:
		return nil, fmt.Errorf("middleware: Session.CacheAge %v exceeds MaxSessionCacheAge %v: a session destroyed in its store would stay accepted that long", sc.CacheAge, MaxSessionCacheAge)
	}
	age := sc.CacheAge
	if age == 0 {
		age = DefaultSessionCacheAge
	}
	s := &session{cookie: sc.CookieName, src: sc.Source, cross: sc.CrossOrigin, route: &route{maxAge: max(age, 0)}}
	if s.cross == nil {
		s.cross = cfg.CrossOrigin
	}
	if s.cross == nil {
		s.cross = http.NewCrossOriginProtection()
	}
	return s, nil
}

// validCookieName reports whether name is an RFC 6265 token, as
// net/http reads cookie names.
func validCookieName(name string) bool {
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || isSeparator(c) {
			return false
		}
	}
	return name != ""
}

func isSeparator(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return true
	}
	return false
}

// SessionTokenID returns the TokenID the middleware gives a session's
// principal when its source sets none: "sess_" and 22 base64url
// characters of the SHA-256 of the cookie's value, to tell sessions apart
// in logs and revocation lists without writing the value (a credential)
// anywhere.
func SessionTokenID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return "sess_" + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// fromSession authenticates r by its session cookie: ErrNoCredentials
// without one (or with an empty one), ErrInvalidRequest with two,
// ErrCrossOrigin for an unsafe cross-origin request, ErrInvalidSession
// when the source knows no live session by its value.
func (a *Authenticator) fromSession(r *http.Request) (*identity.Principal, bool, error) {
	s := a.session
	cs := r.CookiesNamed(s.cookie)
	switch {
	case len(cs) > 1:
		return nil, false, fmt.Errorf("%w: more than one %s cookie", ErrInvalidRequest, s.cookie)
	case len(cs) == 0 || cs[0].Value == "":
		return nil, false, ErrNoCredentials
	}
	value := cs[0].Value
	if err := checkOrigin(s.cross, r); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrCrossOrigin, err)
	}
	if len(value) > a.maxLen {
		return nil, false, fmt.Errorf("%w: session cookie longer than %d bytes", ErrInvalidSession, a.maxLen)
	}
	ctx := r.Context()
	now := a.now()
	var key cacheKey
	if s.cached {
		key = s.keyer.key(value)
		if p, ok := a.cache.get(key, now); ok {
			if err := a.checkRevoked(ctx, p); err != nil {
				return nil, true, err
			}
			return p, true, nil
		}
	}
	p, err := s.src.Session(ctx, value)
	switch {
	case err != nil && errors.Is(err, ErrUnavailable):
		return nil, false, err
	case err != nil:
		return nil, false, fmt.Errorf("%w: %w", ErrInvalidSession, err)
	case p == nil:
		return nil, false, fmt.Errorf("%w: the source returned no principal", ErrInvalidSession)
	}
	own := *p
	own.Method = identity.Session
	if own.TokenID == "" {
		own.TokenID = SessionTokenID(value)
	}
	if err := a.checkRevoked(ctx, &own); err != nil {
		return nil, false, err
	}
	if s.cached {
		a.cache.add(key, &own, s.route, now)
	}
	return &own, false, nil
}
