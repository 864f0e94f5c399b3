// Package dpoptest is a DPoP client for tests: a P-256 or Ed25519 key and
// the proofs it signs (RFC 9449 §4), well formed or, through an edit
// function, not.
package dpoptest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token"
)

// Client holds a DPoP key.
type Client struct {
	t    testing.TB
	key  *token.Key
	priv any // *ecdsa.PrivateKey or ed25519.PrivateKey
	alg  token.Algorithm
	// JWK is the public key as the proofs' header carries it.
	JWK map[string]any
}

// NewClient returns a client with a new P-256 key (ES256).
func NewClient(t testing.TB) *Client { return NewClientFor(t, token.ES256) }

// NewClientFor returns a client with a new key for alg, which its proofs
// name: ES256 (a P-256 key), or EdDSA or Ed25519 (an Ed25519 key; RFC
// 9864 names EdDSA on Ed25519 "Ed25519").
func NewClientFor(t testing.TB, alg token.Algorithm) *Client {
	var priv any
	var err error
	switch alg {
	case token.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case token.EdDSA, token.Ed25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("dpoptest: algorithm %q: want ES256, EdDSA or Ed25519", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	k, err := token.NewKey(priv, token.KeyOptions{Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(k.Public())
	var jwk map[string]any
	json.Unmarshal(b, &jwk)
	delete(jwk, "kid")
	delete(jwk, "use")
	delete(jwk, "alg")
	return &Client{t: t, key: k, priv: priv, alg: alg, JWK: jwk}
}

// JKT is the key's RFC 7638 thumbprint: the cnf.jkt of tokens bound to it.
func (c *Client) JKT() string {
	jkt, err := c.key.Thumbprint()
	if err != nil {
		c.t.Fatal(err)
	}
	return jkt
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Proof signs a proof for method and url at iat, with ath for
// accessToken when it is not empty; edit, when not nil, changes the
// header and the claims first (a nil value deletes a member).
func (c *Client) Proof(method, url, accessToken string, iat time.Time, edit func(header, claims map[string]any)) string {
	h := map[string]any{"typ": "dpop+jwt", "alg": string(c.alg), "jwk": c.JWK}
	cl := map[string]any{"jti": rand.Text(), "htm": method, "htu": url, "iat": iat.Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		cl["ath"] = b64(sum[:])
	}
	if edit != nil {
		edit(h, cl)
	}
	for _, m := range []map[string]any{h, cl} {
		for k, v := range m {
			if v == nil {
				delete(m, k)
			}
		}
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(cl)
	return c.Sign(hb, cb)
}

// Sign signs a proof of exactly these header and claims bytes, for
// proofs a map cannot express (a member repeated, odd spacing).
func (c *Client) Sign(header, claims []byte) string {
	input := b64(header) + "." + b64(claims)
	if ed, ok := c.priv.(ed25519.PrivateKey); ok {
		return input + "." + b64(ed25519.Sign(ed, []byte(input)))
	}
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, c.priv.(*ecdsa.PrivateKey), sum[:])
	if err != nil {
		c.t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig)
}
