package metrics_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/metrics"
	"github.com/sessionless/sessionless/metrics/prometheus"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/token/endpoint"
)

// An API built with sessionless.New, its metrics exported for Prometheus
// at GET /metrics: the middleware's hooks and the latency wrapper, the
// endpoints' audit hook, the revocation list's gauges. A provider's
// hook goes in its oidc.Config the same way:
// Hooks: oidc.Hooks{OnKeysRefreshed: m.KeysRefreshed(issuer)}.
func Example() {
	ctx := context.Background()
	exp, err := prometheus.New(metrics.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer exp.Shutdown(ctx)
	m := exp.Metrics

	passwords, _ := password.New(password.Config{})
	hash, _ := passwords.Hash(ctx, "correct horse battery staple")
	auth, err := sessionless.New(sessionless.Config{
		Issuer: "https://api.example", Audience: "api", HMACSecret: []byte("an example secret, 32 bytes long"),
		Endpoints: &endpoint.Config{
			Users:     users{"alice": {Subject: "usr_1", PasswordHash: hash, Scopes: []string{"widgets:read"}}},
			Passwords: passwords,
			Hooks:     endpoint.Hooks{Audit: m.EndpointAudit},
		},
		Middleware: middleware.Config{Hooks: m.Hooks()},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Shutdown(ctx)
	// The list exists once New has returned.
	m.ObserveRevocations(func() (int, time.Time) { return auth.Revocations.Len(), auth.Revocations.SyncedAt() })

	mux := http.NewServeMux()
	auth.Mount(mux, "/auth")
	widgets := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "widgets") })
	mux.Handle("GET /widgets", m.Middleware(auth.Middleware(auth.RequireScopes("widgets:read")(widgets))))
	mux.Handle("GET /metrics", exp.Handler)
	ts := httptest.NewServer(mux)
	defer ts.Close()

	call := func(method, path, bearer, body string) *http.Response {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		return resp
	}
	var tokens struct {
		AccessToken string `json:"access_token"`
	}
	resp := call("POST", "/auth/login", "", `{"username": "alice", "password": "correct horse battery staple"}`)
	json.NewDecoder(resp.Body).Decode(&tokens)
	resp.Body.Close()
	call("POST", "/auth/login", "", `{"username": "alice", "password": "wrong"}`).Body.Close()
	call("GET", "/widgets", tokens.AccessToken, "").Body.Close()
	call("GET", "/widgets", tokens.AccessToken, "").Body.Close() // from the cache
	call("GET", "/widgets", "", "").Body.Close()
	call("POST", "/auth/logout", tokens.AccessToken, "").Body.Close()
	call("GET", "/widgets", tokens.AccessToken, "").Body.Close() // revoked

	resp = call("GET", "/metrics", "", "")
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		// The counters and the list's size; not the times (the latency
		// histogram, the sync's age).
		if l := lines.Text(); strings.HasPrefix(l, "sessionless_") && !strings.Contains(l, "_seconds") {
			fmt.Println(l)
		}
	}
	// Output:
	// sessionless_authentication_cache_total{method="jwt",result="hit"} 2
	// sessionless_authentication_cache_total{method="jwt",result="miss"} 1
	// sessionless_authentications_total{method="jwt",outcome="ok"} 3
	// sessionless_authentications_total{method="none",outcome="no_credentials"} 1
	// sessionless_authentications_total{method="none",outcome="revoked"} 1
	// sessionless_endpoint_events_total{event="logout"} 1
	// sessionless_logins_total{outcome="failed"} 1
	// sessionless_logins_total{outcome="ok"} 1
	// sessionless_revocation_entries 1
}
