package oidc_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
)

// FuzzAuthenticate: whatever the token, Authenticate does not panic, a
// token it accepts was signed by the provider (the fuzzer has no key), and
// a token not naming the provider's issuer causes no fetch.
func FuzzAuthenticate(f *testing.F) {
	idp := oidctest.New(f)
	c := testenv.NewClock(t0)
	p := newProvider(f, idp, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	good := keycloakToken(idp, t0, nil)
	if _, err := p.Authenticate(ctx, good); err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, raw string) {
		before := idp.JWKSFetches.Load() + idp.DiscoveryHits.Load()
		pr, err := p.Authenticate(ctx, raw)
		if err == nil && raw != good {
			t.Fatalf("a token the fuzzer made was accepted: %q (%+v)", raw, pr)
		}
		if errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("keys are known, yet: %v", err)
		}
		if errors.Is(err, oidc.ErrWrongIssuer) && idp.JWKSFetches.Load()+idp.DiscoveryHits.Load() != before {
			t.Fatal("a token of another issuer caused a fetch")
		}
	})
}

// FuzzCallback: whatever the query and the cookie, the callback answers a
// refusal, never the application's Complete, and does not panic.
func FuzzCallback(f *testing.F) {
	idp := oidctest.New(f)
	idp.EnableCodeFlow("web", "s3cret")
	l, err := oidc.NewLogin(oidc.LoginConfig{Issuer: idp.Issuer(), ClientID: "web", ClientSecret: "s3cret",
		RedirectURL: "http://app.example/callback", CookieKey: make([]byte, 32),
		Complete: func(w http.ResponseWriter, r *http.Request, id *oidc.Identity) { w.WriteHeader(299) }})
	if err != nil {
		f.Fatal(err)
	}
	h := l.Callback()
	// The login's cookie name, from a start.
	rec := httptest.NewRecorder()
	l.Start().ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		f.Fatalf("Start set %d cookies", len(cookies))
	}
	name := cookies[0].Name
	f.Add("state=abc&code=code-abcdefgh", "c2VhbGVk")
	f.Add("state=abc&code=code-abcdefgh&iss=x", cookies[0].Value)
	f.Add("state=x&state=y", "")
	f.Add("error=access_denied&state=a", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, query, cookie string) {
		if _, err := url.ParseQuery(query); err != nil {
			return
		}
		req := httptest.NewRequest("GET", "/callback", nil)
		req.URL.RawQuery = query
		req.Header.Set("Cookie", name+"="+cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 299 || rec.Code < 400 {
			t.Fatalf("query %q, cookie %q: %d", query, cookie, rec.Code)
		}
	})
}
