package token_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

func TestAlgorithmEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b token.Algorithm
		want bool
	}{
		{token.EdDSA, token.EdDSA, true},
		{token.EdDSA, token.Ed25519, true},
		{token.Ed25519, token.EdDSA, true},
		{token.Ed25519, token.Ed25519, true},
		{token.ES256, token.ES256, true},
		{token.Ed25519, token.ES256, false},
		{token.Ed25519, token.HS256, false},
		{token.EdDSA, "Ed448", false},
		{token.Ed25519, "Ed448", false},
		{token.Ed25519, "ed25519", false}, // names are exact (RFC 7515 §4.1.1)
		{token.ES256, token.ES384, false},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%s.Equal(%s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	for alg, want := range map[token.Algorithm]bool{
		token.EdDSA: true, token.Ed25519: true, token.ES512: true, token.PS256: true,
		token.HS256: false, "none": false, "Ed448": false, "": false,
	} {
		if got := alg.Asymmetric(); got != want {
			t.Errorf("%q.Asymmetric() = %v", alg, got)
		}
	}
}

// TestEd25519Name: RFC 9864's "Ed25519" is EdDSA under its fully-specified
// name. A token whose header says either verifies with an Ed25519 key of
// either name; neither name makes an ECDSA key or an HMAC secret verify.
func TestEd25519Name(t *testing.T) {
	ed := tokentest.MustSigner(token.EdDSA)
	es := tokentest.MustSigner(token.ES256)
	hs := tokentest.MustSigner(token.HS256)
	named, err := token.NewKey(ed.Private, token.KeyOptions{ID: "named", Algorithm: token.Ed25519})
	if err != nil {
		t.Fatalf("an Ed25519 key made for Ed25519: %v", err)
	}
	if named.Algorithm() != token.Ed25519 {
		t.Fatalf("Algorithm() = %s", named.Algorithm())
	}
	v := tokentest.Verifier(tokentest.KeySet(ed, es, hs, &tokentest.Signer{Key: named.Public()}), now)
	alg := func(a token.Algorithm) func(h, c map[string]any) { return set(map[string]any{"alg": string(a)}, nil) }
	kid := func(k *token.Key, a token.Algorithm) func(h, c map[string]any) {
		return set(map[string]any{"kid": k.ID(), "alg": string(a)}, nil)
	}
	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		// One algorithm, two names.
		{"header EdDSA, key EdDSA", ed.Mint(now, nil), nil},
		{"header Ed25519, key EdDSA", ed.Mint(now, alg(token.Ed25519)), nil},
		{"header Ed25519, key Ed25519", ed.Mint(now, kid(named, token.Ed25519)), nil},
		{"header EdDSA, key Ed25519", ed.Mint(now, kid(named, token.EdDSA)), nil},

		// The key's algorithm decides: Ed25519 never makes another key verify.
		{"header Ed25519, an ES256 key's kid, signed by it", es.Mint(now, alg(token.Ed25519)), token.ErrAlgorithm},
		{"header Ed25519, an ES256 key's kid, signed by the Ed25519 key", ed.Mint(now, kid(es.Key, token.Ed25519)), token.ErrAlgorithm},
		{"header Ed25519, an HMAC secret's kid, MACed", hs.Mint(now, alg(token.Ed25519)), token.ErrAlgorithm},
		{"header Ed25519, an HMAC secret's kid, signed by the Ed25519 key", ed.Mint(now, kid(hs.Key, token.Ed25519)), token.ErrAlgorithm},
		{"header EdDSA, an HMAC secret's kid", hs.Mint(now, alg(token.EdDSA)), token.ErrAlgorithm},
		{"header ES256, an Ed25519 key's kid", ed.Mint(now, kid(named, token.ES256)), token.ErrAlgorithm},
		{"header Ed448, an Ed25519 key's kid", ed.Mint(now, alg("Ed448")), token.ErrAlgorithm},
		{"header ed25519 in lower case", ed.Mint(now, alg("ed25519")), token.ErrAlgorithm},
		{"header Ed25519, another Ed25519 key's signature", tokentest.MustSigner(token.Ed25519).Mint(now, kid(ed.Key, token.Ed25519)), token.ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(tc.token)
			if !errors.Is(err, tc.want) || (err == nil) != (c != nil) {
				t.Fatalf("Verify() = %v, %v; want %v", c, err, tc.want)
			}
		})
	}

	// Issuing keeps EdDSA for Ed25519 keys by default: the name every
	// verifier knows. A key made for Ed25519 signs with that name.
	for _, k := range []*token.Key{ed.Key, named} {
		iss, err := token.NewIssuer(must(token.NewKeySet(k)), token.IssuerConfig{Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience}, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		raw, _, err := iss.Issue(token.Claims{Subject: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		h, _, _ := split(raw)
		hb, _ := tokentest.Decode(h)
		if want := `"alg":"` + string(k.Algorithm()) + `"`; !strings.Contains(string(hb), want) {
			t.Errorf("key %s issues the header %s, want %s", k.Algorithm(), hb, want)
		}
		if _, err := v.Verify(raw); err != nil {
			t.Errorf("a token issued by the %s key: %v", k.Algorithm(), err)
		}
	}
}

// TestEd25519JWK: a JWK or a JWK Set key with "alg":"Ed25519" is an
// Ed25519 key, accepted where EdDSA is; never with another key type or
// curve.
func TestEd25519JWK(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	x := b64u(pub)
	jwk := `{"kty":"OKP","crv":"Ed25519","alg":"Ed25519","kid":"ed","x":"` + x + `"}`
	k, err := token.ParseJWK([]byte(jwk), token.KeyOptions{})
	if err != nil {
		t.Fatalf("ParseJWK of an Ed25519 JWK with alg Ed25519: %v", err)
	}
	if k.Algorithm() != token.Ed25519 || k.ID() != "ed" {
		t.Fatalf("parsed %v", k)
	}
	// It round-trips, and verifies tokens that name either.
	if b, _ := k.MarshalJSON(); !strings.Contains(string(b), `"alg":"Ed25519"`) {
		t.Errorf("MarshalJSON() = %s", b)
	}
	signer := must(tokentest.FromPrivate(priv, token.Ed25519))
	v := tokentest.Verifier(must(token.NewKeySet(nil, k)), now)
	for _, a := range []token.Algorithm{token.EdDSA, token.Ed25519} {
		raw := signer.Mint(now, set(map[string]any{"kid": "ed", "alg": string(a)}, nil))
		if _, err := v.Verify(raw); err != nil {
			t.Errorf("header %s with the JWK's key: %v", a, err)
		}
	}
	// Ed25519 fits no other key: not an EC key, not a secret, not Ed448.
	ec := tokentest.MustSigner(token.ES256).Key
	ecJSON, _ := ec.MarshalJSON()
	var ecJWK map[string]any
	json.Unmarshal(ecJSON, &ecJWK)
	ecJWK["alg"] = "Ed25519"
	for name, bad := range map[string]string{
		"an EC key":             string(must(json.Marshal(ecJWK))),
		"an oct secret":         `{"kty":"oct","alg":"Ed25519","k":"` + b64u(make([]byte, 64)) + `"}`,
		"an Ed448 key":          `{"kty":"OKP","crv":"Ed448","alg":"Ed25519","x":"` + b64u(make([]byte, 57)) + `"}`,
		"an Ed448 key as EdDSA": `{"kty":"OKP","crv":"Ed448","alg":"EdDSA","x":"` + b64u(make([]byte, 57)) + `"}`,
		"alg Ed448":             `{"kty":"OKP","crv":"Ed25519","alg":"Ed448","x":"` + x + `"}`,
	} {
		if k, err := token.ParseJWK([]byte(bad), token.KeyOptions{}); !errors.Is(err, token.ErrInvalidKey) {
			t.Errorf("%s with alg Ed25519: %v, %v; want ErrInvalidKey", name, k, err)
		}
	}

	// JWK Sets: Ed25519 and EdDSA accept each other.
	named := map[string]any{"kty": "OKP", "crv": "Ed25519", "alg": "Ed25519", "kid": "ed", "x": x}
	plain := map[string]any{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "ed", "x": x}
	noAlg := map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": x}
	for _, tc := range []struct {
		name     string
		key      map[string]any
		accepted []token.Algorithm
	}{
		{"alg Ed25519, EdDSA accepted", named, []token.Algorithm{token.RS256, token.EdDSA}},
		{"alg Ed25519, Ed25519 accepted", named, []token.Algorithm{token.Ed25519}},
		{"alg EdDSA, Ed25519 accepted", plain, []token.Algorithm{token.Ed25519}},
		{"no alg, both names accepted", noAlg, []token.Algorithm{token.EdDSA, token.Ed25519}},
	} {
		keys, skipped, err := token.ParseJWKSet(jwkSet(tc.key), token.JWKSetOptions{Algorithms: tc.accepted})
		if err != nil || len(skipped) != 0 || len(keys.Keys()) != 1 {
			t.Errorf("%s: %v, skipped %v", tc.name, err, skipped)
			continue
		}
		v := tokentest.Verifier(keys, now)
		for _, a := range []token.Algorithm{token.EdDSA, token.Ed25519} {
			if _, err := v.Verify(signer.Mint(now, set(map[string]any{"kid": "ed", "alg": string(a)}, nil))); err != nil {
				t.Errorf("%s: a token with header %s: %v", tc.name, a, err)
			}
		}
	}
	// Refused where EdDSA is not accepted; an EC key saying Ed25519 is
	// skipped.
	ecJWK["kid"] = "ec"
	_, skipped, err := token.ParseJWKSet(jwkSet(named, ecJWK), token.JWKSetOptions{Algorithms: []token.Algorithm{token.ES256}})
	if !errors.Is(err, token.ErrInvalidKey) || len(skipped) != 2 {
		t.Errorf("Ed25519 keys, ES256 accepted: %v, skipped %v", err, skipped)
	}
	// A provider renaming its key's alg EdDSA → Ed25519 keeps the key.
	before, _, err := token.ParseJWKSet(jwkSet(plain), token.JWKSetOptions{Algorithms: []token.Algorithm{token.EdDSA}})
	if err != nil {
		t.Fatal(err)
	}
	after, _, err := token.ParseJWKSet(jwkSet(named), token.JWKSetOptions{Algorithms: []token.Algorithm{token.EdDSA}, Previous: before})
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := before.Key("ed")
	if ka, _ := after.Key("ed"); ka != kb {
		t.Error("the same key under alg Ed25519 was not carried over from Previous")
	}
}
