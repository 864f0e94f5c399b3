package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/metrics"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// The resources of the API, for Protect (RFC 8707 audiences).
var (
	resourceA = middleware.Resource{URL: "https://api.test/a"}
	resourceB = middleware.Resource{URL: "https://api.test/b"}
)

// api is a chi router behind the metrics' Middleware and the
// middleware, over a real HTTP server: first-party JWTs (EdDSA), API
// tokens, a revocation list, a route that needs a scope and one of a
// resource.
type api struct {
	srv    *httptest.Server
	signer *tokentest.Signer
	list   *revocation.List
	tokens *apitoken.Manager
}

func newAPI(t *testing.T, m *metrics.Metrics, wrap func(http.Handler) http.Handler) *api {
	t.Helper()
	ctx := context.Background()
	a := &api{signer: tokentest.MustSigner(token.EdDSA)}
	var err error
	if a.list, err = revocation.Open(ctx, revocation.Config{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.list.Close() })
	if a.tokens, err = apitoken.New(apitoken.Config{Store: apitoken.NewMemoryStore(), SubjectIssuer: tokentest.Issuer, Revoker: a.list}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.tokens.Close() })
	verifier, err := token.NewVerifier(tokentest.KeySet(a.signer), token.VerifierConfig{
		Issuer: tokentest.Issuer, Audience: tokentest.Audience, Audiences: []string{resourceA.URL, resourceB.URL}, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{
		JWT:        map[string]middleware.Verifier{tokentest.Issuer: verifier},
		Prefixes:   map[string]middleware.Verifier{a.tokens.Prefix(): a.tokens},
		Revocation: a.list,
		Resources:  []middleware.Resource{resourceA, resourceB},
		Audiences:  []string{tokentest.Audience},
		Hooks:      m.Hooks(),
		Now:        clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	ok := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }
	r := chi.NewRouter()
	if wrap != nil {
		r.Use(wrap)
	}
	r.Use(m.Middleware)
	r.Group(func(r chi.Router) {
		r.Use(auth.Middleware)
		r.Get("/widgets", ok)
		r.With(auth.RequireScopes("admin:write")).Get("/admin", ok)
	})
	r.With(auth.Protect(resourceA)).Get("/a/widgets", ok)
	a.srv = httptest.NewServer(r)
	t.Cleanup(a.srv.Close)
	return a
}

// mint returns a token of the API's signer with edit applied to its
// claims (nil deletes a claim).
func (a *api) mint(edit func(c map[string]any)) string {
	return a.signer.Mint(now, func(_, c map[string]any) {
		if edit != nil {
			edit(c)
		}
	})
}

// get sends GET path with the Authorization headers given.
func (a *api) get(t *testing.T, path string, authz ...string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", a.srv.URL+path, nil)
	for _, h := range authz {
		req.Header.Add("Authorization", h)
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// apiRequests sends requests of every kind through the API and checks
// their statuses: what TestAuthentications expects below.
func apiRequests(t *testing.T, a *api) {
	t.Helper()
	ctx := context.Background()
	valid := a.mint(nil)
	revoked := a.mint(nil)
	claims, err := token.NewVerifier(tokentest.KeySet(a.signer), token.VerifierConfig{Issuer: tokentest.Issuer, Audience: tokentest.Audience, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := claims.Verify(revoked)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.list.RevokeToken(ctx, rc.Issuer, rc.ID, rc.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	other := tokentest.MustSigner(token.EdDSA) // a key the API does not know
	sig := strings.LastIndexByte(valid, '.') + 1
	tampered := valid[:sig] + map[bool]string{true: "B", false: "A"}[valid[sig] == 'A'] + valid[sig+1:]
	alice := &identity.Principal{Subject: "alice", Issuer: tokentest.Issuer, Method: identity.JWT, Scopes: []string{"widgets:read"}}
	apiTok, apiT, err := a.tokens.CreateFor(ctx, alice, apitoken.CreateRequest{Subject: "alice", Name: "CI", Scopes: []string{"widgets:read"}})
	if err != nil {
		t.Fatal(err)
	}
	revokedAPITok, revokedAPIT, err := a.tokens.CreateFor(ctx, alice, apitoken.CreateRequest{Subject: "alice", Name: "old", Scopes: []string{"widgets:read"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = apiT
	if _, err := a.tokens.Revoke(ctx, "alice", revokedAPIT.ID); err != nil {
		t.Fatal(err)
	}
	forB := a.mint(func(c map[string]any) { c["aud"] = resourceB.URL })

	for _, tc := range []struct {
		name   string
		path   string
		authz  []string
		status int
	}{
		// Authenticated: a miss, then a hit.
		{"valid", "/widgets", []string{"Bearer " + valid}, 200},
		{"valid again (cached)", "/widgets", []string{"Bearer " + valid}, 200},
		{"API token", "/widgets", []string{"Bearer " + apiTok}, 200},
		// Refused by the middleware.
		{"expired", "/widgets", []string{"Bearer " + a.mint(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		})}, 401},
		{"not yet valid", "/widgets", []string{"Bearer " + a.mint(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })}, 401},
		{"revoked", "/widgets", []string{"Bearer " + revoked}, 401},
		{"wrong audience", "/widgets", []string{"Bearer " + a.mint(func(c map[string]any) { c["aud"] = "another-api" })}, 401},
		{"wrong issuer", "/widgets", []string{"Bearer " + a.mint(func(c map[string]any) { c["iss"] = "https://evil.test" })}, 401},
		{"no exp", "/widgets", []string{"Bearer " + a.mint(func(c map[string]any) { c["exp"] = nil })}, 401},
		{"malformed JWT", "/widgets", []string{"Bearer e30.e30.e30"}, 401},
		{"tampered signature", "/widgets", []string{"Bearer " + tampered}, 401},
		{"unknown key", "/widgets", []string{"Bearer " + other.Mint(now, nil)}, 401},
		{"malformed API token", "/widgets", []string{"Bearer " + a.tokens.Prefix() + "xyz"}, 401},
		{"revoked API token", "/widgets", []string{"Bearer " + revokedAPITok}, 401},
		{"no credentials", "/widgets", nil, 401},
		{"two Authorization headers", "/widgets", []string{"Bearer " + valid, "Bearer " + valid}, 400},
		// Authenticated (a hit, a miss), then refused by a check.
		{"scope missing", "/admin", []string{"Bearer " + valid}, 403},
		{"token for another resource", "/a/widgets", []string{"Bearer " + forB}, 401},
	} {
		if got := a.get(t, tc.path, tc.authz...); got != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.status)
		}
	}
}

// TestAuthentications: real requests through the middleware, counted by
// method and outcome, with the cache's hits and misses, and the refusals
// of authenticated requests apart.
func TestAuthentications(t *testing.T) {
	m, reader := newMetrics(t, metrics.Config{SampleEvery: -1})
	apiRequests(t, newAPI(t, m, nil))
	ps := collect(t, reader)
	wantValues(t, ps, "sessionless.authentications", map[string]float64{
		"method=jwt outcome=ok":                 4, // valid twice, /admin, /a/widgets
		"method=apitoken outcome=ok":            1,
		"method=none outcome=expired":           1,
		"method=none outcome=not_yet_valid":     1,
		"method=none outcome=revoked":           2, // a JWT, an API token
		"method=none outcome=wrong_audience":    1,
		"method=none outcome=wrong_issuer":      1,
		"method=none outcome=invalid_token":     1, // no exp
		"method=none outcome=malformed":         2, // a JWT, an API token
		"method=none outcome=invalid_signature": 1,
		"method=none outcome=unknown_key":       1,
		"method=none outcome=no_credentials":    1,
		"method=none outcome=invalid_request":   1,
	})
	wantValues(t, ps, "sessionless.authorization.refusals", map[string]float64{
		"method=jwt outcome=forbidden_scope": 1,
		"method=jwt outcome=wrong_audience":  1,
	})
	wantValues(t, ps, "sessionless.authentication.cache", map[string]float64{
		"method=jwt result=miss":      2, // valid, the token for B
		"method=jwt result=hit":       2, // valid again, /admin
		"method=apitoken result=miss": 1,
	})
	wantValues(t, ps, "sessionless.authentication.duration", nil) // SampleEvery -1
}

// TestDPoP: refused proofs by their outcome, and a replay cache that
// cannot answer as unavailable.
func TestDPoP(t *testing.T) {
	m, reader := newMetrics(t, metrics.Config{SampleEvery: -1})
	dpopRequests(t, m)
	wantValues(t, collect(t, reader), "sessionless.authentications", map[string]float64{
		"method=jwt outcome=ok":              1,
		"method=none outcome=replayed_proof": 1,
		"method=none outcome=invalid_proof":  2,
		"method=none outcome=unavailable":    1,
	})
}

// dpopRequests sends DPoP-bound requests with good, replayed, missing and
// foreign proofs, and one while the replay cache is down.
func dpopRequests(t *testing.T, m *metrics.Metrics) {
	t.Helper()
	cache := &downCache{ReplayCache: dpop.NewMemoryCache(nil)}
	keys := tokentest.KeySet(tokentest.MustSigner(token.ES256))
	iss, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience}})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: tokentest.Issuer, Audience: tokentest.Audience})
	if err != nil {
		t.Fatal(err)
	}
	proofs, err := dpop.New(dpop.Config{Replay: cache})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{tokentest.Issuer: verifier},
		DPoP: proofs, ExternalURL: "https://api.example", Hooks: m.Hooks()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer srv.Close()
	alice, mallory := dpoptest.NewClient(t), dpoptest.NewClient(t)
	bound, _, err := iss.Issue(token.Claims{Subject: "alice", JKT: alice.JKT()})
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://api.example/widgets"
	send := func(proof string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/widgets", nil)
		req.Header.Set("Authorization", "DPoP "+bound)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	proof := alice.Proof("GET", url, bound, time.Now(), nil)
	for _, tc := range []struct {
		name   string
		proof  string
		down   bool
		status int
	}{
		{"a proof", proof, false, 200},
		{"the same proof again", proof, false, 401},
		{"no proof", "", false, 401},
		{"a proof by another key", mallory.Proof("GET", url, bound, time.Now(), nil), false, 401},
		{"the replay cache down", alice.Proof("GET", url, bound, time.Now(), nil), true, 503},
	} {
		cache.down = tc.down
		if got := send(tc.proof); got != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.status)
		}
	}
}

// downCache is a replay cache that can be made to fail.
type downCache struct {
	dpop.ReplayCache
	down bool
}

func (c *downCache) Remember(ctx context.Context, key string, expires time.Time) (bool, error) {
	if c.down {
		return false, errors.New("replay cache down")
	}
	return c.ReplayCache.Remember(ctx, key, expires)
}

// TestMiddleware: with Middleware around the middleware, each request's
// authentication is timed into the histogram (SampleEvery 1) and traced,
// from Middleware to the hook; an authorization refusal is an event of
// the request's span; a request let through anonymously is neither.
func TestMiddleware(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	m, reader := newMetrics(t, metrics.Config{SampleEvery: 1, TracerProvider: tp})
	server := func(next http.Handler) http.Handler { // the request's span, as otelhttp makes it
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, span := tp.Tracer("server").Start(r.Context(), "GET", trace.WithSpanKind(trace.SpanKindServer))
			defer span.End()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	a := newAPI(t, m, server)
	valid := a.mint(nil)
	expired := a.mint(func(c map[string]any) { c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix() })
	start := time.Now()
	for _, r := range []struct {
		path, authz string
		status      int
	}{
		{"/widgets", valid, 200},
		{"/widgets", valid, 200},
		{"/widgets", expired, 401},
		{"/admin", valid, 403},
	} {
		if got := a.get(t, r.path, "Bearer "+r.authz); got != r.status {
			t.Fatalf("%s: %d, want %d", r.path, got, r.status)
		}
	}
	elapsed := time.Since(start)
	wantValues(t, collect(t, reader), "sessionless.authentication.duration", map[string]float64{
		"method=jwt result=miss":     1,
		"method=jwt result=hit":      2,
		"method=none result=refused": 1,
	})

	var auths []sdktrace.ReadOnlySpan
	var refused []string
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "sessionless.authenticate":
			auths = append(auths, s)
			if s.Parent().SpanID() == (trace.SpanID{}) || s.SpanKind() != trace.SpanKindInternal {
				t.Errorf("span %v: parent %v, kind %v", s.Attributes(), s.Parent(), s.SpanKind())
			}
			if d := s.EndTime().Sub(s.StartTime()); d <= 0 || d > elapsed {
				t.Errorf("span %v lasted %v", s.Attributes(), d)
			}
			if s.Status().Code != codes.Unset {
				t.Errorf("span %v: status %v", s.Attributes(), s.Status())
			}
		case "GET":
			for _, e := range s.Events() {
				if e.Name == "sessionless.authorization.refused" {
					for _, kv := range e.Attributes {
						refused = append(refused, string(kv.Key)+"="+kv.Value.String())
					}
				}
			}
		}
	}
	var got []string
	for _, s := range auths {
		var kvs []string
		for _, kv := range s.Attributes() {
			kvs = append(kvs, string(kv.Key)+"="+kv.Value.String())
		}
		slices.Sort(kvs)
		got = append(got, strings.Join(kvs, " "))
	}
	slices.Sort(got)
	want := []string{
		"sessionless.cached=false sessionless.method=jwt sessionless.outcome=ok",
		"sessionless.cached=true sessionless.method=jwt sessionless.outcome=ok",
		"sessionless.cached=true sessionless.method=jwt sessionless.outcome=ok",
		"sessionless.method=none sessionless.outcome=expired",
	}
	if !slices.Equal(got, want) {
		t.Errorf("spans:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !slices.Equal(refused, []string{"sessionless.method=jwt", "sessionless.outcome=forbidden_scope"}) {
		t.Errorf("authorization refused event: %v", refused)
	}
}

// TestMiddlewareOff: without sampling nor tracing, Middleware is next
// itself; with sampling off and a tracer, requests are traced but not
// timed.
func TestMiddlewareOff(t *testing.T) {
	m, _ := newMetrics(t, metrics.Config{SampleEvery: -1})
	next := &struct{ http.Handler }{}
	if m.Middleware(next) != http.Handler(next) {
		t.Error("Middleware wraps with nothing to do")
	}
	rec := tracetest.NewSpanRecorder()
	m, reader := newMetrics(t, metrics.Config{SampleEvery: -1, TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
	a := newAPI(t, m, nil)
	if got := a.get(t, "/widgets", "Bearer "+a.mint(nil)); got != 200 {
		t.Fatal(got)
	}
	if len(rec.Ended()) != 1 {
		t.Errorf("%d spans", len(rec.Ended()))
	}
	wantValues(t, collect(t, reader), "sessionless.authentication.duration", nil)
}

// TestSampling: the default times one request in DefaultSampleEvery.
func TestSampling(t *testing.T) {
	m, reader := newMetrics(t, metrics.Config{})
	a := newAPI(t, m, nil)
	valid := "Bearer " + a.mint(nil)
	const n = 2000
	for range n {
		if got := a.get(t, "/widgets", valid); got != 200 {
			t.Fatal(got)
		}
	}
	timed := 0.0
	for _, v := range values(collect(t, reader), "sessionless.authentication.duration") {
		timed += v
	}
	// The request after the 128th, 256th, … cache hit.
	if want := float64((n - 1) / metrics.DefaultSampleEvery); timed != want {
		t.Errorf("%v requests of %d timed, want %v", timed, n, want)
	}
}
