package endpoint_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/internal/testenv/testdb"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	revsql "github.com/sessionless/sessionless/revocation/sqlstore"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/refresh"
	refreshsql "github.com/sessionless/sessionless/token/refresh/sqlstore"
)

const (
	issuer   = "https://api.test"
	audience = "api"
	client   = "app"
	secret   = "correct horse battery staple"
)

// users is an in-memory user store that can be made to fail.
type users struct {
	mu     sync.Mutex
	byName map[string]endpoint.User
	down   atomic.Bool
}

var errDown = errors.New("users: database down")

func (u *users) UserByName(_ context.Context, name string) (endpoint.User, error) {
	if u.down.Load() {
		return endpoint.User{}, errDown
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if x, ok := u.byName[name]; ok {
		return x, nil
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

func (u *users) UserBySubject(_ context.Context, sub string) (endpoint.User, error) {
	if u.down.Load() {
		return endpoint.User{}, errDown
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.byName {
		if x.Subject == sub {
			return x, nil
		}
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

func (u *users) set(name string, x endpoint.User) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.byName[name] = x
}

func (u *users) remove(name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.byName, name)
}

// backend gives the refresh and revocation stores of one database.
type backend struct {
	name   string
	stores func(t testing.TB) (refresh.Store, revocation.Store)
}

var backends = []backend{
	{"memory", func(testing.TB) (refresh.Store, revocation.Store) {
		return refresh.NewMemoryStore(), revocation.NewMemoryStore()
	}},
	{"SQLite", func(t testing.TB) (refresh.Store, revocation.Store) {
		return sqlStores(t, testdb.SQLiteDB(t)(t), refreshsql.SQLite, revsql.SQLite)
	}},
	{"PostgreSQL", func(t testing.TB) (refresh.Store, revocation.Store) {
		return sqlStores(t, testdb.SharedPostgres(t)(t), refreshsql.Postgres, revsql.Postgres)
	}},
}

func sqlStores(t testing.TB, db *sql.DB, rd refreshsql.Dialect, vd revsql.Dialect) (refresh.Store, revocation.Store) {
	ctx := context.Background()
	rt, rv := testdb.UniqueTable("refresh"), testdb.UniqueTable("revocations")
	testdb.DropTableAtEnd(t, db, rt)
	testdb.DropTableAtEnd(t, db, rv)
	rs, err := refreshsql.New(ctx, db, refreshsql.Config{Dialect: rd, Table: rt})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := revsql.New(ctx, db, revsql.Config{Dialect: vd, Table: rv, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return rs, vs
}

// env is the endpoints behind a real HTTP server, with an API route
// (GET /api/me) behind the same middleware, on one backend.
type env struct {
	ts        *httptest.Server
	srv       *endpoint.Server
	users     *users
	passwords *password.Hasher
	issuer    *token.Issuer
	verifier  *token.Verifier
	refresh   *refresh.Manager
	refreshes refresh.Store // what refresh keeps its tokens in
	list      *revocation.List
	clock     *testenv.Clock
	logs      *testenv.SyncBuffer
	mu        sync.Mutex
	events    []endpoint.Event
}

func newEnv(t testing.TB, be backend, mutate func(*endpoint.Config)) *env {
	t.Helper()
	return newEnvTTL(t, be, 0, mutate)
}

// newEnvTTL is newEnv with access tokens of lifetime ttl (0: the
// issuer's default, 15 minutes).
func newEnvTTL(t testing.TB, be backend, ttl time.Duration, mutate func(*endpoint.Config)) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{users: &users{byName: map[string]endpoint.User{}}, clock: testenv.NewClock(time.Now()), logs: &testenv.SyncBuffer{}}
	var err error
	if e.passwords, err = password.New(testenv.CheapPasswords); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name, sub     string
		scopes, roles []string
	}{
		{"alice", "usr_alice", []string{"read", "write"}, []string{"admin"}},
		{"bob", "usr_bob", []string{"read"}, nil},
	} {
		h, err := e.passwords.Hash(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		e.users.set(u.name, endpoint.User{Subject: u.sub, PasswordHash: h, Scopes: u.scopes, Roles: u.roles})
	}
	key, err := token.GenerateKey(token.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	if e.issuer, err = token.NewIssuer(keys, token.IssuerConfig{Issuer: issuer, Audience: []string{audience}, TTL: ttl, Now: e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if e.verifier, err = token.NewVerifier(keys, token.VerifierConfig{Issuer: issuer, Audience: audience,
		Audiences: []string{issuer, issuer + "/mcp", issuer + "/files"}, // the resources tests may ask for (RFC 8707)
		Now:       e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	rs, vs := be.stores(t)
	if e.list, err = revocation.Open(ctx, revocation.Config{Store: vs}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.list.Close() })
	e.refreshes = rs
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := endpoint.Config{
		Issuer: e.issuer, Verifier: e.verifier, Users: e.users, RefreshStore: rs, Revocation: e.list,
		ClientID: client, Passwords: e.passwords, Logger: log, Now: e.clock.Now,
		// On, as always, but out of the way of the tests of everything
		// else, which log in many times on a clock that stands still; the
		// throttle's tests give their own.
		Throttle: roomyThrottle,
		Hooks: endpoint.Hooks{Audit: func(_ *http.Request, ev endpoint.Event) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := endpoint.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.refresh = srv, srv.Refresh()
	mc := middleware.Config{
		JWT: map[string]middleware.Verifier{issuer: e.verifier}, Revocation: e.list, Now: e.clock.Now, Logger: log,
	}
	if cc, on := srv.Cookies(); on {
		mc.CookieName, mc.CrossOrigin = cc.AccessName, cc.CrossOrigin
	}
	auth, err := middleware.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux, "/auth", auth.Middleware)
	mux.Handle("GET /api/me", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := identity.FromContext(r.Context())
		json.NewEncoder(w).Encode(map[string]any{"sub": p.Subject, "scopes": p.Scopes, "roles": p.Roles, "client_id": p.ClientID,
			"jti": p.TokenID, "from_cookie": p.FromCookie})
	})))
	e.ts = httptest.NewServer(mux)
	t.Cleanup(e.ts.Close)
	return e
}

// roomyThrottle is the throttle of the tests that are not about it.
var roomyThrottle = endpoint.ThrottleConfig{
	Username: endpoint.Rate{Burst: 1000}, Address: endpoint.Rate{Burst: 10000},
	MaxHashesPerUsername: 1000, MaxHashesPerAddress: 1000,
}

// reply is a response with its body read.
type reply struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (e *env) do(t *testing.T, method, path, contentType, body string, edit func(*http.Request)) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	json.Unmarshal(b, &r.json)
	return r
}

func (e *env) login(t *testing.T, name, pw string) reply {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": name, "password": pw})
	return e.do(t, "POST", "/auth/login", "application/json", string(b), nil)
}

// tokens logs in and returns the access and refresh tokens.
func (e *env) tokens(t *testing.T, name string) (access, refreshToken string) {
	t.Helper()
	r := e.login(t, name, secret)
	if r.status != 200 {
		t.Fatalf("login %s: %d %s", name, r.status, r.body)
	}
	return r.json["access_token"].(string), r.json["refresh_token"].(string)
}

func (e *env) form(t *testing.T, path string, v url.Values, edit func(*http.Request)) reply {
	t.Helper()
	return e.do(t, "POST", path, "application/x-www-form-urlencoded", v.Encode(), edit)
}

// me is the status of GET /api/me with an access token.
func (e *env) me(t *testing.T, access string) int {
	t.Helper()
	return e.do(t, "GET", "/api/me", "", "", bearer(access)).status
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func (e *env) eventKinds() []endpoint.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ks []endpoint.EventKind
	for _, ev := range e.events {
		ks = append(ks, ev.Kind)
	}
	return ks
}

// forEachBackend runs f on every backend (PostgreSQL when its URL is set;
// CI always sets it).
func forEachBackend(t *testing.T, f func(t *testing.T, be backend)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { f(t, be) })
	}
}

// wantError checks an RFC 6749 §5.2 error response.
func wantError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.json["error"] != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", r.header)
	}
}

func init() { // the examples' secret; yours comes from your vault
	os.Setenv("TOKEN_SECRET", "Vh2WnqHb7Q0cZk1xT9uRjLpA4sYdE6gM")
}
