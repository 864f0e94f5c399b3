package middleware_test

import (
	"net/http"
	"testing"

	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// BenchmarkCookie compares a cached request authenticated by the access
// token's cookie (cookie mode) with the same request by the
// Authorization header, for a safe method (GET: no origin check) and an
// unsafe one from the page's own origin (POST with Sec-Fetch-Site:
// same-origin: the cross-origin check runs and passes); "cross-origin
// check" is http.CrossOriginProtection.Check alone on that request, the
// floor of the check.
func BenchmarkCookie(b *testing.B) {
	s := tokentest.MustSigner(token.EdDSA)
	raw := s.Mint(now, nil)
	var hc hitCounter
	a, err := middleware.New(middleware.Config{
		JWT:        map[string]middleware.Verifier{tokentest.Issuer: tokentest.Verifier(tokentest.KeySet(s), now)},
		CookieName: "__Host-access",
		Hooks:      hc.hooks(),
		Now:        clockAt,
	})
	if err != nil {
		b.Fatal(err)
	}
	handler := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	request := func(method string, cookie bool) *http.Request {
		req, _ := http.NewRequest(method, "https://api.example/api/widgets", nil)
		if cookie {
			req.Header.Set("Cookie", "theme=dark; __Host-access="+raw)
		} else {
			req.Header.Set("Authorization", "Bearer "+raw)
		}
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		return req
	}
	for _, bc := range []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"GET/header", request("GET", false), 0},
		{"GET/cookie", request("GET", true), 0},
		{"POST/header", request("POST", false), 0},
		{"POST/cookie", request("POST", true), 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := &nopWriter{h: http.Header{}}
			handler.ServeHTTP(w, bc.req) // cached from now on
			hc = hitCounter{}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				handler.ServeHTTP(w, bc.req)
			}
			if hc.misses != 0 || hc.hits == 0 {
				b.Fatalf("hits %d, misses %d", hc.hits, hc.misses)
			}
		})
	}
	b.Run("cross-origin-check", func(b *testing.B) {
		cop := http.NewCrossOriginProtection()
		req := request("POST", true)
		b.ReportAllocs()
		for b.Loop() {
			if err := cop.Check(req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
