package apitoken_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
)

// api is an HTTP API with API tokens and, standing in for logins, user
// tokens "usr_<name>" whose principals the users map holds.
type api struct {
	*httptest.Server
	m     *apitoken.Manager
	store *countingStore
	clock *testenv.Clock
}

var users = map[string]*identity.Principal{
	"usr_alice": user("alice", "widgets:read", "widgets:write", "tokens:manage"),
	"usr_bob":   user("bob", "widgets:read", "tokens:manage"),
	"usr_carol": user("carol", "widgets:read"), // cannot manage tokens
}

func newAPI(t *testing.T, withRevoker bool) *api {
	t.Helper()
	c := newClock()
	list, err := revocation.Open(context.Background(), revocation.Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { list.Close() })
	store := &countingStore{Store: apitoken.NewMemoryStore()}
	cfg := apitoken.Config{Store: store, Now: c.Now}
	if withRevoker {
		cfg.Revoker = list
	}
	m := newManager(t, cfg)
	auth, err := middleware.New(middleware.Config{
		Prefixes: map[string]middleware.Verifier{
			"sl_": m,
			"usr_": middleware.VerifierFunc(func(_ context.Context, raw string) (*identity.Principal, error) {
				if p := users[raw]; p != nil {
					return p, nil
				}
				return nil, errors.New("no such user token")
			}),
		},
		Revocation: list,
		Now:        c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	m.Handlers(apitoken.HandlerConfig{}).Mount(mux, "/api/tokens", auth.Middleware)
	mux.Handle("GET /api/me", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := identity.FromContext(r.Context())
		json.NewEncoder(w).Encode(map[string]any{"sub": p.Subject, "auth_method": p.Method, "scopes": p.Scopes, "jti": p.TokenID})
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &api{Server: srv, m: m, store: store, clock: c}
}

func (a *api) do(t *testing.T, method, path, bearer, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// create creates a token as bearer and returns the response.
func (a *api) create(t *testing.T, bearer, body string) apitoken.TokenJSON {
	t.Helper()
	status, _, resp := a.do(t, "POST", "/api/tokens", bearer, "application/json", body)
	if status != http.StatusCreated {
		t.Fatalf("POST /api/tokens %s: %d %s", body, status, resp)
	}
	var tok apitoken.TokenJSON
	if err := json.Unmarshal([]byte(resp), &tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestHTTP(t *testing.T) {
	a := newAPI(t, true)
	tok := a.create(t, "usr_alice", `{"name": "CI deploy", "scopes": ["widgets:read"], "expires_in": 3600}`)
	if tok.Token == "" || tok.ID == "" || tok.Name != "CI deploy" || strings.Join(tok.Scopes, " ") != "widgets:read" ||
		!tok.CreatedAt.Equal(a.clock.Now()) || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(a.clock.Now().Add(time.Hour)) {
		t.Fatalf("created %+v", tok)
	}
	// The token authenticates /api/me as alice, by API token.
	status, _, body := a.do(t, "GET", "/api/me", tok.Token, "", "")
	var me struct {
		Sub        string   `json:"sub"`
		AuthMethod string   `json:"auth_method"`
		Scopes     []string `json:"scopes"`
		JTI        string   `json:"jti"`
	}
	json.Unmarshal([]byte(body), &me)
	if status != 200 || me.Sub != "alice" || me.AuthMethod != "apitoken" || strings.Join(me.Scopes, " ") != "widgets:read" || me.JTI != tok.ID {
		t.Fatalf("/api/me with the API token: %d %s", status, body)
	}
	// The list: alice's tokens, no secret, no hash.
	a.create(t, "usr_bob", `{"name": "bob's"}`)
	status, _, body = a.do(t, "GET", "/api/tokens", "usr_alice", "", "")
	if status != 200 || strings.Contains(body, tok.Token) || strings.Contains(body, tok.Token[3:13]) ||
		strings.Contains(body, "hash") || strings.Contains(body, `"token"`) || strings.Contains(body, "bob's") {
		t.Fatalf("GET /api/tokens: %d %s", status, body)
	}
	var list struct{ Tokens []apitoken.TokenJSON }
	if json.Unmarshal([]byte(body), &list); len(list.Tokens) != 1 || list.Tokens[0].ID != tok.ID || list.Tokens[0].RevokedAt != nil {
		t.Fatalf("list = %s", body)
	}
	// Someone else's id: 404, and the token still works.
	if status, _, body := a.do(t, "DELETE", "/api/tokens/"+tok.ID, "usr_bob", "", ""); status != 404 {
		t.Fatalf("bob deleting alice's token: %d %s", status, body)
	}
	if status, _, _ := a.do(t, "GET", "/api/me", tok.Token, "", ""); status != 200 {
		t.Fatal("the token stopped working after bob's refused DELETE")
	}
	lookups := a.store.lookups.Load()
	// Revoked: 204, then refused at once, though the middleware caches it.
	if status, _, body := a.do(t, "DELETE", "/api/tokens/"+tok.ID, "usr_alice", "", ""); status != 204 {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	status, hdr, _ := a.do(t, "GET", "/api/me", tok.Token, "", "")
	if status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("a revoked token: %d %q, want 401 invalid_token", status, hdr.Get("WWW-Authenticate"))
	}
	if n := a.store.lookups.Load(); n != lookups {
		t.Errorf("%d database lookups for cached requests, want 0 (the cache and the revocation list answer)", n-lookups)
	}
	if status, _, _ := a.do(t, "DELETE", "/api/tokens/"+tok.ID, "usr_alice", "", ""); status != 204 {
		t.Errorf("DELETE again: %d, want 204", status)
	}
	status, _, body = a.do(t, "GET", "/api/tokens", "usr_alice", "", "")
	if json.Unmarshal([]byte(body), &list); status != 200 || len(list.Tokens) != 1 || list.Tokens[0].RevokedAt == nil {
		t.Fatalf("list after revocation: %s", body)
	}
	// Once the cache and the list have forgotten it, the database still
	// refuses it.
	a.clock.Advance(10 * time.Minute)
	if status, _, _ := a.do(t, "GET", "/api/me", tok.Token, "", ""); status != 401 {
		t.Fatalf("a revoked token after the list entry expired: %d", status)
	}
}

// TestHTTPRevokeWithoutRevoker: without a revocation list a revoked token
// stays in the cache for at most the cache age.
func TestHTTPRevokeWithoutRevoker(t *testing.T) {
	a := newAPI(t, false)
	tok := a.create(t, "usr_alice", `{"name": "x"}`)
	a.do(t, "GET", "/api/me", tok.Token, "", "")
	a.do(t, "DELETE", "/api/tokens/"+tok.ID, "usr_alice", "", "")
	if status, _, _ := a.do(t, "GET", "/api/me", tok.Token, "", ""); status != 200 {
		t.Fatalf("cached, no revocation list: %d, want 200 until the cache age passes", status)
	}
	a.clock.Advance(apitoken.DefaultCacheAge)
	if status, _, _ := a.do(t, "GET", "/api/me", tok.Token, "", ""); status != 401 {
		t.Fatalf("after the cache age: %d, want 401", status)
	}
}

func TestHTTPExpiredAndUnavailable(t *testing.T) {
	a := newAPI(t, true)
	tok := a.create(t, "usr_alice", `{"name": "x", "expires_in": 60}`)
	a.store.down.Store(true)
	if status, hdr, _ := a.do(t, "GET", "/api/me", tok.Token, "", ""); status != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("database down: %d, want 503 with Retry-After", status)
	}
	if status, _, _ := a.do(t, "POST", "/api/tokens", "usr_alice", "application/json", `{"name":"y"}`); status != 503 {
		t.Fatalf("creating with the database down: %d, want 503", status)
	}
	a.store.down.Store(false)
	if status, _, _ := a.do(t, "GET", "/api/me", tok.Token, "", ""); status != 200 {
		t.Fatalf("database back: %d", status)
	}
	a.clock.Advance(time.Minute)
	if status, _, _ := a.do(t, "GET", "/api/me", tok.Token, "", ""); status != 401 {
		t.Fatalf("expired (and cached before): %d, want 401", status)
	}
}

func TestHTTPCreateRefusals(t *testing.T) {
	a := newAPI(t, true)
	parent := a.create(t, "usr_alice", `{"name": "parent", "scopes": ["widgets:read", "tokens:manage"], "expires_in": 86400}`)
	plain := a.create(t, "usr_alice", `{"name": "plain", "scopes": ["widgets:read", "widgets:write"]}`)
	for _, tc := range []struct {
		name, bearer, contentType, body string
		status                          int
	}{
		{"no credentials", "", "application/json", `{"name":"x"}`, 401},
		{"a user without tokens:manage", "usr_carol", "application/json", `{"name":"x"}`, 403},
		{"an API token without tokens:manage, though its subject has it", plain.Token, "application/json", `{"name":"x"}`, 403},
		{"a scope the user lacks", "usr_bob", "application/json", `{"name":"x","scopes":["widgets:write"]}`, 403},
		{"a scope the API token lacks", parent.Token, "application/json", `{"name":"x","scopes":["widgets:write"]}`, 403},
		{"outliving the API token", parent.Token, "application/json", `{"name":"x","expires_in":86401}`, 400},
		{"form body", "usr_alice", "application/x-www-form-urlencoded", `name=x`, 415},
		{"no content type", "usr_alice", "", `{"name":"x"}`, 415},
		{"empty body", "usr_alice", "application/json", ``, 400},
		{"not an object", "usr_alice", "application/json", `["x"]`, 400},
		{"no name", "usr_alice", "application/json", `{"scopes":[]}`, 400},
		{"name twice", "usr_alice", "application/json", `{"name":"x","name":"y"}`, 400},
		{"scopes twice", "usr_alice", "application/json", `{"name":"x","scopes":[],"scopes":["widgets:write"]}`, 400},
		{"Name in capitals", "usr_alice", "application/json", `{"Name":"x"}`, 400},
		{"an unknown member", "usr_alice", "application/json", `{"name":"x","expires":60}`, 400},
		{"scopes a string", "usr_alice", "application/json", `{"name":"x","scopes":"widgets:read"}`, 400},
		{"a scope not a string", "usr_alice", "application/json", `{"name":"x","scopes":[1]}`, 400},
		{"a scope with a space", "usr_alice", "application/json", `{"name":"x","scopes":["widgets:read widgets:write"]}`, 403},
		{"expires_in 0", "usr_alice", "application/json", `{"name":"x","expires_in":0}`, 400},
		{"expires_in 1.5", "usr_alice", "application/json", `{"name":"x","expires_in":1.5}`, 400},
		{"expires_in negative", "usr_alice", "application/json", `{"name":"x","expires_in":-60}`, 400},
		{"expires_in a string", "usr_alice", "application/json", `{"name":"x","expires_in":"60"}`, 400},
		{"expires_in over a year", "usr_alice", "application/json", `{"name":"x","expires_in":31622400}`, 400},
		{"expires_in 1e300", "usr_alice", "application/json", `{"name":"x","expires_in":1e300}`, 400},
		{"trailing data", "usr_alice", "application/json", `{"name":"x"} {}`, 400},
		{"a body over 16 KiB", "usr_alice", "application/json", `{"name":"` + strings.Repeat("x", 16<<10) + `"}`, 413},
		{"a name with a newline", "usr_alice", "application/json", `{"name":"a\nb"}`, 400},
	} {
		status, _, body := a.do(t, "POST", "/api/tokens", tc.bearer, tc.contentType, tc.body)
		if status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.status)
		}
	}
	// What an API token with tokens:manage may do: a narrower token that
	// dies with it.
	child := a.create(t, parent.Token, `{"name": "child", "scopes": ["widgets:read"]}`)
	if child.ExpiresAt == nil || !child.ExpiresAt.Equal(*parent.ExpiresAt) {
		t.Errorf("child expires %v, want with its parent at %v", child.ExpiresAt, parent.ExpiresAt)
	}
	// Methods and paths the handlers do not serve.
	if status, _, _ := a.do(t, "DELETE", "/api/tokens/", "usr_alice", "", ""); status != 404 && status != 405 {
		t.Errorf("DELETE /api/tokens/: %d", status)
	}
}

// TestHTTPForeignIssuer: a principal of another trusted issuer with the
// same subject cannot list, revoke or mint the subject's tokens.
func TestHTTPForeignIssuer(t *testing.T) {
	users["usr_foreign_alice"] = &identity.Principal{Subject: "alice", Issuer: "https://idp.other", Method: identity.OIDC,
		Scopes: []string{"widgets:read", "tokens:manage"}}
	t.Cleanup(func() { delete(users, "usr_foreign_alice") })
	a := newAPI(t, true)
	tok := a.create(t, "usr_alice", `{"name": "x"}`)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/tokens", ""},
		{"DELETE", "/api/tokens/" + tok.ID, ""},
		{"POST", "/api/tokens", `{"name":"y"}`},
	} {
		status, _, body := a.do(t, tc.method, tc.path, "usr_foreign_alice", "application/json", tc.body)
		if status != 403 || strings.Contains(body, tok.ID) {
			t.Errorf("%s %s by a foreign issuer's alice: %d %s, want 403", tc.method, tc.path, status, body)
		}
	}
	if status, _, _ := a.do(t, "GET", "/api/me", tok.Token, "", ""); status != 200 {
		t.Error("the token was revoked by a foreign principal")
	}
}

// TestHTTPChallenges: refusals carry RFC 6750 challenges, and a token
// list always has every member.
func TestHTTPChallenges(t *testing.T) {
	a := newAPI(t, true)
	_, hdr, _ := a.do(t, "GET", "/api/tokens", "usr_carol", "", "")
	if got := hdr.Get("WWW-Authenticate"); got != `Bearer error="insufficient_scope", scope="tokens:manage"` {
		t.Errorf("403 challenge: %q", got)
	}
	status, hdr, _ := a.do(t, "POST", "/api/tokens", "usr_bob", "application/json", `{"name":"x","scopes":["widgets:write"]}`)
	if status != 403 || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("a scope bob lacks: %d %q", status, hdr.Get("WWW-Authenticate"))
	}
	a.create(t, "usr_alice", `{"name": "x"}`)
	_, _, body := a.do(t, "GET", "/api/tokens", "usr_alice", "", "")
	for _, member := range []string{`"expires_at":`, `"last_used_at":null`, `"revoked_at":null`} {
		if !strings.Contains(body, member) {
			t.Errorf("list %s lacks %s", body, member)
		}
	}
}

// TestMountAtRoot: the handlers mount at "/" on a ServeMux.
func TestMountAtRoot(t *testing.T) {
	m := newManager(t, apitoken.Config{})
	mux := http.NewServeMux()
	m.Handlers(apitoken.HandlerConfig{}).Mount(mux, "/", func(h http.Handler) http.Handler { return h })
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/", 401},            // the list, without a principal
		{"POST", "/", 401},           // create
		{"DELETE", "/abc", 401},      // revoke
		{"GET", "/favicon.ico", 405}, // not the list: only DELETE /{id} matches it
		{"POST", "/x/y", 404},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
	}
}

// TestTwoManagers: an API token of one manager does not manage the
// tokens of another (two prefixes, one middleware).
func TestTwoManagers(t *testing.T) {
	store := apitoken.NewMemoryStore()
	sl := newManager(t, apitoken.Config{Store: store})
	svc := newManager(t, apitoken.Config{Prefix: "svc_", Store: apitoken.NewMemoryStore(), SubjectIssuer: "https://other.example"})
	raw, _ := mustCreate(t, svc, &identity.Principal{Subject: "alice", Issuer: "https://other.example", Method: identity.JWT,
		Scopes: []string{"tokens:manage"}}, apitoken.CreateRequest{Scopes: []string{"tokens:manage"}})
	p, err := svc.Authenticate(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if p.Issuer == apitoken.DefaultIssuer+apitoken.DefaultPrefix {
		t.Fatalf("two managers share the issuer %q", p.Issuer)
	}
	if _, err := sl.SubjectOf(context.Background(), p); !errors.Is(err, apitoken.ErrForeignIssuer) {
		t.Errorf("the sl_ manager takes a svc_ token as alice: %v", err)
	}
}

// TestHTTPRevokedCaller: an API token revoked while the middleware's cache
// holds it (no revocation list here: as on an instance the list has not
// reached yet) can neither create, list nor revoke tokens: 401
// invalid_token.
func TestHTTPRevokedCaller(t *testing.T) {
	a := newAPI(t, false)
	parent := a.create(t, "usr_alice", `{"name": "parent", "scopes": ["widgets:read", "tokens:manage"]}`)
	other := a.create(t, "usr_alice", `{"name": "other"}`)
	if status, _, body := a.do(t, "GET", "/api/tokens", parent.Token, "", ""); status != 200 {
		t.Fatalf("listing with the API token: %d %s", status, body)
	}
	if status, _, _ := a.do(t, "DELETE", "/api/tokens/"+parent.ID, "usr_alice", "", ""); status != 204 {
		t.Fatal("revoking the API token failed")
	}
	if status, _, _ := a.do(t, "GET", "/api/me", parent.Token, "", ""); status != 200 {
		t.Fatalf("the cache no longer holds the revoked token (%d): the test proves nothing", status)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/tokens", `{"name": "child", "scopes": ["widgets:read"]}`},
		{"GET", "/api/tokens", ""},
		{"DELETE", "/api/tokens/" + other.ID, ""},
	} {
		status, hdr, body := a.do(t, tc.method, tc.path, parent.Token, "application/json", tc.body)
		if status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s %s by the revoked token: %d %q %s, want 401 invalid_token", tc.method, tc.path, status, hdr.Get("WWW-Authenticate"), body)
		}
	}
	if status, _, _ := a.do(t, "GET", "/api/me", other.Token, "", ""); status != 200 {
		t.Error("the revoked token revoked another")
	}
	_, _, body := a.do(t, "GET", "/api/tokens", "usr_alice", "", "")
	if strings.Count(body, `"id"`) != 2 {
		t.Errorf("alice's tokens: %s, want the two she made", body)
	}
}

// serve calls h with p as the authenticated caller, as the handlers
// mounted behind any authentication middleware see it.
func serve(h http.Handler, p *identity.Principal, method, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/api/tokens", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(identity.NewContext(req.Context(), p)))
	return rec
}

// TestHTTPConstrainedCreator: the handlers alone (no middleware guarding
// them) refuse to mint bearer API tokens from a DPoP-bound token or from
// one asked for a single resource (RFC 8707): 403 with a challenge.
func TestHTTPConstrainedCreator(t *testing.T) {
	const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	api := token.Audience{"https://api.example"}
	m := newManager(t, apitoken.Config{CreatorAudiences: api})
	h := m.Handlers(apitoken.HandlerConfig{})
	for _, tc := range []struct {
		name, challenge string
		claims          *token.Claims
	}{
		{"a DPoP-bound token", `Bearer error="insufficient_scope", error_description="a token bound to a key (DPoP) cannot create API tokens, which are bearer tokens"`,
			&token.Claims{JKT: jkt, Audience: api}},
		{"a token for /graphql", `Bearer error="insufficient_scope", error_description="a token asked for one resource cannot create API tokens, which are good at every resource"`,
			&token.Claims{Audience: token.Audience{"https://api.example/graphql"}}},
		{"a bound token for /graphql", `Bearer error="insufficient_scope", error_description="a token bound to a key (DPoP) cannot create API tokens, which are bearer tokens"`,
			&token.Claims{JKT: jkt, Audience: token.Audience{"https://api.example/graphql"}}},
	} {
		rec := serve(h.Create(), claimsOf(tc.claims), "POST", `{"name": "x", "scopes": ["widgets:read"]}`)
		var body struct{ Error string }
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != 403 || rec.Header().Get("WWW-Authenticate") != tc.challenge || body.Error != "insufficient_scope" {
			t.Errorf("%s: %d %q %s, want 403 with %s", tc.name, rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body, tc.challenge)
		}
		// Listing and revoking are not minting.
		if rec := serve(h.List(), claimsOf(tc.claims), "GET", ""); rec.Code != 200 {
			t.Errorf("%s: listing: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	if ts, _ := m.List(context.Background(), "alice"); len(ts) != 0 {
		t.Errorf("%d tokens created, want none", len(ts))
	}
	// A bearer token for the whole API (an audience of CreatorAudiences).
	if rec := serve(h.Create(), claimsOf(&token.Claims{Audience: api}), "POST", `{"name": "x"}`); rec.Code != 201 {
		t.Errorf("a bearer token for the API: %d %s, want 201", rec.Code, rec.Body)
	}
}

// TestHTTPCreatorRefusalsSayWhy: a manager without CreatorAudiences
// refuses every access token, saying so (not that the token was asked
// for one resource); an access token issued before its user logged out
// everywhere is 401 saying so (not that an API token was revoked).
func TestHTTPCreatorRefusalsSayWhy(t *testing.T) {
	ctx := context.Background()
	api := token.Audience{"https://api.example"}
	none := newManager(t, apitoken.Config{})
	rec := serve(none.Handlers(apitoken.HandlerConfig{}).Create(), claimsOf(&token.Claims{Audience: api}), "POST", `{"name": "x"}`)
	if want := "access tokens cannot create API tokens on this server"; rec.Code != 403 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), want) {
		t.Errorf("no CreatorAudiences: %d %q, want 403 saying %q", rec.Code, rec.Header().Get("WWW-Authenticate"), want)
	}
	if _, _, err := none.CreateFor(ctx, claimsOf(&token.Claims{Audience: api}), apitoken.CreateRequest{Name: "x"}); err == nil ||
		!strings.Contains(err.Error(), "Config.CreatorAudiences lists no audience") {
		t.Errorf("no CreatorAudiences: %v, want an error naming the setting", err)
	}

	c := newClock()
	m := newManager(t, apitoken.Config{CreatorAudiences: api, Now: c.Now})
	old := claimsOf(&token.Claims{Audience: api})
	old.IssuedAt = c.Now()
	c.Advance(time.Second)
	if _, err := m.RevokeSubjectBefore(ctx, old.Subject, c.Now()); err != nil {
		t.Fatal(err)
	}
	rec = serve(m.Handlers(apitoken.HandlerConfig{}).Create(), old, "POST", `{"name": "x"}`)
	if want := "the access token was issued before its user logged out everywhere"; rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), want) {
		t.Errorf("a token issued before the cut-off: %d %q, want 401 saying %q", rec.Code, rec.Header().Get("WWW-Authenticate"), want)
	}
}

// TestHTTPCallerStoreDown: when the store cannot tell whether the
// caller's API token is still good, the handlers answer 503, never act.
func TestHTTPCallerStoreDown(t *testing.T) {
	a := newAPI(t, true)
	tok := a.create(t, "usr_alice", `{"name": "manager", "scopes": ["tokens:manage"]}`)
	if status, _, _ := a.do(t, "GET", "/api/tokens", tok.Token, "", ""); status != 200 {
		t.Fatal("listing with the API token failed")
	}
	a.store.getDown.Store(true) // the middleware's cache still holds the token
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/tokens", `{"name": "child"}`},
		{"GET", "/api/tokens", ""},
		{"DELETE", "/api/tokens/" + tok.ID, ""},
	} {
		if status, hdr, body := a.do(t, tc.method, tc.path, tok.Token, "application/json", tc.body); status != 503 || hdr.Get("Retry-After") == "" {
			t.Errorf("%s %s with the store down: %d %s, want 503 with Retry-After", tc.method, tc.path, status, body)
		}
	}
	a.store.getDown.Store(false)
	if _, _, body := a.do(t, "GET", "/api/tokens", "usr_alice", "", ""); strings.Count(body, `"id"`) != 1 || strings.Contains(body, `"revoked_at":"`) {
		t.Errorf("after the outage: %s, want the one token, not revoked", body)
	}
}

// TestHTTPHooks: HandlerConfig.Hooks hear of each token the handlers
// create and revoke, with the caller, and of no refusal.
func TestHTTPHooks(t *testing.T) {
	m := newManager(t, apitoken.Config{})
	type call struct{ what, by, id, subject string }
	var calls []call
	note := func(what string) func(*http.Request, *identity.Principal, apitoken.Token) {
		return func(_ *http.Request, by *identity.Principal, tok apitoken.Token) {
			calls = append(calls, call{what, by.Subject, tok.ID, tok.Subject})
		}
	}
	h := m.Handlers(apitoken.HandlerConfig{Hooks: apitoken.HandlerHooks{OnCreated: note("created"), OnRevoked: note("revoked")}})
	mux := http.NewServeMux()
	h.Mount(mux, "/api/tokens", func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(identity.NewContext(r.Context(), users["usr_alice"])))
		})
	})
	send := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	rec := send("POST", "/api/tokens", `{"name":"ci","scopes":["widgets:read"]}`)
	var made apitoken.TokenJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &made); rec.Code != 201 || err != nil {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if rec := send("POST", "/api/tokens", `{"name":"ci","scopes":["admin"]}`); rec.Code != 403 {
		t.Fatalf("a scope alice lacks: %d %s", rec.Code, rec.Body)
	}
	if rec := send("DELETE", "/api/tokens/"+made.ID, ""); rec.Code != 204 {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if rec := send("DELETE", "/api/tokens/nope", ""); rec.Code != 404 {
		t.Fatalf("revoke an unknown token: %d %s", rec.Code, rec.Body)
	}
	want := []call{{"created", "alice", made.ID, "alice"}, {"revoked", "alice", made.ID, "alice"}}
	if len(calls) != len(want) || calls[0] != want[0] || calls[1] != want[1] {
		t.Errorf("hooks %+v, want %+v", calls, want)
	}
}
