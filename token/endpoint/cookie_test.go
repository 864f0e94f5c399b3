package endpoint_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/refresh"
)

// jar is a browser's cookies as RFC 6265 keeps them, enough for these
// tests: by name, sent where their path covers the request's (Go's
// cookiejar sends no Secure cookie over http, which httptest is).
type jar struct {
	mu sync.Mutex
	c  map[string]*http.Cookie
}

func newJar() *jar { return &jar{c: map[string]*http.Cookie{}} }

// keep stores the cookies r set.
func (j *jar) keep(r reply) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, sc := range r.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(sc)
		if err != nil {
			continue
		}
		if c.MaxAge < 0 {
			delete(j.c, c.Name)
			continue
		}
		j.c[c.Name] = c
	}
}

// send attaches the cookies whose path covers path, as a browser does
// for a request of the page's own origin.
func (j *jar) send(path string) func(*http.Request) {
	return func(r *http.Request) {
		j.mu.Lock()
		defer j.mu.Unlock()
		for _, c := range j.c {
			if c.Path == "/" || path == c.Path || strings.HasPrefix(path, c.Path+"/") {
				r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			}
		}
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
}

func (j *jar) value(name string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if c := j.c[name]; c != nil {
		return c.Value
	}
	return ""
}

func withCookies(c *endpoint.Config) { c.Cookies = &endpoint.CookieConfig{} }

// cookieLogin logs name in in cookie mode, keeping the cookies in j.
func (e *env) cookieLogin(t *testing.T, j *jar, name string, edit func(*http.Request)) reply {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": name, "password": secret})
	r := e.do(t, "POST", "/auth/login", "application/json", string(b), func(r *http.Request) {
		r.Header.Set(endpoint.TokenDeliveryHeader, endpoint.CookieDelivery)
		r.Header.Set("User-Agent", "test-browser/1.0")
		if edit != nil {
			edit(r)
		}
	})
	j.keep(r)
	return r
}

// cookieRefresh refreshes by the refresh cookie of j.
func (e *env) cookieRefresh(t *testing.T, j *jar, edit func(*http.Request)) reply {
	t.Helper()
	r := e.form(t, "/auth/token", vals("grant_type", "refresh_token"), func(r *http.Request) {
		j.send("/auth/token")(r)
		if edit != nil {
			edit(r)
		}
	})
	j.keep(r)
	return r
}

func (e *env) cookieMe(t *testing.T, j *jar) reply {
	t.Helper()
	return e.do(t, "GET", "/api/me", "", "", j.send("/api/me"))
}

func setCookie(t *testing.T, r reply, name string) *http.Cookie {
	t.Helper()
	for _, sc := range r.header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(sc); err == nil && c.Name == name {
			return c
		}
	}
	t.Fatalf("no Set-Cookie %s in %v", name, r.header.Values("Set-Cookie"))
	return nil
}

// TestCookieLogin: a login that asks for cookie mode gets its tokens in
// HttpOnly cookies with the documented attributes and none in the body;
// one that does not ask gets them in the body, as before, and no cookie.
func TestCookieLogin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		e := newEnv(t, be, withCookies)
		j := newJar()
		r := e.cookieLogin(t, j, "alice", nil)
		if r.status != 200 || r.json["token_type"] != "cookie" || r.json["sub"] != "usr_alice" || r.json["expires_in"] != 900.0 ||
			r.json["scope"] != "read write" || strings.Contains(r.body, "eyJ") || strings.Contains(r.body, "rt_") {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if roles, _ := r.json["roles"].([]any); len(roles) != 1 || roles[0] != "admin" {
			t.Fatalf("roles %v", r.json["roles"])
		}
		a := setCookie(t, r, endpoint.DefaultAccessCookie)
		if !strings.HasPrefix(a.Value, "eyJ") || a.Path != "/" || !a.Secure || !a.HttpOnly || a.SameSite != http.SameSiteLaxMode || a.MaxAge != 900 || a.Domain != "" {
			t.Fatalf("access cookie %+v", a)
		}
		rc := setCookie(t, r, endpoint.DefaultRefreshCookie)
		if !strings.HasPrefix(rc.Value, "rt_") || rc.Path != "/auth/token" || !rc.Secure || !rc.HttpOnly || rc.SameSite != http.SameSiteStrictMode ||
			rc.MaxAge != int(refresh.DefaultIdleLifetime/time.Second) || rc.Domain != "" {
			t.Fatalf("refresh cookie %+v", rc)
		}
		b := setCookie(t, r, endpoint.DefaultBindCookie)
		if len(b.Value) != 22 || strings.Contains(rc.Value, b.Value) || b.Path != "/" || !b.Secure || !b.HttpOnly || b.SameSite != http.SameSiteStrictMode || b.MaxAge != rc.MaxAge {
			t.Fatalf("bind cookie %+v", b)
		}
		me := e.cookieMe(t, j)
		if me.status != 200 || me.json["sub"] != "usr_alice" || me.json["from_cookie"] != true || me.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("me: %d %s %v", me.status, me.body, me.header)
		}

		// No header: tokens in the body, exactly as before.
		plain := e.login(t, "alice", secret)
		if plain.status != 200 || plain.json["access_token"] == nil || plain.json["refresh_token"] == nil || len(plain.header.Values("Set-Cookie")) != 0 {
			t.Fatalf("plain login: %d %s %v", plain.status, plain.body, plain.header)
		}
		if me := e.do(t, "GET", "/api/me", "", "", bearer(plain.json["access_token"].(string))); me.json["from_cookie"] != false || me.header.Get("Cache-Control") == "no-store" {
			t.Fatalf("header me: %s %v", me.body, me.header)
		}
	})
}

// TestCookieModeRequests: how a login asks for cookie mode is exact.
func TestCookieModeRequests(t *testing.T) {
	e := newEnv(t, backends[0], withCookies)
	off := newEnv(t, backends[0], nil)
	for _, tc := range []struct {
		name   string
		e      *env
		edit   func(*http.Request)
		status int
		code   string
	}{
		{"cookie mode off", off, nil, 400, "invalid_request"},
		{"another value", e, func(r *http.Request) { r.Header.Set(endpoint.TokenDeliveryHeader, "body") }, 400, "invalid_request"},
		{"two headers", e, func(r *http.Request) { r.Header.Add(endpoint.TokenDeliveryHeader, "cookie") }, 400, "invalid_request"},
		{"with a DPoP proof", e, func(r *http.Request) { r.Header.Set("DPoP", "x.y.z") }, 400, "invalid_request"},
		{"letter case", e, func(r *http.Request) { r.Header.Set(endpoint.TokenDeliveryHeader, "Cookie") }, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.e.cookieLogin(t, newJar(), "alice", tc.edit)
			if r.status != tc.status || tc.code != "" && r.json["error"] != tc.code {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if tc.status != 200 && len(r.header.Values("Set-Cookie")) != 0 {
				t.Fatalf("cookies set: %v", r.header.Values("Set-Cookie"))
			}
		})
	}
}

// TestCookieRefresh: a refresh by cookie rotates the refresh token and
// sets both cookies again; the old one, presented after the grace
// period, revokes the family and clears the cookies.
func TestCookieRefresh(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		e := newEnv(t, be, withCookies)
		j := newJar()
		e.cookieLogin(t, j, "alice", nil)
		old, oldAccess := j.value(endpoint.DefaultRefreshCookie), j.value(endpoint.DefaultAccessCookie)
		e.clock.Advance(time.Minute)
		r := e.cookieRefresh(t, j, nil)
		if r.status != 200 || r.json["token_type"] != "cookie" || strings.Contains(r.body, "rt_") {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		next := j.value(endpoint.DefaultRefreshCookie)
		if next == old || j.value(endpoint.DefaultAccessCookie) == oldAccess {
			t.Fatal("the cookies were not renewed")
		}
		if rc := setCookie(t, r, endpoint.DefaultRefreshCookie); rc.Path != "/auth/token" || rc.SameSite != http.SameSiteStrictMode {
			t.Fatalf("refresh cookie %+v", rc)
		}
		if me := e.cookieMe(t, j); me.status != 200 {
			t.Fatalf("me after refresh: %d", me.status)
		}
		// A parameter wins over the cookie: body mode.
		body := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", next), j.send("/auth/token"))
		if body.status != 200 || body.json["refresh_token"] == nil || len(body.header.Values("Set-Cookie")) != 0 {
			t.Fatalf("refresh with the parameter: %d %s", body.status, body.body)
		}
		// The cookie now holds a spent token: reuse, after the grace.
		e.clock.Advance(refresh.DefaultGracePeriod)
		r = e.cookieRefresh(t, j, nil)
		wantError(t, r, 400, "invalid_grant")
		if c := setCookie(t, r, endpoint.DefaultRefreshCookie); c.MaxAge >= 0 {
			t.Fatalf("the dead refresh cookie is kept: %+v", c)
		}
		if e.me(t, body.json["access_token"].(string)) != 401 {
			t.Fatal("the family's access token survived the reuse")
		}
		// No cookie, no parameter.
		wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token"), nil), 400, "invalid_request")
	})
}

// TestCookieCSRF: a page of another origin (another site, or another
// port of the same host) cannot log the browser in, refresh, or log it
// out through its cookies; its attempts change nothing.
func TestCookieCSRF(t *testing.T) {
	e := newEnv(t, backends[0], withCookies)
	j := newJar()
	e.cookieLogin(t, j, "alice", nil)
	rt := j.value(endpoint.DefaultRefreshCookie)
	for _, site := range []string{"cross-site", "same-site"} {
		from := func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", site) }
		t.Run(site, func(t *testing.T) {
			// Login CSRF: as bob, in alice's browser.
			attacker := newJar()
			r := e.cookieLogin(t, attacker, "bob", from)
			wantError(t, r, 403, "cross_origin")
			if len(r.header.Values("Set-Cookie")) != 0 {
				t.Fatal("cookies set for another origin's login")
			}
			r = e.cookieRefresh(t, j, from)
			wantError(t, r, 403, "cross_origin")
			r = e.do(t, "POST", "/auth/logout", "", "", func(r *http.Request) { j.send("/auth/logout")(r); from(r) })
			if r.status != 403 {
				t.Fatalf("logout from another origin: %d", r.status)
			}
		})
	}
	// Older browsers: the Origin header.
	r := e.cookieRefresh(t, j, func(r *http.Request) { r.Header.Del("Sec-Fetch-Site"); r.Header.Set("Origin", "http://localhost:1") })
	wantError(t, r, 403, "cross_origin")
	// Nothing was spent or ended: the page itself carries on.
	if j.value(endpoint.DefaultRefreshCookie) != rt {
		t.Fatal("the refresh cookie changed")
	}
	if r := e.cookieRefresh(t, j, nil); r.status != 200 {
		t.Fatalf("same-origin refresh: %d %s", r.status, r.body)
	}
	if me := e.cookieMe(t, j); me.json["sub"] != "usr_alice" {
		t.Fatalf("me: %s", me.body)
	}

	// A trusted origin of one's own.
	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin("https://app.example"); err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t, backends[0], func(c *endpoint.Config) { c.Cookies = &endpoint.CookieConfig{CrossOrigin: cop} })
	r = e2.cookieLogin(t, newJar(), "alice", func(r *http.Request) {
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", "https://app.example")
	})
	if r.status != 200 {
		t.Fatalf("trusted origin: %d %s", r.status, r.body)
	}
}

// TestPlantedRefreshCookie: a "__Secure-" refresh cookie may be set by a
// sibling subdomain (with a Domain attribute). Alone, it logs no one in;
// beside the browser's own, it is ignored: the bind cookie, "__Host-",
// names the browser's.
func TestPlantedRefreshCookie(t *testing.T) {
	e := newEnv(t, backends[0], withCookies)
	_, planted := e.tokens(t, "bob") // the attacker's own login, in the body
	withPlanted := func(j *jar) func(*http.Request) {
		return func(r *http.Request) {
			j.send("/auth/token")(r)
			r.Header.Add("Cookie", endpoint.DefaultRefreshCookie+"="+planted)
		}
	}
	// A browser without a session of its own: not logged in as bob.
	fresh := newJar()
	r := e.form(t, "/auth/token", vals("grant_type", "refresh_token"), withPlanted(fresh))
	wantError(t, r, 400, "invalid_grant")
	if len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("cookies set: %v", r.header.Values("Set-Cookie"))
	}
	// A bind cookie of another token does not help.
	fresh.c[endpoint.DefaultBindCookie] = &http.Cookie{Name: endpoint.DefaultBindCookie, Value: "AAAAAAAAAAAAAAAAAAAAAA", Path: "/"}
	wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token"), withPlanted(fresh)), 400, "invalid_grant")
	// alice's browser with bob's cookie planted beside hers: hers is used,
	// in either order.
	j := newJar()
	e.cookieLogin(t, j, "alice", nil)
	for range 2 {
		r = e.form(t, "/auth/token", vals("grant_type", "refresh_token"), withPlanted(j))
		if r.status != 200 || r.json["sub"] != "usr_alice" {
			t.Fatalf("refresh beside a planted cookie: %d %s", r.status, r.body)
		}
		j.keep(r)
		r = e.form(t, "/auth/token", vals("grant_type", "refresh_token"), func(r *http.Request) {
			r.Header.Set("Cookie", endpoint.DefaultRefreshCookie+"="+planted)
			j.send("/auth/token")(r)
		})
		if r.status != 200 || r.json["sub"] != "usr_alice" {
			t.Fatalf("planted first: %d %s", r.status, r.body)
		}
		j.keep(r)
	}
	// bob's token was never spent.
	if r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", planted), nil); r.status != 200 {
		t.Fatalf("the planted token was used: %d %s", r.status, r.body)
	}
}

// TestCookieLogout: logout by cookie ends the refresh family named by the
// access token (its refresh cookie is not sent to /auth/logout), revokes
// the access token and clears both cookies.
func TestCookieLogout(t *testing.T) {
	for _, path := range []string{"/auth/logout", "/auth/logout-all"} {
		t.Run(path, func(t *testing.T) {
			e := newEnv(t, backends[0], withCookies)
			j := newJar()
			e.cookieLogin(t, j, "alice", nil)
			saved := map[string]string{"a": j.value(endpoint.DefaultAccessCookie), "r": j.value(endpoint.DefaultRefreshCookie)}
			e.clock.Advance(time.Second)
			r := e.do(t, "POST", path, "", "", j.send(path))
			if r.status != 204 || r.header.Get("Clear-Site-Data") != `"cache"` {
				t.Fatalf("%d %v", r.status, r.header)
			}
			for _, name := range []string{endpoint.DefaultAccessCookie, endpoint.DefaultRefreshCookie, endpoint.DefaultBindCookie} {
				if c := setCookie(t, r, name); c.MaxAge >= 0 || c.Value != "" {
					t.Fatalf("%s not cleared: %+v", name, c)
				}
			}
			if e.me(t, saved["a"]) != 401 {
				t.Fatal("the access token survived the logout")
			}
			wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", saved["r"]), nil), 400, "invalid_grant")
		})
	}
}

// TestLogoutEndsFamily: a logout with an access token alone (no
// refresh_token in the body) ends the refresh family it was issued with.
func TestLogoutEndsFamily(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		e := newEnv(t, be, nil)
		a, rt := e.tokens(t, "alice")
		other, otherRT := e.tokens(t, "alice")
		if r := e.do(t, "POST", "/auth/logout", "", "", bearer(a)); r.status != 204 {
			t.Fatalf("logout: %d %s", r.status, r.body)
		}
		wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil), 400, "invalid_grant")
		// The other login stays.
		if e.me(t, other) != 200 {
			t.Fatal("another login's access token was revoked")
		}
		if r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", otherRT), nil); r.status != 200 {
			t.Fatalf("another login's refresh: %d %s", r.status, r.body)
		}
	})
}

// TestTwoTabs: two tabs refreshing with the same cookie at the same
// moment both stay logged in, with the same refresh token and access
// tokens of one jti, which one logout revokes together.
func TestTwoTabs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		e := newEnv(t, be, withCookies)
		j := newJar()
		e.cookieLogin(t, j, "alice", nil)
		e.clock.Advance(time.Minute)
		tabs := make([]*jar, 2)
		var wg sync.WaitGroup
		replies := make([]reply, len(tabs))
		for i := range tabs {
			tabs[i] = newJar()
			maps.Copy(tabs[i].c, j.c)
			wg.Go(func() {
				replies[i] = e.form(t, "/auth/token", vals("grant_type", "refresh_token"), tabs[i].send("/auth/token"))
			})
		}
		wg.Wait()
		var jtis []string
		for i, r := range replies {
			if r.status != 200 {
				t.Fatalf("tab %d: %d %s", i, r.status, r.body)
			}
			tabs[i].keep(r)
			me := e.cookieMe(t, tabs[i])
			if me.status != 200 {
				t.Fatalf("tab %d me: %d", i, me.status)
			}
			jtis = append(jtis, me.json["jti"].(string))
		}
		if tabs[0].value(endpoint.DefaultRefreshCookie) != tabs[1].value(endpoint.DefaultRefreshCookie) || jtis[0] != jtis[1] {
			t.Fatalf("two rotations: %q %q, jti %v", tabs[0].value(endpoint.DefaultRefreshCookie), tabs[1].value(endpoint.DefaultRefreshCookie), jtis)
		}
		// The family lives on: the next refresh works.
		if r := e.cookieRefresh(t, tabs[0], nil); r.status != 200 {
			t.Fatalf("next refresh: %d %s", r.status, r.body)
		}
		if slices.Contains(e.eventKinds(), endpoint.RefreshReused) {
			t.Fatal("reuse reported")
		}
	})
}

// TestDevices: GET /auth/devices lists the caller's logins; DELETE ends
// one, whose refresh token and access tokens stop at once; another
// user's or an unknown one is 404.
func TestDevices(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		e := newEnv(t, be, withCookies)
		laptop := newJar()
		e.cookieLogin(t, laptop, "alice", nil)
		e.clock.Advance(time.Minute)
		phone := e.do(t, "POST", "/auth/login", "application/json", `{"username":"alice","password":"`+secret+`"}`,
			func(r *http.Request) { r.Header.Set("User-Agent", "phone\tapp/2 \xff") })
		phoneAccess, phoneRT := phone.json["access_token"].(string), phone.json["refresh_token"].(string)
		bob, _ := e.tokens(t, "bob")

		r := e.do(t, "GET", "/auth/devices", "", "", laptop.send("/auth/devices"))
		if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var list struct {
			Devices []struct {
				ID, UserAgent string
				Created       time.Time
				LastUsed      time.Time `json:"last_used"`
				Current       bool
				Agent         string `json:"user_agent"`
			}
		}
		if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list.Devices) != 2 {
			t.Fatalf("%v %s", err, r.body)
		}
		ph, lap := list.Devices[0], list.Devices[1] // newest use first
		if ph.Agent != "phoneapp/2 \uFFFD" || ph.Current || lap.Agent != "test-browser/1.0" || !lap.Current ||
			!lap.Created.Equal(lap.LastUsed) || !ph.LastUsed.After(lap.LastUsed) || !strings.HasPrefix(ph.ID, "fam_") {
			t.Fatalf("devices %+v", list.Devices)
		}
		// Another user's family, or none: 404, nothing ended.
		if r := e.do(t, "DELETE", "/auth/devices/"+ph.ID, "", "", bearer(bob)); r.status != 404 {
			t.Fatalf("bob ends alice's device: %d", r.status)
		}
		if r := e.do(t, "DELETE", "/auth/devices/fam_nope", "", "", laptop.send("/auth/devices/fam_nope")); r.status != 404 {
			t.Fatalf("unknown device: %d", r.status)
		}
		if e.me(t, phoneAccess) != 200 {
			t.Fatal("the phone was logged out")
		}
		// From another origin: refused by the middleware.
		if r := e.do(t, "DELETE", "/auth/devices/"+ph.ID, "", "", func(r *http.Request) {
			laptop.send("/auth/devices")(r)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		}); r.status != 403 {
			t.Fatalf("cross-site delete: %d", r.status)
		}
		// The laptop ends the phone.
		if r := e.do(t, "DELETE", "/auth/devices/"+ph.ID, "", "", laptop.send("/auth/devices/x")); r.status != 204 || len(r.header.Values("Set-Cookie")) != 0 {
			t.Fatalf("end the phone: %d %s", r.status, r.body)
		}
		if e.me(t, phoneAccess) != 401 {
			t.Fatal("the phone's access token survived")
		}
		wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", phoneRT), nil), 400, "invalid_grant")
		if e.cookieMe(t, laptop).status != 200 {
			t.Fatal("the laptop was logged out")
		}
		if !slices.Contains(e.eventKinds(), endpoint.DeviceEnded) {
			t.Fatal("no audit event")
		}
		// Ending its own: the cookies are cleared.
		r = e.do(t, "DELETE", "/auth/devices/"+lap.ID, "", "", laptop.send("/auth/devices/x"))
		if r.status != 204 || setCookie(t, r, endpoint.DefaultAccessCookie).MaxAge >= 0 {
			t.Fatalf("end itself: %d %v", r.status, r.header)
		}
		// An API token or no token: refused.
		if r := e.do(t, "GET", "/auth/devices", "", "", nil); r.status != 401 {
			t.Fatalf("anonymous: %d", r.status)
		}
	})
}

// TestIssueCookies: a login of the application's own (an OpenID Connect
// callback) ends with the cookies and a redirect to a path of this site;
// anything else is refused, never followed.
func TestIssueCookies(t *testing.T) {
	e := newEnv(t, backends[0], withCookies)
	u := endpoint.User{Subject: "usr_alice", Scopes: []string{"read"}}
	for _, tc := range []struct {
		to     string
		status int
	}{
		{"/widgets?tab=2#top", 303},
		{"/", 303},
		{"//evil.example/", 400},
		{"/\\evil.example", 400},
		{"https://evil.example/", 400},
		{"/\t/evil.example", 400},
		{"", 400},
	} {
		rec := httptest.NewRecorder()
		e.srv.IssueCookies(rec, httptest.NewRequest("GET", "/auth/oidc/callback", nil), u, "alice", tc.to)
		if rec.Code != tc.status {
			t.Fatalf("%q: %d", tc.to, rec.Code)
		}
		cookies := rec.Result().Cookies()
		if tc.status == 303 && (rec.Header().Get("Location") != tc.to || len(cookies) != 3) || tc.status != 303 && len(cookies) != 0 {
			t.Fatalf("%q: Location %q, cookies %v", tc.to, rec.Header().Get("Location"), cookies)
		}
	}
	rec := httptest.NewRecorder()
	newEnv(t, backends[0], nil).srv.IssueCookies(rec, httptest.NewRequest("GET", "/", nil), u, "alice", "/")
	if rec.Code != 500 {
		t.Fatalf("without cookie mode: %d", rec.Code)
	}
}

// TestCookieTooLong: an access token too long for a cookie is refused
// (500) in cookie mode, with no cookie set; in the body it is issued.
func TestCookieTooLong(t *testing.T) {
	e := newEnv(t, backends[0], withCookies)
	h, err := e.passwords.Hash(t.Context(), secret)
	if err != nil {
		t.Fatal(err)
	}
	e.users.set("carol", endpoint.User{Subject: "usr_carol", PasswordHash: h, Roles: []string{strings.Repeat("r", 4000)}})
	if r := e.cookieLogin(t, newJar(), "carol", nil); r.status != 500 || len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if r := e.login(t, "carol", secret); r.status != 200 {
		t.Fatalf("body mode: %d", r.status)
	}
}

// TestCookieConfig: the cookies' names keep their prefixes.
func TestCookieConfig(t *testing.T) {
	for _, tc := range []struct {
		cc endpoint.CookieConfig
		ok bool
	}{
		{endpoint.CookieConfig{}, true},
		{endpoint.CookieConfig{AccessName: "__Host-at", RefreshName: "__Secure-rt", RefreshPath: "/api/auth/token"}, true},
		{endpoint.CookieConfig{AccessName: "at"}, false},
		{endpoint.CookieConfig{AccessName: "__Secure-at"}, false},
		{endpoint.CookieConfig{RefreshName: "rt"}, false},
		{endpoint.CookieConfig{RefreshName: "__Secure-r;t"}, false},
		{endpoint.CookieConfig{RefreshPath: "auth/token"}, false},
		{endpoint.CookieConfig{RefreshPath: "//auth/token"}, false},
		{endpoint.CookieConfig{RefreshPath: "/auth/token?x"}, false},
		{endpoint.CookieConfig{RefreshPath: "/auth/token;x"}, false},
	} {
		e := newEnv(t, backends[0], nil)
		cfg := endpoint.Config{Issuer: e.issuer, Verifier: e.verifier, Users: e.users, Revocation: e.list, ClientID: client, Cookies: &tc.cc}
		if _, err := endpoint.New(cfg); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.cc, err)
		}
	}
}

// TestNarrowedLogout: a token asked for one resource (RFC 8707) logs
// itself out; it does not end the login (the refresh family) it came
// from, which acts for the whole server.
func TestNarrowedLogout(t *testing.T) {
	e := newEnv(t, backends[0], func(c *endpoint.Config) {
		c.Resources = []middleware.Resource{{URL: issuer + "/mcp"}, {URL: issuer}}
	})
	_, rt := e.tokens(t, "alice")
	r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt, "resource", issuer+"/mcp"), nil)
	if r.status != 200 {
		t.Fatalf("narrowed refresh: %d %s", r.status, r.body)
	}
	narrowed, next := r.json["access_token"].(string), r.json["refresh_token"].(string)
	if r := e.do(t, "POST", "/auth/logout", "", "", bearer(narrowed)); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if e.me(t, narrowed) != 401 {
		t.Fatal("the narrowed token survived its logout")
	}
	if r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", next), nil); r.status != 200 {
		t.Fatalf("the family was ended by a narrowed token: %d %s", r.status, r.body)
	}
}

// TestGraceRefusalKeepsCookies: a refresh by cookie refused because
// another tab has just rotated the token (and its access token is about
// to expire) leaves the cookies that tab set alone.
func TestGraceRefusalKeepsCookies(t *testing.T) {
	e := newEnvTTL(t, backends[0], 2*time.Second, withCookies)
	j := newJar()
	e.cookieLogin(t, j, "alice", nil)
	old := maps.Clone(j.c)
	if r := e.cookieRefresh(t, j, nil); r.status != 200 {
		t.Fatalf("refresh: %d", r.status)
	}
	e.clock.Advance(2 * time.Second) // within the grace; the reissue would live at most 1 s
	late := newJar()
	late.c = old
	r := e.cookieRefresh(t, late, nil)
	wantError(t, r, 400, "invalid_grant")
	if len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("cookies cleared: %v", r.header.Values("Set-Cookie"))
	}
}

// TestPasswordGrantNoCookies: cookie mode is the login endpoint's; the
// password grant refuses the header rather than ignore it.
func TestPasswordGrantNoCookies(t *testing.T) {
	e := newEnv(t, backends[0], withCookies)
	r := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret), func(r *http.Request) {
		r.Header.Set(endpoint.TokenDeliveryHeader, endpoint.CookieDelivery)
	})
	wantError(t, r, 400, "invalid_request")
}
