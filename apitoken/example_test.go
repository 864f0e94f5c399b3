package apitoken_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/revocation"
)

// An API with API tokens: the manager verifies the sl_ prefix for the
// middleware, and its handlers let a caller with tokens:manage create,
// list and revoke its tokens. Here a fixed "session" token stands in for
// the application's logins (first-party JWTs in a real one).
func Example() {
	ctx := context.Background()
	list, err := revocation.Open(ctx, revocation.Config{}) // shared by instances through sqlstore or redisstore
	if err != nil {
		log.Fatal(err)
	}
	defer list.Close()
	tokens, err := apitoken.New(apitoken.Config{
		Store:         apitoken.NewMemoryStore(),
		SubjectIssuer: "https://api.example", // whose subjects own tokens: the application's logins
		// The audience of the logins' access tokens (token.IssuerConfig.Audience):
		// a token asked for one resource (RFC 8707) may not create API tokens.
		CreatorAudiences: []string{"api"},
		Revoker:          list,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer tokens.Close()

	alice := &identity.Principal{Subject: "alice", Issuer: "https://api.example", Method: identity.JWT,
		Scopes: []string{"widgets:read", "widgets:write", "tokens:manage"}}
	auth, err := middleware.New(middleware.Config{
		Prefixes: map[string]middleware.Verifier{
			tokens.Prefix(): tokens,
			"login_": middleware.VerifierFunc(func(_ context.Context, raw string) (*identity.Principal, error) {
				if raw != "login_alice" {
					return nil, fmt.Errorf("unknown login")
				}
				return alice, nil
			}),
		},
		Revocation: list,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	tokens.Handlers(apitoken.HandlerConfig{}).Mount(mux, "/api/tokens", auth.Middleware)
	mux.Handle("GET /api/me", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := identity.FromContext(r.Context())
		fmt.Fprintf(w, "%s by %s with %v\n", p.Subject, p.Method, p.Scopes)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	call := func(method, path, bearer, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bearer)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	status, body := call("POST", "/api/tokens", "login_alice", `{"name": "CI", "scopes": ["widgets:read"], "expires_in": 86400}`)
	fmt.Println("create:", status)
	tok := regexp.MustCompile(`"token":"(sl_[0-9A-Za-z]{36})"`).FindStringSubmatch(body)[1]
	id := regexp.MustCompile(`"id":"([0-9a-f]+)"`).FindStringSubmatch(body)[1]

	status, body = call("GET", "/api/me", tok, "")
	fmt.Print("with the API token: ", status, " ", body)
	status, _ = call("POST", "/api/tokens", "login_alice", `{"name": "admin", "scopes": ["admin"]}`)
	fmt.Println("a scope alice lacks:", status)
	status, _ = call("DELETE", "/api/tokens/"+id, "login_alice", "")
	fmt.Println("revoke:", status)
	status, _ = call("GET", "/api/me", tok, "")
	fmt.Println("revoked token:", status)
	fmt.Println("scanners match:", apitoken.Pattern(tokens.Prefix()))
	// Output:
	// create: 201
	// with the API token: 200 alice by apitoken with [widgets:read]
	// a scope alice lacks: 403
	// revoke: 204
	// revoked token: 401
	// scanners match: \bsl_[0-9A-Za-z]{36}\b
}
