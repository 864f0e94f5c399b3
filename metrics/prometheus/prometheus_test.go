package prometheus_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/metrics"
	"github.com/sessionless/sessionless/metrics/prometheus"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// TestNew: the metrics of real requests scraped from Handler, with
// Prometheus' names, beside the Go runtime's.
func TestNew(t *testing.T) {
	exp, err := prometheus.New(metrics.Config{SampleEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s := tokentest.MustSigner(token.EdDSA)
	auth, err := middleware.New(middleware.Config{
		JWT:   map[string]middleware.Verifier{tokentest.Issuer: tokentest.Verifier(tokentest.KeySet(s), now)},
		Hooks: exp.Metrics.Hooks(),
	})
	if err != nil {
		t.Fatal(err)
	}
	exp.Metrics.ObserveRevocations(func() (int, time.Time) { return 7, now })
	mux := http.NewServeMux()
	mux.Handle("GET /widgets", exp.Metrics.Middleware(auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))))
	mux.Handle("GET /metrics", exp.Handler)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path, bearer string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	valid := s.Mint(now, nil)
	for _, bearer := range []string{valid, valid, ""} {
		get("/widgets", bearer)
	}
	status, body := get("/metrics", "")
	if status != 200 {
		t.Fatalf("GET /metrics: %d", status)
	}
	for _, want := range []string{
		`sessionless_authentications_total{method="jwt",outcome="ok"} 2`,
		`sessionless_authentications_total{method="none",outcome="no_credentials"} 1`,
		`sessionless_authentication_cache_total{method="jwt",result="hit"} 1`,
		`sessionless_authentication_duration_seconds_count{method="jwt",result="miss"} 1`,
		`sessionless_revocation_entries 7`,
		"# TYPE sessionless_revocation_sync_age_seconds gauge",
		"go_goroutines ",
		"process_",
		"target_info{",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in:\n%s", want, body)
		}
	}
	if strings.Contains(body, "otel_scope_name") {
		t.Error("scope labels")
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, body := get("/metrics", ""); strings.Contains(body, "sessionless_") {
		t.Errorf("after Shutdown:\n%s", body)
	}
}

// TestNewTwice: each Exporter has a registry of its own.
func TestNewTwice(t *testing.T) {
	for range 2 {
		exp, err := prometheus.New(metrics.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer exp.Shutdown(context.Background())
	}
}
