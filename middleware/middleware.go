package middleware

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/exturl"
)

// Verifier verifies one kind of credential and returns its principal.
// Authenticate must be safe for concurrent use. An error wrapping
// [ErrUnavailable] (identity.ErrUnavailable) means "cannot tell now" and
// becomes a 503; any other error means the token is invalid.
// *token.Verifier implements it. A verifier may also implement
// [CachePolicy] to tell the cache how long its answers stand (a wrapper
// around a verifier should forward it), and its principals' Claims
// [TrustChecker], to say when the key that verified them is retired.
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

// ProofChecker checks DPoP proofs (RFC 9449) for the middleware.
// *dpop.Verifier implements it.
type ProofChecker interface {
	// CheckProof verifies proof for a request of method to url carrying
	// accessToken, and returns the thumbprint of the proof's key. An
	// error wrapping [ErrUnavailable] means it cannot tell now (its replay
	// cache is down).
	CheckProof(ctx context.Context, proof, method, url, accessToken string) (jkt string, err error)
	// AlgNames lists the proof algorithms accepted, for the challenge.
	AlgNames() []string
	// Nonce returns a fresh server nonce for the DPoP-Nonce header, or ""
	// when the checker requires none. A CheckProof error with a method
	// NonceRequired() bool that returns true means the proof lacks a
	// fresh nonce (RFC 9449 §8).
	Nonce() string
}

// Bound is an optional interface of a principal's Claims: BoundKey
// returns the thumbprint of the key the token is bound to (cnf.jkt), or
// "" for a bearer token. *token.Claims implements it.
type Bound interface {
	BoundKey() string
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
	// verifier (API tokens). When prefixes overlap ("sl_" and
	// "sl_live_"), the longest that matches wins. A prefix must be
	// b64token characters without "." or "=", and must not be a possible
	// start of a JWT ("e" alone, or "e" followed by "w", "y" or "3", as in
	// "eyJ"): New refuses it. A token matching no prefix and not shaped
	// like a JWT is invalid.
	Prefixes map[string]Verifier
	// Revocation is checked after verification. Nil: nothing is revoked.
	Revocation RevocationChecker
	// DPoP, when set, accepts DPoP-bound tokens (RFC 9449): a token whose
	// claims report a bound key ([Bound], e.g. token.Claims with cnf.jkt)
	// must come as "Authorization: DPoP <token>" with exactly one DPoP
	// header holding a proof by that key for this request, checked on
	// every request, cached token or not; sent as Bearer it is refused
	// (no "Bearer bypass"). A token that is not bound is refused under
	// the DPoP scheme. *dpop.Verifier implements it. Nil: the DPoP scheme
	// is not accepted, and bound tokens are refused.
	DPoP ProofChecker
	// Resources are the server's protected resources (RFC 9728, RFC
	// 8707), distinct. Every 401 challenge announces a metadata document
	// as resource_metadata="…" (§5.1): with ExternalURL, the document of
	// the request's own URL (its resource is that URL, §3.3) when the URL
	// lies under one of them (under the route's, for a route of
	// [Authenticator.Protect]: [ResourceFor]); else the document of the
	// route's resource, or of the most specific resource whose path the
	// request's path lies under, or of the only one. Empty: challenges
	// announce no metadata.
	Resources []Resource
	// Audiences are the audiences of the tokens good at every resource:
	// the API's general audience (token.VerifierConfig.Audience) and the
	// audiences of providers' tokens (oidc.Config.Audiences). Under
	// [Authenticator.Protect] a token needs one of them, or a resource its
	// route lies under, as its audience: a token asked for another
	// resource is refused, whichever resource that is. None may be the URL
	// of one of Resources (New refuses it). Empty: every token with an
	// audience must have been asked for a resource of its route.
	Audiences []string
	// Session, when its Source is set, also accepts a legacy session
	// cookie during a migration from server sessions: see
	// [SessionConfig]. Default: off.
	Session SessionConfig
	// ExternalURL is the public URL of the server's root, as the clients
	// call it ("https://api.example", or "https://example.com/api" behind
	// a proxy that strips /api): a DPoP proof's htu must be it followed
	// by the path of the request as it arrived (its request-target, so
	// http.StripPrefix does not change it). Required with DPoP: the Host
	// header is the client's to choose, so it proves nothing.
	ExternalURL string

	// Realm is the realm of the WWW-Authenticate challenge. Default "api".
	Realm string
	// CookieName, when set, also reads the token from this cookie (for
	// browser clients: token/endpoint's cookie mode sets it, HttpOnly).
	// Default: off. Two cookies of this name (a sibling subdomain can set
	// one: cookie tossing) are refused with 400; name it with the
	// "__Host-" prefix (e.g. "__Host-access_token") so that browsers
	// accept it only from this host, Secure, for path "/". A request
	// authenticated by it with an unsafe method passes CrossOrigin
	// first, and its answer gets "Cache-Control: no-store" (personal data
	// must not stay in caches, nor come back with the back button after a
	// logout) unless the handler sets its own.
	CookieName string
	// CrossOrigin refuses requests authenticated by a cookie (CookieName,
	// or the legacy session's) that browsers report as coming from
	// another origin (Sec-Fetch-Site, else Origin against Host) with an
	// unsafe method (POST, PUT, PATCH, DELETE): 403 [ErrCrossOrigin],
	// before the token is verified (CSRF: browsers attach cookies to
	// other sites' requests on their own; they never attach an
	// Authorization header, so header credentials are not checked).
	// Another port of the same host is another origin. A WebSocket
	// handshake (a GET with "Upgrade: websocket", which browsers send
	// from any page without CORS) is checked as an unsafe request. Trust
	// an origin of your own with AddTrustedOrigin. Nil means
	// http.NewCrossOriginProtection(): same origin only.
	CrossOrigin *http.CrossOriginProtection
	// QueryParam, when set, also reads the token from this query parameter.
	// Default: off; RFC 6750 §2.3 explains why (URLs end up in logs,
	// histories and Referer headers).
	QueryParam string
	// MaxTokenLength bounds the token, checked before parsing: a longer
	// token, wherever it is sent, is refused with 401 invalid_token.
	// Default 8 KiB.
	MaxTokenLength int
	// Optional lets requests without any credential through without a
	// principal. Invalid credentials are still rejected, but for a
	// legacy session cookie naming no live session ([ErrInvalidSession]:
	// browsers keep such cookies), which goes through anonymously too.
	// Default: off, every request must authenticate.
	Optional bool

	// CacheSize is the number of verified tokens kept, so a token sent
	// again skips verification. An entry never outlives its token's exp
	// nor its verifier's [CachePolicy], is dropped once the key that
	// verified it is retired ([TrustChecker]), and revocation is
	// re-checked on every hit. Default 10000; negative turns the cache off.
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
	cfg      Config
	maxLen   int
	prefixes []prefixRoute     // longest prefix first
	jwt      map[string]*route // by issuer
	single   *route            // the only JWT route, when there is one
	cache    *cache
	keyer    *keyer
	errh     ErrorHandler
	log      *slog.Logger
	now      func() time.Time
	dpopAlgs string   // for the DPoP challenge; "" without DPoP
	session  *session // nil: no legacy session accepted
	cross    *http.CrossOriginProtection
}

// route is one verifier with what the cache needs to know of it.
type route struct {
	v      Verifier
	maxAge time.Duration // longest a principal is cached; -1: until it expires
}

type prefixRoute struct {
	prefix string
	*route
}

func newRoute(v Verifier, opaque bool) *route {
	r := &route{v: v, maxAge: -1}
	if opaque {
		r.maxAge = DefaultOpaqueCacheAge
	}
	if p, ok := v.(CachePolicy); ok {
		r.maxAge = max(p.MaxCacheAge(), 0)
	}
	return r
}

// New checks cfg and returns an authenticator.
func New(cfg Config) (*Authenticator, error) {
	if len(cfg.JWT) == 0 && len(cfg.Prefixes) == 0 && cfg.Session.Source == nil {
		return nil, errors.New("middleware: no verifiers configured")
	}
	a := &Authenticator{cfg: cfg, maxLen: cfg.MaxTokenLength, jwt: map[string]*route{}, errh: cfg.ErrorHandler, log: cfg.Logger, now: cfg.Now}
	if cfg.DPoP != nil {
		a.dpopAlgs = strings.Join(cfg.DPoP.AlgNames(), " ")
	}
	if a.cross = cfg.CrossOrigin; a.cross == nil {
		a.cross = http.NewCrossOriginProtection()
	}
	if cfg.DPoP != nil && cfg.ExternalURL == "" {
		return nil, errors.New("middleware: DPoP needs ExternalURL, the public URL the proofs' htu name (the Host header proves nothing)")
	}
	if cfg.ExternalURL != "" {
		ext, err := exturl.Parse(cfg.ExternalURL)
		if err != nil {
			return nil, fmt.Errorf("middleware: ExternalURL: %w", err)
		}
		a.cfg.ExternalURL = ext
	}
	for iss, v := range cfg.JWT {
		if iss == "" || v == nil {
			return nil, errors.New("middleware: JWT verifiers need an issuer and a verifier")
		}
		a.jwt[iss] = newRoute(v, false)
		a.single = a.jwt[iss]
	}
	if len(a.jwt) != 1 {
		a.single = nil
	}
	for p, v := range cfg.Prefixes {
		if v == nil {
			return nil, fmt.Errorf("middleware: prefix %q has no verifier", p)
		}
		if err := checkPrefix(p); err != nil {
			return nil, err
		}
		a.prefixes = append(a.prefixes, prefixRoute{p, newRoute(v, true)})
	}
	slices.SortFunc(a.prefixes, func(x, y prefixRoute) int {
		return cmp.Or(cmp.Compare(len(y.prefix), len(x.prefix)), strings.Compare(x.prefix, y.prefix))
	})
	if a.maxLen == 0 {
		a.maxLen = 8 << 10
	}
	if cfg.Realm == "" {
		a.cfg.Realm = "api"
	}
	if err := a.setResources(cfg.Resources); err != nil {
		return nil, err
	}
	for _, aud := range cfg.Audiences {
		switch {
		case aud == "":
			return nil, errors.New("middleware: an empty audience in Audiences")
		case a.resource(aud) != nil:
			return nil, fmt.Errorf("middleware: audience %q is a resource's URL: a token for it is good where the resource covers, not everywhere", aud)
		}
	}
	a.cfg.Audiences = slices.Clone(cfg.Audiences)
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
	size := cfg.CacheSize
	if size == 0 {
		size = 10000
	}
	if size > 0 {
		a.cache = newCache(size)
		a.keyer = newKeyer()
	}
	var err error
	if a.session, err = newSession(cfg); err != nil {
		return nil, err
	}
	if s := a.session; s != nil && a.cache != nil && s.route.maxAge > 0 {
		// A key of its own: no token can hit a session's entry, nor a
		// session a token's, whatever bytes either holds.
		s.keyer, s.cached = newKeyer(), true
	}
	return a, nil
}

// checkPrefix refuses a prefix that is not b64token characters, contains
// "." or "=", or could be the start of a JWT: a JWS header is a JSON
// object, "{" followed by white space, a quote or "}", which base64url
// encodes as "e" followed by "w", "y" or "3" ("eyJ" for `{"`).
func checkPrefix(p string) error {
	switch {
	case p == "" || !isB64Token(p) || strings.ContainsAny(p, ".="):
		return fmt.Errorf("middleware: bad prefix %q: want b64token characters without . or =", p)
	case p == "e" || p[0] == 'e' && strings.IndexByte("wy3", p[1]) >= 0:
		return fmt.Errorf("middleware: prefix %q could capture JWTs (their headers start ew, ey or e3)", p)
	}
	return nil
}

// Authenticate verifies raw (a token taken from anywhere: a websocket's
// init payload, gRPC metadata) exactly as the middleware does: routing,
// cache, revocation. Errors wrap the package's sentinels. The principal
// is the caller's own copy.
func (a *Authenticator) Authenticate(ctx context.Context, raw string) (*identity.Principal, error) {
	p, _, err := a.authenticate(ctx, raw)
	if err != nil {
		return nil, err
	}
	if boundKey(p) != "" {
		// No request, no proof: a bound token alone proves nothing.
		return nil, fmt.Errorf("%w: a DPoP-bound token needs a proof", ErrInvalidToken)
	}
	own := *p
	own.Scopes, own.Roles = slices.Clip(own.Scopes), slices.Clip(own.Roles)
	return &own, nil
}

// authenticate returns the principal of raw, shared with the cache.
func (a *Authenticator) authenticate(ctx context.Context, raw string) (*identity.Principal, bool, error) {
	if len(raw) > a.maxLen {
		return nil, false, fmt.Errorf("%w: token longer than %d bytes", ErrInvalidToken, a.maxLen)
	}
	now := a.now()
	var key cacheKey
	if a.cache != nil {
		key = a.keyer.key(raw)
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
	r, err := a.route(raw)
	if err != nil {
		return nil, false, err
	}
	p, err := r.v.Authenticate(ctx, raw)
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
	if a.cache != nil && r.maxAge != 0 {
		a.cache.add(key, p, r, now)
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

// route picks the verifier by the token's shape, without verifying: the
// longest matching prefix, else a JWT's issuer.
func (a *Authenticator) route(raw string) (*route, error) {
	for _, p := range a.prefixes {
		if strings.HasPrefix(raw, p.prefix) {
			return p.route, nil
		}
	}
	if strings.Count(raw, ".") != 2 || len(a.jwt) == 0 {
		return nil, fmt.Errorf("%w: unrecognized token kind", ErrInvalidToken)
	}
	if a.single != nil {
		return a.single, nil
	}
	iss, err := peekIssuer(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	r, ok := a.jwt[iss]
	if !ok {
		return nil, fmt.Errorf("%w: unknown issuer", ErrInvalidToken)
	}
	return r, nil
}

// Middleware authenticates every request and puts the principal in its
// context (read it with [PrincipalFrom]). It refuses requests without a
// valid credential, unless Config.Optional lets credential-less requests
// through anonymously.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return a.serve(nil, next)
}

// serve is Middleware for the routes of res; nil: the resource of each
// request.
func (a *Authenticator) serve(res *Resource, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, dpop, cookie, err := a.credential(r)
		var p *identity.Principal
		var cached bool
		switch {
		case err == nil:
			p, cached, err = a.authenticate(r.Context(), raw)
			if err == nil {
				err = a.checkBinding(r, raw, dpop, p)
			}
		case errors.Is(err, ErrNoCredentials) && a.session != nil:
			// No token: the legacy session cookie, if any. A token, valid
			// or not, always wins over it.
			p, cached, err = a.fromSession(r)
			cookie = true
		}
		if a.cfg.Optional && (errors.Is(err, ErrNoCredentials) || errors.Is(err, ErrInvalidSession)) {
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			a.reject(w, r, res, err, nil)
			return
		}
		if dpop {
			// With server nonces, every answer carries the current one
			// (RFC 9449 §8.2): the client's next proof needs no retry.
			if n := a.cfg.DPoP.Nonce(); n != "" {
				w.Header().Set("DPoP-Nonce", n)
			}
		}
		if cookie {
			// A browser's credential: the answer holds personal data that
			// no cache may keep (the back button after a logout).
			own := *p // on the stack: NewContext copies it
			own.FromCookie = true
			p = &own
			w.Header()["Cache-Control"] = noStore
		}
		// The request gets its own copy of the cached principal.
		ctx := identity.NewContext(r.Context(), p)
		if h := a.cfg.Hooks.OnAuthenticated; h != nil {
			own, _ := identity.FromContext(ctx)
			h(r, own, cached)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// noStore is the Cache-Control of answers to cookie credentials, one
// slice for all (Header.Set would allocate one per request): a handler
// that sets its own replaces it, and appending to it copies it.
var noStore = []string{"no-store"}

// boundKey returns the key p's token is bound to, or "".
func boundKey(p *identity.Principal) string {
	if b, ok := p.Claims.(Bound); ok {
		return b.BoundKey()
	}
	return ""
}

// checkBinding enforces DPoP (RFC 9449 §7.1) on every request, cached
// token or not: a bound token only under the DPoP scheme with a proof by
// its key; the DPoP scheme only with a bound token.
func (a *Authenticator) checkBinding(r *http.Request, raw string, dpop bool, p *identity.Principal) error {
	bound := boundKey(p)
	if !dpop {
		if bound != "" {
			return fmt.Errorf("%w: a DPoP-bound token sent as a bearer token", ErrInvalidToken)
		}
		return nil
	}
	if bound == "" {
		return fmt.Errorf("%w: not a DPoP-bound token", ErrInvalidToken)
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return fmt.Errorf("%w: want exactly one DPoP header, got %d", ErrInvalidDPoPProof, len(proofs))
	}
	jkt, err := a.cfg.DPoP.CheckProof(r.Context(), proofs[0], r.Method, a.requestURL(r), raw)
	switch {
	case err != nil && errors.Is(err, ErrUnavailable):
		return err
	case err != nil && needsNonce(err):
		return fmt.Errorf("%w: %w", ErrUseDPoPNonce, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrInvalidDPoPProof, err)
	case subtle.ConstantTimeCompare([]byte(jkt), []byte(bound)) != 1:
		return fmt.Errorf("%w: the proof's key is not the token's", ErrInvalidDPoPProof)
	}
	return nil
}

// needsNonce reports whether err says a proof lacks a fresh nonce.
func needsNonce(err error) bool {
	var n interface{ NonceRequired() bool }
	return errors.As(err, &n) && n.NonceRequired()
}

// requestURL is the URL the client used, for a proof's htu.
func (a *Authenticator) requestURL(r *http.Request) string {
	return exturl.RequestURL(a.cfg.ExternalURL, r)
}

func (a *Authenticator) reject(w http.ResponseWriter, r *http.Request, res *Resource, err error, scopes []string) {
	if h := a.cfg.Hooks.OnRejected; h != nil {
		h(r, err)
	}
	a.log.LogAttrs(r.Context(), slog.LevelDebug, "request refused", slog.String("reason", err.Error()),
		slog.String("method", r.Method), slog.String("path", r.URL.Path))
	ref := a.refusal(r, res, err)
	ref.Scopes = scopes
	if errors.Is(err, ErrUseDPoPNonce) {
		ref.DPoPNonce = a.cfg.DPoP.Nonce()
	}
	a.errh(w, r, ref)
}

// refusal describes a refusal of r for the ErrorHandler: the challenges'
// parameters, and the scheme the client used. res is the route's
// resource, nil when the route names none.
func (a *Authenticator) refusal(r *http.Request, res *Resource, err error) *Refusal {
	ref := &Refusal{Err: err, Realm: a.cfg.Realm, DPoPAlgs: a.dpopAlgs}
	ref.ResourceMetadata = a.challengeMetadata(r, res)
	if a.dpopAlgs != "" {
		if h := r.Header.Get("Authorization"); len(h) > 5 && strings.EqualFold(h[:5], "DPoP ") {
			ref.Scheme = "DPoP"
		}
	}
	return ref
}

// PrincipalFrom returns the principal the middleware put in ctx.
func PrincipalFrom(ctx context.Context) (*identity.Principal, bool) { return identity.FromContext(ctx) }
