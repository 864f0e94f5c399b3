package token_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"github.com/sessionless/sessionless/token"
)

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(k *rsa.PublicKey, members map[string]any) map[string]any {
	j := map[string]any{"kty": "RSA", "n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())}
	for n, v := range members {
		j[n] = v
	}
	return j
}

func jwkSet(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestParseJWKSet(t *testing.T) {
	r1, _ := rsa.GenerateKey(rand.Reader, 2048)
	r2, _ := rsa.GenerateKey(rand.Reader, 2048)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecx, _ := ec.PublicKey.Bytes()
	ecJWK := map[string]any{"kty": "EC", "crv": "P-256", "kid": "ec", "x": b64u(ecx[1:33]), "y": b64u(ecx[33:])}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64u(edPub)}
	rs := []token.Algorithm{token.RS256}

	doc := jwkSet(
		rsaJWK(&r1.PublicKey, map[string]any{"kid": "a", "alg": "RS256", "use": "sig"}),
		rsaJWK(&r2.PublicKey, map[string]any{"kid": "b"}),                                 // no alg: RS256, the one accepted RSA algorithm
		rsaJWK(&r2.PublicKey, map[string]any{"kid": "enc", "use": "enc"}),                 // encryption key
		rsaJWK(&weak.PublicKey, map[string]any{"kid": "weak", "alg": "RS256"}),            // 1024 bits
		rsaJWK(&r1.PublicKey, map[string]any{"kid": "ps", "alg": "PS256"}),                // not accepted
		map[string]any{"kty": "oct", "kid": "secret", "k": b64u(make([]byte, 32))},        // a secret
		rsaJWK(&r1.PublicKey, map[string]any{"kid": "priv", "d": "AQAB", "alg": "RS256"}), // private members
		ecJWK, edJWK, // types the list has no algorithm for
	)
	set, skipped, err := token.ParseJWKSet(doc, token.JWKSetOptions{Algorithms: rs})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys()) != 2 || len(skipped) != 7 {
		t.Fatalf("%d keys, %d skipped (%v); want 2 and 7", len(set.Keys()), len(skipped), skipped)
	}
	for _, kid := range []string{"a", "b"} {
		if k, ok := set.Key(kid); !ok || k.Algorithm() != token.RS256 {
			t.Errorf("key %q: %v", kid, k)
		}
	}
	// No alg with two fitting algorithms: ambiguous, skipped.
	if _, _, err := token.ParseJWKSet(jwkSet(rsaJWK(&r2.PublicKey, map[string]any{"kid": "b"})),
		token.JWKSetOptions{Algorithms: []token.Algorithm{token.RS256, token.PS256}}); !errors.Is(err, token.ErrInvalidKey) {
		t.Errorf("an RSA key without alg, RS256 and PS256 accepted: %v", err)
	}
	// EC and EdDSA keys without alg take the one fitting algorithm.
	set2, _, err := token.ParseJWKSet(jwkSet(ecJWK, edJWK), token.JWKSetOptions{Algorithms: []token.Algorithm{token.ES256, token.ES384, token.EdDSA}})
	if err != nil || len(set2.Keys()) != 2 {
		t.Fatalf("EC and OKP keys: %v", err)
	}
	if k, _ := set2.Key("ec"); k.Algorithm() != token.ES256 {
		t.Errorf("P-256 key got %s", k.Algorithm())
	}
	// A kid used twice: both skipped.
	dup, skipped, err := token.ParseJWKSet(jwkSet(
		rsaJWK(&r1.PublicKey, map[string]any{"kid": "x"}), rsaJWK(&r2.PublicKey, map[string]any{"kid": "x"}),
		rsaJWK(&r1.PublicKey, map[string]any{"kid": "y"})), token.JWKSetOptions{Algorithms: rs})
	if err != nil || len(dup.Keys()) != 1 || len(skipped) != 2 {
		t.Errorf("a duplicated kid: %v keys, %v", dup, skipped)
	}
	// Previous: an unchanged key stays the same *Key.
	again, _, err := token.ParseJWKSet(doc, token.JWKSetOptions{Algorithms: rs, Previous: set})
	if err != nil {
		t.Fatal(err)
	}
	ka, _ := set.Key("a")
	kb, _ := again.Key("a")
	if ka != kb {
		t.Error("an unchanged key was not carried over from Previous")
	}
	changed, _, _ := token.ParseJWKSet(jwkSet(rsaJWK(&r2.PublicKey, map[string]any{"kid": "a", "alg": "RS256"})), token.JWKSetOptions{Algorithms: rs, Previous: set})
	if kc, _ := changed.Key("a"); kc == ka {
		t.Error("a kid with another key was carried over")
	}
	for name, bad := range map[string]string{
		"not JSON":          `{"keys":`,
		"no keys member":    `{"Keys":[]}`,
		"keys not an array": `{"keys":{}}`,
		"keys twice":        `{"keys":[],"keys":[]}`,
		"no usable key":     `{"keys":[]}`,
		"an array":          `[]`,
	} {
		if _, _, err := token.ParseJWKSet([]byte(bad), token.JWKSetOptions{Algorithms: rs}); !errors.Is(err, token.ErrInvalidKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := token.ParseJWKSet(doc, token.JWKSetOptions{}); !errors.Is(err, token.ErrConfig) {
		t.Errorf("no algorithms: %v", err)
	}
}
