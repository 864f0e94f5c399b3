package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"math/big"
	"time"

	"github.com/sessionless/sessionless/dpop"
)

// A client signs a DPoP proof for each request with its own P-256 key; the
// server checks it. This is the whole client side: a proof is a JWS with
// typ dpop+jwt, the public key in the header, and the request's method,
// URL, time, a unique jti and the hash of the access token in the claims.
func Example() {
	// Client: one key for the session of the app, kept in memory.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b64 := base64.RawURLEncoding
	pad := func(n *big.Int) string { return b64.EncodeToString(n.FillBytes(make([]byte, 32))) }
	proof := func(method, url, accessToken string) string {
		header, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256",
			"jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": pad(key.X), "y": pad(key.Y)}})
		claims := map[string]any{"jti": rand.Text(), "htm": method, "htu": url, "iat": time.Now().Unix()}
		if accessToken != "" {
			sum := sha256.Sum256([]byte(accessToken))
			claims["ath"] = b64.EncodeToString(sum[:])
		}
		payload, _ := json.Marshal(claims)
		input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
		digest := sha256.Sum256([]byte(input))
		r, s, _ := ecdsa.Sign(rand.Reader, key, digest[:])
		return input + "." + b64.EncodeToString(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
	}

	// Server: a verifier with a replay cache (dpop/redisreplay for several
	// instances).
	v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil)})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// 1. POST /auth/token with a DPoP header: the tokens get cnf.jkt.
	p, err := v.Verify(ctx, proof("POST", "https://api.example/auth/token", ""), dpop.Request{Method: "POST", URL: "https://api.example/auth/token"})
	fmt.Println("token request proof:", err == nil, len(p.JKT) == 43)
	// 2. GET /api/me with Authorization: DPoP <token> and a new proof.
	const access = "eyJ…the access token"
	req := dpop.Request{Method: "GET", URL: "https://api.example/api/me", AccessToken: access}
	one := proof("GET", "https://api.example/api/me", access)
	_, err = v.Verify(ctx, one, req)
	fmt.Println("request proof:", err == nil)
	_, err = v.Verify(ctx, one, req)
	fmt.Println("the same proof again:", err)
	// Output:
	// token request proof: true true
	// request proof: true
	// the same proof again: dpop: proof replayed
}
