package middleware_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// FuzzCredential sends arbitrary Authorization headers, cookies and query
// strings through the middleware: it never panics, answers only with the
// statuses of RFC 6750, and every refusal wraps a sentinel.
func FuzzCredential(f *testing.F) {
	s := tokentest.MustSigner(token.EdDSA)
	good := s.Mint(now, nil)
	for _, seed := range []struct{ auth, cookie, query string }{
		{"Bearer " + good, "", ""}, {"bearer " + good, "", ""}, {"Bearer", "", ""}, {"Bearer  a b", "", ""},
		{"Basic dXNlcjpwdw==", "", ""}, {"", good, ""}, {"", "", "access_token=" + good},
		{"Bearer " + good, good, "access_token=x"}, {"Bearer a\"b", "", ""}, {"Bearer ===", "", ""},
		{"Bearer " + strings.Repeat("a", 9000), "", ""}, {"Bearer sl_x", "", ""}, {"Bearer a.b.c", "", ""},
	} {
		f.Add(seed.auth, seed.cookie, seed.query)
	}
	sentinels := []error{middleware.ErrNoCredentials, middleware.ErrInvalidRequest, middleware.ErrInvalidToken,
		middleware.ErrRevoked, middleware.ErrInsufficientScope, middleware.ErrUnavailable}
	var reason error
	a, err := middleware.New(middleware.Config{
		JWT:        map[string]middleware.Verifier{tokentest.Issuer: tokentest.Verifier(tokentest.KeySet(s), now)},
		CookieName: "at", QueryParam: "access_token",
		Hooks: middleware.Hooks{OnRejected: func(_ *http.Request, err error) { reason = err }},
	})
	if err != nil {
		f.Fatal(err)
	}
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := middleware.PrincipalFrom(r.Context()); !ok {
			panic("handler reached without a principal")
		}
	}))
	f.Fuzz(func(t *testing.T, auth, cookie, query string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.RawQuery = query
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if cookie != "" {
			r.Header.Set("Cookie", "at="+cookie)
		}
		reason = nil
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200:
			return
		case 400, 401:
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
