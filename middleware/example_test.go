package middleware_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

func Example() {
	signer := tokentest.MustSigner(token.EdDSA)
	clock := func() time.Time { return now }
	verifier, _ := token.NewVerifier(tokentest.KeySet(signer), token.VerifierConfig{
		Issuer: tokentest.Issuer, Audience: tokentest.Audience, Now: clock,
	})
	auth, _ := middleware.New(middleware.Config{
		JWT:   map[string]middleware.Verifier{tokentest.Issuer: verifier},
		Realm: "example",
	})

	r := chi.NewRouter()
	r.Use(auth.Middleware)
	r.With(auth.RequireScopes("widgets:read")).Get("/widgets", func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "widgets for %s (%s)", p.Subject, p.Method)
	})
	r.With(auth.RequireScopes("widgets:admin")).Delete("/widgets", func(http.ResponseWriter, *http.Request) {})
	srv := httptest.NewServer(r)
	defer srv.Close()

	call := func(method, tok string) {
		req, _ := http.NewRequest(method, srv.URL+"/widgets", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, _ := http.DefaultClient.Do(req)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(strings.TrimSpace(fmt.Sprint(resp.StatusCode, " ", resp.Header.Get("WWW-Authenticate"))))
		if resp.StatusCode == 200 {
			fmt.Println(string(body))
		}
	}
	good := signer.Mint(now, nil) // scopes widgets:read widgets:write
	call("GET", good)
	call("GET", "")
	call("GET", good+"x")
	call("DELETE", good)
	// Output:
	// 200
	// widgets for user-1 (jwt)
	// 401 Bearer realm="example"
	// 401 Bearer realm="example", error="invalid_token", error_description="the access token is invalid, expired or revoked"
	// 403 Bearer realm="example", error="insufficient_scope", error_description="the access token lacks the required scope", scope="widgets:admin"
}
