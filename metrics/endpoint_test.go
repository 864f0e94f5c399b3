package metrics_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/metrics"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
)

// users is the endpoints' user store.
type users map[string]endpoint.User

func (u users) UserByName(_ context.Context, name string) (endpoint.User, error) {
	if x, ok := u[name]; ok {
		return x, nil
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

func (u users) UserBySubject(_ context.Context, sub string) (endpoint.User, error) {
	for _, x := range u {
		if x.Subject == sub {
			return x, nil
		}
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

const secret = "correct horse battery staple"

// endpointRequests logs in, fails, is throttled, refreshes, reuses a
// refresh token, revokes and logs out through endpoint.New's endpoints
// over HTTP, with m.EndpointAudit beside a hook of the test's own (the
// fan-out an application writes), and returns the events that hook saw.
func endpointRequests(t *testing.T, m *metrics.Metrics) []endpoint.Event {
	t.Helper()
	ctx := context.Background()
	passwords, err := password.New(testenv.CheapPasswords)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := passwords.Hash(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	key, err := token.GenerateKey(token.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	const iss = "https://api.test"
	issuer, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: iss, Audience: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: iss, Audience: "api"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := revocation.Open(ctx, revocation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { list.Close() })
	var mu sync.Mutex
	var seen []endpoint.Event
	srv, err := endpoint.New(endpoint.Config{
		Issuer: issuer, Verifier: verifier, Revocation: list, Passwords: passwords, ClientID: "app",
		Users:              users{"alice": {Subject: "usr_alice", PasswordHash: hash, Scopes: []string{"read"}}},
		RefreshGracePeriod: -1,
		// Three attempts per username, then 429.
		Throttle: endpoint.ThrottleConfig{Username: endpoint.Rate{Burst: 3}, Address: endpoint.Rate{Burst: 1000},
			MaxHashesPerUsername: 10, MaxHashesPerAddress: 10},
		Hooks: endpoint.Hooks{Audit: func(r *http.Request, e endpoint.Event) {
			m.EndpointAudit(r, e)
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, e)
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{iss: verifier}, Revocation: list, Hooks: m.Hooks()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux, "/auth", auth.Middleware)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	post := func(path, contentType, body, bearer string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var j map[string]any
		json.Unmarshal(b, &j)
		return resp.StatusCode, j
	}
	login := func(name, pw string) (int, map[string]any) {
		b, _ := json.Marshal(map[string]string{"username": name, "password": pw})
		return post("/auth/login", "application/json", string(b), "")
	}
	form := func(v url.Values) (int, map[string]any) {
		return post("/auth/token", "application/x-www-form-urlencoded", v.Encode(), "")
	}
	want := func(what string, got, status int) {
		t.Helper()
		if got != status {
			t.Fatalf("%s: %d, want %d", what, got, status)
		}
	}

	status, tokens := login("alice", secret)
	want("login", status, 200)
	access, rt := tokens["access_token"].(string), tokens["refresh_token"].(string)
	status, _ = login("alice", "wrong")
	want("a wrong password", status, 401)
	status, _ = login("mallory", "guess")
	want("an unknown user", status, 401)
	status, _ = login("alice", "wrong")
	want("a wrong password again", status, 401)
	status, _ = login("alice", secret)
	want("a fourth attempt for alice", status, 429)
	status, refreshed := form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	want("refresh", status, 200)
	status, _ = form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	want("the spent refresh token again", status, 400)
	status, _ = post("/auth/logout", "", "", refreshed["access_token"].(string))
	want("logout with the revoked family's token", status, 401)
	status, _ = post("/auth/revoke", "application/x-www-form-urlencoded", url.Values{"token": {access}, "client_id": {"app"}}.Encode(), "")
	want("revoke", status, 200)
	mu.Lock()
	defer mu.Unlock()
	return seen
}

// TestEndpointAudit: the endpoints' events counted by outcome and kind.
func TestEndpointAudit(t *testing.T) {
	m, reader := newMetrics(t, metrics.Config{SampleEvery: -1})
	seen := endpointRequests(t, m)
	kinds := map[endpoint.EventKind]int{}
	for _, e := range seen {
		kinds[e.Kind]++
	}
	wantKinds := map[endpoint.EventKind]int{
		endpoint.LoginSucceeded: 1, endpoint.LoginFailed: 3, endpoint.Throttled: 1,
		endpoint.Refreshed: 1, endpoint.RefreshReused: 1, endpoint.Revoked: 1,
	}
	for k, n := range wantKinds {
		if kinds[k] != n {
			t.Errorf("%d %s events, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	ps := collect(t, reader)
	wantValues(t, ps, "sessionless.logins", map[string]float64{
		"outcome=ok": 1, "outcome=failed": 3, "outcome=throttled": 1,
	})
	wantValues(t, ps, "sessionless.endpoint.events", map[string]float64{
		"event=refresh": 1, "event=refresh_reuse": 1, "event=revoke": 1,
	})
}

// TestEndpointEvents: every kind of event, a throttled request that is
// not a password attempt, and a kind this package does not know.
func TestEndpointEvents(t *testing.T) {
	m, reader := newMetrics(t, metrics.Config{})
	req := httptest.NewRequest("POST", "/auth/token", nil)
	for _, k := range []endpoint.EventKind{
		endpoint.LoginSucceeded, endpoint.LoginFailed, endpoint.Refreshed, endpoint.RefreshReused,
		endpoint.LoggedOut, endpoint.LoggedOutAll, endpoint.Revoked, endpoint.DeviceEnded,
		endpoint.CodeIssued, endpoint.CodeReused, endpoint.ConsentGranted, endpoint.ConsentDenied,
		endpoint.ConsentRevoked, endpoint.Throttled, "something_new",
	} {
		m.EndpointAudit(req, endpoint.Event{Kind: k, Subject: "usr_alice", TokenID: "jti-1", ClientID: "app"})
	}
	m.EndpointAudit(req, endpoint.Event{Kind: endpoint.Throttled, Username: "alice"})
	m.APITokenCreated(req.Context())
	m.APITokenCreated(req.Context())
	m.APITokenRevoked(req.Context())
	ps := collect(t, reader)
	wantValues(t, ps, "sessionless.logins", map[string]float64{"outcome=ok": 1, "outcome=failed": 1, "outcome=throttled": 1})
	wantValues(t, ps, "sessionless.endpoint.events", map[string]float64{
		"event=refresh": 1, "event=refresh_reuse": 1, "event=logout": 1, "event=logout_all": 1, "event=revoke": 1,
		"event=device_end": 1, "event=authorize": 1, "event=code_reuse": 1, "event=consent": 1,
		"event=consent_deny": 1, "event=consent_revoke": 1, "event=throttled": 1, "event=other": 1,
	})
	wantValues(t, ps, "sessionless.apitokens.created", map[string]float64{"": 2})
	wantValues(t, ps, "sessionless.apitokens.revoked", map[string]float64{"": 1})
}
