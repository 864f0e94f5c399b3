package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sessionless/sessionless/identity"
)

// Verifier verifies one kind of credential and returns its principal.
// Verify must be safe for concurrent use. An error wrapping
// [ErrUnavailable] means "cannot tell now" and becomes a 503; any other
// error means the token is invalid. *token.Verifier implements it through
// its Authenticate method: see [VerifierFunc].
type Verifier interface {
	Authenticate(ctx context.Context, raw string) (*identity.Principal, error)
}

// VerifierFunc adapts a function to [Verifier].
type VerifierFunc func(ctx context.Context, raw string) (*identity.Principal, error)

// Authenticate calls f.
func (f VerifierFunc) Authenticate(ctx context.Context, raw string) (*identity.Principal, error) {
	return f(ctx, raw)
}

// RevocationChecker tells whether a verified principal's token has been
// revoked. It runs after signature verification on every request, cache
// hits included, so it must be a cheap local lookup and safe for
// concurrent use. An error wrapping [ErrUnavailable] gives a 503.
type RevocationChecker interface {
	Revoked(ctx context.Context, p *identity.Principal) (bool, error)
}

// Hooks observe authentication. Nil fields are skipped. Hooks run on the
// request's goroutine and must not block.
type Hooks struct {
	// OnAuthenticated runs after a request is authenticated.
	OnAuthenticated func(r *http.Request, p *identity.Principal, cached bool)
	// OnRejected runs when a request is refused, with the reason (one of
	// the package's sentinels wrapping the cause).
	OnRejected func(r *http.Request, err error)
}

// Config configures an [Authenticator]. The zero value of every optional
// field is the strict default.
type Config struct {
	// JWT routes JWTs (three dot-separated segments) by their unverified
	// "iss" to the verifier of that issuer: first-party tokens
	// (*token.Verifier) and external OIDC providers alike. A JWT whose iss
	// is not a key is rejected without calling any verifier. With exactly
	// one entry the iss is not read here: that verifier checks it.
	JWT map[string]Verifier
	// Prefixes routes opaque tokens by prefix (e.g. "sl_") to their
	// verifier (API tokens). A token matching no prefix and not shaped
	// like a JWT is invalid.
	Prefixes map[string]Verifier
	// Revocation is checked after verification. Nil: nothing is revoked.
	Revocation RevocationChecker

	// Realm is the realm of the WWW-Authenticate challenge. Default "api".
	Realm string
	// CookieName, when set, also reads the token from this cookie (for
	// browser clients). Default: off.
	CookieName string
	// QueryParam, when set, also reads the token from this query parameter.
	// Default: off; RFC 6750 §2.3 explains why (URLs end up in logs,
	// histories and Referer headers).
	QueryParam string
	// MaxTokenLength bounds the token, checked before parsing. Default 8 KiB.
	MaxTokenLength int
	// Optional lets requests without any credential through without a
	// principal. Invalid credentials are still rejected. Default: off,
	// every request must authenticate.
	Optional bool

	// CacheSize is the number of verified tokens kept, so a token sent
	// again skips signature verification. An entry never outlives its
	// token's exp, and revocation is re-checked on every hit. Default
	// 10000; negative turns the cache off.
	CacheSize int
	// ErrorHandler writes refusals. Default [WriteError].
	ErrorHandler ErrorHandler
	// Logger receives one debug line per refusal (never the token).
	// Default: discard.
	Logger *slog.Logger
	Hooks  Hooks
	// Now returns the current time, for cache expiry. Nil: time.Now.
	Now func() time.Time
}

// Authenticator authenticates requests. Build it with [New]; it is safe
// for concurrent use and holds no per-user state beyond the cache of
// verified tokens.
type Authenticator struct {
	cfg    Config
	maxLen int
	single Verifier // the only JWT verifier, when there is one
	cache  *cache
	errh   ErrorHandler
	log    *slog.Logger
	now    func() time.Time
}

// New checks cfg and returns an authenticator.
func New(cfg Config) (*Authenticator, error) {
	if len(cfg.JWT) == 0 && len(cfg.Prefixes) == 0 {
		return nil, errors.New("middleware: no verifiers configured")
	}
	for iss, v := range cfg.JWT {
		if iss == "" || v == nil {
			return nil, errors.New("middleware: JWT verifiers need an issuer and a verifier")
		}
	}
	for p, v := range cfg.Prefixes {
		if p == "" || v == nil || strings.Count(p, ".") > 0 {
			return nil, fmt.Errorf("middleware: bad prefix %q", p)
		}
	}
	a := &Authenticator{cfg: cfg, maxLen: cfg.MaxTokenLength, errh: cfg.ErrorHandler, log: cfg.Logger, now: cfg.Now}
	if a.maxLen == 0 {
		a.maxLen = 8 << 10
	}
	if cfg.Realm == "" {
		a.cfg.Realm = "api"
	}
	if strings.ContainsAny(a.cfg.Realm, "\"\\\r\n") {
		return nil, errors.New("middleware: realm must not contain quotes, backslashes or line breaks")
	}
	if a.errh == nil {
		a.errh = WriteError
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if len(cfg.JWT) == 1 {
		for _, v := range cfg.JWT {
			a.single = v
		}
	}
	size := cfg.CacheSize
	if size == 0 {
		size = 10000
	}
	if size > 0 {
		a.cache = newCache(size)
	}
	return a, nil
}

// Authenticate verifies raw (a token taken from anywhere: a websocket's
// init payload, gRPC metadata) exactly as the middleware does: routing,
// cache, revocation. Errors wrap the package's sentinels.
func (a *Authenticator) Authenticate(ctx context.Context, raw string) (*identity.Principal, error) {
	p, _, err := a.authenticate(ctx, raw)
	return p, err
}

func (a *Authenticator) authenticate(ctx context.Context, raw string) (*identity.Principal, bool, error) {
	if len(raw) > a.maxLen {
		return nil, false, fmt.Errorf("%w: token longer than %d bytes", ErrInvalidToken, a.maxLen)
	}
	now := a.now()
	var key cacheKey
	if a.cache != nil {
		key = keyOf(raw)
		if p, ok := a.cache.get(key, now); ok {
			if err := a.checkRevoked(ctx, p); err != nil {
				return nil, true, err
			}
			return p, true, nil
		}
	}
	// A token seen before had its characters checked then.
	if !isB64Token(raw) {
		return nil, false, fmt.Errorf("%w: the token has characters outside b64token", ErrInvalidRequest)
	}
	v, err := a.route(raw)
	if err != nil {
		return nil, false, err
	}
	p, err := v.Authenticate(ctx, raw)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if p == nil {
		return nil, false, fmt.Errorf("%w: verifier returned no principal", ErrInvalidToken)
	}
	if err := a.checkRevoked(ctx, p); err != nil {
		return nil, false, err
	}
	if a.cache != nil {
		a.cache.add(key, p, now)
	}
	return p, false, nil
}

func (a *Authenticator) checkRevoked(ctx context.Context, p *identity.Principal) error {
	if a.cfg.Revocation == nil {
		return nil
	}
	revoked, err := a.cfg.Revocation.Revoked(ctx, p)
	switch {
	case err != nil && errors.Is(err, ErrUnavailable):
		return err
	case err != nil:
		return fmt.Errorf("%w: revocation check: %w", ErrUnavailable, err)
	case revoked:
		return ErrRevoked
	}
	return nil
}

// route picks the verifier by the token's shape, without verifying.
func (a *Authenticator) route(raw string) (Verifier, error) {
	for prefix, v := range a.cfg.Prefixes {
		if strings.HasPrefix(raw, prefix) {
			return v, nil
		}
	}
	if strings.Count(raw, ".") != 2 || len(a.cfg.JWT) == 0 {
		return nil, fmt.Errorf("%w: unrecognized token kind", ErrInvalidToken)
	}
	if a.single != nil {
		return a.single, nil
	}
	iss, err := peekIssuer(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	v, ok := a.cfg.JWT[iss]
	if !ok {
		return nil, fmt.Errorf("%w: unknown issuer", ErrInvalidToken)
	}
	return v, nil
}

// Middleware authenticates every request and puts the principal in its
// context (read it with [PrincipalFrom]). It refuses requests without a
// valid credential, unless Config.Optional lets credential-less requests
// through anonymously.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := a.credential(r)
		if errors.Is(err, ErrNoCredentials) && a.cfg.Optional {
			next.ServeHTTP(w, r)
			return
		}
		var p *identity.Principal
		var cached bool
		if err == nil {
			p, cached, err = a.authenticate(r.Context(), raw)
		}
		if err != nil {
			a.reject(w, r, err)
			return
		}
		if h := a.cfg.Hooks.OnAuthenticated; h != nil {
			h(r, p, cached)
		}
		next.ServeHTTP(w, r.WithContext(identity.NewContext(r.Context(), p)))
	})
}

func (a *Authenticator) reject(w http.ResponseWriter, r *http.Request, err error) {
	if h := a.cfg.Hooks.OnRejected; h != nil {
		h(r, err)
	}
	a.log.LogAttrs(r.Context(), slog.LevelDebug, "request refused", slog.String("reason", err.Error()),
		slog.String("method", r.Method), slog.String("path", r.URL.Path))
	a.errh(w, r, &Refusal{Err: err, Realm: a.cfg.Realm})
}

// PrincipalFrom returns the principal the middleware put in ctx.
func PrincipalFrom(ctx context.Context) (*identity.Principal, bool) { return identity.FromContext(ctx) }
