package sessionless_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token/endpoint"
)

// TestShortPathCookies: with Endpoints.Cookies, New points the middleware
// at the access cookie and shares one origin check: a cookie-mode login
// authenticates the next request by its cookie, devices are mounted, and
// another origin is refused; a trusted origin of the middleware's is
// trusted at the login too.
func TestShortPathCookies(t *testing.T) {
	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin("https://app.example"); err != nil {
		t.Fatal(err)
	}
	a, err := sessionless.New(sessionless.Config{Issuer: "https://api.example", Audience: "api", HMACSecret: secret,
		Endpoints:  &endpoint.Config{Users: users, Passwords: cheap, Cookies: &endpoint.CookieConfig{}},
		Middleware: middleware.Config{CrossOrigin: cop}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(t.Context()) })
	srv := serveMe(t, a)
	login := func(origin string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/auth/login", strings.NewReader(`{"username": "alice", "password": "correct horse"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(endpoint.TokenDeliveryHeader, endpoint.CookieDelivery)
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := login("https://evil.example"); resp.StatusCode != 403 {
		t.Fatalf("login from another site: %d", resp.StatusCode)
	}
	resp := login("https://app.example")
	if resp.StatusCode != 200 {
		t.Fatalf("login from the trusted origin: %d", resp.StatusCode)
	}
	var access *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == endpoint.DefaultAccessCookie {
			access = c
		}
	}
	if access == nil {
		t.Fatalf("no access cookie in %v", resp.Cookies())
	}
	for _, path := range []string{"/me", "/auth/devices"} {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: access.Name, Value: access.Value})
		rec := httptest.NewRecorder()
		srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("GET %s by cookie: %d %v", path, rec.Code, rec.Header())
		}
	}

	// A middleware cookie of another name is refused.
	_, err = sessionless.New(sessionless.Config{Issuer: "https://api.example", Audience: "api", HMACSecret: secret,
		Endpoints:  &endpoint.Config{Users: users, Passwords: cheap, Cookies: &endpoint.CookieConfig{}},
		Middleware: middleware.Config{CookieName: "__Host-other"}})
	if err == nil || !strings.Contains(err.Error(), "CookieName") {
		t.Fatalf("two cookie names: %v", err)
	}
}
