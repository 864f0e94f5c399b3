package oidc

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/strictjson"
	"github.com/sessionless/sessionless/token"
)

// Defaults of a [Config].
const (
	// DefaultRefreshInterval is the least time between two fetches of a
	// provider's keys, however many tokens with unknown kids arrive.
	DefaultRefreshInterval = 30 * time.Second
	// DefaultKeyMaxAge is how old the keys may get before they are
	// fetched again in the background (to see keys removed at the
	// provider).
	DefaultKeyMaxAge = 5 * time.Minute
	// DefaultHTTPTimeout bounds a fetch of the discovery document or the
	// keys.
	DefaultHTTPTimeout = 10 * time.Second
	// DefaultMaxDocumentSize bounds the discovery document and the JWK Set.
	DefaultMaxDocumentSize = 1 << 20
)

// Errors. Authenticate wraps one of them, a token package sentinel
// (token.ErrExpired, token.ErrAudience, …), or identity.ErrUnavailable.
var (
	// ErrWrongIssuer: the token's unverified "iss" is not the provider's;
	// refused before any network call.
	ErrWrongIssuer = errors.New("oidc: token of another issuer")
	// ErrUnauthorizedParty: "azp" (or "client_id") is not in
	// Config.AuthorizedParties.
	ErrUnauthorizedParty = errors.New("oidc: token issued to a client that is not allowed")
	// ErrNotAccessToken: the token is an ID token (or another token that
	// is not an access token): it carries a claim only ID tokens carry
	// (at_hash, c_hash, nonce, auth_time with the client in aud: see
	// [Provider.Authenticate]), or its mapping tells it apart.
	ErrNotAccessToken = errors.New("oidc: not an access token")
)

// Config configures a [Provider]: one trusted issuer.
type Config struct {
	// Issuer is the provider's issuer identifier, the exact "iss" of its
	// tokens (Keycloak: https://host/realms/REALM; Auth0:
	// https://TENANT.auth0.com/ with its trailing slash). Required.
	Issuer string
	// JWKSURL, when set, is where the provider's keys are; discovery
	// (Issuer + "/.well-known/openid-configuration") is then not used.
	// For issuers without discovery: gateways, other libraries.
	JWKSURL string
	// Audiences: a token must have one of them in "aud" (the API's
	// identifier: Auth0's API identifier, the Keycloak client of the API
	// made an audience by a mapper, or Keycloak's default "account").
	// Required.
	Audiences []string
	// AuthorizedParties, when set, is the allow-list of the clients whose
	// tokens are accepted: "azp", or else "client_id" (RFC 9068), "cid"
	// (Okta) or "appid" (Entra ID v1).
	AuthorizedParties []string
	// Algorithms are those accepted, asymmetric only. Default RS256 (what
	// Keycloak, Auth0 and Dex sign with). A key of the provider without
	// "alg" gets the one of these that fits it.
	Algorithms []token.Algorithm
	// Mapping turns the provider's claims into the principal. Default
	// Generic(). Its Profile says what the provider's tokens may leave
	// out, unless Profile is set.
	Mapping Mapping
	// Profile, when set, replaces the mapping's: what a token may leave
	// out (typ at+jwt, jti, iat, sub).
	Profile *token.Profile
	// Leeway tolerates clock skew for exp, nbf and iat (token.Verifier's
	// rules: default 30 s, at most 5 min, negative for none).
	Leeway time.Duration
	// MaxTokenLifetime is the longest lifetime accepted (exp − iat).
	// Default 24 h (Auth0's default access token lifetime; Keycloak's is
	// 5 min). The revocation list checked with this provider must keep
	// entries at least as long (revocation.Config.MaxTokenLifetime).
	MaxTokenLifetime time.Duration
	// RefreshInterval is the least time between two fetches of the keys
	// (a token with an unknown kid triggers one). Default
	// DefaultRefreshInterval (30 s); at least 1 s.
	RefreshInterval time.Duration
	// KeyMaxAge: keys older than this are fetched again in the
	// background. Default DefaultKeyMaxAge (5 min).
	KeyMaxAge time.Duration
	// HTTPClient fetches the discovery document and the keys. Default: a
	// client with a DefaultHTTPTimeout timeout. Whatever its timeout, a
	// fetch is abandoned after twice DefaultHTTPTimeout, and documents
	// over DefaultMaxDocumentSize are refused.
	HTTPClient *http.Client
	// Logger receives failures of background fetches. Default: discard.
	Logger *slog.Logger
	// Hooks observe the provider's key fetches.
	Hooks Hooks
	// Now returns the current time. Nil: time.Now.
	Now func() time.Time
}

// Hooks observe a [Provider]. Nil fields are skipped.
type Hooks struct {
	// OnKeysRefreshed runs after each fetch of the keys (discovery
	// included, in the background or not), with its error or nil, once
	// the keys fetched are in use and the requests that waited for the
	// fetch have gone on. It runs on the fetch's goroutine and must not
	// block: a metric, a log line, a test waiting for a background
	// refresh.
	OnKeysRefreshed func(err error)
	// OnKeysChanged runs after a fetch that changed the keys held, with
	// the key IDs (kid) it added and removed, sorted: the first fetch
	// adds every key. It runs on the fetch's goroutine, before
	// OnKeysRefreshed, and must not block: an audit record
	// (audit.ProviderKeysHook), a log line.
	OnKeysChanged func(added, removed []string)
}

// Provider verifies the access tokens of one OpenID Connect provider,
// locally: after the keys are fetched, no request calls the provider. It
// implements middleware.Verifier (register it in middleware.Config.JWT
// under its issuer) and is safe for concurrent use.
type Provider struct {
	cfg     Config
	keys    *remoteKeys
	tcfg    token.VerifierConfig
	profile token.Profile
	v       atomic.Pointer[token.Verifier]
	log     *slog.Logger

	discoverMu sync.Mutex
	jwksURL    string // from discovery, once it succeeded
}

// New checks cfg and returns a provider. It does no I/O: the keys are
// fetched by the first token that needs them, or by [Provider.Warm].
func New(cfg Config) (*Provider, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("oidc: Config.Issuer is required")
	}
	if len(cfg.Audiences) == 0 || slices.Contains(cfg.Audiences, "") {
		return nil, errors.New("oidc: Config.Audiences is required: the API's identifiers its tokens carry in aud")
	}
	if slices.Contains(cfg.AuthorizedParties, "") {
		return nil, errors.New("oidc: an empty Config.AuthorizedParties entry")
	}
	if cfg.JWKSURL != "" {
		if u, err := url.Parse(cfg.JWKSURL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			return nil, fmt.Errorf("oidc: Config.JWKSURL %q is not an http(s) URL", cfg.JWKSURL)
		}
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []token.Algorithm{token.RS256}
	}
	for _, a := range cfg.Algorithms {
		if !a.Asymmetric() {
			return nil, fmt.Errorf("oidc: algorithm %q: want an asymmetric one (RS256, PS256, ES256, EdDSA or Ed25519, …)", a)
		}
	}
	if cfg.Mapping.Map == nil {
		cfg.Mapping = Generic()
	}
	switch {
	case cfg.RefreshInterval == 0:
		cfg.RefreshInterval = DefaultRefreshInterval
	case cfg.RefreshInterval < time.Second:
		return nil, errors.New("oidc: Config.RefreshInterval must be at least 1s")
	}
	if cfg.KeyMaxAge <= 0 {
		cfg.KeyMaxAge = DefaultKeyMaxAge
	}
	cfg.HTTPClient = limitedClient(cfg.HTTPClient)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Provider{cfg: cfg, log: cfg.Logger, profile: cfg.Mapping.Profile}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Profile != nil {
		p.profile = *cfg.Profile
	}
	p.tcfg = token.VerifierConfig{
		Issuer:           cfg.Issuer,
		Audiences:        cfg.Audiences,
		Profile:          p.profile,
		Leeway:           cfg.Leeway,
		MaxTokenLifetime: cfg.MaxTokenLifetime,
		Now:              cfg.Now,
	}
	// Checked now: a bad leeway or lifetime is a configuration error.
	if err := checkVerifierConfig(p.tcfg); err != nil {
		return nil, err
	}
	p.keys = &remoteKeys{
		jwksURL: p.jwks, client: cfg.HTTPClient, algs: cfg.Algorithms,
		minInterval: cfg.RefreshInterval, maxAge: cfg.KeyMaxAge, maxSize: DefaultMaxDocumentSize,
		now: cfg.Now, log: p.log.With("issuer", cfg.Issuer), onFetched: cfg.Hooks.OnKeysRefreshed,
		onChanged: cfg.Hooks.OnKeysChanged,
	}
	return p, nil
}

// limitedClient returns a copy of c (or of a DefaultHTTPTimeout client)
// whose response bodies fail past DefaultMaxDocumentSize: go-oidc reads
// the discovery document without a limit.
func limitedClient(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	lc := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	lc.Transport = limitTransport{base}
	return &lc
}

type limitTransport struct{ base http.RoundTripper }

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err == nil {
		resp.Body = &limitedBody{ReadCloser: resp.Body, left: DefaultMaxDocumentSize}
	}
	return resp, err
}

// limitedBody fails once more than left bytes have been read.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

var errTooLarge = fmt.Errorf("oidc: a document from the provider is larger than %d bytes", DefaultMaxDocumentSize)

// checkVerifierConfig builds a verifier on a throwaway key, to check cfg.
func checkVerifierConfig(cfg token.VerifierConfig) error {
	k, err := token.GenerateKey(token.EdDSA)
	if err != nil {
		return err
	}
	set, err := token.NewKeySet(nil, k.Public())
	if err != nil {
		return err
	}
	_, err = token.NewVerifier(set, cfg)
	return err
}

// Issuer returns the provider's issuer identifier.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// MaxCacheAge implements middleware.CachePolicy: Config.KeyMaxAge. A
// cached token is verified again that often, which also refreshes the
// keys when they are old, so that a key the provider removed stops
// verifying even tokens that only ever hit the cache.
func (p *Provider) MaxCacheAge() time.Duration { return p.cfg.KeyMaxAge }

// MaxTokenLifetime returns the longest token lifetime the provider
// accepts, for sizing a revocation list.
func (p *Provider) MaxTokenLifetime() time.Duration {
	if p.cfg.MaxTokenLifetime == 0 {
		return token.DefaultMaxTokenLifetime
	}
	return p.cfg.MaxTokenLifetime
}

// KeyFetches returns how many times the keys were fetched (or tried).
func (p *Provider) KeyFetches() int64 { return p.keys.fetches.Load() }

// HasKeys reports whether the provider's keys have been fetched: until
// then its tokens get identity.ErrUnavailable (a 503). For a readiness
// check.
func (p *Provider) HasKeys() bool { return p.keys.KeySet() != nil }

// Warm fetches the keys now (discovery first, when used), so that the
// first request does not wait for them, and so that a mistyped issuer or
// an unreachable provider shows at start: [New] makes no network call.
// Its error wraps identity.ErrUnavailable and names the issuer. It is not
// fatal: requests try again, at most once per RefreshInterval, and get
// identity.ErrUnavailable (a 503) until a fetch succeeds.
func (p *Provider) Warm(ctx context.Context) error {
	if p.keys.KeySet() != nil {
		return nil
	}
	if err := p.keys.refresh(ctx); err != nil {
		return p.unavailable(err)
	}
	return nil
}

// unavailable wraps err, a failure to get the keys, in
// identity.ErrUnavailable, naming the issuer.
func (p *Provider) unavailable(err error) error {
	return fmt.Errorf("%w: the keys of %s: %w", identity.ErrUnavailable, p.cfg.Issuer, err)
}

// Refresh fetches the keys again now, unless they were fetched less than
// RefreshInterval ago: an operator's "the provider rotated its keys", or
// a test's.
func (p *Provider) Refresh(ctx context.Context) error {
	return p.keys.refresh(ctx)
}

// jwks returns the JWKS URL: configured, or found by discovery (once).
func (p *Provider) jwks(ctx context.Context) (string, error) {
	if p.cfg.JWKSURL != "" {
		return p.cfg.JWKSURL, nil
	}
	p.discoverMu.Lock()
	defer p.discoverMu.Unlock()
	if p.jwksURL != "" {
		return p.jwksURL, nil
	}
	gp, err := gooidc.NewProvider(gooidc.ClientContext(ctx, p.cfg.HTTPClient), p.cfg.Issuer)
	if err != nil {
		return "", fmt.Errorf("oidc: discovery: %w", err)
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := gp.Claims(&doc); err != nil || doc.JWKSURI == "" {
		return "", fmt.Errorf("oidc: discovery: no jwks_uri (%v)", err)
	}
	p.jwksURL = doc.JWKSURI
	return p.jwksURL, nil
}

// verifier returns the token verifier on the provider's keys, fetching
// them first if none are known; when they cannot be fetched, an error
// wrapping identity.ErrUnavailable.
func (p *Provider) verifier(ctx context.Context) (*token.Verifier, error) {
	if v := p.v.Load(); v != nil {
		return v, nil
	}
	if p.keys.KeySet() == nil {
		if err := p.keys.refresh(ctx); err != nil && p.keys.KeySet() == nil {
			return nil, p.unavailable(err)
		}
	}
	v, err := token.NewVerifier(p.keys, p.tcfg)
	if err != nil {
		return nil, err
	}
	p.v.CompareAndSwap(nil, v)
	return p.v.Load(), nil
}

// Authenticate implements middleware.Verifier: it verifies raw locally
// with the provider's keys and returns its mapped principal (Method
// identity.OIDC; Claims a *Claims, which the middleware asks whether its
// key is still published). A token of another issuer is refused before
// any network call; a token signed with a key not known yet makes the keys
// be fetched again (at most once per RefreshInterval). When the keys
// cannot be fetched (no keys at all, or a key not known yet while the
// last fetch failed): identity.ErrUnavailable (a 503), not a refusal of
// the token; a key not known yet right after a successful fetch is
// token.ErrUnknownKey (a 401).
//
// An ID token is refused (ErrNotAccessToken) under every mapping when it
// carries what only ID tokens carry: c_hash, or at_hash (the hashes that
// bind an ID token to the code and the access token issued with it;
// at_hash unless Mapping.ATHashInAccessTokens, set by Generic: Dex
// writes one in its access tokens); nonce (the login's, echoed in its ID
// token: OpenID Connect Core §2), unless Mapping.NonceInAccessTokens
// (Dex again); auth_time with an aud holding its azp (the client that
// logged in, an ID token's audience). A "typ" claim "Bearer" (Keycloak's
// access tokens, which carry auth_time, and up to Keycloak 24 the login's
// nonce) exempts a token from the last two.
func (p *Provider) Authenticate(ctx context.Context, raw string) (*identity.Principal, error) {
	// Only what could lead to a fetch looks at the unverified iss first:
	// a token of another issuer never causes a network call.
	v := p.v.Load()
	if v == nil {
		if peekIssuer(raw) != p.cfg.Issuer {
			return nil, ErrWrongIssuer
		}
		var err error
		if v, err = p.verifier(ctx); err != nil {
			return nil, err
		}
	}
	c, err := v.Verify(raw)
	if errors.Is(err, token.ErrUnknownKey) && peekIssuer(raw) == p.cfg.Issuer {
		// A key the provider may have added since: fetch (rate-limited).
		switch rerr := p.keys.refresh(ctx); {
		case rerr == nil:
			c, err = v.Verify(raw)
		case !errors.Is(rerr, errRateLimited):
			// The fetch failed (now, or the last one, less than
			// RefreshInterval ago): whether the provider signed this
			// key cannot be told now.
			return nil, p.unavailable(rerr)
		}
	}
	if err != nil {
		if errors.Is(err, token.ErrMissingClaim) && emptyArray(peekClaim(raw, "aud")) {
			// Said plainly: the cause is the client's request.
			return nil, fmt.Errorf("%w: aud is [], the token of a client that asked for no audience (Ory Hydra): %w", token.ErrAudience, err)
		}
		return nil, err
	}
	p.keys.refreshInBackground()
	claims := &Claims{Claims: c, keys: p.keys}
	claims.index() // before the claims are shared: Member only reads after this
	if mark := idTokenMark(claims, &p.cfg.Mapping); mark != "" {
		return nil, fmt.Errorf("%w: an ID token (%s)", ErrNotAccessToken, mark)
	}
	if len(p.cfg.AuthorizedParties) > 0 {
		// azp (OpenID Connect), client_id (RFC 9068), cid (Okta), appid
		// (Entra ID v1): the first present names the client.
		party := ""
		for _, name := range []string{"azp", "client_id", "cid", "appid"} {
			if v, ok := stringClaim(claims, name); ok && v != "" {
				party = v
				break
			}
		}
		if party == "" || !slices.Contains(p.cfg.AuthorizedParties, party) {
			return nil, ErrUnauthorizedParty
		}
	}
	pr := &identity.Principal{
		Subject: c.Subject, Issuer: c.Issuer, Method: identity.OIDC,
		TokenID: c.ID, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt, ClientID: c.ClientID,
		Claims: claims,
	}
	if err := p.cfg.Mapping.Map(claims, pr); err != nil {
		return nil, err
	}
	return pr, nil
}

// peekIssuer returns the unverified "iss" of a compact JWS, or "".
func peekIssuer(raw string) string {
	s, err := strictjson.String(peekClaim(raw, "iss"))
	if err != nil {
		return ""
	}
	return string(s)
}

// peekClaim returns the raw JSON value of the unverified claim name of a
// compact JWS, or nil.
func peekClaim(raw, name string) []byte {
	d1 := strings.IndexByte(raw, '.')
	if d1 < 0 {
		return nil
	}
	rest := raw[d1+1:]
	d2 := strings.IndexByte(rest, '.')
	if d2 < 0 || d2 > 8<<10 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(rest[:d2])
	if err != nil {
		return nil
	}
	m := strictjson.Object(payload)
	for m.Next() {
		if string(m.Name()) == name {
			return m.Value()
		}
	}
	return nil
}

// emptyArray reports whether v is the JSON array [].
func emptyArray(v []byte) bool {
	if v == nil {
		return false
	}
	e := strictjson.Array(v)
	return !e.Next() && e.Err() == nil
}
