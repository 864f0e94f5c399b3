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

// mint signs claims c with f's key, once edit (when not nil) changed them.
func mint(f *oidctest.Provider, c map[string]any, edit func(map[string]any)) string {
	if edit != nil {
		edit(c)
	}
	return f.Mint(c)
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
	return mint(f, c, edit)
}

// auth0Token is an access token as Auth0 writes it for an API with RBAC.
func auth0Token(f *oidctest.Provider, now time.Time, edit func(map[string]any)) string {
	c := map[string]any{
		"iss": f.Issuer(), "sub": "auth0|6650c0ffee", "aud": []string{"https://api.example", f.Issuer() + "/userinfo"},
		"iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(), "scope": "openid profile read:widgets",
		"azp": "Xc3Qx9client", "permissions": []string{"read:widgets", "write:widgets"},
		"https://example.com/roles": []string{"editor"},
	}
	return mint(f, c, edit)
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
	for name, raw := range oidctest.Tampered(keycloakToken(f, t0, nil)) {
		if _, err := p.Authenticate(ctx, raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
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

// statusOf returns the status the middleware, without a cache, answers a
// request bearing a token of p's.
func statusOf(t *testing.T, p *oidc.Provider, c *testenv.Clock) func(raw string) int {
	t.Helper()
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{p.Issuer(): p}, Now: c.Now, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	return func(raw string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
}

// TestOutage: with keys known, an outage changes nothing; with none, the
// middleware answers 503, never 401 or 200, and recovers.
func TestOutage(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	get := statusOf(t, p, c)
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

// TestSlowProvider: a request waits for a provider that does not answer
// no longer than its own deadline, also the one that started the fetch:
// both return while the provider still holds the fetch.
func TestSlowProvider(t *testing.T) {
	f := oidctest.New(t)
	release := f.Stall()
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	raw := keycloakToken(f, t0, nil)
	errs := make(chan error, 2)
	for range 2 { // the first starts the fetch, the second waits for it
		go func() {
			rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := p.Authenticate(rctx, raw)
			errs <- err
		}()
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, identity.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("a request whose deadline passed during the fetch: %v, want ErrUnavailable and DeadlineExceeded", err)
			}
		case <-time.After(testenv.Patience):
			t.Fatalf("a request with a 50ms deadline still waits for the provider after %v", testenv.Patience)
		}
	}
	release() // the fetch goes on: a request with time to wait gets the keys
	if _, err := p.Authenticate(ctx, raw); err != nil {
		t.Errorf("once the provider answers: %v", err)
	}
}

// fetchEvents returns hooks that report each completed key fetch on the
// channel returned, and a wait for the next one (with Patience as a
// safety net only): tests synchronise on the fetch, not on the clock.
func fetchEvents(t testing.TB) (oidc.Hooks, func() error) {
	ch := make(chan error, 100)
	hooks := oidc.Hooks{OnKeysRefreshed: func(err error) { ch <- err }}
	return hooks, func() error {
		t.Helper()
		select {
		case err := <-ch:
			return err
		case <-time.After(testenv.Patience):
			t.Fatalf("no key fetch ended within %v", testenv.Patience)
			return nil
		}
	}
}

// wantFetches fails unless want fetches of the keys began.
func wantFetches(t testing.TB, p *oidc.Provider, want int64) {
	t.Helper()
	if n := p.KeyFetches(); n != want {
		t.Errorf("%d key fetches, want %d", n, want)
	}
}

// TestUnknownKidDuringOutage: a token signed with a key not known yet,
// while the provider's keys cannot be fetched, is answered 503 (cannot
// tell now), not 401; right after a successful fetch it is 401.
func TestUnknownKidDuringOutage(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	get := statusOf(t, p, c)
	if code := get(keycloakToken(f, t0, nil)); code != 200 { // keys fetched at t0
		t.Fatalf("the provider up: %d", code)
	}
	// A key the provider added and signs with, right after the fetch: not
	// fetched again (rate-limited after a success), 401.
	f.Publish("k2", oidctest.Key(2))
	f.SignWith("k2")
	if _, err := p.Authenticate(ctx, keycloakToken(f, t0, nil)); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("a new key right after a successful fetch: %v, want ErrUnknownKey", err)
	}
	f.Down.Store(true)
	c.Advance(oidc.DefaultRefreshInterval)
	raw := keycloakToken(f, c.Now(), nil)
	if _, err := p.Authenticate(ctx, raw); !errors.Is(err, identity.ErrUnavailable) {
		t.Errorf("a new key while the provider is down: %v, want ErrUnavailable", err)
	}
	if code := get(raw); code != 503 {
		t.Errorf("again, rate-limited after the failed fetch: %d, want 503", code)
	}
	// The known key still verifies during the outage.
	f.SignWith("k1")
	if code := get(keycloakToken(f, c.Now(), nil)); code != 200 {
		t.Errorf("the known key during the outage: %d, want 200", code)
	}
	f.Down.Store(false)
	c.Advance(oidc.DefaultRefreshInterval)
	if code := get(raw); code != 200 {
		t.Errorf("the new key once the provider is back: %d, want 200", code)
	}
}

// TestWarmMistypedIssuer: New makes no network call; Warm tells at start
// that the issuer is wrong, naming it, as identity.ErrUnavailable.
func TestWarmMistypedIssuer(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	typo := f.Issuer() + "/realms/dmeo"
	p := newProvider(t, f, c, oidc.Config{Issuer: typo})
	if n := f.DiscoveryHits.Load() + f.JWKSFetches.Load(); n != 0 {
		t.Fatalf("New made %d requests", n)
	}
	err := p.Warm(ctx)
	if !errors.Is(err, identity.ErrUnavailable) || !strings.Contains(err.Error(), typo) || !strings.Contains(err.Error(), "404") {
		t.Errorf("Warm with a mistyped issuer: %v, want ErrUnavailable naming %s and the 404", err, typo)
	}
	if err := newProvider(t, f, c, oidc.Config{}).Warm(ctx); err != nil {
		t.Errorf("Warm with the right issuer: %v", err)
	}
}

// TestKeysChangedHook: Hooks.OnKeysChanged hears of the keys a fetch
// adds and removes (every key at the first fetch), and not of a fetch
// that changes nothing.
func TestKeysChangedHook(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	type change struct{ added, removed string }
	changes := make(chan change, 10)
	hooks, fetched := fetchEvents(t)
	hooks.OnKeysChanged = func(added, removed []string) {
		changes <- change{strings.Join(added, ","), strings.Join(removed, ",")}
	}
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api"), Hooks: hooks})
	next := func(want change) {
		t.Helper()
		if err := fetched(); err != nil { // the change is told before the fetch
			t.Fatal(err)
		}
		select {
		case got := <-changes:
			if got != want {
				t.Errorf("keys changed %+v, want %+v", got, want)
			}
		default:
			if want != (change{}) {
				t.Errorf("no change told, want %+v", want)
			}
		}
	}
	if err := p.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	next(change{added: "k1"})
	c.Advance(oidc.DefaultRefreshInterval)
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	next(change{})
	f.Publish("k2", oidctest.Key(2))
	f.Publish("k3", oidctest.Key(3))
	f.Retire("k1")
	c.Advance(oidc.DefaultRefreshInterval)
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	next(change{added: "k2,k3", removed: "k1"})
}

// TestRemovedKeyWhileCached: a token that only ever hits the middleware's
// cache is refused once its key has left the provider's JWK Set: the
// provider's cache age makes it verified again, which refreshes old keys.
func TestRemovedKeyWhileCached(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	hooks, fetched := fetchEvents(t)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api"), MaxTokenLifetime: time.Hour, Hooks: hooks})
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{f.Issuer(): p}, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	raw := keycloakToken(f, t0, func(m map[string]any) { m["exp"] = t0.Add(20 * time.Minute).Unix() })
	if _, err := auth.Authenticate(ctx, raw); err != nil { // the keys fetched at t0
		t.Fatal(err)
	}
	if err := fetched(); err != nil {
		t.Fatal(err)
	}
	f.Publish("k2", oidctest.Key(2))
	f.Retire("k1")
	for range 4 { // the keys are not old yet: the token is served as it was
		c.Advance(time.Minute)
		if _, err := auth.Authenticate(ctx, raw); err != nil {
			t.Fatalf("at %v, before the keys are KeyMaxAge old: %v", c.Now().Sub(t0), err)
		}
	}
	wantFetches(t, p, 1)
	c.Advance(time.Minute) // t0+5m: the keys are KeyMaxAge old; this request refreshes them in the background
	if _, err := auth.Authenticate(ctx, raw); err != nil {
		t.Fatalf("the request that starts the refresh: %v", err)
	}
	if err := fetched(); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, raw); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("the cached token of a removed key, after the refresh: %v, want ErrUnknownKey", err)
	}
	wantFetches(t, p, 2)
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
	hooks, fetched := fetchEvents(t)
	p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Keycloak("api"), MaxTokenLifetime: time.Hour, Hooks: hooks})
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{f.Issuer(): p}, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	exp := func(m map[string]any) { m["exp"] = t0.Add(50 * time.Minute).Unix() }
	b := keycloakToken(f, t0, func(m map[string]any) { exp(m); m["jti"] = "b" })
	a := keycloakToken(f, t0, func(m map[string]any) { exp(m); m["jti"] = "a" })
	ok := func(raw string) bool { _, err := auth.Authenticate(ctx, raw); return err == nil }
	waitFetch := func() { // the background refresh runs on its own goroutine
		t.Helper()
		if err := fetched(); err != nil {
			t.Fatalf("the background refresh: %v", err)
		}
	}
	if !ok(b) { // keys fetched at t0
		t.Fatal("B")
	}
	waitFetch()
	c.Advance(4*time.Minute + 59*time.Second)
	if !ok(a) { // A cached until t0+9m59
		t.Fatal("A")
	}
	c.Advance(time.Second)
	if !ok(b) { // B verified again at t0+5m: the keys are refreshed
		t.Fatal("B at t0+5m")
	}
	waitFetch()
	f.Publish("k2", oidctest.Key(2))
	f.Retire("k1")
	removed := c.Now()
	c.Advance(4*time.Minute + 59*time.Second + 500*time.Millisecond) // A verified again: the keys are not old yet
	if !ok(a) {
		t.Fatal("A, before its key's removal is seen")
	}
	wantFetches(t, p, 2)
	c.Advance(30 * time.Second) // the keys are old now: A's cache hit refreshes them
	ok(a)
	waitFetch()
	if ok(a) {
		t.Fatalf("A, signed by a key removed %v ago (KeyMaxAge %v), is still accepted", c.Now().Sub(removed), oidc.DefaultKeyMaxAge)
	}
	wantFetches(t, p, 3)
}

// hydraToken is a JWT access token as Ory Hydra (v2) writes it: scp an
// array, client_id, no azp, ext, and aud a list, empty unless the client
// asked for an audience.
func hydraToken(f *oidctest.Provider, now time.Time, edit func(map[string]any)) string {
	c := map[string]any{
		"iss": f.Issuer() + "/", "sub": "a7e3b2c4-5d6e-4f70-8a9b-0c1d2e3f4a5b", "aud": []string{"api"}, "client_id": "web",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "2f4e6c1a-3b5d-4e7f-9a1b-2c3d4e5f6a7b",
		"scp": []string{"openid", "offline", "widgets:read"}, "ext": map[string]any{},
	}
	return mint(f, c, edit)
}

// TestHydraToken: Hydra's access tokens verify under the generic mapping
// (scp, client_id, a list aud); one issued without an audience (aud: [])
// is refused, as any token without the API's audience.
func TestHydraToken(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	p := newProvider(t, f, c, oidc.Config{Issuer: f.Issuer() + "/", JWKSURL: f.Issuer() + "/jwks", AuthorizedParties: []string{"web"}})
	pr, err := p.Authenticate(ctx, hydraToken(f, t0, nil))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if strings.Join(pr.Scopes, " ") != "openid offline widgets:read" || pr.ClientID != "web" || pr.TokenID == "" {
		t.Fatalf("principal %+v", pr)
	}
	if _, err := p.Authenticate(ctx, hydraToken(f, t0, func(m map[string]any) { m["aud"] = []string{} })); !errors.Is(err, token.ErrAudience) {
		t.Errorf("aud []: %v, want ErrAudience", err)
	}
}
