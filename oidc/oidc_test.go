package oidc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func newProvider(t testing.TB, f *oidctest.Provider, c *testenv.Clock, cfg oidc.Config) *oidc.Provider {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = f.Issuer()
	}
	if cfg.Audiences == nil {
		cfg.Audiences = []string{"api"}
	}
	cfg.Now = c.Now
	p, err := oidc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// keycloakToken is an access token as Keycloak 26 writes it.
func keycloakToken(f *oidctest.Provider, now time.Time, edit func(map[string]any)) string {
	c := map[string]any{
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "onrtac:8f0b2c1e-5d7a-4c4b-9a51-2f3f3b0d9c11",
		"iss": f.Issuer(), "aud": []string{"api", "account"}, "sub": "5d0c3c36-1f0e-4c3e-9a1e-6a5b2f0f7c21",
		"typ": "Bearer", "azp": "web", "sid": "b6b8…", "acr": "1",
		"realm_access":    map[string]any{"roles": []string{"default-roles-demo", "offline_access", "admin"}},
		"resource_access": map[string]any{"api": map[string]any{"roles": []string{"widgets-admin"}}, "account": map[string]any{"roles": []string{"manage-account"}}},
		"scope":           "openid profile email", "email_verified": true, "preferred_username": "alice",
	}
	if edit != nil {
		edit(c)
	}
	return f.Mint(c)
}

// auth0Token is an access token as Auth0 writes it for an API with RBAC.
func auth0Token(f *oidctest.Provider, now time.Time, edit func(map[string]any)) string {
	c := map[string]any{
		"iss": f.Issuer(), "sub": "auth0|6650c0ffee", "aud": []string{"https://api.example", f.Issuer() + "/userinfo"},
		"iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(), "scope": "openid profile read:widgets",
		"azp": "Xc3Qx9client", "permissions": []string{"read:widgets", "write:widgets"},
		"https://example.com/roles": []string{"editor"},
	}
	if edit != nil {
		edit(c)
	}
	return f.Mint(c)
}

func TestKeycloakToken(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api"), AuthorizedParties: []string{"web"}})
	pr, err := p.Authenticate(ctx, keycloakToken(f, t0, nil))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	cl := pr.Claims.(*oidc.Claims)
	if pr.Method != identity.OIDC || pr.Subject != "5d0c3c36-1f0e-4c3e-9a1e-6a5b2f0f7c21" || pr.Issuer != f.Issuer() ||
		strings.Join(pr.Scopes, " ") != "openid profile email" ||
		strings.Join(pr.Roles, " ") != "default-roles-demo offline_access admin widgets-admin" ||
		pr.ClientID != "web" || pr.TokenID == "" || cl.Username != "alice" {
		t.Fatalf("principal %+v (username %q)", pr, cl.Username)
	}
	for name, tc := range map[string]struct {
		raw  string
		want error
	}{
		"an ID token (typ ID, aud the client)": {keycloakToken(f, t0, func(m map[string]any) { m["typ"] = "ID"; m["aud"] = "web"; m["nonce"] = "n" }), token.ErrAudience},
		"an ID token with the API's audience":  {keycloakToken(f, t0, func(m map[string]any) { m["typ"] = "ID" }), oidc.ErrNotAccessToken},
		"another client":                       {keycloakToken(f, t0, func(m map[string]any) { m["azp"] = "mallory" }), oidc.ErrUnauthorizedParty},
		"expired":                              {keycloakToken(f, t0.Add(-6*time.Minute), nil), token.ErrExpired},
		"aud account only":                     {keycloakToken(f, t0, func(m map[string]any) { m["aud"] = "account" }), token.ErrAudience},
		"EXP in capitals besides exp":          {keycloakToken(f, t0.Add(-6*time.Minute), func(m map[string]any) { m["EXP"] = t0.Add(time.Hour).Unix() }), token.ErrExpired},
		"lives a day (Keycloak's max 5 min)":   {keycloakToken(f, t0, func(m map[string]any) { m["exp"] = t0.Add(25 * time.Hour).Unix() }), token.ErrLifetime},
	} {
		if _, err := p.Authenticate(ctx, tc.raw); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// Tampered: one bit of the payload.
	raw := keycloakToken(f, t0, nil)
	parts := strings.Split(raw, ".")
	tampered := parts[0] + "." + strings.Replace(parts[1], parts[1][10:11], flip(parts[1][10:11]), 1) + "." + parts[2]
	if _, err := p.Authenticate(ctx, tampered); err == nil {
		t.Error("a tampered token verified")
	}
}

func flip(s string) string {
	if s == "A" {
		return "B"
	}
	return "A"
}

func TestAuth0Token(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Audiences: []string{"https://api.example"}, Mapping: oidc.Auth0("https://example.com/")})
	pr, err := p.Authenticate(ctx, auth0Token(f, t0, nil))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if pr.Subject != "auth0|6650c0ffee" || strings.Join(pr.Scopes, " ") != "openid profile read:widgets write:widgets" ||
		strings.Join(pr.Roles, " ") != "editor" || pr.ClientID != "Xc3Qx9client" || pr.TokenID != "" {
		t.Fatalf("principal %+v", pr)
	}
	// An Auth0 ID token: aud is the client id.
	idt := auth0Token(f, t0, func(m map[string]any) { m["aud"] = "Xc3Qx9client"; m["nonce"] = "n" })
	if _, err := p.Authenticate(ctx, idt); !errors.Is(err, token.ErrAudience) {
		t.Errorf("an Auth0 ID token: %v, want ErrAudience", err)
	}
	// A typ at+jwt profile refuses Auth0's JWT-typed tokens.
	strict := newProvider(t, f, c, oidc.Config{Audiences: []string{"https://api.example"}, Mapping: oidc.Auth0(""),
		Profile: &token.Profile{NoJTI: true}})
	if _, err := strict.Authenticate(ctx, auth0Token(f, t0, nil)); !errors.Is(err, token.ErrWrongType) {
		t.Errorf("typ JWT under a profile requiring at+jwt: %v", err)
	}
	// A profile requiring jti refuses a token without one.
	withJTI := newProvider(t, f, c, oidc.Config{Audiences: []string{"https://api.example"}, Profile: &token.Profile{AnyType: true}})
	if _, err := withJTI.Authenticate(ctx, auth0Token(f, t0, nil)); !errors.Is(err, token.ErrMissingClaim) {
		t.Errorf("no jti under a profile requiring it: %v", err)
	}
}

// TestHostileHeaders: the provider's keys decide the algorithm.
func TestHostileHeaders(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	claims := map[string]any{"iss": f.Issuer(), "sub": "x", "aud": "api", "iat": t0.Unix(), "exp": t0.Add(time.Minute).Unix(), "jti": "j"}
	for name, h := range map[string]map[string]any{
		"alg none":                 {"alg": "none", "kid": "k1"},
		"HS256 with the RSA key":   {"alg": "HS256", "kid": "k1"},
		"PS256 with the RS256 key": {"alg": "PS256", "kid": "k1"},
		"crit":                     {"alg": "RS256", "kid": "k1", "crit": []string{"exp"}},
		"jku elsewhere":            {"alg": "RS256", "kid": "evil", "jku": "https://evil.example/jwks"},
	} {
		if _, err := p.Authenticate(ctx, f.Mint(claims, h)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := f.JWKSFetches.Load(); n > 2 {
		t.Errorf("%d key fetches for 5 hostile tokens", n)
	}
}

// TestUnknownKidFlood: 50 tokens with random kids cause O(1) fetches, and
// none of them waits for the limiter.
func TestUnknownKidFlood(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	if _, err := p.Authenticate(ctx, keycloakToken(f, t0, nil)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			claims := map[string]any{"iss": f.Issuer(), "sub": "x", "aud": "api", "iat": t0.Unix(), "exp": t0.Add(time.Minute).Unix(), "jti": "j"}
			raw := oidctest.SignRS256(t, oidctest.Key(1), map[string]any{"alg": "RS256", "kid": fmt.Sprintf("forged-%d", i)}, claims)
			if _, err := p.Authenticate(ctx, raw); !errors.Is(err, token.ErrUnknownKey) {
				t.Errorf("forged kid: %v", err)
			}
		})
	}
	wg.Wait()
	if n := f.JWKSFetches.Load(); n > 2 {
		t.Errorf("%d JWKS fetches for 50 forged kids, want at most 2 (the first, and one refresh)", n)
	}
	t.Logf("50 forged kids: %d JWKS fetches in all", f.JWKSFetches.Load())
}

// TestRotation: a key added at the provider is picked up by the first
// token that uses it (once the refresh interval has passed); a key removed
// stops verifying, also tokens the middleware had cached.
func TestRotation(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{f.Issuer(): p}, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	old := keycloakToken(f, t0, nil)
	if _, err := auth.Authenticate(ctx, old); err != nil {
		t.Fatal(err)
	}
	c.Advance(oidc.DefaultRefreshInterval)
	f.Publish("k2", oidctest.Key(2))
	f.SignWith("k2")
	fresh := keycloakToken(f, c.Now(), nil)
	if _, err := auth.Authenticate(ctx, fresh); err != nil {
		t.Fatalf("a token of the new key: %v", err)
	}
	if _, err := auth.Authenticate(ctx, old); err != nil {
		t.Fatalf("the old key's token, cached, while the key is still published: %v", err)
	}
	f.Retire("k1")
	c.Advance(oidc.DefaultRefreshInterval)
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, old); err == nil {
		t.Fatal("a cached token of a key the provider no longer publishes is still accepted")
	}
	if _, err := auth.Authenticate(ctx, fresh); err != nil {
		t.Fatalf("a token of a key still published, after the refresh: %v", err)
	}
}

// TestOutage: with keys known, an outage changes nothing; with none, the
// middleware answers 503, never 401 or 200, and recovers.
func TestOutage(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{f.Issuer(): p}, Now: c.Now, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	get := func(raw string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	f.Down.Store(true)
	raw := keycloakToken(f, t0, nil)
	if code := get(raw); code != 503 {
		t.Fatalf("provider down, no keys: %d, want 503", code)
	}
	if code := get(raw); code != 503 {
		t.Fatalf("again, within the refresh interval (rate-limited, no wait): %d, want 503", code)
	}
	fetches := f.JWKSFetches.Load() + f.DiscoveryHits.Load()
	f.Down.Store(false)
	c.Advance(oidc.DefaultRefreshInterval)
	if code := get(raw); code != 200 {
		t.Fatalf("provider back: %d", code)
	}
	if fetches > 1 {
		t.Errorf("%d requests to the provider while it was down, want 1 (rate-limited)", fetches)
	}
	f.Down.Store(true)
	c.Advance(oidc.DefaultKeyMaxAge + time.Minute)
	for range 3 {
		if code := get(keycloakToken(f, c.Now(), nil)); code != 200 {
			t.Fatalf("provider down, keys known: %d, want 200", code)
		}
	}
}

// TestIssuers: several providers behind one middleware, each token routed
// by its issuer; a token of an unknown issuer costs no network call.
func TestIssuers(t *testing.T) {
	kc, a0 := oidctest.New(t), oidctest.New(t)
	c := testenv.NewClock(t0)
	pk := newProvider(t, kc, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	pa := newProvider(t, a0, c, oidc.Config{Audiences: []string{"https://api.example"}, Mapping: oidc.Auth0("https://example.com/"),
		JWKSURL: a0.Issuer() + "/jwks"})
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{kc.Issuer(): pk, a0.Issuer(): pa}, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := auth.Authenticate(ctx, keycloakToken(kc, t0, nil)); err != nil || p.Issuer != kc.Issuer() {
		t.Fatalf("Keycloak token: %v", err)
	}
	if p, err := auth.Authenticate(ctx, auth0Token(a0, t0, nil)); err != nil || p.Issuer != a0.Issuer() {
		t.Fatalf("Auth0 token: %v", err)
	}
	if a0.DiscoveryHits.Load() != 0 {
		t.Error("a provider configured with a JWKS URL used discovery")
	}
	// A token in every way Auth0's, but signed by Keycloak's key (under the
	// kid Auth0's key has): refused for its signature alone.
	forged := auth0Token(kc, t0, func(m map[string]any) { m["iss"] = a0.Issuer(); m["aud"] = "https://api.example" })
	if _, err := auth.Authenticate(ctx, forged); !errors.Is(err, token.ErrSignature) {
		t.Errorf("a token signed by one provider's key, verified as the other's: %v, want ErrSignature", err)
	}
	// A provider alone (a single route: the middleware does not peek)
	// refuses another issuer's token without a fetch.
	fresh := oidctest.New(t)
	alone := newProvider(t, fresh, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	if _, err := alone.Authenticate(ctx, keycloakToken(kc, t0, nil)); !errors.Is(err, oidc.ErrWrongIssuer) {
		t.Errorf("another issuer's token: %v, want ErrWrongIssuer", err)
	}
	if n := fresh.JWKSFetches.Load() + fresh.DiscoveryHits.Load(); n != 0 {
		t.Errorf("%d network calls for a token of another issuer", n)
	}
}

// TestRevocation: an OIDC principal is revoked by jti when it has one,
// by subject otherwise (Auth0), on the same revocation list.
func TestRevocation(t *testing.T) {
	kc, a0 := oidctest.New(t), oidctest.New(t)
	c := testenv.NewClock(t0)
	pk := newProvider(t, kc, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	pa := newProvider(t, a0, c, oidc.Config{Audiences: []string{"https://api.example"}, Mapping: oidc.Auth0("")})
	list, err := revocation.Open(ctx, revocation.Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer list.Close()
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{kc.Issuer(): pk, a0.Issuer(): pa},
		Revocation: list, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	k1, k2 := keycloakToken(kc, t0, nil), keycloakToken(kc, t0, func(m map[string]any) { m["jti"] = "other" })
	p1, err := auth.Authenticate(ctx, k1)
	if err != nil {
		t.Fatal(err)
	}
	if err := list.RevokePrincipal(ctx, p1); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, k1); !errors.Is(err, middleware.ErrRevoked) {
		t.Errorf("revoked Keycloak token: %v", err)
	}
	if _, err := auth.Authenticate(ctx, k2); err != nil {
		t.Errorf("another Keycloak token of the user: %v", err)
	}
	a := auth0Token(a0, t0, nil)
	pa0, err := auth.Authenticate(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := list.RevokePrincipal(ctx, pa0); err == nil {
		t.Fatal("RevokePrincipal of a token without jti succeeded")
	}
	if err := list.RevokeSubject(ctx, pa0.Issuer, pa0.Subject, c.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, a); !errors.Is(err, middleware.ErrRevoked) {
		t.Errorf("Auth0 token revoked by subject: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	for name, cfg := range map[string]oidc.Config{
		"no issuer":        {Audiences: []string{"api"}},
		"no audience":      {Issuer: "https://idp.example"},
		"an empty one":     {Issuer: "https://idp.example", Audiences: []string{""}},
		"HS256":            {Issuer: "https://idp.example", Audiences: []string{"api"}, Algorithms: []token.Algorithm{token.HS256}},
		"none":             {Issuer: "https://idp.example", Audiences: []string{"api"}, Algorithms: []token.Algorithm{"none"}},
		"a JWKS URL ftp":   {Issuer: "https://idp.example", Audiences: []string{"api"}, JWKSURL: "ftp://x/jwks"},
		"a leeway of 1h":   {Issuer: "https://idp.example", Audiences: []string{"api"}, Leeway: time.Hour},
		"refresh every ms": {Issuer: "https://idp.example", Audiences: []string{"api"}, RefreshInterval: time.Millisecond},
	} {
		if _, err := oidc.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSlowProvider: a request waits for a slow provider no longer than
// its own deadline, also the one that started the fetch.
func TestSlowProvider(t *testing.T) {
	f := oidctest.New(t)
	f.Latency.Store(int64(time.Second))
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Authenticate(rctx, keycloakToken(f, t0, nil))
	if took := time.Since(start); took > 700*time.Millisecond || err == nil {
		t.Fatalf("a request with a 200ms deadline took %v (%v)", took, err)
	}
}

// TestRemovedKeyWhileCached: a token that only ever hits the middleware's
// cache is refused once its key has left the provider's JWK Set: the
// provider's cache age makes it verified again, which refreshes old keys.
func TestRemovedKeyWhileCached(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api"), MaxTokenLifetime: time.Hour})
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{f.Issuer(): p}, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	raw := keycloakToken(f, t0, func(m map[string]any) { m["exp"] = t0.Add(20 * time.Minute).Unix() })
	if _, err := auth.Authenticate(ctx, raw); err != nil {
		t.Fatal(err)
	}
	f.Publish("k2", oidctest.Key(2))
	f.Retire("k1")
	deadline := time.Now().Add(testenv.Patience)
	for {
		c.Advance(time.Minute)
		if _, err := auth.Authenticate(ctx, raw); err != nil {
			break
		}
		if time.Now().After(deadline) || c.Now().After(t0.Add(15*time.Minute)) {
			t.Fatalf("the cached token of a removed key is still accepted at %v", c.Now().Sub(t0))
		}
		time.Sleep(5 * time.Millisecond) // the background refresh runs on its own goroutine
	}
	t.Logf("refused %v after its key was removed (KeyMaxAge %v)", c.Now().Sub(t0), oidc.DefaultKeyMaxAge)
}

// TestMemberConcurrent: claims shared by cached principals are read by
// concurrent handlers (run with -race).
func TestMemberConcurrent(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Func("noop", token.Profile{AnyType: true},
		func(*oidc.Claims, *identity.Principal) error { return nil })})
	pr, err := p.Authenticate(ctx, keycloakToken(f, t0, nil))
	if err != nil {
		t.Fatal(err)
	}
	cl := pr.Claims.(*oidc.Claims)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if cl.Member("azp") == nil {
				t.Error("no azp")
			}
		})
	}
	wg.Wait()
}

// TestRemovedKeyOnCacheHits: keys refreshed by another token just before
// a removal are refreshed again by the cache hits of a token signed with
// the removed key, which stops within about KeyMaxAge of the removal (not
// twice that).
func TestRemovedKeyOnCacheHits(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api"), MaxTokenLifetime: time.Hour})
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{f.Issuer(): p}, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	exp := func(m map[string]any) { m["exp"] = t0.Add(50 * time.Minute).Unix() }
	b := keycloakToken(f, t0, func(m map[string]any) { exp(m); m["jti"] = "b" })
	a := keycloakToken(f, t0, func(m map[string]any) { exp(m); m["jti"] = "a" })
	ok := func(raw string) bool { _, err := auth.Authenticate(ctx, raw); return err == nil }
	waitFetch := func(n int64) { // the background refresh runs on its own goroutine
		testenv.Eventually(t, "a background refresh", func() bool { return p.KeyFetches() != n && f.JWKSFetches.Load() >= n })
	}
	if !ok(b) { // keys fetched at t0
		t.Fatal("B")
	}
	c.Advance(4*time.Minute + 59*time.Second)
	if !ok(a) { // A cached until t0+9m59
		t.Fatal("A")
	}
	c.Advance(time.Second)
	n := p.KeyFetches()
	ok(b) // B verified again at t0+5m: the keys are refreshed
	waitFetch(n)
	f.Publish("k2", oidctest.Key(2))
	f.Retire("k1")
	removed := c.Now()
	c.Advance(4*time.Minute + 59*time.Second + 500*time.Millisecond) // A verified again: the keys are not old yet
	if !ok(a) {
		t.Fatal("A, before its key's removal is seen")
	}
	c.Advance(30 * time.Second) // the keys are old now: A's cache hit refreshes them
	n = p.KeyFetches()
	ok(a)
	waitFetch(n)
	testenv.Eventually(t, fmt.Sprintf("A, signed by a key removed %v ago (KeyMaxAge %v), to be refused", c.Now().Sub(removed), oidc.DefaultKeyMaxAge),
		func() bool { return !ok(a) })
}
