package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"

	"github.com/sessionless/sessionless/internal/strictjson"
)

// jwk is the JSON form of a key (RFC 7517, RFC 7518 §6, RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	K   string `json:"k,omitempty"`
	D   string `json:"d,omitempty"`
	P   string `json:"p,omitempty"`
	Q   string `json:"q,omitempty"`
	DP  string `json:"dp,omitempty"`
	DQ  string `json:"dq,omitempty"`
	QI  string `json:"qi,omitempty"`
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func b64int(n *big.Int) string { return b64.EncodeToString(n.Bytes()) }

// publicJWK returns the public members of k; ok is false for HMAC keys.
func (k *Key) publicJWK() (j jwk, ok bool) {
	switch pub := k.pub.(type) {
	case ed25519.PublicKey:
		return jwk{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub)}, true
	case *ecdsa.PublicKey:
		point, err := pub.Bytes() // 0x04 || X || Y, validated by NewKey
		if err != nil {
			return jwk{}, false
		}
		size := (len(point) - 1) / 2
		return jwk{Kty: "EC", Crv: pub.Curve.Params().Name, X: b64.EncodeToString(point[1 : 1+size]), Y: b64.EncodeToString(point[1+size:])}, true
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", N: b64int(pub.N), E: b64int(big.NewInt(int64(pub.E)))}, true
	}
	return jwk{}, false
}

// Thumbprint returns the RFC 7638 JWK thumbprint of the key: the base64url
// SHA-256 of its required public members (the secret for HMAC keys).
func (k *Key) Thumbprint() (string, error) {
	var canon string
	if j, ok := k.publicJWK(); ok {
		switch j.Kty {
		case "OKP":
			canon = `{"crv":"Ed25519","kty":"OKP","x":"` + j.X + `"}`
		case "EC":
			canon = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
		case "RSA":
			canon = `{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`
		}
	} else {
		canon = `{"k":"` + b64.EncodeToString(k.pub.([]byte)) + `","kty":"oct"}`
	}
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:]), nil
}

// MarshalJSON encodes the public JWK of k with "kid", "alg" and "use":"sig".
// It never emits private or secret material: for an HMAC key it fails.
func (k *Key) MarshalJSON() ([]byte, error) {
	j, ok := k.publicJWK()
	if !ok {
		return nil, fmt.Errorf("%w: an HMAC secret has no public JWK", ErrInvalidKey)
	}
	j.Kid, j.Alg, j.Use = k.id, string(k.alg), "sig"
	return json.Marshal(j)
}

var curves = map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}

// parseJWKMembers reads the members of a JWK with exact names, refusing a
// member named twice; unknown members (x5c, ...) are ignored.
func parseJWKMembers(data []byte) (jwk, []string, error) {
	var j jwk
	var ops []string
	fields := map[string]*string{
		"kty": &j.Kty, "use": &j.Use, "alg": &j.Alg, "kid": &j.Kid, "crv": &j.Crv, "x": &j.X, "y": &j.Y,
		"n": &j.N, "e": &j.E, "k": &j.K, "d": &j.D, "p": &j.P, "q": &j.Q, "dp": &j.DP, "dq": &j.DQ, "qi": &j.QI,
	}
	m := strictjson.Object(data)
	for m.Next() {
		name := string(m.Name())
		if name == "key_ops" {
			var err error
			if ops, err = strs(m.Value()); err != nil {
				return jwk{}, nil, fmt.Errorf("%w: JWK key_ops: %v", ErrInvalidKey, err)
			}
			continue
		}
		f, ok := fields[name]
		if !ok {
			continue
		}
		b, err := strictjson.String(m.Value())
		if err != nil {
			return jwk{}, nil, fmt.Errorf("%w: JWK %q is not a string", ErrInvalidKey, name)
		}
		*f = string(b)
	}
	if err := m.Err(); err != nil {
		return jwk{}, nil, fmt.Errorf("%w: JWK: %v", ErrInvalidKey, err)
	}
	return j, ops, nil
}

// checkKeyOps applies "key_ops" (RFC 7517 §4.3): when present, the key
// must be meant for verifying signatures ("verify"; a private key may say
// "sign" instead), and no operation may be listed twice.
func checkKeyOps(ops []string, private bool) error {
	if ops == nil {
		return nil
	}
	ok := false
	for i, op := range ops {
		if slices.Contains(ops[:i], op) {
			return fmt.Errorf("%w: JWK key_ops lists %q twice", ErrInvalidKey, op)
		}
		ok = ok || op == "verify" || private && op == "sign"
	}
	if !ok {
		return fmt.Errorf("%w: JWK key_ops %q does not include \"verify\"", ErrInvalidKey, ops)
	}
	return nil
}

// ParseJWK reads one JWK (RFC 7517): "OKP" Ed25519, "EC" P-256/P-384/P-521,
// "RSA" or "oct", public or private. Member names are matched exactly and
// may not repeat. Its "kid" and "alg" members are used unless opts sets
// them; a JWK whose "use" is not "sig", or whose "key_ops" does not
// include "verify" ("sign" for a private key), is refused.
func ParseJWK(data []byte, opts KeyOptions) (*Key, error) {
	j, ops, err := parseJWKMembers(data)
	if err != nil {
		return nil, err
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("%w: JWK use %q is not \"sig\"", ErrInvalidKey, j.Use)
	}
	if err := checkKeyOps(ops, j.D != "" || j.Kty == "oct"); err != nil {
		return nil, err
	}
	if opts.ID == "" {
		opts.ID = j.Kid
	}
	if opts.Algorithm == "" {
		opts.Algorithm = Algorithm(j.Alg)
	}
	var material any
	switch j.Kty {
	case "OKP":
		material, err = j.okpMaterial()
	case "EC":
		material, err = j.ecMaterial()
	case "RSA":
		material, err = j.rsaMaterial()
	case "oct":
		material, err = j.octMaterial() // NewKey defaults a secret to HS256
	default:
		return nil, fmt.Errorf("%w: unsupported JWK kty %q", ErrInvalidKey, j.Kty)
	}
	if err != nil {
		return nil, err
	}
	return NewKey(material, opts)
}

// bad reports a member of j that is missing or unusable.
func (j *jwk) bad(what string) error {
	return fmt.Errorf("%w: JWK %s: bad or missing %s", ErrInvalidKey, j.Kty, what)
}

// b64member decodes a base64url member, or returns nil when it is not
// strict base64url; an absent member decodes to an empty, non-nil slice.
func b64member(s string) []byte {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

// okpMaterial returns the Ed25519 key of an "OKP" JWK (RFC 8037 §2):
// the public key x, or the private key of seed d, which must match x.
func (j *jwk) okpMaterial() (any, error) {
	if j.Crv != "Ed25519" {
		return nil, j.bad("crv")
	}
	x := b64member(j.X)
	if len(x) != ed25519.PublicKeySize {
		return nil, j.bad("x")
	}
	if j.D == "" {
		return ed25519.PublicKey(x), nil
	}
	d := b64member(j.D)
	if len(d) != ed25519.SeedSize {
		return nil, j.bad("d")
	}
	priv := ed25519.NewKeyFromSeed(d)
	if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(x)) {
		return nil, j.bad("d (does not match x)")
	}
	return priv, nil
}

// ecMaterial returns the ECDSA key of an "EC" JWK (RFC 7518 §6.2): the
// point (x, y), which must lie on the curve crv, or the private key d of
// that point. Coordinates and d have the curve's full byte length.
func (j *jwk) ecMaterial() (any, error) {
	curve, ok := curves[j.Crv]
	if !ok {
		return nil, j.bad("crv")
	}
	size := (curve.Params().BitSize + 7) / 8
	x, y := b64member(j.X), b64member(j.Y)
	if len(x) != size || len(y) != size {
		return nil, j.bad("x or y")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, j.bad("x or y (not on the curve)")
	}
	if j.D == "" {
		return pub, nil
	}
	d := b64member(j.D)
	if len(d) != size {
		return nil, j.bad("d")
	}
	priv, err := ecdsa.ParseRawPrivateKey(curve, d)
	if err != nil || !priv.PublicKey.Equal(pub) {
		return nil, j.bad("d")
	}
	return priv, nil
}

// rsaMaterial returns the RSA key of an "RSA" JWK (RFC 7518 §6.3): the
// public key (n, e), or with d the private key, which also needs the
// primes p and q and must validate. dp, dq and qi are not used: they are
// computed again.
func (j *jwk) rsaMaterial() (any, error) {
	n, e := b64member(j.N), b64member(j.E)
	if len(n) == 0 || len(e) == 0 || len(e) > 4 {
		return nil, j.bad("n or e")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if j.D == "" {
		return pub, nil
	}
	d, p, q := b64member(j.D), b64member(j.P), b64member(j.Q)
	if d == nil || p == nil || q == nil {
		return nil, j.bad("d, p or q")
	}
	priv := &rsa.PrivateKey{PublicKey: *pub, D: new(big.Int).SetBytes(d),
		Primes: []*big.Int{new(big.Int).SetBytes(p), new(big.Int).SetBytes(q)}}
	if err := priv.Validate(); err != nil {
		return nil, j.bad("private key (" + err.Error() + ")")
	}
	priv.Precompute()
	return priv, nil
}

// octMaterial returns the secret k of an "oct" JWK (RFC 7518 §6.4); how
// long it must be is [NewKey]'s to check.
func (j *jwk) octMaterial() (any, error) {
	k := b64member(j.K)
	if k == nil {
		return nil, j.bad("k")
	}
	return k, nil
}
