package endpoint_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/refresh"
)

func TestLogin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		e := newEnv(t, be, nil)
		r := e.login(t, "alice", secret)
		if r.status != 200 || r.json["token_type"] != "Bearer" || r.json["expires_in"] != float64(900) ||
			r.json["scope"] != "read write" || !strings.HasPrefix(r.json["refresh_token"].(string), "rt_") {
			t.Fatalf("login: %d %s", r.status, r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
			t.Fatalf("token response may be cached: %v", r.header)
		}
		c, err := e.verifier.Verify(r.json["access_token"].(string))
		if err != nil || c.Subject != "usr_alice" || c.ClientID != client || !c.HasRole("admin") {
			t.Fatalf("access token %+v, %v", c, err)
		}
		if e.me(t, r.json["access_token"].(string)) != 200 {
			t.Fatal("the access token does not work")
		}
		if got := e.eventKinds(); !slices.Equal(got, []endpoint.EventKind{endpoint.LoginSucceeded}) {
			t.Fatalf("events %v", got)
		}
	})
}

func TestLoginRefusals(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"wrong password", "application/json", `{"username":"alice","password":"nope"}`, 401, "invalid_grant"},
		{"unknown user", "application/json", `{"username":"mallory","password":"nope"}`, 401, "invalid_grant"},
		{"username in another case", "application/json", `{"username":"ALICE","password":"` + secret + `"}`, 401, "invalid_grant"},
		{"no password", "application/json", `{"username":"alice"}`, 400, "invalid_request"},
		{"empty password", "application/json", `{"username":"alice","password":""}`, 400, "invalid_request"},
		{"password a number", "application/json", `{"username":"alice","password":1}`, 400, "invalid_request"},
		{"username twice", "application/json", `{"username":"bob","password":"` + secret + `","username":"alice"}`, 400, "invalid_request"},
		{"USERNAME is not username", "application/json", `{"USERNAME":"alice","password":"` + secret + `"}`, 400, "invalid_request"},
		{"not JSON", "application/json", `username=alice`, 400, "invalid_request"},
		{"two objects", "application/json", `{"username":"alice","password":"x"} {}`, 400, "invalid_request"},
		{"empty body", "application/json", ``, 400, "invalid_request"},
		{"empty body, no content type", "", ``, 400, "invalid_request"},
		{"a form", "application/x-www-form-urlencoded", `username=alice&password=x`, 415, "invalid_request"},
		{"no content type", "", `{"username":"alice","password":"x"}`, 415, "invalid_request"},
		{"body over 64 KiB", "application/json", `{"username":"alice","password":"` + strings.Repeat("x", 64<<10) + `"}`, 413, "invalid_request"},
		{"another member", "application/json", `{"username":"alice","password":"` + secret + `","remember":true}`, 400, "invalid_request"},
		{"username with NUL", "application/json", `{"username":"alice\u0000","password":"x"}`, 400, "invalid_request"},
		{"username over 1 KiB", "application/json", `{"username":"` + strings.Repeat("a", 1025) + `","password":"x"}`, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.passwords.Verifications()
			r := e.do(t, "POST", "/auth/login", tt.contentType, tt.body, nil)
			wantError(t, r, tt.status, tt.code)
			checked := e.passwords.Verifications() - before
			if tt.status == 401 && checked != 1 {
				t.Fatalf("%d password verifications, want 1 (unknown users cost a wrong password)", checked)
			}
			if tt.status != 401 && checked != 0 {
				t.Fatalf("%d password verifications for a malformed request", checked)
			}
		})
	}
	if r := e.do(t, "GET", "/auth/login", "", "", nil); r.status != 405 {
		t.Fatalf("GET: %d", r.status)
	}
	// Unknown user and wrong password: the same answer.
	a, b := e.login(t, "alice", "nope"), e.login(t, "mallory", "nope")
	if a.body != b.body {
		t.Fatalf("%s != %s", a.body, b.body)
	}
}

// TestLoginStoreDown: a user store that cannot answer is 503 with
// Retry-After, never 401 or 200; a broken stored hash is 500.
func TestLoginStoreDown(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	e.users.down.Store(true)
	r := e.login(t, "alice", secret)
	wantError(t, r, 503, "temporarily_unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	r = e.form(t, "/auth/token", map[string][]string{"grant_type": {"password"}, "username": {"alice"}, "password": {secret}}, nil)
	wantError(t, r, 503, "temporarily_unavailable")
	e.users.down.Store(false)

	// A corrupt argon2id hash is the operator's problem: 500.
	e.users.set("carol", endpoint.User{Subject: "usr_carol", PasswordHash: "$argon2id$garbage"})
	wantError(t, e.login(t, "carol", "x"), 500, "server_error")
}

// TestNoPasswordLogin: a user without a password hash, or a hash that is
// not argon2id ("!locked"), cannot log in with a password, and the answer
// is a wrong password's, after the same work.
func TestNoPasswordLogin(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	wrong := e.login(t, "alice", "nope")
	for _, hash := range []string{"", "!locked", "plaintext", "$2a$10$bcrypt"} {
		e.users.set("sso", endpoint.User{Subject: "usr_sso", PasswordHash: hash})
		before := e.passwords.Verifications()
		for _, pw := range []string{hash, "x", "!locked"} {
			if pw == "" {
				continue
			}
			r := e.login(t, "sso", pw)
			wantError(t, r, 401, "invalid_grant")
			if r.body != wrong.body {
				t.Fatalf("%q: %s, a wrong password gets %s", hash, r.body, wrong.body)
			}
		}
		if e.passwords.Verifications() == before {
			t.Fatalf("%q: no argon2id work", hash)
		}
	}
}

// TestLoginThrottled: Hooks.Allow refuses before any password is checked,
// with 429 and Retry-After.
func TestLoginThrottled(t *testing.T) {
	var asked []string
	e := newEnv(t, backends[0], func(c *endpoint.Config) {
		c.Hooks.Allow = func(_ *http.Request, name string) (bool, time.Duration) {
			asked = append(asked, name)
			return name != "alice", 1500 * time.Millisecond
		}
	})
	before := e.passwords.Verifications()
	r := e.login(t, "alice", secret)
	wantError(t, r, 429, "slow_down")
	if r.header.Get("Retry-After") != "2" || e.passwords.Verifications() != before {
		t.Fatalf("Retry-After %q, %d verifications", r.header.Get("Retry-After"), e.passwords.Verifications()-before)
	}
	r = e.form(t, "/auth/token", map[string][]string{"grant_type": {"password"}, "username": {"alice"}, "password": {secret}}, nil)
	wantError(t, r, 429, "slow_down")
	if r := e.login(t, "bob", secret); r.status != 200 {
		t.Fatalf("bob: %d", r.status)
	}
	if !slices.Equal(asked, []string{"alice", "alice", "bob"}) {
		t.Fatalf("asked %v", asked)
	}
}

// TestNoSecretsLeak: no password, refresh token or access token in the
// logs or the audit events.
func TestNoSecretsLeak(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	access, rt := e.tokens(t, "alice")
	e.login(t, "alice", "wrong password "+secret)
	r := e.form(t, "/auth/token", map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {client}}, nil)
	e.clock.Advance(refresh.DefaultGracePeriod)
	e.form(t, "/auth/token", map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, nil) // reuse
	e.do(t, "POST", "/auth/logout", "", "", bearer(r.json["access_token"].(string)))
	logs := e.logs.String()
	for _, s := range []string{secret, rt, access, access[strings.LastIndexByte(access, '.')+1:]} {
		if strings.Contains(logs, s) {
			t.Fatalf("logs contain a secret: %s", logs)
		}
	}
	for _, ev := range e.events {
		if strings.Contains(ev.Username+ev.Subject+ev.TokenID, secret) || strings.Contains(ev.TokenID, ".") {
			t.Fatalf("event %+v", ev)
		}
	}
	if !strings.Contains(logs, "refresh token reused") {
		t.Fatalf("no reuse logged: %s", logs)
	}
}

func TestNewRefuses(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	good := endpoint.Config{Issuer: e.issuer, Verifier: e.verifier, Users: e.users, RefreshStore: e.refreshes, Revocation: e.list, ClientID: client}
	if _, err := endpoint.New(good); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*endpoint.Config){
		"no issuer":         func(c *endpoint.Config) { c.Issuer = nil },
		"no verifier":       func(c *endpoint.Config) { c.Verifier = nil },
		"no users":          func(c *endpoint.Config) { c.Users = nil },
		"negative lifetime": func(c *endpoint.Config) { c.RefreshIdle = -time.Hour },
		"no revocation":     func(c *endpoint.Config) { c.Revocation = nil },
		"no client":         func(c *endpoint.Config) { c.ClientID = "" },
		"client with colon": func(c *endpoint.Config) { c.ClientID = "a:b" },
		"quoted realm":      func(c *endpoint.Config) { c.Realm = `a"b` },
		"negative body":     func(c *endpoint.Config) { c.MaxBodyBytes = -1 },
	} {
		cfg := good
		edit(&cfg)
		if _, err := endpoint.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestLoginBusy: a password hasher with every slot taken and no queue
// answers 503 with Retry-After, not 500.
func TestLoginBusy(t *testing.T) {
	busy, err := password.New(password.Config{Params: password.Params{Memory: 64 * 1024, Time: 4, Threads: 1}, MaxConcurrent: 1, MaxQueue: -1})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.Passwords = busy })
	// One slow hash holds the only slot while the login arrives.
	hold := make(chan struct{})
	go func() {
		defer close(hold)
		busy.Hash(context.Background(), "x")
	}()
	deadline := time.Now().Add(testenv.Patience)
	for {
		r := e.do(t, "POST", "/auth/login", "application/json", `{"username":"alice","password":"wrong"}`, nil)
		if r.status == 503 {
			if r.header.Get("Retry-After") == "" || r.json["error"] != "temporarily_unavailable" {
				t.Fatalf("busy: %d %v %s", r.status, r.header, r.body)
			}
			break
		}
		if r.status != 401 || time.Now().After(deadline) {
			t.Fatalf("while the hasher is busy: %d %s, want 503", r.status, r.body)
		}
		select {
		case <-hold: // the slow hash ended before a login met it: again
			hold = make(chan struct{})
			go func() { defer close(hold); busy.Hash(context.Background(), "x") }()
		default:
		}
	}
	<-hold
}
