package middleware_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sessionless/sessionless/middleware"
)

// TestCookieCrossOrigin: a browser attaches the token cookie to requests
// of other origins by itself; an unsafe one is refused (403) before the
// token is verified. A token in the Authorization header, which no
// browser attaches, is not checked.
func TestCookieCrossOrigin(t *testing.T) {
	var rejected atomic.Pointer[error]
	e := newEnv(t, func(c *middleware.Config) {
		c.CookieName = "__Host-at"
		c.Hooks.OnRejected = func(_ *http.Request, err error) { rejected.Store(&err) }
	})
	good := e.signer.Mint(now, nil)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		fmt.Fprint(w, p.FromCookie)
	})
	srv := httptest.NewServer(e.auth.Middleware(ok))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		name, method, site, origin string
		cookie, header             string
		status                     int
		fromCookie                 bool
	}{
		{"cross-site POST", "POST", "cross-site", "", good, "", 403, false},
		{"same-site POST (another port, a sibling subdomain)", "POST", "same-site", "", good, "", 403, false},
		{"cross-site DELETE", "DELETE", "cross-site", "", good, "", 403, false},
		{"cross-site PATCH", "PATCH", "cross-site", "", good, "", 403, false},
		{"cross-site POST with a bad token: refused before verifying", "POST", "cross-site", "", "x.y.z", "", 403, false},
		{"POST from another Origin (no Sec-Fetch-Site)", "POST", "", "http://localhost:1", good, "", 403, false},
		{"same-origin POST", "POST", "same-origin", "", good, "", 200, true},
		{"POST the user typed (none)", "POST", "none", "", good, "", 200, true},
		{"POST from its own Origin", "POST", "", "http://" + host, good, "", 200, true},
		{"POST without browser headers (curl)", "POST", "", "", good, "", 200, true},
		{"cross-site GET", "GET", "cross-site", "https://evil.example", good, "", 200, true},
		{"same-site WebSocket handshake", "GET websocket", "same-site", "", good, "", 403, false},
		{"cross-site WebSocket handshake", "GET websocket", "", "https://evil.example", good, "", 403, false},
		{"same-origin WebSocket handshake", "GET websocket", "same-origin", "", good, "", 200, true},
		{"cross-site POST with the header", "POST", "cross-site", "https://evil.example", "", good, 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rejected.Store(nil)
			method, upgrade, _ := strings.Cut(tc.method, " ")
			req, _ := http.NewRequest(method, srv.URL+"/", nil)
			if upgrade != "" {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "h2c, WebSocket")
			}
			if tc.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "__Host-at", Value: tc.cookie})
			}
			if tc.header != "" {
				req.Header.Set("Authorization", "Bearer "+tc.header)
			}
			if tc.site != "" {
				req.Header.Set("Sec-Fetch-Site", tc.site)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			if tc.status == 403 {
				if err := *rejected.Load(); !errors.Is(err, middleware.ErrCrossOrigin) {
					t.Fatalf("reason %v", err)
				}
				if ch := resp.Header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="cross_origin"`) {
					t.Fatalf("challenge %q", ch)
				}
				return
			}
			if body != fmt.Sprint(tc.fromCookie) {
				t.Fatalf("FromCookie %s, want %v", body, tc.fromCookie)
			}
			// Personal data authenticated by a cookie is kept by no cache.
			if cc := resp.Header.Get("Cache-Control"); (cc == "no-store") != tc.fromCookie {
				t.Fatalf("Cache-Control %q with a credential from a cookie: %v", cc, tc.fromCookie)
			}
		})
	}

	// The handler's own Cache-Control wins.
	h := e.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
	}))
	req := httptest.NewRequest("GET", "https://api.example/", nil)
	req.AddCookie(&http.Cookie{Name: "__Host-at", Value: good})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if cc := rec.Header().Get("Cache-Control"); rec.Code != 200 || cc != "private, max-age=60" {
		t.Fatalf("%d, Cache-Control %q", rec.Code, cc)
	}
}

// TestCookieTrustedOrigin: Config.CrossOrigin trusts an origin of one's
// own, for the token cookie and, when the session names none, for the
// legacy session too.
func TestCookieTrustedOrigin(t *testing.T) {
	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin("https://app.example"); err != nil {
		t.Fatal(err)
	}
	e := newSessionEnv(t, func(c *middleware.Config) {
		c.CrossOrigin = cop
		c.Session.CacheAge = -1
	})
	good := e.signer.Mint(now, nil)
	h := e.auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tc := range []struct {
		origin, cookie, value string
		want                  int
	}{
		{"https://app.example", "at", good, 200},
		{"https://evil.example", "at", good, 403},
		{"https://app.example", "PHPSESSID", sessionValue, 200},
		{"https://evil.example", "PHPSESSID", sessionValue, 403},
	} {
		req := httptest.NewRequest("POST", "https://api.example/", nil)
		req.AddCookie(&http.Cookie{Name: tc.cookie, Value: tc.value})
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", tc.origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s from %s: %d, want %d", tc.cookie, tc.origin, rec.Code, tc.want)
		}
	}
}
