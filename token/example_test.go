package token_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"time"

	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// exampleKey is a fixed Ed25519 key (RFC 8037 A.1), so the outputs below
// do not change.
func exampleKey() *token.Key {
	seed, _ := tokentest.Decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	k, err := token.NewKey(ed25519.NewKeyFromSeed(seed), token.KeyOptions{})
	if err != nil {
		panic(err)
	}
	return k
}

var exampleNow = func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }

func Example() {
	keys, _ := token.NewKeySet(exampleKey())
	issuer, _ := token.NewIssuer(keys, token.IssuerConfig{
		Issuer: "https://api.example", Audience: []string{"api"}, TTL: 15 * time.Minute, Now: exampleNow,
	})
	verifier, _ := token.NewVerifier(keys, token.VerifierConfig{
		Issuer: "https://api.example", Audience: "api", Now: exampleNow,
	})

	raw, _, err := issuer.Issue(token.Claims{Subject: "user-42", Scope: "widgets:read widgets:write", Roles: []string{"admin"}})
	if err != nil {
		panic(err)
	}
	claims, err := verifier.Verify(raw)
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.Subject, claims.HasScope("widgets:write"), claims.HasRole("admin"), claims.ExpiresAt)

	_, err = verifier.Verify(raw + "x")
	fmt.Println(errors.Is(err, token.ErrSignature))
	// Output:
	// user-42 true true 2026-11-22 12:15:00 +0000 UTC
	// true
}

func ExampleVerifier_Verify_errors() {
	keys, _ := token.NewKeySet(exampleKey())
	issuer, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: "https://api.example", Audience: []string{"api"}, Now: exampleNow})
	raw, _, _ := issuer.Issue(token.Claims{Subject: "user-42"})

	later := func() time.Time { return exampleNow().Add(time.Hour) }
	verifier, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: "https://api.example", Audience: "api", Now: later})
	_, err := verifier.Verify(raw)
	switch {
	case errors.Is(err, token.ErrExpired):
		fmt.Println("expired: ask the client to refresh")
	case err != nil:
		fmt.Println("rejected")
	}
	// Output: expired: ask the client to refresh
}

func ExampleClaims_Decode() {
	keys, _ := token.NewKeySet(exampleKey())
	issuer, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: "https://api.example", Audience: []string{"api"}, Now: exampleNow})
	verifier, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: "https://api.example", Audience: "api", Now: exampleNow})

	raw, _, _ := issuer.Issue(token.Claims{Subject: "user-42", Extra: map[string]any{"tenant_id": "acme"}})
	claims, _ := verifier.Verify(raw)
	var custom struct {
		TenantID string `json:"tenant_id"`
	}
	if err := claims.Decode(&custom); err != nil {
		panic(err)
	}
	fmt.Println(custom.TenantID)
	// Output: acme
}

// Rotation without invalidating live tokens: publish, switch, retire.
func ExampleKeySet_WithSigningKey() {
	oldKey := exampleKey()
	set, _ := token.NewKeySet(oldKey)
	ring, _ := token.NewKeyRing(set)
	issuer, _ := token.NewIssuer(ring, token.IssuerConfig{Issuer: "https://api.example", Audience: []string{"api"}, Now: exampleNow})
	verifier, _ := token.NewVerifier(ring, token.VerifierConfig{Issuer: "https://api.example", Audience: "api", Now: exampleNow})
	live, _, _ := issuer.Issue(token.Claims{Subject: "user-42"})

	newKey, _ := token.GenerateKey(token.ES256)
	set, _ = set.WithVerificationKey(newKey) // 1. publish (JWKS), wait for caches
	set, _ = set.WithSigningKey(newKey)      // 2. sign with the new key
	ring.Store(set)
	_, err := verifier.Verify(live)
	fmt.Println("old token still valid:", err == nil)

	set, _ = set.Without(oldKey.ID()) // 3. after the longest token lifetime
	ring.Store(set)
	_, err = verifier.Verify(live)
	fmt.Println("after retirement:", errors.Is(err, token.ErrUnknownKey))
	// Output:
	// old token still valid: true
	// after retirement: true
}

func ExampleJWKSHandler() {
	keys, _ := token.NewKeySet(exampleKey())
	rec := httptest.NewRecorder()
	token.JWKSHandler(keys, 0).ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	body, _ := io.ReadAll(rec.Body)
	fmt.Println(rec.Header().Get("Cache-Control"))
	fmt.Println(string(body))
	// Output:
	// public, max-age=300
	// {"keys":[{"kty":"OKP","use":"sig","alg":"EdDSA","kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}
}

// RFC 9864's "Ed25519" is EdDSA under its fully-specified name: a JWK or
// a token header may say either, for an Ed25519 key only.
func ExampleAlgorithm_Equal() {
	fmt.Println(token.EdDSA.Equal(token.Ed25519), token.Ed25519.Equal(token.ES256))
	k, err := token.ParseJWK([]byte(`{"kty":"OKP","crv":"Ed25519","alg":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`), token.KeyOptions{})
	fmt.Println(k.Algorithm(), err)
	_, err = token.ParseJWK([]byte(`{"kty":"EC","crv":"P-256","alg":"Ed25519","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`), token.KeyOptions{})
	fmt.Println(err)
	// Output:
	// true false
	// Ed25519 <nil>
	// token: invalid key: a ES256 key cannot be used with Ed25519
}
