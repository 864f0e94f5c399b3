package sessionless_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
)

// Protect a chi API three ways at once: with its own tokens, with an
// OpenID Connect provider's, and with the API tokens its users make for
// scripts (managed at /auth/api-tokens).
func Example() {
	idp := startProvider() // your Keycloak, Auth0, Zitadel…: here one on this machine
	defer idp.Close()
	providerURL := idp.Issuer() // such as https://sso.example/realms/acme

	auth, err := sessionless.New(sessionless.Config{
		Issuer: "https://api.example", Audience: "api", HMACSecret: []byte(os.Getenv("TOKEN_SECRET")),
		Providers: []oidc.Config{{Issuer: providerURL}}, // its access tokens for "api"
		APITokens: &apitoken.Config{},                   // sl_… tokens, made at POST /auth/api-tokens
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Shutdown(context.Background()) // once the server has stopped: Serve does both
	r := chi.NewRouter()
	auth.Mount(r, "/auth")
	r.With(auth.Middleware).Get("/me", func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		fmt.Fprintln(w, p.Subject, p.Method)
	})
	// A main would now run, until SIGINT or SIGTERM:
	//	err = sessionless.Serve(context.Background(), &http.Server{Addr: ":8080", Handler: r}, auth)

	srv := httptest.NewServer(r)
	defer srv.Close()
	own, _, _ := auth.Issuer.Issue(token.Claims{Subject: "alice", Scope: "tokens:manage"})
	provided, _ := idp.Mint("bob", "", "api", time.Minute)
	get(srv.URL+"/me", own)
	get(srv.URL+"/me", provided)
	get(srv.URL+"/me", makeAPIToken(srv.URL+"/auth/api-tokens", own))
	// Output:
	// 200 alice jwt
	// 200 bob oidc
	// 200 alice apitoken
}

// Log users in, refresh and log out with the endpoints of token/endpoint,
// their refresh tokens and revocations in a SQLite file.
func Example_endpoints() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	auth, err := sessionless.New(sessionless.Config{
		Issuer: "https://api.example", Audience: "api", HMACSecret: []byte(os.Getenv("TOKEN_SECRET")),
		Database:  filepath.Join(dir, "auth.db"), // or postgres://…: shared by every instance
		Endpoints: &endpoint.Config{Users: users, Passwords: cheap},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Shutdown(context.Background())
	mux := http.NewServeMux()
	auth.Mount(mux, "/auth") // POST /auth/login, /token, /revoke, /logout, /logout-all
	mux.Handle("GET /me", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		fmt.Fprintln(w, p.Subject)
	})))

	srv := httptest.NewServer(mux)
	defer srv.Close()
	tokens := post(srv.URL+"/auth/login", "", "application/json", `{"username": "alice", "password": "correct horse"}`)
	get(srv.URL+"/me", tokens["access_token"])
	refreshed := post(srv.URL+"/auth/token", "", "application/x-www-form-urlencoded",
		"grant_type=refresh_token&client_id=sessionless&refresh_token="+tokens["refresh_token"])
	post(srv.URL+"/auth/logout", refreshed["access_token"], "", "")
	get(srv.URL+"/me", refreshed["access_token"])
	// Output:
	// 200 usr_alice
	// 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"the access token is invalid, expired or revoked","error":"invalid_token"}
}

// startProvider starts a local OpenID Connect provider (oidctest.Server),
// standing in for a real one.
func startProvider() *oidctest.Server {
	idp, err := oidctest.Start(oidctest.ServerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	return idp
}

// makeAPIToken creates an API token with the access token own and returns
// it.
func makeAPIToken(url, own string) string {
	return post(url, own, "application/json", `{"name": "ci"}`)["token"]
}

// post sends body to url (with a bearer token when given) and returns
// the string members of the JSON answer.
func post(url, bearer, contentType, body string) map[string]string {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	strs := map[string]string{}
	for k, v := range out {
		if s, ok := v.(string); ok {
			strs[k] = s
		}
	}
	return strs
}

// cheap hashes passwords fast: for the example only (the default is
// argon2id with RFC 9106's parameters).
var cheap, _ = password.New(password.Config{Params: password.Params{Memory: 64, Time: 1, Threads: 1}})

// exampleUsers is the example's user store: yours is your users table.
type exampleUsers map[string]endpoint.User

var users = func() exampleUsers {
	hash, err := cheap.Hash(context.Background(), "correct horse")
	if err != nil {
		log.Fatal(err)
	}
	return exampleUsers{"alice": {Subject: "usr_alice", PasswordHash: hash, Scopes: []string{"widgets:read", "tokens:manage"}}}
}()

func (u exampleUsers) UserByName(_ context.Context, name string) (endpoint.User, error) {
	if user, ok := u[name]; ok {
		return user, nil
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

func (u exampleUsers) UserBySubject(_ context.Context, subject string) (endpoint.User, error) {
	for _, user := range u {
		if user.Subject == subject {
			return user, nil
		}
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}
