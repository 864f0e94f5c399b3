package oidc_test

import (
	"encoding/json"
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
			json.NewEncoder(w).Encode(map[string]any{"iss": id.Issuer, "sub": id.Subject, "username": id.Username, "email": id.Email})
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
