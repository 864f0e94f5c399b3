package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/metrics"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
)

// providerRequests fetches the keys of a real provider (discovery and
// JWK Set over HTTP) with m's hook and transport, authenticates one of
// its tokens through the middleware, then fetches again while the
// provider is down. It returns the provider and the clock of the
// provider and of m.
func providerRequests(t *testing.T, m *metrics.Metrics, clk *testenv.Clock) *oidctest.Provider {
	t.Helper()
	ctx := context.Background()
	f := oidctest.New(t)
	fetched := make(chan error, 8)
	hook := m.KeysRefreshed(f.Issuer())
	p, err := oidc.New(oidc.Config{
		Issuer: f.Issuer(), Audiences: []string{"api"}, Now: clk.Now,
		HTTPClient: &http.Client{Transport: m.KeyFetchTransport(f.Issuer(), nil), Timeout: oidc.DefaultHTTPTimeout},
		Hooks: oidc.Hooks{OnKeysRefreshed: func(err error) { // beside a hook of one's own
			hook(err)
			fetched <- err
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wait := func() error {
		t.Helper()
		select {
		case err := <-fetched:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("OnKeysRefreshed was not called")
			return nil
		}
	}
	if err := p.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{f.Issuer(): p}, Hooks: m.Hooks()})
	if err != nil {
		t.Fatal(err)
	}
	t0 := clk.Now()
	tok := f.Mint(map[string]any{"iss": f.Issuer(), "aud": "api", "sub": "u1", "iat": t0.Unix(), "exp": t0.Add(5 * time.Minute).Unix()})
	req := httptest.NewRequest("GET", "/widgets", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("a provider's token: %d", w.Code)
	}
	clk.Advance(2 * time.Minute)
	f.Down.Store(true)
	if err := p.Refresh(ctx); err == nil {
		t.Fatal("a refresh while the provider is down")
	}
	if err := wait(); err == nil {
		t.Fatal("the hook got no error while the provider is down")
	}
	clk.Advance(time.Minute)
	return f
}

// TestProvider: the fetches of a provider's keys by result, the age of
// the keys held from the last successful fetch, and a span per request
// of a fetch.
func TestProvider(t *testing.T) {
	clk := testenv.NewClock(now)
	rec := tracetest.NewSpanRecorder()
	m, reader := newMetrics(t, metrics.Config{Now: clk.Now, SampleEvery: -1,
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
	f := providerRequests(t, m, clk)
	ps := collect(t, reader)
	iss := "issuer=" + f.Issuer()
	wantValues(t, ps, "sessionless.oidc.key_fetches", map[string]float64{iss + " result=ok": 1, iss + " result=error": 1})
	wantValues(t, ps, "sessionless.oidc.keys.age", map[string]float64{iss: 180}) // since the successful fetch
	wantValues(t, ps, "sessionless.authentications", map[string]float64{"method=oidc outcome=ok": 1})

	var got []string
	for _, s := range rec.Ended() {
		if s.Name() != "sessionless.oidc.fetch" {
			t.Errorf("span %q", s.Name())
			continue
		}
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		if attrs["sessionless.issuer"] != f.Issuer() || attrs["http.request.method"] != "GET" {
			t.Errorf("span attributes %v", attrs)
		}
		path := strings.TrimPrefix(attrs["url.full"], f.URL())
		got = append(got, path+" "+attrs["http.response.status_code"]+" "+s.Status().Code.String())
	}
	slices.Sort(got)
	want := []string{
		"/.well-known/openid-configuration 200 " + codes.Unset.String(),
		"/jwks 200 " + codes.Unset.String(),
		"/jwks 503 " + codes.Error.String(), // discovery is not fetched again
	}
	if !slices.Equal(got, want) {
		t.Errorf("spans:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestKeyFetchTransportOff: without a tracer, the transport is base.
func TestKeyFetchTransportOff(t *testing.T) {
	m, _ := newMetrics(t, metrics.Config{})
	base := &http.Transport{}
	if m.KeyFetchTransport("https://issuer.test", base) != http.RoundTripper(base) {
		t.Error("KeyFetchTransport wraps without a tracer")
	}
	if m.KeyFetchTransport("https://issuer.test", nil) != http.DefaultTransport {
		t.Error("KeyFetchTransport(nil) is not http.DefaultTransport")
	}
}
