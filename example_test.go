package sessionless_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/go-chi/chi/v5"
	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
)

// get calls url with a bearer token and prints the status and body.
func get(url, bearer string) {
	req, _ := http.NewRequest("GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s", resp.StatusCode, body)
}

func init() { // the examples' secret; yours comes from your vault
	os.Setenv("TOKEN_SECRET", "Vh2WnqHb7Q0cZk1xT9uRjLpA4sYdE6gM")
}

// Protect a net/http ServeMux API with tokens signed by an HMAC secret.
func ExampleNew() {
	secret := []byte(os.Getenv("TOKEN_SECRET")) // 32+ random bytes, the same on every instance
	auth, err := sessionless.New(sessionless.Config{Issuer: "https://api.example", Audience: "api", HMACSecret: secret})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	mux := http.NewServeMux()
	list := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		fmt.Fprintln(w, "widgets of", p.Subject)
	})
	mux.Handle("GET /widgets", auth.Middleware(auth.RequireScopes("widgets:read")(list)))

	// Your login issues the tokens (or mount package token/endpoint).
	raw, _, err := auth.Issuer.Issue(token.Claims{Subject: "user-42", Scope: "widgets:read"})
	if err != nil {
		log.Fatal(err)
	}

	srv := httptest.NewServer(mux)
	defer srv.Close()
	get(srv.URL+"/widgets", raw)
	get(srv.URL+"/widgets", "")
	// Output:
	// 200 widgets of user-42
	// 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"authentication required"}
}

// Protect a chi API with tokens signed by an Ed25519 key file, and publish
// its public key for other services.
func ExampleNew_keyFile() {
	keyFile := writeKeyFile() // your key, made once by token.LoadOrCreateKeyFile
	defer os.Remove(keyFile)

	auth, err := sessionless.New(sessionless.Config{Issuer: "https://api.example", Audience: "api", KeyFile: keyFile})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	r := chi.NewRouter()
	r.Handle("/.well-known/jwks.json", auth.JWKS())
	r.Group(func(r chi.Router) {
		r.Use(auth.Middleware)
		r.With(auth.RequireScopes("widgets:write")).Post("/widgets", func(w http.ResponseWriter, r *http.Request) {})
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			p, _ := middleware.PrincipalFrom(r.Context())
			fmt.Fprintln(w, p.Subject, p.Scopes)
		})
	})

	raw, _, err := auth.Issuer.Issue(token.Claims{Subject: "user-42", Scope: "widgets:read"})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()
	get(srv.URL+"/me", raw)
	// Output:
	// 200 user-42 [widgets:read]
}

func writeKeyFile() string {
	dir, err := os.MkdirTemp("", "example-keys-")
	if err != nil {
		log.Fatal(err)
	}
	f := filepath.Join(dir, "signing-key.pem")
	if _, _, err := token.LoadOrCreateKeyFile(f, token.EdDSA); err != nil { // 0600, never overwritten
		log.Fatal(err)
	}
	return f
}
