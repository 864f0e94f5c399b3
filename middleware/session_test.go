package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// sessions is a legacy session store in memory: value → principal.
type sessions struct {
	mu    sync.Mutex
	m     map[string]*identity.Principal
	down  atomic.Bool
	reads atomic.Int64
}

var errNoSession = errors.New("no such session")

func (s *sessions) Session(_ context.Context, value string) (*identity.Principal, error) {
	s.reads.Add(1)
	if s.down.Load() {
		return nil, fmt.Errorf("%w: session store down", identity.ErrUnavailable)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.m[value]
	if !ok {
		return nil, errNoSession
	}
	return p, nil
}

func (s *sessions) destroy(value string) {
	s.mu.Lock()
	delete(s.m, value)
	s.mu.Unlock()
}

const (
	sessionValue = "q8mv0s3c5dd1l6tbg8a2u7k0rj"
	otherValue   = "0123456789abcdefghijklmnop"
)

type sessionEnv struct {
	*env
	src     *sessions
	clock   *testenv.Clock
	reasons chan error
}

// newSessionEnv is newEnv with a legacy session source on cookie
// "PHPSESSID", a token cookie "at", a clock, and the refusals' reasons.
func newSessionEnv(t *testing.T, mutate func(*middleware.Config)) *sessionEnv {
	t.Helper()
	src := &sessions{m: map[string]*identity.Principal{
		// A source that claims another method is overruled.
		sessionValue: {Subject: "legacy-1", Issuer: tokentest.Issuer, Method: identity.JWT, Scopes: []string{"widgets:read"}},
	}}
	clock := testenv.NewClock(now)
	reasons := make(chan error, 16)
	e := newEnv(t, func(c *middleware.Config) {
		c.CookieName = "at"
		c.Session = middleware.SessionConfig{CookieName: "PHPSESSID", Source: src}
		c.Now = clock.Now
		c.Hooks.OnRejected = func(_ *http.Request, err error) { reasons <- err }
		if mutate != nil {
			mutate(c)
		}
	})
	return &sessionEnv{env: e, src: src, clock: clock, reasons: reasons}
}

// reason returns the reason of the last refusal, nil if none.
func (e *sessionEnv) reason() error {
	select {
	case err := <-e.reasons:
		return err
	default:
		return nil
	}
}

func cookie(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: name, Value: value}) }
}

func all(edits ...func(*http.Request)) func(*http.Request) {
	return func(r *http.Request) {
		for _, e := range edits {
			e(r)
		}
	}
}

func TestSessionPrecedence(t *testing.T) {
	e := newSessionEnv(t, nil)
	good := e.signer.Mint(now, nil)
	session := cookie("PHPSESSID", sessionValue)
	for _, tc := range []struct {
		name   string
		edit   func(*http.Request)
		status int
		body   string
		code   string // the challenge's error code, "" for none
		reason error
	}{
		// The session alone.
		{"session", session, 200, "legacy-1 session widgets:read", "", nil},
		{"unknown session", cookie("PHPSESSID", otherValue), 401, "", "", middleware.ErrInvalidSession},
		{"empty session cookie", cookie("PHPSESSID", ""), 401, "", "", middleware.ErrNoCredentials},
		{"no credentials", nil, 401, "", "", middleware.ErrNoCredentials},
		{"two session cookies (cookie tossing)", all(session, cookie("PHPSESSID", otherValue)), 400, "", "invalid_request", middleware.ErrInvalidRequest},
		{"the same session cookie twice", all(session, session), 400, "", "invalid_request", middleware.ErrInvalidRequest},
		{"session cookie over MaxTokenLength", cookie("PHPSESSID", strings.Repeat("a", 8<<10+1)), 401, "", "", middleware.ErrInvalidSession},

		// A token wins, valid or not.
		{"token and session", all(bearer(good), session), 200, "user-1 jwt widgets:read,widgets:write", "", nil},
		{"bad token and session", all(bearer(good+"x"), session), 401, "", "invalid_token", middleware.ErrInvalidToken},
		{"unknown kind of token and session", all(bearer("zz"), session), 401, "", "invalid_token", middleware.ErrInvalidToken},
		{"bad token cookie and session", all(cookie("at", good+"x"), session), 401, "", "invalid_token", middleware.ErrInvalidToken},
		{"malformed Authorization and session", all(func(r *http.Request) { r.Header.Set("Authorization", "Bearer") }, session), 400, "", "invalid_request", middleware.ErrInvalidRequest},
		{"token and two session cookies", all(bearer(good), session, cookie("PHPSESSID", otherValue)), 200, "user-1 jwt widgets:read,widgets:write", "", nil},
		// Another scheme is not a token of ours: the session answers.
		{"Basic header and session", all(func(r *http.Request) { r.Header.Set("Authorization", "Basic dTpw") }, session), 200, "legacy-1 session widgets:read", "", nil},

		// The session's value is no token.
		{"session value as a bearer token", bearer(sessionValue), 401, "", "invalid_token", middleware.ErrInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.reason()
			r := get(t, e.mux, "/me", tc.edit)
			if r.status != tc.status || tc.status == 200 && r.body != tc.body {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tc.status, tc.body)
			}
			if tc.status == 401 && !strings.Contains(r.challenge, `error="`+tc.code+`"`) != (tc.code == "") {
				t.Errorf("challenge %q, want error code %q", r.challenge, tc.code)
			}
			if got := e.reason(); tc.reason != nil && !errors.Is(got, tc.reason) || tc.reason == nil && got != nil {
				t.Errorf("reason %v, want %v", got, tc.reason)
			}
		})
	}
}

func TestSessionPrincipal(t *testing.T) {
	var got *identity.Principal
	e := newSessionEnv(t, func(c *middleware.Config) {
		c.Hooks.OnAuthenticated = func(_ *http.Request, p *identity.Principal, _ bool) { got = p }
	})
	if r := get(t, e.mux, "/me", cookie("PHPSESSID", sessionValue)); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	want := middleware.SessionTokenID(sessionValue)
	if got.Method != identity.Session || got.TokenID != want || strings.Contains(got.TokenID, sessionValue) {
		t.Fatalf("principal %+v: want method session and TokenID %s", got, want)
	}
	if !strings.HasPrefix(want, "sess_") || len(want) != len("sess_")+22 || middleware.SessionTokenID(otherValue) == want {
		t.Fatalf("SessionTokenID = %q", want)
	}
	// The source's principal is not changed: the middleware has its own.
	if p := e.src.m[sessionValue]; p.Method != identity.JWT || p.TokenID != "" {
		t.Fatalf("the source's principal was written: %+v", p)
	}
	// Scopes are checked as for tokens.
	if r := get(t, e.mux, "/admin", cookie("PHPSESSID", sessionValue)); r.status != 403 {
		t.Fatalf("/admin: status %d, want 403", r.status)
	}
}

func TestSessionUnavailable(t *testing.T) {
	for _, optional := range []bool{false, true} {
		t.Run(fmt.Sprint("optional=", optional), func(t *testing.T) {
			e := newSessionEnv(t, func(c *middleware.Config) { c.Optional = optional; c.Session.CacheAge = -1 })
			e.src.down.Store(true)
			r := get(t, e.mux, "/me", cookie("PHPSESSID", sessionValue))
			if r.status != 503 || r.challenge != "" {
				t.Fatalf("got %d %q, want 503 without a challenge", r.status, r.challenge)
			}
			if err := e.reason(); !errors.Is(err, middleware.ErrUnavailable) {
				t.Fatalf("reason %v", err)
			}
		})
	}
}

func TestSessionOptional(t *testing.T) {
	e := newSessionEnv(t, func(c *middleware.Config) { c.Optional = true })
	good := e.signer.Mint(now, nil)
	for _, tc := range []struct {
		name   string
		edit   func(*http.Request)
		status int
		body   string
	}{
		{"no cookie", nil, 200, "anonymous"},
		{"session", cookie("PHPSESSID", sessionValue), 200, "legacy-1 session widgets:read"},
		// A browser keeps the cookie of a session that ended.
		{"unknown session", cookie("PHPSESSID", otherValue), 200, "anonymous"},
		{"two session cookies", all(cookie("PHPSESSID", sessionValue), cookie("PHPSESSID", otherValue)), 400, ""},
		// An invalid token is refused, session or not.
		{"bad token and session", all(bearer(good+"x"), cookie("PHPSESSID", sessionValue)), 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, e.mux, "/me", tc.edit)
			if r.status != tc.status || tc.status == 200 && r.body != tc.body {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tc.status, tc.body)
			}
		})
	}
}

// TestSessionCrossOrigin: a browser attaches the session cookie to
// cross-site requests by itself; an unsafe one is refused before the
// session is read. Tokens, which no browser attaches, are not checked.
func TestSessionCrossOrigin(t *testing.T) {
	e := newSessionEnv(t, func(c *middleware.Config) { c.Session.CacheAge = -1 })
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		fmt.Fprint(w, p.Method)
	})
	srv := httptest.NewServer(e.auth.Middleware(ok))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	good := e.signer.Mint(now, nil)
	for _, tc := range []struct {
		name, method, site, origin, token string
		status                            int
	}{
		{"cross-site POST", "POST", "cross-site", "", "", 403},
		{"same-site POST (a sibling subdomain)", "POST", "same-site", "", "", 403},
		{"cross-site DELETE", "DELETE", "cross-site", "", "", 403},
		{"cross-site PUT", "PUT", "cross-site", "", "", 403},
		{"POST from another Origin (an older browser)", "POST", "", "https://evil.example", "", 403},
		{"same-origin POST", "POST", "same-origin", "", "", 200},
		{"POST the user typed (none)", "POST", "none", "", "", 200},
		{"POST from its own Origin", "POST", "", "http://" + host, "", 200},
		{"POST without browser headers (curl)", "POST", "", "", "", 200},
		{"cross-site GET", "GET", "cross-site", "https://evil.example", "", 200},
		{"cross-site HEAD", "HEAD", "cross-site", "", "", 200},
		{"cross-site POST with a token", "POST", "cross-site", "https://evil.example", good, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads := e.src.reads.Load()
			req, _ := http.NewRequest(tc.method, srv.URL+"/", nil)
			req.AddCookie(&http.Cookie{Name: "PHPSESSID", Value: sessionValue})
			if tc.site != "" {
				req.Header.Set("Sec-Fetch-Site", tc.site)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 403 {
				if err := e.reason(); !errors.Is(err, middleware.ErrCrossOrigin) {
					t.Fatalf("reason %v", err)
				}
				if ch := resp.Header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="cross_origin"`) {
					t.Fatalf("challenge %q", ch)
				}
				if e.src.reads.Load() != reads {
					t.Fatal("the session was read for a cross-origin request")
				}
			}
		})
	}

	// An origin of one's own is trusted when configured.
	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin("https://app.example"); err != nil {
		t.Fatal(err)
	}
	e2 := newSessionEnv(t, func(c *middleware.Config) { c.Session.CrossOrigin = cop })
	h := e2.auth.Middleware(ok)
	for origin, want := range map[string]int{"https://app.example": 200, "https://evil.example": 403} {
		req := httptest.NewRequest("POST", "https://api.example/", nil)
		req.AddCookie(&http.Cookie{Name: "PHPSESSID", Value: sessionValue})
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != want {
			t.Errorf("Origin %s: status %d, want %d", origin, w.Code, want)
		}
	}
}

// TestSessionCache: a session's principal is served from the cache for
// CacheAge at most, never past its expiry, with revocation checked on
// every hit; a session destroyed in its store is refused once that
// passes.
func TestSessionCache(t *testing.T) {
	session := cookie("PHPSESSID", sessionValue)
	t.Run("default age", func(t *testing.T) {
		e := newSessionEnv(t, nil)
		for range 3 {
			if r := get(t, e.mux, "/me", session); r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
		}
		if n := e.src.reads.Load(); n != 1 {
			t.Fatalf("the source was read %d times in a burst, want once", n)
		}
		e.src.destroy(sessionValue) // a logout in the legacy application
		e.clock.Advance(middleware.DefaultSessionCacheAge - time.Millisecond)
		if r := get(t, e.mux, "/me", session); r.status != 200 {
			t.Fatalf("within the cache age: status %d", r.status)
		}
		e.clock.Advance(time.Millisecond)
		if r := get(t, e.mux, "/me", session); r.status != 401 {
			t.Fatalf("after the cache age: status %d, want 401", r.status)
		}
	})
	t.Run("never past the session's expiry", func(t *testing.T) {
		e := newSessionEnv(t, func(c *middleware.Config) { c.Session.CacheAge = middleware.MaxSessionCacheAge })
		e.src.m[sessionValue].ExpiresAt = now.Add(2 * time.Second)
		get(t, e.mux, "/me", session)
		e.clock.Advance(2 * time.Second)
		get(t, e.mux, "/me", session)
		if n := e.src.reads.Load(); n != 2 {
			t.Fatalf("the source was read %d times, want 2 (the entry ends with the session)", n)
		}
	})
	t.Run("revoked while cached", func(t *testing.T) {
		e := newSessionEnv(t, func(c *middleware.Config) { c.Session.CacheAge = middleware.MaxSessionCacheAge })
		get(t, e.mux, "/me", session)
		e.rev.ids[middleware.SessionTokenID(sessionValue)] = true
		if r := get(t, e.mux, "/me", session); r.status != 401 {
			t.Fatalf("a revoked session served from the cache: status %d", r.status)
		}
	})
	t.Run("off", func(t *testing.T) {
		e := newSessionEnv(t, func(c *middleware.Config) { c.Session.CacheAge = -1 })
		get(t, e.mux, "/me", session)
		get(t, e.mux, "/me", session)
		if n := e.src.reads.Load(); n != 2 {
			t.Fatalf("the source was read %d times, want 2", n)
		}
	})
	t.Run("no cache at all", func(t *testing.T) {
		e := newSessionEnv(t, func(c *middleware.Config) { c.CacheSize = -1 })
		get(t, e.mux, "/me", session)
		get(t, e.mux, "/me", session)
		if n := e.src.reads.Load(); n != 2 {
			t.Fatalf("the source was read %d times, want 2", n)
		}
	})
	t.Run("a token is not served a session's entry", func(t *testing.T) {
		e := newSessionEnv(t, nil)
		get(t, e.mux, "/me", session)
		if r := get(t, e.mux, "/me", bearer(sessionValue)); r.status != 401 {
			t.Fatalf("the session's value as a token: status %d", r.status)
		}
	})
}

func TestSessionConfig(t *testing.T) {
	src := &sessions{}
	v := tokentest.Verifier(tokentest.KeySet(tokentest.MustSigner(token.EdDSA)), now)
	for _, tc := range []struct {
		name string
		cfg  middleware.Config
		ok   bool
	}{
		{"sessions alone", middleware.Config{Session: middleware.SessionConfig{CookieName: "PHPSESSID", Source: src}}, true},
		{"the longest cache age", middleware.Config{Session: middleware.SessionConfig{CookieName: "s", Source: src, CacheAge: middleware.MaxSessionCacheAge}}, true},
		{"a longer cache age", middleware.Config{Session: middleware.SessionConfig{CookieName: "s", Source: src, CacheAge: middleware.MaxSessionCacheAge + 1}}, false},
		{"no source", middleware.Config{JWT: map[string]middleware.Verifier{"i": v}, Session: middleware.SessionConfig{CookieName: "s"}}, false},
		{"no cookie name", middleware.Config{Session: middleware.SessionConfig{Source: src}}, false},
		{"the token cookie's name", middleware.Config{CookieName: "s", Session: middleware.SessionConfig{CookieName: "s", Source: src}}, false},
		{"a name no cookie has", middleware.Config{Session: middleware.SessionConfig{CookieName: "a b", Source: src}}, false},
		{"a name with =", middleware.Config{Session: middleware.SessionConfig{CookieName: "a=b", Source: src}}, false},
		{"nothing at all", middleware.Config{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := middleware.New(tc.cfg); (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// FuzzSessionCookie sends arbitrary cookies, Authorization headers,
// methods and Sec-Fetch-Site values through a middleware that takes
// tokens and sessions: it never panics, answers only 200, 400, 401 or
// 403, every refusal wraps a sentinel, and a principal comes from a
// token or from the one live session.
func FuzzSessionCookie(f *testing.F) {
	s := tokentest.MustSigner(token.EdDSA)
	good := s.Mint(now, nil)
	for _, seed := range []struct{ auth, cookie, method, site string }{
		{"", "PHPSESSID=" + sessionValue, "GET", ""},
		{"", "PHPSESSID=" + sessionValue + "; PHPSESSID=x", "GET", ""},
		{"Bearer " + good, "PHPSESSID=" + sessionValue, "POST", "cross-site"},
		{"Bearer x", "PHPSESSID=" + sessionValue, "GET", ""},
		{"", "PHPSESSID=" + sessionValue, "POST", "cross-site"},
		{"", "PHPSESSID=", "DELETE", "same-origin"},
		{"", "PHPSESSID=\"" + sessionValue + "\"", "GET", ""},
		{"Basic a", "at=" + good + "; PHPSESSID=" + sessionValue, "PUT", "none"},
	} {
		f.Add(seed.auth, seed.cookie, seed.method, seed.site)
	}
	src := &sessions{m: map[string]*identity.Principal{sessionValue: {Subject: "legacy-1"}}}
	var reason error
	a, err := middleware.New(middleware.Config{
		JWT:        map[string]middleware.Verifier{tokentest.Issuer: tokentest.Verifier(tokentest.KeySet(s), now)},
		CookieName: "at",
		Session:    middleware.SessionConfig{CookieName: "PHPSESSID", Source: src},
		Hooks:      middleware.Hooks{OnRejected: func(_ *http.Request, err error) { reason = err }},
	})
	if err != nil {
		f.Fatal(err)
	}
	var who *identity.Principal
	h := a.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { who, _ = middleware.PrincipalFrom(r.Context()) }))
	sentinels := []error{middleware.ErrNoCredentials, middleware.ErrInvalidRequest, middleware.ErrInvalidToken,
		middleware.ErrInvalidSession, middleware.ErrCrossOrigin}
	f.Fuzz(func(t *testing.T, auth, cookies, method, site string) {
		if !validMethod(method) {
			method = "GET"
		}
		r := httptest.NewRequest(method, "/", nil)
		r.Header.Set("Authorization", auth)
		r.Header.Set("Cookie", cookies)
		r.Header.Set("Sec-Fetch-Site", site)
		reason, who = nil, nil
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200:
			if who == nil || who.Method == identity.Session && who.Subject != "legacy-1" || who.Method != identity.Session && who.Method != identity.JWT {
				t.Fatalf("principal %+v", who)
			}
			return
		case 400, 401, 403:
		default:
			t.Fatalf("status %d", w.Code)
		}
		ok := false
		for _, s := range sentinels {
			ok = ok || errors.Is(reason, s)
		}
		if !ok {
			t.Fatalf("refusal %v wraps no sentinel", reason)
		}
	})
}

// validMethod reports whether m is an HTTP token, as httptest needs.
func validMethod(m string) bool {
	for _, c := range []byte(m) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return m != ""
}
