package sessionless_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/apitoken"
	apitokensql "github.com/sessionless/sessionless/apitoken/sqlstore"
	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/sqlopen"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/internal/testenv/testdb"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
)

var secret = []byte(strings.Repeat("s", 32))

// TestNewRefusesShortPath: what New sets itself, and what it cannot use,
// is refused before anything is opened.
func TestNewRefusesShortPath(t *testing.T) {
	base := sessionless.Config{Issuer: "https://api.example", Audience: "api", HMACSecret: secret}
	with := func(edit func(*sessionless.Config)) sessionless.Config { c := base; edit(&c); return c }
	for name, cfg := range map[string]sessionless.Config{
		"API token prefixes set": with(func(c *sessionless.Config) {
			c.Middleware.Prefixes = map[string]middleware.Verifier{"x_": nil}
		}),
		"a provider without issuer":   with(func(c *sessionless.Config) { c.Providers = []oidc.Config{{}} }),
		"a provider with our issuer":  with(func(c *sessionless.Config) { c.Providers = []oidc.Config{{Issuer: c.Issuer}} }),
		"endpoints without users":     with(func(c *sessionless.Config) { c.Endpoints = &endpoint.Config{} }),
		"endpoints with their issuer": with(func(c *sessionless.Config) { c.Endpoints = &endpoint.Config{Users: users, Issuer: &token.Issuer{}} }),
		"API tokens with a subject":   with(func(c *sessionless.Config) { c.APITokens = &apitoken.Config{SubjectIssuer: "x"} }),
		"a list and Redis":            with(func(c *sessionless.Config) { c.Revocations = &revocation.List{}; c.Redis = "redis://127.0.0.1:1" }),
		"a revocation list and its settings": with(func(c *sessionless.Config) {
			c.Revocations = &revocation.List{}
			c.RevocationList.FailOpen = true
		}),
		"a store for the list New opens": with(func(c *sessionless.Config) { c.RevocationList.Store = revocation.NewMemoryStore() }),
		"DPoP twice": with(func(c *sessionless.Config) {
			c.DPoP = &dpop.Config{}
			c.Middleware.DPoP = &dpop.Verifier{}
		}),
		"DPoP without the middleware's URL": with(func(c *sessionless.Config) { c.DPoP = &dpop.Config{} }),
		"a database twice":                  with(func(c *sessionless.Config) { c.Database, c.DB = "auth.db", &sql.DB{} }),
		"a database URL of another kind":    with(func(c *sessionless.Config) { c.Database = "mysql://u:p@h/db" }),
		"a Redis URL that does not parse": with(func(c *sessionless.Config) {
			c.Redis = "http://u:s3cret@h"
		}),
		"an unreachable provider": with(func(c *sessionless.Config) {
			c.Providers, c.ProviderTimeout = []oidc.Config{{Issuer: "http://127.0.0.1:1"}}, 5*time.Second
		}),
	} {
		_, err := sessionless.New(cfg)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
	// Two providers with one issuer are refused before anything is opened
	// or fetched.
	db := filepath.Join(t.TempDir(), "auth.db")
	_, err := sessionless.New(with(func(c *sessionless.Config) {
		c.Database, c.StartWithoutProviders = db, true
		c.Providers = []oidc.Config{{Issuer: "http://127.0.0.1:1"}, {Issuer: "http://127.0.0.1:1"}}
	}))
	if err == nil || !strings.Contains(err.Error(), "two providers") {
		t.Errorf("two providers with one issuer: %v", err)
	}
	if _, serr := os.Stat(db); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("the database was opened before the providers were checked: %v", serr)
	}
}

// TestProviderAtStart: New fetches a provider's keys and names the
// provider it cannot reach; with StartWithoutProviders it starts, and the
// provider's tokens get 503 until it answers, then 200.
func TestProviderAtStart(t *testing.T) {
	idp := oidctest.New(t)
	idp.Down.Store(true)
	cfg := sessionless.Config{Issuer: "https://api.example", Audience: "api", HMACSecret: secret,
		Providers: []oidc.Config{{Issuer: idp.Issuer(), RefreshInterval: time.Second}}}
	if _, err := sessionless.New(cfg); err == nil || !strings.Contains(err.Error(), idp.Issuer()) || !strings.Contains(err.Error(), "StartWithoutProviders") {
		t.Fatalf("a provider down at start: %v", err)
	}
	cfg.StartWithoutProviders = true
	auth, err := sessionless.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	raw := idp.Mint(map[string]any{"iss": idp.Issuer(), "sub": "bob", "aud": "api", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	if _, err := auth.Authenticate(t.Context(), raw); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("the provider's token while it is down: %v, want ErrUnavailable (503)", err)
	}
	idp.Down.Store(false)
	testenv.Eventually(t, "the provider's token once it answers", func() bool {
		p, err := auth.Authenticate(t.Context(), raw)
		return err == nil && p.Subject == "bob" && p.Method == identity.OIDC
	})
}

// TestShortPathOnDatabase: with Config.Database or DB (SQLite, and PostgreSQL
// when the test server is there), the endpoints, the API tokens and the
// revocations live in the database: a second Auth on it (another
// instance) refuses a token logged out on the first, sees the API token
// made there, and Shutdown writes the API token's last use.
func TestShortPathOnDatabase(t *testing.T) {
	for name, dbURL := range map[string]func(t *testing.T) string{
		"SQLite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "auth.db") },
		"Postgres": func(t *testing.T) string { return testdb.PostgresDB(t) },
	} {
		t.Run(name, func(t *testing.T) {
			url := dbURL(t)
			cfg := sessionless.Config{Issuer: "https://api.example", Audience: "api", HMACSecret: secret, Database: url,
				APITokens: &apitoken.Config{}, Endpoints: &endpoint.Config{Users: users, Passwords: cheap}}
			a, err := sessionless.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			// B on the database as the application opened it (Config.DB),
			// which New leaves open.
			own, _, err := sqlopen.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer own.Close()
			cfgB := cfg
			cfgB.Database, cfgB.DB = "", own
			b, err := sessionless.New(cfgB)
			if err != nil {
				t.Fatal(err)
			}
			srvA, srvB := serveMe(t, a), serveMe(t, b)
			tokens := post(srvA.URL+"/auth/login", "", "application/json", `{"username": "alice", "password": "correct horse"}`)
			access := tokens["access_token"]
			script := post(srvA.URL+"/auth/api-tokens", access, "application/json", `{"name": "ci"}`)["token"]
			if status(t, srvB.URL+"/me", script) != 200 {
				t.Fatal("the API token made on A is refused on B")
			}
			if status(t, srvB.URL+"/me", access) != 200 {
				t.Fatal("the access token is refused on B")
			}
			post(srvA.URL+"/auth/logout-all", access, "", "")
			testenv.Eventually(t, "B to refuse the tokens logged out on A", func() bool {
				return status(t, srvB.URL+"/me", access) == 401 && status(t, srvB.URL+"/me", script) == 401
			})
			if err := errors.Join(b.Shutdown(t.Context()), a.Shutdown(t.Context())); err != nil {
				t.Fatal(err)
			}
			if err := a.Shutdown(t.Context()); err != nil {
				t.Errorf("a second Shutdown: %v", err)
			}
			if err := own.PingContext(t.Context()); err != nil {
				t.Errorf("the application's database after Shutdown: %v", err)
			}
			// The last use of the API token was written by Shutdown.
			ts, err := aliceAPITokens(t, url)
			if err != nil || len(ts) != 1 || ts[0].LastUsedAt.IsZero() {
				t.Fatalf("the API token in the database: %+v, %v", ts, err)
			}
		})
	}
}

// TestShortPathOnRedis: with Config.Redis the revocations reach another
// instance through Redis.
func TestShortPathOnRedis(t *testing.T) {
	// A Redis of its own: the login budgets of the tests of other
	// packages (127.0.0.1's among them) are not this test's.
	redisURL := testenv.StartRedis(t).URL()
	const api = "https://api.example"
	// Each instance's own login budget would let 3 wrong passwords
	// through; shared, the two let 3 through between them.
	cfg := sessionless.Config{Issuer: api, Audience: "api", HMACSecret: secret, Redis: redisURL,
		Database: filepath.Join(t.TempDir(), "auth.db"), DPoP: &dpop.Config{},
		Middleware: middleware.Config{ExternalURL: api},
		Endpoints: &endpoint.Config{Users: users, Passwords: cheap, ExternalURL: api,
			Throttle: endpoint.ThrottleConfig{Username: endpoint.Rate{Burst: 3, Every: time.Hour}}}}
	a, err := sessionless.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sessionless.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	raw, _, err := a.Issuer.Issue(token.Claims{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := a.Verifier.Verify(raw)
	if err := a.Revocations.RevokeToken(t.Context(), c.Issuer, c.ID, c.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "B to refuse the token revoked on A", func() bool {
		_, err := b.Authenticate(t.Context(), raw)
		return errors.Is(err, middleware.ErrRevoked)
	})

	srvA, srvB := serveMe(t, a), serveMe(t, b)
	wrong := func(url string) int {
		resp, err := http.Post(url+"/auth/login", "application/json", strings.NewReader(`{"username": "alice", "password": "wrong"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, url := range []string{srvA.URL, srvB.URL, srvA.URL} {
		if got := wrong(url); got != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, got)
		}
	}
	if got := wrong(srvB.URL); got != http.StatusTooManyRequests {
		t.Errorf("a fourth wrong password, on B: %d, want 429 (the budget is shared through Redis)", got)
	}

	// A DPoP proof accepted by A is a replay at B.
	client := dpoptest.NewClient(t)
	bound, _, err := a.Issuer.Issue(token.Claims{Subject: "alice", JKT: client.JKT()})
	if err != nil {
		t.Fatal(err)
	}
	proof := client.Proof("GET", api+"/me", bound, time.Now(), nil)
	send := func(url string) int {
		req, _ := http.NewRequest("GET", url+"/me", nil)
		req.Header.Set("Authorization", "DPoP "+bound)
		req.Header.Set("DPoP", proof)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send(srvA.URL); got != http.StatusOK {
		t.Fatalf("a DPoP request on A: %d", got)
	}
	if got := send(srvB.URL); got != http.StatusUnauthorized {
		t.Errorf("its proof replayed on B: %d, want 401", got)
	}
}

// TestVerifyKeys: a token signed with a retired key still verifies while
// it lives, and JWKS lists the retired key's public half.
func TestVerifyKeys(t *testing.T) {
	old, err := token.GenerateKey(token.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	now, err := token.GenerateKey(token.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	oldSet, err := token.NewKeySet(old)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := token.NewIssuer(oldSet, token.IssuerConfig{Issuer: "https://api.example", Audience: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := issued.Issue(token.Claims{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := sessionless.New(sessionless.Config{Issuer: "https://api.example", Audience: "api", Key: now, VerifyKeys: []*token.Key{old}})
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	if p, err := auth.Authenticate(t.Context(), raw); err != nil || p.Subject != "alice" {
		t.Fatalf("a token of the retired key: %v", err)
	}
	rec := httptest.NewRecorder()
	auth.JWKS().ServeHTTP(rec, httptest.NewRequest("GET", sessionless.JWKSPath, nil))
	if body := rec.Body.String(); !strings.Contains(body, old.ID()) || !strings.Contains(body, now.ID()) {
		t.Errorf("JWKS without both keys: %s", body)
	}
	if _, err := sessionless.New(sessionless.Config{Issuer: "https://api.example", Audience: "api", Key: now, VerifyKeys: []*token.Key{nil}}); err == nil {
		t.Error("a nil verify key accepted")
	}
}

// TestServe: Serve serves until its context ends, or the process gets
// SIGTERM, and shuts auth down (the API tokens' last uses are written to
// the database); a server that cannot listen is an error, and auth is
// shut down all the same.
func TestServe(t *testing.T) {
	// start returns an Auth on a database of its own, a server of its
	// endpoints and of GET /me, its URL, and an API token of it.
	start := func(t *testing.T) (auth *sessionless.Auth, srv *http.Server, url, dbURL, script string) {
		dbURL = filepath.Join(t.TempDir(), "auth.db")
		auth, err := sessionless.New(sessionless.Config{Issuer: "https://api.example", Audience: "api", HMACSecret: secret,
			Database: dbURL, APITokens: &apitoken.Config{}})
		if err != nil {
			t.Fatal(err)
		}
		script, _, err = auth.APITokens.CreateFor(t.Context(), &identity.Principal{Subject: "usr_alice", Issuer: "https://api.example",
			Method: identity.JWT, IssuedAt: time.Now()}, apitoken.CreateRequest{Name: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		mux := http.NewServeMux()
		auth.Mount(mux, "/auth")
		mux.Handle("GET /me", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
		return auth, &http.Server{Addr: addr, Handler: mux}, "http://" + addr, dbURL, script
	}
	// use waits for the server to answer, and uses the API token.
	use := func(t *testing.T, url, script string) {
		testenv.Eventually(t, "the server to answer", func() bool {
			req, _ := http.NewRequest("GET", url+"/me", nil)
			req.Header.Set("Authorization", "Bearer "+script)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			return err == nil && resp.StatusCode == 200
		})
	}
	// shutDown checks that the server no longer answers and that auth
	// wrote the API token's last use to the database: it was shut down.
	shutDown := func(t *testing.T, url, dbURL string, used bool) {
		if url != "" {
			if _, err := http.Get(url + sessionless.JWKSPath); err == nil {
				t.Error("the server still answers")
			}
		}
		ts, err := aliceAPITokens(t, dbURL)
		if err != nil || len(ts) != 1 || ts[0].LastUsedAt.IsZero() != !used {
			t.Errorf("the API token in the database: %+v, %v; want its use written", ts, err)
		}
	}

	t.Run("context", func(t *testing.T) {
		auth, srv, url, dbURL, script := start(t)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- sessionless.Serve(ctx, srv, auth) }()
		use(t, url, script)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		shutDown(t, url, dbURL, true)
	})
	t.Run("SIGTERM", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no SIGTERM")
		}
		auth, srv, url, dbURL, script := start(t)
		done := make(chan error, 1)
		go func() { done <- sessionless.Serve(t.Context(), srv, auth) }()
		use(t, url, script) // Serve listens for signals before it serves
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		shutDown(t, url, dbURL, true)
	})
	t.Run("port taken", func(t *testing.T) {
		auth, srv, _, dbURL, _ := start(t)
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		srv.Addr = busy.Addr().String()
		if err := sessionless.Serve(t.Context(), srv, auth); err == nil || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("Serve on a busy port: %v", err)
		}
		shutDown(t, "", dbURL, false)
		if err := auth.Shutdown(t.Context()); err != nil {
			t.Errorf("Shutdown after Serve's: %v", err)
		}
	})
}

// aliceAPITokens returns usr_alice's API tokens as the database at url
// holds them.
func aliceAPITokens(t *testing.T, url string) ([]apitoken.Token, error) {
	db, d, err := sqlopen.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := apitokensql.New(t.Context(), db, apitokensql.Config{Dialect: d})
	if err != nil {
		t.Fatal(err)
	}
	return st.List(t.Context(), "usr_alice")
}

// serveMe serves auth's endpoints under /auth and GET /me behind its
// middleware, until the test ends.
func serveMe(t *testing.T, auth *sessionless.Auth) *httptest.Server {
	mux := http.NewServeMux()
	auth.Mount(mux, "/auth")
	mux.Handle("GET /me", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// status returns the status of GET url with the bearer token.
func status(t *testing.T, url, bearer string) int {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestProvidersInBackground: with StartWithoutProviders, New does not
// wait for a provider that accepts connections and never answers (it
// used to, up to ProviderTimeout, before the server could listen), and
// Shutdown ends the fetch still in progress.
func TestProvidersInBackground(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	cfg := sessionless.Config{Issuer: "https://api.example", Audience: "api", HMACSecret: secret,
		Providers:             []oidc.Config{{Issuer: "http://" + ln.Addr().String()}, {Issuer: "http://" + ln.Addr().String() + "/b"}},
		StartWithoutProviders: true, ProviderTimeout: time.Hour}
	type result struct {
		auth *sessionless.Auth
		err  error
	}
	started := make(chan result, 1)
	go func() {
		a, err := sessionless.New(cfg)
		started <- result{a, err}
	}()
	var r result
	testenv.Eventually(t, "New to return while the provider hangs", func() bool {
		select {
		case r = <-started:
			return true
		default:
			return false
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	closed := make(chan error, 1)
	go func() { closed <- r.auth.Close() }()
	testenv.Eventually(t, "Shutdown to end the fetches in progress", func() bool {
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("Close: %v", err)
			}
			return true
		default:
			return false
		}
	})
}
