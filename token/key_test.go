package token_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

func TestNewKeyRefuses(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048 := tokentest.MustSigner(token.RS256).Private
	tests := []struct {
		name     string
		material any
		alg      token.Algorithm
		want     error
	}{
		{"HS256 secret of 31 bytes", make([]byte, 31), token.HS256, token.ErrWeakKey},
		{"HS384 secret of 47 bytes", make([]byte, 47), token.HS384, token.ErrWeakKey},
		{"HS512 secret of 63 bytes", make([]byte, 63), token.HS512, token.ErrWeakKey},
		{"empty secret", []byte{}, "", token.ErrWeakKey},
		{"RSA 1024", rsa1024, token.RS256, token.ErrWeakKey},
		{"RSA 1024 public for PS256", &rsa1024.PublicKey, token.PS256, token.ErrWeakKey},
		{"P-384 key as ES256", p384, token.ES256, token.ErrInvalidKey},
		{"P-224 curve", p224, "", token.ErrInvalidKey},
		{"Ed25519 key as ES256", ed, token.ES256, token.ErrInvalidKey},
		{"RSA key as EdDSA", rsa2048, token.EdDSA, token.ErrInvalidKey},
		{"RSA key as HS256", rsa2048, token.HS256, token.ErrInvalidKey},
		{"secret as RS256", make([]byte, 64), token.RS256, token.ErrInvalidKey},
		{"RSA exponent 1", &rsa.PublicKey{N: rsa2048.(*rsa.PrivateKey).N, E: 1}, token.RS256, token.ErrInvalidKey},
		{"RSA even exponent", &rsa.PublicKey{N: rsa2048.(*rsa.PrivateKey).N, E: 65538}, token.RS256, token.ErrInvalidKey},
		{"alg none", ed, "none", token.ErrInvalidKey},
		{"unknown type", "secret", "", token.ErrInvalidKey},
		{"nil ECDSA key", (*ecdsa.PrivateKey)(nil), "", token.ErrInvalidKey},
		{"short Ed25519 key", ed25519.PrivateKey(make([]byte, 10)), "", token.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := token.NewKey(tt.material, token.KeyOptions{Algorithm: tt.alg})
			if !errors.Is(err, tt.want) || k != nil {
				t.Fatalf("NewKey() = %v, %v; want %v", k, err, tt.want)
			}
		})
	}
}

func TestNewKeyDefaults(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		material any
		want     token.Algorithm
	}{
		{ed, token.EdDSA}, {ed.Public(), token.EdDSA}, {p256, token.ES256}, {&p521.PublicKey, token.ES512},
		{tokentest.MustSigner(token.RS256).Private, token.RS256}, {make([]byte, 32), token.HS256},
	}
	for _, tt := range tests {
		k, err := token.NewKey(tt.material, token.KeyOptions{})
		if err != nil || k.Algorithm() != tt.want {
			t.Fatalf("NewKey(%T) = %v, %v; want %s", tt.material, k, err, tt.want)
		}
		if tp, _ := k.Thumbprint(); k.ID() != tp || len(tp) != 43 {
			t.Errorf("kid %q is not the thumbprint %q", k.ID(), tp)
		}
	}
}

func TestKeyNeverShowsSecrets(t *testing.T) {
	secret := bytes.Repeat([]byte("s3cr3t-"), 8)
	hk, err := token.NewKey(secret, token.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ek := tokentest.MustSigner(token.EdDSA)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	for _, k := range []*token.Key{hk, ek.Key} {
		log.Info("key", "key", k)
		out := fmt.Sprintf("%v %+v %#v %s", k, k, k, k) + logs.String()
		for _, leak := range []string{"s3cr3t", fmt.Sprint(secret), fmt.Sprintf("%x", secret), tokentest.Encode(secret),
			tokentest.Encode(ek.Private.(ed25519.PrivateKey).Seed()), fmt.Sprint(ek.Private)} {
			if strings.Contains(out, leak) {
				t.Fatalf("key material in %q", out)
			}
		}
	}
	if _, err := hk.MarshalJSON(); err == nil {
		t.Error("HMAC key marshalled to JSON")
	}
	if _, err := hk.MarshalPEM(); err == nil {
		t.Error("HMAC key marshalled to PEM")
	}
	b, _ := ek.Key.MarshalJSON()
	if bytes.Contains(b, []byte(`"d"`)) {
		t.Errorf("private member in public JWK %s", b)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func pemOf(t *testing.T, typ string, der []byte, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParsePEM(t *testing.T) {
	ed := tokentest.MustSigner(token.EdDSA)
	ec := tokentest.MustSigner(token.ES384)
	rs := tokentest.MustSigner(token.RS256)
	ecPriv, rsPriv := ec.Private.(*ecdsa.PrivateKey), rs.Private.(*rsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecPriv)
	ecParams := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 5, 43, 129, 4, 0, 34}})
	tests := []struct {
		name     string
		pem      []byte
		opts     token.KeyOptions
		alg      token.Algorithm
		canSign  bool
		sameAsID string
	}{
		{"PKCS#8 Ed25519", pemOf(t, "PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ed.Private)), nil), token.KeyOptions{}, token.EdDSA, true, ed.Key.ID()},
		{"PKCS#8 ECDSA", pemOf(t, "PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ecPriv)), nil), token.KeyOptions{}, token.ES384, true, ec.Key.ID()},
		{"SEC 1 after EC PARAMETERS", append(ecParams, pemOf(t, "EC PRIVATE KEY", sec1, err)...), token.KeyOptions{}, token.ES384, true, ec.Key.ID()},
		{"PKCS#1 RSA as PS256", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsPriv), nil), token.KeyOptions{Algorithm: token.PS256}, token.PS256, true, rs.Key.ID()},
		{"PKIX public", pemOf(t, "PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&rsPriv.PublicKey)), nil), token.KeyOptions{}, token.RS256, false, rs.Key.ID()},
		{"PKCS#1 public", pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsPriv.PublicKey), nil), token.KeyOptions{ID: "k1"}, token.RS256, false, "k1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := token.ParsePEM(tt.pem, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm() != tt.alg || k.CanSign() != tt.canSign || k.ID() != tt.sameAsID {
				t.Fatalf("got %v, want alg %s canSign %v kid %s", k, tt.alg, tt.canSign, tt.sameAsID)
			}
			// Round trip.
			out, err := k.MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			k2, err := token.ParsePEM(out, tt.opts)
			if err != nil || k2.ID() != k.ID() || k2.CanSign() != k.CanSign() {
				t.Fatalf("round trip: %v, %v", k2, err)
			}
		})
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"not PEM":   []byte("hello"),
		"bad DER":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"encrypted": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}),
		"cert only": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
	} {
		if _, err := token.ParsePEM(bad, token.KeyOptions{}); !errors.Is(err, token.ErrInvalidKey) {
			t.Errorf("%s: err = %v, want ErrInvalidKey", name, err)
		}
	}
}

func TestParseJWK(t *testing.T) {
	for _, alg := range []token.Algorithm{token.EdDSA, token.ES256, token.ES384, token.ES512, token.RS256, token.PS512} {
		t.Run(string(alg), func(t *testing.T) {
			s := tokentest.MustSigner(alg)
			b, err := s.Key.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			k, err := token.ParseJWK(b, token.KeyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if k.ID() != s.Key.ID() || k.Algorithm() != alg || k.CanSign() {
				t.Fatalf("parsed %v from %s", k, b)
			}
			// The parsed public key verifies the signer's tokens.
			if _, err := tokentest.Verifier(tokentest.KeySet(tokentest.MustSigner(token.EdDSA), &tokentest.Signer{Key: k}), now).Verify(s.Mint(now, nil)); err != nil {
				t.Fatal(err)
			}
		})
	}
	ed := tokentest.MustSigner(token.EdDSA)
	priv := ed.Private.(ed25519.PrivateKey)
	pub, _ := ed.Key.MarshalJSON()
	var m map[string]any
	json.Unmarshal(pub, &m)
	m["d"] = tokentest.Encode(priv.Seed())
	withD, _ := json.Marshal(m)
	k, err := token.ParseJWK(withD, token.KeyOptions{})
	if err != nil || !k.CanSign() || k.ID() != ed.Key.ID() {
		t.Fatalf("private OKP JWK: %v, %v", k, err)
	}
	bad := map[string]string{
		"not JSON":           `{`,
		"unknown kty":        `{"kty":"XYZ"}`,
		"use enc":            `{"kty":"OKP","crv":"Ed25519","use":"enc","x":"` + m["x"].(string) + `"}`,
		"X25519":             `{"kty":"OKP","crv":"X25519","x":"` + m["x"].(string) + `"}`,
		"short x":            `{"kty":"OKP","crv":"Ed25519","x":"AAAA"}`,
		"d not matching x":   `{"kty":"OKP","crv":"Ed25519","x":"` + m["x"].(string) + `","d":"` + tokentest.Encode(make([]byte, 32)) + `"}`,
		"EC point off curve": `{"kty":"EC","crv":"P-256","x":"` + tokentest.Encode(make([]byte, 32)) + `","y":"` + tokentest.Encode(append(make([]byte, 31), 1)) + `"}`,
		"EC unknown curve":   `{"kty":"EC","crv":"P-192","x":"AA","y":"AA"}`,
		"RSA without e":      `{"kty":"RSA","n":"AQAB"}`,
		"oct too short":      `{"kty":"oct","k":"` + tokentest.Encode(make([]byte, 16)) + `"}`,
		"padded base64":      `{"kty":"OKP","crv":"Ed25519","x":"` + m["x"].(string) + `="}`,
		"alg mismatch":       `{"kty":"OKP","crv":"Ed25519","alg":"ES256","x":"` + m["x"].(string) + `"}`,

		// key_ops (RFC 7517 §4.3; Wycheproof rejectWrongKeyOps).
		"key_ops encrypt only":     `{"kty":"OKP","crv":"Ed25519","key_ops":["encrypt"],"x":"` + m["x"].(string) + `"}`,
		"key_ops sign, public key": `{"kty":"OKP","crv":"Ed25519","key_ops":["sign"],"x":"` + m["x"].(string) + `"}`,
		"key_ops empty":            `{"kty":"OKP","crv":"Ed25519","key_ops":[],"x":"` + m["x"].(string) + `"}`,
		"key_ops repeated":         `{"kty":"OKP","crv":"Ed25519","key_ops":["verify","verify"],"x":"` + m["x"].(string) + `"}`,
		"key_ops a string":         `{"kty":"OKP","crv":"Ed25519","key_ops":"verify","x":"` + m["x"].(string) + `"}`,
		"key_ops with a number":    `{"kty":"OKP","crv":"Ed25519","key_ops":["verify",1],"x":"` + m["x"].(string) + `"}`,
		"key_ops wrapKey":          `{"kty":"OKP","crv":"Ed25519","key_ops":["wrapKey"],"x":"` + m["x"].(string) + `"}`,

		// Exact, unique member names.
		"use twice":               `{"kty":"OKP","crv":"Ed25519","use":"sig","use":"enc","x":"` + m["x"].(string) + `"}`,
		"x twice":                 `{"kty":"OKP","crv":"Ed25519","x":"` + m["x"].(string) + `","x":"AAAA"}`,
		"KTY in upper case only":  `{"KTY":"OKP","crv":"Ed25519","x":"` + m["x"].(string) + `"}`,
		"use enc beside USE sig":  `{"kty":"OKP","crv":"Ed25519","use":"enc","x":"` + m["x"].(string) + `","USE":"sig"}`,
		"kid not a string":        `{"kty":"OKP","crv":"Ed25519","kid":1,"x":"` + m["x"].(string) + `"}`,
		"trailing data after JWK": `{"kty":"OKP","crv":"Ed25519","x":"` + m["x"].(string) + `"} {}`,
	}
	good := map[string]string{
		"key_ops verify":                `{"kty":"OKP","crv":"Ed25519","key_ops":["verify"],"x":"` + m["x"].(string) + `"}`,
		"key_ops verify and others":     `{"kty":"OKP","crv":"Ed25519","key_ops":["encrypt","verify"],"x":"` + m["x"].(string) + `"}`,
		"key_ops sign on a private key": `{"kty":"OKP","crv":"Ed25519","key_ops":["sign"],"x":"` + m["x"].(string) + `","d":"` + m["d"].(string) + `"}`,
		"use sig with key_ops verify":   `{"kty":"OKP","crv":"Ed25519","use":"sig","key_ops":["verify"],"x":"` + m["x"].(string) + `"}`,
		"unknown members ignored":       `{"kty":"OKP","crv":"Ed25519","x5c":["AAAA"],"Use":"enc","x":"` + m["x"].(string) + `"}`,
	}
	for name, j := range good {
		if _, err := token.ParseJWK([]byte(j), token.KeyOptions{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, j := range bad {
		if k, err := token.ParseJWK([]byte(j), token.KeyOptions{}); err == nil {
			t.Errorf("%s: parsed %v", name, k)
		} else if !errors.Is(err, token.ErrInvalidKey) && !errors.Is(err, token.ErrWeakKey) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestGenerateKey(t *testing.T) {
	for _, alg := range token.Algorithms {
		if alg[0] == 'R' || alg[0] == 'P' {
			continue // slow; RS256 is generated by the demo tests
		}
		k, err := token.GenerateKey(alg)
		if err != nil || k.Algorithm() != alg || !k.CanSign() {
			t.Fatalf("GenerateKey(%s) = %v, %v", alg, k, err)
		}
	}
	if _, err := token.GenerateKey("none"); !errors.Is(err, token.ErrInvalidKey) {
		t.Fatalf("GenerateKey(none) err = %v", err)
	}
}
