package endpoint_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token/endpoint"
)

// BenchmarkCodeFlow: the server's cost of a whole authorization code
// flow with PKCE for a first-party client — the authorization request
// (checked, sealed, the login page rendered), the login form (the sealed
// request opened, the throttle, the password checked, a code issued and
// stored), and the token request (the code redeemed, an access token
// signed, a refresh family started) — in process, without the network,
// with memory stores. The password check uses the cheapest argon2id
// (64 KiB, one pass), measured alone in "password" so that it can be
// subtracted: a real deployment pays password.DefaultParams there.
func BenchmarkCodeFlow(b *testing.B) {
	e := newAuthzEnv(b, func(c *endpoint.Config) {
		c.Throttle = endpoint.ThrottleConfig{Username: endpoint.Rate{Burst: 1 << 30, Every: time.Millisecond},
			Address: endpoint.Rate{Burst: 1 << 30, Every: time.Millisecond}, MaxHashesPerUsername: 64, MaxHashesPerAddress: 64}
		c.Logger = nil
		c.Hooks = endpoint.Hooks{}
	})
	h := e.ts.Config.Handler
	verifier, challenge := pkce()
	authz := "/auth/authorize?" + authzRequest("spa", spaRedirect, challenge).Encode()
	serve := func(method, target, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		if body != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	page := serve("GET", authz, "")
	sealed := sealedField.FindStringSubmatch(page.Body.String())[1]
	login := url.Values{"request": {sealed}, "action": {"login"}, "username": {"alice"}, "password": {secret}}.Encode()
	code := func() string {
		w := serve("POST", "/auth/authorize", login)
		loc, _ := url.Parse(w.Header().Get("Location"))
		return loc.Query().Get("code")
	}
	exchange := func(c string) *httptest.ResponseRecorder {
		return serve("POST", "/auth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {c},
			"redirect_uri": {spaRedirect}, "code_verifier": {verifier}}.Encode())
	}
	if w := exchange(code()); w.Code != http.StatusOK {
		b.Fatalf("the flow does not work: %d %s", w.Code, w.Body)
	}
	b.Run("whole flow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve("GET", authz, "")
			if w := exchange(code()); w.Code != http.StatusOK {
				b.Fatal(w.Body)
			}
		}
	})
	b.Run("authorization request", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve("GET", authz, "")
		}
	})
	b.Run("login form", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			code()
		}
	})
	b.Run("token request", func(b *testing.B) {
		codes := make([]string, 0, 1024)
		b.ReportAllocs()
		for b.Loop() {
			if len(codes) == 0 {
				b.StopTimer()
				for range cap(codes) {
					codes = append(codes, code())
				}
				b.StartTimer()
			}
			exchange(codes[len(codes)-1])
			codes = codes[:len(codes)-1]
		}
	})
	b.Run("password", func(b *testing.B) {
		hash, _ := e.passwords.Hash(context.Background(), secret)
		b.ReportAllocs()
		for b.Loop() {
			e.passwords.Verify(context.Background(), hash, secret)
		}
	})
}
