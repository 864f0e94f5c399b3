package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/bridge"
	"github.com/sessionless/sessionless/bridge/internal/bridgetest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/refresh"
	"github.com/sessionless/sessionless/token/tokentest"
)

var now = bridgetest.Now

const sid = "q8mv0s3c5dd1l6tbg8a2u7k0rj"

// sessions is a legacy session store in memory that can destroy its
// sessions, fail, and count its reads.
type sessions struct {
	mu          sync.Mutex
	m           map[string]*identity.Principal
	down        atomic.Bool
	destroyDown atomic.Bool
	reads       atomic.Int64
}

func (s *sessions) Session(_ context.Context, value string) (*identity.Principal, error) {
	s.reads.Add(1)
	if s.down.Load() {
		return nil, fmt.Errorf("%w: down", identity.ErrUnavailable)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.m[value]; ok {
		return p, nil
	}
	return nil, errors.New("no such session")
}

func (s *sessions) Destroy(_ context.Context, value string) error {
	if s.destroyDown.Load() {
		return fmt.Errorf("%w: down", identity.ErrUnavailable)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, value)
	return nil
}

func (s *sessions) has(value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[value]
	return ok
}

// readOnly is a source that cannot destroy sessions (a cookie store).
type readOnly struct{ s *sessions }

func (r readOnly) Session(ctx context.Context, v string) (*identity.Principal, error) {
	return r.s.Session(ctx, v)
}

// unsupported is a source that is a Destroyer, but whose store cannot
// destroy (phpsession.Source on a store without Destroy).
type unsupported struct{ readOnly }

func (unsupported) Destroy(context.Context, string) error {
	return fmt.Errorf("this store cannot: %w", errors.ErrUnsupported)
}

// users is the token endpoints' user store.
type users struct {
	m    map[string]endpoint.User // by subject
	down atomic.Bool
}

func (u *users) UserByName(context.Context, string) (endpoint.User, error) {
	return endpoint.User{}, endpoint.ErrUnknownUser
}

func (u *users) UserBySubject(_ context.Context, sub string) (endpoint.User, error) {
	if u.down.Load() {
		return endpoint.User{}, errors.New("users: down")
	}
	if x, ok := u.m[sub]; ok {
		return x, nil
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

type env struct {
	*bridgetest.API
	src   *sessions
	users *users
}

// newEnv is a bridgetest.API whose exchange reads the session "sid" of
// user 42 (scope widgets:read) from an in-memory source, and whose users
// store knows user 42 (scopes widgets:read and widgets:write, role
// admin).
func newEnv(t testing.TB, mutate func(*bridge.Config)) *env {
	t.Helper()
	us := &users{m: map[string]endpoint.User{
		"42": {Subject: "42", Scopes: []string{"widgets:read", "widgets:write"}, Roles: []string{"admin"}},
	}}
	src := &sessions{m: map[string]*identity.Principal{
		sid: {Subject: "42", Issuer: tokentest.Issuer, Scopes: []string{"widgets:read"}},
	}}
	cfg := bridge.Config{CookieName: "PHPSESSID", Source: src, Users: us}
	if mutate != nil {
		mutate(&cfg)
	}
	return &env{API: bridgetest.NewAPI(t, us, cfg), src: src, users: us}
}

// TestExchange: a live session gets the token endpoints' answer, whose
// access token the middleware accepts and whose refresh token the token
// endpoint refreshes; the session lives on unless asked otherwise.
func TestExchange(t *testing.T) {
	e := newEnv(t, nil)
	a := e.Post(t, `{}`, sid, nil)
	if a.Status != 200 {
		t.Fatalf("status %d %s", a.Status, a.Raw)
	}
	keys := slices.Sorted(maps.Keys(a.Body))
	if !slices.Equal(keys, []string{"access_token", "expires_in", "refresh_token", "scope", "token_type"}) {
		t.Fatalf("members %v", keys)
	}
	if a.Body["token_type"] != "Bearer" || a.Body["expires_in"] != 900.0 || a.Body["scope"] != "widgets:read widgets:write" ||
		!strings.HasPrefix(a.Body["refresh_token"].(string), "rt_") {
		t.Fatalf("answer %s", a.Raw)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
		if got := a.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if c := a.Header.Get("Set-Cookie"); c != "" {
		t.Errorf("Set-Cookie %q without destroy_session", c)
	}
	ev := e.Event(t)
	if ev.Subject != "42" || ev.Session != middleware.SessionTokenID(sid) || ev.TokenID == "" || ev.Destroyed {
		t.Errorf("event %+v", ev)
	}

	// The user's scopes and roles, as a login gives them.
	access := a.Body["access_token"].(string)
	if code, body := e.Me(t, access, ""); code != 200 || body != "42 jwt widgets:read,widgets:write admin" {
		t.Fatalf("the access token: %d %q", code, body)
	}
	if !e.src.has(sid) {
		t.Fatal("the session was destroyed without destroy_session")
	}
	if code, body := e.Me(t, "", sid); code != 200 || body != "42 session widgets:read " {
		t.Fatalf("the session: %d %q", code, body)
	}
	r := e.Refresh(t, a.Body["refresh_token"].(string))
	if r.Status != 200 || r.Body["scope"] != "widgets:read widgets:write" {
		t.Fatalf("refresh: %d %s", r.Status, r.Raw)
	}

	// Narrowed.
	a = e.Post(t, `{"scope": "widgets:read"}`, sid, nil)
	if a.Status != 200 || a.Body["scope"] != "widgets:read" {
		t.Fatalf("narrowed: %d %s", a.Status, a.Raw)
	}
}

// TestExchangeWithoutUsers: without a user store, the tokens carry the
// session principal's scopes and roles.
func TestExchangeWithoutUsers(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) { c.Users = nil })
	e.src.m[sid].Roles = []string{"editor"}
	a := e.Post(t, `{}`, sid, nil)
	if a.Status != 200 || a.Body["scope"] != "widgets:read" {
		t.Fatalf("%d %s", a.Status, a.Raw)
	}
	if code, body := e.Me(t, a.Body["access_token"].(string), ""); code != 200 || body != "42 jwt widgets:read editor" {
		t.Fatalf("the access token: %d %q", code, body)
	}
}

// TestExchangeDestroy: destroy_session ends the session in its store
// and clears its cookie, with the cookie's path and domain; the tokens
// work, the session no longer does.
func TestExchangeDestroy(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) { c.CookiePath = "/app"; c.CookieDomain = "example.com" })
	a := e.Post(t, `{"destroy_session": true}`, sid, nil)
	if a.Status != 200 {
		t.Fatalf("status %d %s", a.Status, a.Raw)
	}
	if c := a.Header.Get("Set-Cookie"); c != "PHPSESSID=; Path=/app; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly" {
		t.Errorf("Set-Cookie %q", c)
	}
	if ev := e.Event(t); !ev.Destroyed {
		t.Errorf("event %+v", ev)
	}
	if e.src.has(sid) {
		t.Fatal("the session lives on")
	}
	if code, _ := e.Me(t, "", sid); code != 401 {
		t.Fatalf("the destroyed session: %d", code)
	}
	if code, _ := e.Me(t, a.Body["access_token"].(string), ""); code != 200 {
		t.Fatalf("the access token: %d", code)
	}
	if a := e.Post(t, `{"destroy_session": true}`, sid, nil); a.Status != 401 || a.Body["error"] != "invalid_grant" {
		t.Fatalf("a second exchange: %d %s", a.Status, a.Raw)
	}

	// Over TLS, or with a prefixed name, the clearing cookie is Secure.
	e2 := newEnv(t, func(c *bridge.Config) { c.CookieName = "__Host-sid" })
	e2.src.m["v"] = e2.src.m[sid]
	req := httptest.NewRequest("POST", "/auth/session/exchange", strings.NewReader(`{"destroy_session":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: "__Host-sid", Value: "v"})
	w := httptest.NewRecorder()
	e2.Exchange.ServeHTTP(w, req)
	if c := w.Header().Get("Set-Cookie"); w.Code != 200 || !strings.Contains(c, "; Secure") {
		t.Fatalf("%d, Set-Cookie %q", w.Code, c)
	}
}

// TestExchangeDestroyFails: a session that cannot be destroyed now is
// not exchanged either: 503, the session intact, the client retries.
func TestExchangeDestroyFails(t *testing.T) {
	e := newEnv(t, nil)
	e.src.destroyDown.Store(true)
	a := e.Post(t, `{"destroy_session": true}`, sid, nil)
	if a.Status != 503 || a.Header.Get("Retry-After") == "" || a.Body["error"] != "temporarily_unavailable" || a.Body["access_token"] != nil {
		t.Fatalf("%d %v %s", a.Status, a.Header, a.Raw)
	}
	if a.Header.Get("Set-Cookie") != "" || !e.src.has(sid) {
		t.Fatal("the session was touched")
	}
	if len(e.Events) != 0 {
		t.Fatal("an event for a failed exchange")
	}
}

// TestExchangeNoDestroyer: a source that cannot destroy sessions (a
// cookie store, or a Destroyer whose store cannot: errors.ErrUnsupported)
// has its cookie cleared only, and the exchange succeeds (a 503 would
// have the client retry for ever).
func TestExchangeNoDestroyer(t *testing.T) {
	for name, wrap := range map[string]func(*sessions) middleware.SessionSource{
		"no Destroyer":   func(s *sessions) middleware.SessionSource { return readOnly{s} },
		"ErrUnsupported": func(s *sessions) middleware.SessionSource { return unsupported{readOnly{s}} },
	} {
		t.Run(name, func(t *testing.T) {
			var src *sessions
			e := newEnv(t, func(c *bridge.Config) { src = c.Source.(*sessions); c.Source = wrap(src) })
			a := e.Post(t, `{"destroy_session": true}`, sid, nil)
			if a.Status != 200 || !strings.Contains(a.Header.Get("Set-Cookie"), "PHPSESSID=;") {
				t.Fatalf("%d %q %s", a.Status, a.Header.Get("Set-Cookie"), a.Raw)
			}
			if ev := e.Event(t); ev.Destroyed || !src.has(sid) {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

// TestExchangeCrossSite: what a page on another site can make a browser
// send gets nothing, destroys nothing, and reads no session.
func TestExchangeCrossSite(t *testing.T) {
	e := newEnv(t, nil)
	host := strings.TrimPrefix(e.URL, "http://")
	for _, tc := range []struct {
		name        string
		method      string
		contentType string
		body        string
		headers     map[string]string
		status      int
		code        string
	}{
		// What HTML forms send.
		{"form", "POST", "application/x-www-form-urlencoded", "destroy_session=true", nil, 415, "invalid_request"},
		{"multipart form", "POST", "multipart/form-data; boundary=x", "--x--", nil, 415, "invalid_request"},
		{"text/plain form (JSON-looking)", "POST", "text/plain", `{"destroy_session": true}`, nil, 415, "invalid_request"},
		{"no media type", "POST", "", `{"destroy_session": true}`, nil, 415, "invalid_request"},
		// What browsers say of cross-origin requests.
		{"cross-site", "POST", "application/json", `{"destroy_session": true}`, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "invalid_request"},
		{"same-site (a sibling subdomain)", "POST", "application/json", `{"destroy_session": true}`, map[string]string{"Sec-Fetch-Site": "same-site"}, 403, "invalid_request"},
		{"another Origin", "POST", "application/json", `{"destroy_session": true}`, map[string]string{"Origin": "https://evil.example"}, 403, "invalid_request"},
		{"Origin null", "POST", "application/json", `{"destroy_session": true}`, map[string]string{"Origin": "null"}, 403, "invalid_request"},
		// Not POST.
		{"GET", "GET", "", "", nil, 405, "invalid_request"},
		{"preflight", "OPTIONS", "", "", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, 405, "invalid_request"},
		// Not a JSON object.
		{"empty body", "POST", "application/json", "", nil, 400, "invalid_request"},
		{"unknown member", "POST", "application/json", `{"destroy": true}`, nil, 400, "invalid_request"},
		{"member twice", "POST", "application/json", `{"destroy_session": false, "destroy_session": true}`, nil, 400, "invalid_request"},
		{"too large", "POST", "application/json", `{"scope": "` + strings.Repeat("a", 5000) + `"}`, nil, 413, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads := e.src.reads.Load()
			req, _ := http.NewRequest(tc.method, e.URL+"/auth/session/exchange", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			req.AddCookie(&http.Cookie{Name: "PHPSESSID", Value: sid})
			a := bridgetest.Do(t, req)
			if a.Status != tc.status || a.Body["error"] != tc.code || a.Body["access_token"] != nil {
				t.Fatalf("%d %s, want %d %s", a.Status, a.Raw, tc.status, tc.code)
			}
			if tc.status == 405 && a.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q", a.Header.Get("Allow"))
			}
			if a.Header.Get("Access-Control-Allow-Origin") != "" || a.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("CORS headers")
			}
			if e.src.reads.Load() != reads || !e.src.has(sid) || a.Header.Get("Set-Cookie") != "" {
				t.Fatal("the session was read, destroyed or cleared")
			}
		})
	}
	// What the application's own pages and other clients send.
	for name, headers := range map[string]map[string]string{
		"same-origin fetch":          {"Sec-Fetch-Site": "same-origin", "Origin": "http://" + host},
		"own Origin (older browser)": {"Origin": "http://" + host},
		"not a browser":              nil,
	} {
		t.Run(name, func(t *testing.T) {
			a := e.Post(t, `{}`, sid, func(r *http.Request) {
				for k, v := range headers {
					r.Header.Set(k, v)
				}
			})
			if a.Status != 200 {
				t.Fatalf("%d %s", a.Status, a.Raw)
			}
		})
	}
}

func TestExchangeRefusals(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		body   string
		cookie string
		edit   func(*http.Request)
		setup  func()
		status int
		code   string
	}{
		{"no session cookie", `{}`, "", nil, nil, 401, "invalid_grant"},
		{"an empty session cookie", `{}`, "", func(r *http.Request) { r.Header.Set("Cookie", "PHPSESSID=") }, nil, 401, "invalid_grant"},
		{"unknown session", `{}`, "0123456789abcdefghijklmnop", nil, nil, 401, "invalid_grant"},
		{"two session cookies (cookie tossing)", `{}`, sid, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "PHPSESSID", Value: "x"}) }, nil, 400, "invalid_request"},
		{"a session cookie over 8 KiB", `{}`, strings.Repeat("a", 8<<10+1), nil, nil, 401, "invalid_grant"},
		{"a scope not granted", `{"scope": "widgets:read admin:all"}`, sid, nil, nil, 400, "invalid_scope"},
		{"session store down", `{}`, sid, nil, func() { e.src.down.Store(true) }, 503, "temporarily_unavailable"},
		{"user store down", `{}`, sid, nil, func() { e.users.down.Store(true) }, 503, "temporarily_unavailable"},
		{"no such user", `{}`, sid, nil, func() { e.src.m[sid].Subject = "43" }, 401, "invalid_grant"},
		// Logged out everywhere: no tokens issued after the cut-off, also
		// from a source that names no issuer.
		{"subject revoked, a source without issuer", `{}`, sid, nil, func() {
			if err := e.List.RevokeSubject(ctx, tokentest.Issuer, "42", now.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			e.src.m[sid].Issuer = ""
		}, 401, "invalid_grant"},
		{"subject revoked", `{}`, sid, nil, func() { e.src.m[sid].Issuer = tokentest.Issuer }, 401, "invalid_grant"},
		{"this session revoked", `{}`, sid, nil, func() {
			if err := e.List.RevokeToken(ctx, "legacy", middleware.SessionTokenID(sid), now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			e.src.m[sid].Issuer = "legacy"
			e.src.m[sid].Subject = "other"
			e.users.m["other"] = e.users.m["42"]
		}, 401, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			a := e.Post(t, tc.body, tc.cookie, tc.edit)
			e.src.down.Store(false)
			e.users.down.Store(false)
			e.src.m[sid].Subject = "42"
			if a.Status != tc.status || a.Body["error"] != tc.code || a.Body["access_token"] != nil {
				t.Fatalf("%d %s, want %d %s", a.Status, a.Raw, tc.status, tc.code)
			}
			if tc.status == 503 && a.Header.Get("Retry-After") != "1" {
				t.Error("no Retry-After")
			}
		})
	}
}

func TestNew(t *testing.T) {
	keys := tokentest.KeySet(tokentest.MustSigner(token.EdDSA))
	issuer, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: "i", Audience: []string{"a"}})
	good := func() bridge.Config {
		return bridge.Config{CookieName: "s", Source: &sessions{}, Issuer: issuer, Refresh: mustRefresh(t), ClientID: "web"}
	}
	if _, err := bridge.New(good()); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*bridge.Config){
		"no cookie name":   func(c *bridge.Config) { c.CookieName = "" },
		"no source":        func(c *bridge.Config) { c.Source = nil },
		"no issuer":        func(c *bridge.Config) { c.Issuer = nil },
		"no refresh":       func(c *bridge.Config) { c.Refresh = nil },
		"no client":        func(c *bridge.Config) { c.ClientID = "" },
		"negative body":    func(c *bridge.Config) { c.MaxBodyBytes = -1 },
		"a path with ;":    func(c *bridge.Config) { c.CookiePath = "/; Domain=evil" },
		"a domain with LF": func(c *bridge.Config) { c.CookieDomain = "a\nb" },
	} {
		cfg := good()
		edit(&cfg)
		if _, err := bridge.New(cfg); err == nil {
			t.Errorf("%s: New accepted", name)
		}
	}
}

func mustRefresh(t *testing.T) *refresh.Manager {
	t.Helper()
	m, err := refresh.New(refresh.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
