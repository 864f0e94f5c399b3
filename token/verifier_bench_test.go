package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sessionless/sessionless/token"
)

// benchClaims are the claims every benchmark token carries: what a
// first-party access token of the demo looks like.
var benchClaims = token.Claims{
	Subject:  "user-42",
	ClientID: "demo-api",
	Scope:    "widgets:read widgets:write tokens:manage",
	Roles:    []string{"admin"},
}

type benchCase struct {
	alg      token.Algorithm
	key      *token.Key
	secret   []byte // HMAC only
	raw      string
	verifier *token.Verifier
	issuer   *token.Issuer
}

var benchCases = map[token.Algorithm]*benchCase{}

func benchSetup(b *testing.B, alg token.Algorithm) *benchCase {
	b.Helper()
	if c, ok := benchCases[alg]; ok {
		return c
	}
	var secret []byte
	key, err := token.GenerateKey(alg)
	if key != nil && key.Symmetric() {
		secret = make([]byte, map[token.Algorithm]int{token.HS256: 32, token.HS384: 48, token.HS512: 64}[alg])
		rand.Read(secret)
		key, err = token.NewKey(secret, token.KeyOptions{Algorithm: alg})
	}
	if err != nil {
		b.Fatal(err)
	}
	set, err := token.NewKeySet(key)
	if err != nil {
		b.Fatal(err)
	}
	iss, err := token.NewIssuer(set, token.IssuerConfig{Issuer: "https://issuer.example", Audience: []string{"api"}, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	v, err := token.NewVerifier(set, token.VerifierConfig{Issuer: "https://issuer.example", Audience: "api"})
	if err != nil {
		b.Fatal(err)
	}
	raw, _, err := iss.Issue(benchClaims)
	if err != nil {
		b.Fatal(err)
	}
	c := &benchCase{alg: alg, key: key, secret: secret, raw: raw, verifier: v, issuer: iss}
	benchCases[alg] = c
	return c
}

// floorClaims is the plainest struct the benchmark claims decode into.
type floorClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      string   `json:"aud"`
	Exp      float64  `json:"exp"`
	Iat      float64  `json:"iat"`
	Jti      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope"`
	Roles    []string `json:"roles"`
}

// rawCheck is the bare signature check of alg with the standard library.
func rawCheck(alg token.Algorithm, k *token.Key, secret []byte) func(input, sig []byte) bool {
	hashes := map[byte]crypto.Hash{'2': crypto.SHA256, '3': crypto.SHA384, '5': crypto.SHA512}
	h := hashes[alg[2]]
	digest := func(in []byte) []byte { d := h.New(); d.Write(in); return d.Sum(nil) }
	switch {
	case alg == token.EdDSA:
		pub := k.PublicKey().(ed25519.PublicKey)
		return func(in, sig []byte) bool { return ed25519.Verify(pub, in, sig) }
	case alg[:2] == "ES":
		pub := k.PublicKey().(*ecdsa.PublicKey)
		return func(in, sig []byte) bool {
			r, s := new(big.Int).SetBytes(sig[:len(sig)/2]), new(big.Int).SetBytes(sig[len(sig)/2:])
			return ecdsa.Verify(pub, digest(in), r, s)
		}
	case alg[:2] == "RS":
		pub := k.PublicKey().(*rsa.PublicKey)
		return func(in, sig []byte) bool { return rsa.VerifyPKCS1v15(pub, h, digest(in), sig) == nil }
	case alg[:2] == "PS":
		pub := k.PublicKey().(*rsa.PublicKey)
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		return func(in, sig []byte) bool { return rsa.VerifyPSS(pub, h, digest(in), sig, opts) == nil }
	default:
		return func(in, sig []byte) bool {
			m := hmac.New(h.New, secret)
			m.Write(in)
			return hmac.Equal(m.Sum(nil), sig)
		}
	}
}

// floorVerify is the raw floor: base64url-decode payload and signature,
// check the signature, decode the claims into a struct. No header, no
// claim validation.
func floorVerify(raw string, check func(input, sig []byte) bool) (*floorClaims, error) {
	d1 := strings.IndexByte(raw, '.')
	d2 := strings.LastIndexByte(raw, '.')
	payload, err := base64.RawURLEncoding.DecodeString(raw[d1+1 : d2])
	if err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(raw[d2+1:])
	if err != nil {
		return nil, err
	}
	if !check([]byte(raw[:d2]), sig) {
		return nil, errors.New("bad signature")
	}
	c := new(floorClaims)
	if err := json.Unmarshal(payload, c); err != nil {
		return nil, err
	}
	return c, nil
}

type jwtClaims struct {
	jwt.RegisteredClaims
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope"`
	Roles    []string `json:"roles"`
}

// BenchmarkVerify compares, per algorithm, the raw floor, this package's
// Verify and golang-jwt/v5's ParseWithClaims with its strictest options.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range token.Algorithms {
		c := benchSetup(b, alg)
		secret := c.secret
		check := rawCheck(alg, c.key, secret)
		b.Run(string(alg)+"/floor", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := floorVerify(c.raw, check); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(alg)+"/sessionless", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.verifier.Verify(c.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		var jwtKey any = c.key.PublicKey()
		if secret != nil {
			jwtKey = secret
		}
		parser := jwt.NewParser(jwt.WithValidMethods([]string{string(alg)}), jwt.WithIssuer("https://issuer.example"),
			jwt.WithAudience("api"), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second),
			jwt.WithStrictDecoding())
		keyFunc := func(*jwt.Token) (any, error) { return jwtKey, nil }
		b.Run(string(alg)+"/golang-jwt", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var cl jwtClaims
				if _, err := parser.ParseWithClaims(c.raw, &cl, keyFunc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIssue measures signing one access token.
func BenchmarkIssue(b *testing.B) {
	for _, alg := range token.Algorithms {
		c := benchSetup(b, alg)
		b.Run(string(alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.issuer.Issue(benchClaims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
