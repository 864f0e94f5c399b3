package oidc_test

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
	"github.com/sessionless/sessionless/token"
)

// TestEd25519Names: a provider's Ed25519 key and tokens are accepted
// under either name of the algorithm (RFC 9864: "Ed25519" is EdDSA with
// the Ed25519 curve), in the JWKS, in the tokens' headers and in
// Config.Algorithms; neither name makes its key verify a token headed
// with another algorithm.
func TestEd25519Names(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	sign := func(alg string, claims map[string]any) string {
		h, _ := json.Marshal(map[string]any{"alg": alg, "kid": "ed", "typ": "at+jwt"})
		c, _ := json.Marshal(claims)
		in := oidctest.B64(h) + "." + oidctest.B64(c)
		return in + "." + oidctest.B64(ed25519.Sign(priv, []byte(in)))
	}
	c := testenv.NewClock(t0)
	for _, jwkAlg := range []string{"EdDSA", "Ed25519"} {
		jwks, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "use": "sig", "alg": jwkAlg, "x": oidctest.B64(pub)}}})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(jwks) }))
		defer srv.Close()
		for _, accepted := range []token.Algorithm{token.EdDSA, token.Ed25519} {
			p, err := oidc.New(oidc.Config{Issuer: "https://idp.example", Audiences: []string{"api"}, JWKSURL: srv.URL,
				Algorithms: []token.Algorithm{accepted}, Now: c.Now})
			if err != nil {
				t.Fatalf("Algorithms %s: %v", accepted, err)
			}
			claims := map[string]any{"iss": "https://idp.example", "sub": "alice", "aud": "api", "exp": t0.Add(time.Minute).Unix(), "iat": t0.Unix(), "jti": "j"}
			for _, alg := range []string{"EdDSA", "Ed25519"} {
				if pr, err := p.Authenticate(ctx, sign(alg, claims)); err != nil || pr.Subject != "alice" {
					t.Errorf("JWKS alg %s, accepting %s, token alg %s: %v", jwkAlg, accepted, alg, err)
				}
			}
			if _, err := p.Authenticate(ctx, sign("ES256", claims)); err == nil || !strings.Contains(err.Error(), "ES256") {
				t.Errorf("JWKS alg %s, accepting %s: a token headed ES256 signed by the Ed25519 key: %v", jwkAlg, accepted, err)
			}
		}
	}
}
