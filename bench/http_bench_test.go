package bench

import (
	"context"
	"crypto/ecdsa"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/go-chi/jwtauth/v5"

	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
)

// widgetsJSON is what the protected route answers: a small JSON list, as
// the demo's GET /api/widgets does.
var widgetsJSON = []byte(`{"widgets":[{"id":"1","name":"sprocket"},{"id":"2","name":"gear"}]}` + "\n")

func widgets(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(widgetsJSON)
}

const (
	httpIssuer   = "https://api.example"
	httpAudience = "api"
)

// BenchmarkHTTP sends GET /api/widgets over loopback HTTP (keep-alive, one
// connection) to the same handler: unprotected, and protected by each
// library with the same ES256 key and token. sessionless serves the token
// from its verified-token cache (checking expiry and the key's trust on
// each hit); the peers verify the signature on every request.
func BenchmarkHTTP(b *testing.B) {
	key, err := token.GenerateKey(token.ES256)
	if err != nil {
		b.Fatal(err)
	}
	keys, _ := token.NewKeySet(key)
	iss, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: httpIssuer, Audience: []string{httpAudience}, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	raw, _, err := iss.Issue(token.Claims{Subject: "user-1", Scope: "widgets:read"})
	if err != nil {
		b.Fatal(err)
	}
	pub := key.PublicKey().(*ecdsa.PublicKey)

	verifier, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: httpIssuer, Audience: httpAudience})
	if err != nil {
		b.Fatal(err)
	}
	// As the demo does: a revocation list checked on every request, and
	// the route's scope required.
	list, err := revocation.Open(context.Background(), revocation.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer list.Close()
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{httpIssuer: verifier}, Revocation: list})
	if err != nil {
		b.Fatal(err)
	}
	v, err := validator.New(func(context.Context) (any, error) { return pub, nil }, validator.ES256, httpIssuer, []string{httpAudience})
	if err != nil {
		b.Fatal(err)
	}
	auth0 := jwtmiddleware.New(v.ValidateToken)
	ja := jwtauth.New("ES256", nil, pub)

	handler := http.HandlerFunc(widgets)
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{
		{"Unauthenticated", handler},
		{"Sessionless", auth.Middleware(auth.RequireScopes("widgets:read")(handler))},
		{"Auth0GoJWTMiddleware", auth0.CheckJWT(handler)},
		{"ChiJWTAuth", jwtauth.Verifier(ja)(jwtauth.Authenticator(ja)(handler))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			client := srv.Client()
			req, _ := http.NewRequest("GET", srv.URL+"/api/widgets", nil)
			req.Header.Set("Authorization", "Bearer "+raw)
			get := func() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			get() // the connection, and sessionless's cache, warm
			b.ReportAllocs()
			for b.Loop() {
				get()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
