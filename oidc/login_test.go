package oidc_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
)

// loginApp is an application with the login mounted, whose Complete
// writes the identity.
func loginApp(t *testing.T, f *oidctest.Provider, c *testenv.Clock) (*httptest.Server, *http.Client) {
	t.Helper()
	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)
	l, err := oidc.NewLogin(oidc.LoginConfig{
		Issuer: f.Issuer(), ClientID: "web", ClientSecret: "s3cret", RedirectURL: app.URL + "/callback",
		CookieKey: make([]byte, 32), Now: c.Now,
		Complete: func(w http.ResponseWriter, r *http.Request, id *oidc.Identity) {
			json.NewEncoder(w).Encode(map[string]any{"iss": id.Issuer, "sub": id.Subject, "username": id.Username, "email": id.Email,
				"return_to": id.ReturnTo})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET /login", l.Start())
	mux.Handle("GET /callback", l.Callback())
	jar, _ := cookiejar.New(nil)
	return app, &http.Client{Jar: jar}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLogin(t *testing.T) {
	f := oidctest.New(t)
	cf := f.EnableCodeFlow("web", "s3cret")
	c := testenv.NewClock(time.Now())
	app, browser := loginApp(t, f, c)

	status, body := get(t, browser, app.URL+"/login")
	if status != 200 || !strings.Contains(body, `"sub":"alice-sub"`) || !strings.Contains(body, `"username":"alice"`) {
		t.Fatalf("login: %d %s", status, body)
	}
	// The cookie is single-use: the same callback again is refused.
	var last string
	browser.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		last = req.URL.String()
		return http.ErrUseLastResponse
	}
	get(t, browser, app.URL+"/login") // 302 to the provider
	status, _ = get(t, browser, last) // the provider: 302 to the callback
	callback := last
	if status, body := get(t, browser, callback); status != 200 {
		t.Fatalf("callback: %d %s", status, body)
	}
	if status, _ := get(t, browser, callback); status != 400 {
		t.Errorf("a replayed callback: %d, want 400", status)
	}
	_ = status

	for name, tc := range map[string]struct {
		edit   func(u *url.URL, browser *http.Client)
		before func()
		want   int
	}{
		"another state": {edit: func(u *url.URL, _ *http.Client) {
			q := u.Query()
			q.Set("state", "forged")
			u.RawQuery = q.Encode()
		}, want: 400},
		"no cookie (another browser)": {edit: func(u *url.URL, b *http.Client) { b.Jar, _ = cookiejar.New(nil) }, want: 400},
		"an error from the provider": {edit: func(u *url.URL, _ *http.Client) {
			q := u.Query()
			q.Del("code")
			q.Set("error", "access_denied")
			u.RawQuery = q.Encode()
		}, want: 400},
		"two codes": {edit: func(u *url.URL, _ *http.Client) { u.RawQuery += "&code=other" }, want: 400},
		"a code the provider refuses": {edit: func(u *url.URL, _ *http.Client) {
			q := u.Query()
			q.Set("code", "code-unknown")
			u.RawQuery = q.Encode()
		}, want: 400},
		"the cookie expired":             {edit: func(u *url.URL, _ *http.Client) { c.Advance(oidc.DefaultLoginTimeout + time.Second) }, want: 400},
		"an ID token with another nonce": {before: func() { cf.Nonce = func(string) string { return "other" } }, want: 401},
		"an at_hash of another access token": {before: func() {
			cf.ATHash = func(string) string { return oidctest.B64([]byte("0123456789abcdef")) }
		}, want: 401},
	} {
		t.Run(name, func(t *testing.T) {
			cf.Nonce, cf.ATHash = nil, nil
			c.Set(time.Now())
			if tc.before != nil {
				tc.before()
			}
			jar, _ := cookiejar.New(nil)
			b := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
				last = req.URL.String()
				return http.ErrUseLastResponse
			}}
			get(t, b, app.URL+"/login")
			get(t, b, last)
			u, _ := url.Parse(last)
			if tc.edit != nil {
				tc.edit(u, b)
			}
			if status, body := get(t, b, u.String()); status != tc.want {
				t.Errorf("%d %s, want %d", status, body, tc.want)
			}
		})
	}
}

// TestLoginReturnTo: a login started with a return path of this site
// hands it, sealed in the cookie, to Complete; any other is refused
// before the provider is asked (no open redirect).
func TestLoginReturnTo(t *testing.T) {
	f := oidctest.New(t)
	f.EnableCodeFlow("web", "s3cret")
	app, browser := loginApp(t, f, testenv.NewClock(time.Now()))
	status, body := get(t, browser, app.URL+"/login?return_to="+url.QueryEscape("/widgets?tab=2"))
	if status != 200 || !strings.Contains(body, `"return_to":"/widgets?tab=2"`) {
		t.Fatalf("login: %d %s", status, body)
	}
	if status, body := get(t, browser, app.URL+"/login"); status != 200 || !strings.Contains(body, `"return_to":""`) {
		t.Fatalf("login without: %d %s", status, body)
	}
	for _, bad := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "widgets", "",
		"/" + strings.Repeat("a", oidc.MaxReturnTo)} {
		status, _ := get(t, browser, app.URL+"/login?return_to="+url.QueryEscape(bad))
		if status != 400 {
			t.Errorf("return_to %q: %d, want 400", bad, status)
		}
	}
	if status, _ := get(t, browser, app.URL+"/login?return_to=/a&return_to=/b"); status != 400 {
		t.Errorf("two return_to: %d", status)
	}
}

func TestNewLoginRefuses(t *testing.T) {
	ok := oidc.LoginConfig{Issuer: "https://idp.example", ClientID: "web", RedirectURL: "https://app.example/cb",
		CookieKey: make([]byte, 32), Complete: func(http.ResponseWriter, *http.Request, *oidc.Identity) {}}
	if _, err := oidc.NewLogin(ok); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*oidc.LoginConfig){
		"no issuer":          func(c *oidc.LoginConfig) { c.Issuer = "" },
		"no client":          func(c *oidc.LoginConfig) { c.ClientID = "" },
		"no Complete":        func(c *oidc.LoginConfig) { c.Complete = nil },
		"a short cookie key": func(c *oidc.LoginConfig) { c.CookieKey = make([]byte, 16) },
		"a relative URL":     func(c *oidc.LoginConfig) { c.RedirectURL = "/cb" },
		"a fragment":         func(c *oidc.LoginConfig) { c.RedirectURL = "https://app.example/cb#x" },
	} {
		c := ok
		edit(&c)
		if _, err := oidc.NewLogin(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// mountLogin mounts a login through f on mux under prefix (/login and
// /callback), for the application at appURL, with a cookie key shared by
// every login of the test.
func mountLogin(t *testing.T, mux *http.ServeMux, appURL, prefix string, f *oidctest.Provider) {
	t.Helper()
	l, err := oidc.NewLogin(oidc.LoginConfig{
		Issuer: f.Issuer(), ClientID: "web", ClientSecret: "s3cret", RedirectURL: appURL + prefix + "/callback",
		CookieKey: make([]byte, 32),
		Complete: func(w http.ResponseWriter, r *http.Request, id *oidc.Identity) {
			json.NewEncoder(w).Encode(map[string]any{"iss": id.Issuer, "sub": id.Subject})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET "+prefix+"/login", l.Start())
	mux.Handle("GET "+prefix+"/callback", l.Callback())
}

// browser is a cookie-keeping client that stops at redirects; last holds
// the last redirect's target.
type browser struct {
	*http.Client
	last string
}

func newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{}
	b.Client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.last = req.URL.String()
		return http.ErrUseLastResponse
	}}
	return b
}

// callbackURL starts a login at start and returns the provider's redirect
// to the application's callback, not followed.
func (b *browser) callbackURL(t *testing.T, start string) *url.URL {
	t.Helper()
	get(t, b.Client, start)  // 302 to the provider
	get(t, b.Client, b.last) // the provider: 302 to the callback
	u, err := url.Parse(b.last)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// oauthError reads the error_description of a refusal.
func oauthError(body string) string {
	var e struct {
		Description string `json:"error_description"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.Description
}

// TestLoginAZP: the ID token's azp (OpenID Connect Core §3.1.3.7): with
// several audiences it must be present; when present it must be the
// client's id.
func TestLoginAZP(t *testing.T) {
	f := oidctest.New(t)
	cf := f.EnableCodeFlow("web", "s3cret")
	c := testenv.NewClock(time.Now())
	app, _ := loginApp(t, f, c)
	for name, tc := range map[string]struct {
		edit func(map[string]any)
		want int
	}{
		"azp the client":                    {func(m map[string]any) { m["azp"] = "web" }, 200},
		"several audiences, azp the client": {func(m map[string]any) { m["aud"], m["azp"] = []string{"web", "api"}, "web" }, 200},
		"azp another client":                {func(m map[string]any) { m["azp"] = "mallory" }, 401},
		"several audiences, azp another":    {func(m map[string]any) { m["aud"], m["azp"] = []string{"web", "mallory"}, "mallory" }, 401},
		"several audiences, no azp":         {func(m map[string]any) { m["aud"] = []string{"web", "mallory"} }, 401},
		"an empty azp":                      {func(m map[string]any) { m["azp"] = "" }, 401},
		"azp not a string":                  {func(m map[string]any) { m["azp"] = []string{"web"} }, 401},
		"one audience in an array, no azp":  {func(m map[string]any) { m["aud"] = []string{"web"} }, 200},
		// Names in two cases, which encoding/json would read as one.
		"azp in two cases":   {func(m map[string]any) { m["azp"], m["AZP"] = "mallory", "web" }, 401},
		"azp in two cases 2": {func(m map[string]any) { m["azp"], m["Azp"] = "web", "mallory" }, 401},
		"nonce in two cases": {func(m map[string]any) { m["NONCE"] = "another" }, 401},
	} {
		t.Run(name, func(t *testing.T) {
			cf.IDToken = tc.edit
			b := newBrowser()
			u := b.callbackURL(t, app.URL+"/login")
			if status, body := get(t, b.Client, u.String()); status != tc.want {
				t.Errorf("%d %s, want %d", status, body, tc.want)
			}
		})
	}
}

// TestLoginIssParameter: the authorization response's iss (RFC 9207),
// the mix-up defence: when the provider advertises it, it must be there;
// when there, it must be the issuer.
func TestLoginIssParameter(t *testing.T) {
	for _, advertised := range []bool{true, false} {
		f := oidctest.New(t)
		f.IssParameter.Store(advertised)
		cf := f.EnableCodeFlow("web", "s3cret")
		app, _ := loginApp(t, f, testenv.NewClock(time.Now()))
		for name, tc := range map[string]struct {
			iss       func(string) string
			edit      func(*url.URL)
			want      int
			wantAdver int // when advertised
		}{
			"the issuer":       {iss: func(iss string) string { return iss }, want: 200, wantAdver: 200},
			"none":             {iss: func(string) string { return "" }, want: 200, wantAdver: 400},
			"another issuer":   {iss: func(string) string { return "https://evil.example" }, want: 400, wantAdver: 400},
			"a trailing slash": {iss: func(iss string) string { return iss + "/" }, want: 400, wantAdver: 400},
			"two": {iss: func(iss string) string { return iss }, edit: func(u *url.URL) { u.RawQuery += "&iss=" + url.QueryEscape(f.Issuer()) },
				want: 400, wantAdver: 400},
			"an error response of another issuer": {iss: func(string) string { return "https://evil.example" }, edit: func(u *url.URL) {
				q := u.Query()
				q.Del("code")
				q.Set("error", "temporarily_unavailable")
				u.RawQuery = q.Encode()
			}, want: 400, wantAdver: 400},
		} {
			t.Run(fmt.Sprintf("advertised=%v/%s", advertised, name), func(t *testing.T) {
				cf.Iss = tc.iss
				b := newBrowser()
				u := b.callbackURL(t, app.URL+"/login")
				if tc.edit != nil {
					tc.edit(u)
				}
				want := tc.want
				if advertised {
					want = tc.wantAdver
				}
				if status, body := get(t, b.Client, u.String()); status != want {
					t.Errorf("%d %s, want %d", status, body, want)
				}
			})
		}
	}
}

// TestLoginCookiePerProvider: two logins sharing a cookie key, through
// two providers, each keep a cookie of their own: a login started at one
// does not end the other's, and neither opens the other's state.
func TestLoginCookiePerProvider(t *testing.T) {
	fa, fb := oidctest.New(t), oidctest.New(t)
	fa.EnableCodeFlow("web", "s3cret")
	fb.EnableCodeFlow("web", "s3cret")
	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)
	mountLogin(t, mux, app.URL, "/a", fa)
	mountLogin(t, mux, app.URL, "/b", fb)

	// Both started in one browser (two tabs), then both completed.
	b := newBrowser()
	ua := b.callbackURL(t, app.URL+"/a/login")
	ub := b.callbackURL(t, app.URL+"/b/login")
	appURL, _ := url.Parse(app.URL)
	if cookies := b.Jar.Cookies(appURL); len(cookies) != 2 || cookies[0].Name == cookies[1].Name {
		t.Errorf("the cookies of two logins: %v, want two of different names", cookies)
	}
	if status, body := get(t, b.Client, ua.String()); status != 200 || !strings.Contains(body, fa.Issuer()) {
		t.Errorf("A's callback after B's login started: %d %s", status, body)
	}
	if status, body := get(t, b.Client, ub.String()); status != 200 || !strings.Contains(body, fb.Issuer()) {
		t.Errorf("B's callback: %d %s", status, body)
	}

	// A's state, sealed under the shared key, presented to B's callback
	// under B's cookie name: it does not open there.
	b = newBrowser()
	b.callbackURL(t, app.URL+"/b/login")
	nameB := b.Jar.Cookies(appURL)[0].Name
	a := newBrowser()
	ua = a.callbackURL(t, app.URL+"/a/login")
	sealedA := a.Jar.Cookies(appURL)[0].Value
	req, _ := http.NewRequest("GET", app.URL+"/b/callback?"+ua.RawQuery, nil)
	req.AddCookie(&http.Cookie{Name: nameB, Value: sealedA})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(oauthError(string(body)), "no login in progress") {
		t.Errorf("A's sealed state at B's callback: %d %s, want 400 (no login in progress)", resp.StatusCode, body)
	}
}
