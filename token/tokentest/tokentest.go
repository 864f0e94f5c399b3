// Package tokentest mints tokens for tests: valid ones, and the malformed,
// forged and hostile ones a verifier must reject. It signs whatever header
// and payload it is given, so it is for tests only.
package tokentest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sessionless/sessionless/token"
)

// The issuer and audience of the tokens minted by [Signer.Mint].
const (
	Issuer   = "https://issuer.test"
	Audience = "api.test"
)

// Signer holds a key pair and signs arbitrary compact JWS tokens with it.
type Signer struct {
	// Key is the same key as a token.Key, for key sets and verifiers.
	Key *token.Key
	// Private is the raw private key (ed25519.PrivateKey, *ecdsa.PrivateKey,
	// *rsa.PrivateKey) or the HMAC secret ([]byte).
	Private crypto.PrivateKey
	method  jwt.SigningMethod
}

var (
	mu    sync.Mutex
	cache = map[token.Algorithm]*Signer{}
)

// NewSigner returns a signer with a fresh key for alg (EdDSA and Ed25519
// make an Ed25519 key, whose tokens name alg as given). RSA keys are
// generated once per algorithm and process, since generating them is slow.
func NewSigner(alg token.Algorithm) (*Signer, error) {
	if alg[0] == 'R' || alg[0] == 'P' {
		mu.Lock()
		defer mu.Unlock()
		if s, ok := cache[alg]; ok {
			return s, nil
		}
	}
	var priv crypto.PrivateKey
	var err error
	switch alg {
	case token.EdDSA, token.Ed25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case token.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case token.ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case token.ES512:
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case token.RS256, token.RS384, token.RS512, token.PS256, token.PS384, token.PS512:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case token.HS256, token.HS384, token.HS512:
		secret := make([]byte, 64)
		rand.Read(secret)
		priv = secret
	default:
		return nil, fmt.Errorf("tokentest: unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	s, err := FromPrivate(priv, alg)
	if err == nil && (alg[0] == 'R' || alg[0] == 'P') {
		cache[alg] = s
	}
	return s, err
}

// MustSigner is NewSigner for tests: it panics on error.
func MustSigner(alg token.Algorithm) *Signer {
	s, err := NewSigner(alg)
	if err != nil {
		panic(err)
	}
	return s
}

// FromPrivate wraps a raw private key or HMAC secret.
func FromPrivate(priv crypto.PrivateKey, alg token.Algorithm) (*Signer, error) {
	k, err := token.NewKey(priv, token.KeyOptions{Algorithm: alg})
	if err != nil {
		return nil, err
	}
	method := jwt.GetSigningMethod(string(alg))
	if alg == token.Ed25519 { // golang-jwt knows it only as EdDSA
		method = jwt.SigningMethodEdDSA
	}
	return &Signer{Key: k, Private: priv, method: method}, nil
}

// Header returns the header a well-behaved issuer writes:
// alg, kid and typ "at+jwt".
func (s *Signer) Header() map[string]any {
	return map[string]any{"alg": string(s.Key.Algorithm()), "kid": s.Key.ID(), "typ": "at+jwt"}
}

// Claims returns valid claims issued at now for one hour, for [Issuer]
// and [Audience].
func Claims(now time.Time) map[string]any {
	return map[string]any{
		"iss": Issuer, "sub": "user-1", "aud": Audience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": token.NewID(), "client_id": "client-1",
		"scope": "widgets:read widgets:write", "roles": []string{"admin"},
	}
}

// Mint signs Header() and Claims(now) after applying edit to both maps
// (edit may be nil); setting a member to nil deletes it.
func (s *Signer) Mint(now time.Time, edit func(header, claims map[string]any)) string {
	h, c := s.Header(), Claims(now)
	if edit != nil {
		edit(h, c)
	}
	for _, m := range []map[string]any{h, c} {
		for k, v := range m {
			if v == nil {
				delete(m, k)
			}
		}
	}
	return s.SignJSON(h, c)
}

// SignJSON encodes header and payload as JSON and signs them.
func (s *Signer) SignJSON(header, payload any) string {
	hb, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	pb, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return s.Sign(hb, pb)
}

// Sign base64url-encodes header and payload as they are and signs them.
func (s *Signer) Sign(header, payload []byte) string {
	input := Encode(header) + "." + Encode(payload)
	return input + "." + Encode(s.Signature(input))
}

// Signature signs the signing input with the signer's key and algorithm.
func (s *Signer) Signature(input string) []byte {
	sig, err := s.method.Sign(input, s.Private)
	if err != nil {
		panic(err)
	}
	return sig
}

// Encode is unpadded base64url.
func Encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// KeySet returns a key set that signs with the first signer's key and
// verifies all of theirs.
func KeySet(signers ...*Signer) *token.KeySet {
	keys := make([]*token.Key, len(signers))
	for i, s := range signers {
		keys[i] = s.Key
	}
	set, err := token.NewKeySet(keys[0], keys[1:]...)
	if err != nil {
		panic(err)
	}
	return set
}

// Verifier returns a verifier for [Issuer] and [Audience] over keys, with
// the clock at now.
func Verifier(keys token.KeySource, now time.Time) *token.Verifier {
	v, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: Issuer, Audience: Audience, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	return v
}

// Decode is the inverse of [Encode].
func Decode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
