package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"hash"
	"log/slog"
	"math/big"
	"sync"
)

// b64 is the only base64 this package reads: base64url without padding,
// rejecting non-zero trailing bits (RFC 7515 §2, RFC 8725 §3.6).
var b64 = base64.RawURLEncoding.Strict()

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const minRSABits = 2048

// Key is one signing or verification key with its algorithm and key ID.
// A Key is immutable and safe for concurrent use. Its String, GoString and
// LogValue never show secret material.
type Key struct {
	id     string
	alg    Algorithm
	info   algInfo
	priv   any // ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey, []byte; nil for verification-only keys
	pub    any // ed25519.PublicKey, *ecdsa.PublicKey, *rsa.PublicKey, []byte (HMAC)
	sigLen int // exact length of a decoded signature
	header string
	macs   *sync.Pool // *macState, HMAC keys only
}

// KeyOptions names a key. The zero value picks both from the key material.
type KeyOptions struct {
	// ID is the "kid". Default: the RFC 7638 JWK thumbprint (SHA-256,
	// base64url) of the public key, or of the secret for HMAC keys.
	ID string
	// Algorithm the key is used with. Default: EdDSA for Ed25519, ES256,
	// ES384 or ES512 by curve for ECDSA, RS256 for RSA, HS256 for a secret.
	// It must fit the key: a P-256 key cannot be ES384, an RSA key cannot
	// be HS256. An Ed25519 key may also be given Ed25519, EdDSA's RFC 9864
	// name: the same algorithm, which it then signs with under that name.
	Algorithm Algorithm
}

// NewKey wraps key material: ed25519.PrivateKey or ed25519.PublicKey,
// *ecdsa.PrivateKey or *ecdsa.PublicKey, *rsa.PrivateKey or *rsa.PublicKey,
// or a []byte HMAC secret (copied). Weak keys are refused with [ErrWeakKey]:
// RSA under 2048 bits or with the ROCA fingerprint (CVE-2017-15361), HMAC
// secrets shorter than the hash output.
func NewKey(material any, opts KeyOptions) (*Key, error) {
	k := &Key{}
	var def Algorithm
	switch m := material.(type) {
	case ed25519.PrivateKey:
		if len(m) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%w: Ed25519 private key of %d bytes", ErrInvalidKey, len(m))
		}
		k.priv, k.pub, def = m, m.Public().(ed25519.PublicKey), EdDSA
	case ed25519.PublicKey:
		if len(m) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: Ed25519 public key of %d bytes", ErrInvalidKey, len(m))
		}
		k.pub, def = m, EdDSA
	case *ecdsa.PrivateKey:
		if m == nil {
			return nil, fmt.Errorf("%w: nil key", ErrInvalidKey)
		}
		k.priv, k.pub = m, &m.PublicKey
	case *ecdsa.PublicKey:
		if m == nil {
			return nil, fmt.Errorf("%w: nil key", ErrInvalidKey)
		}
		k.pub = m
	case *rsa.PrivateKey:
		if m == nil {
			return nil, fmt.Errorf("%w: nil key", ErrInvalidKey)
		}
		k.priv, k.pub, def = m, &m.PublicKey, RS256
	case *rsa.PublicKey:
		if m == nil {
			return nil, fmt.Errorf("%w: nil key", ErrInvalidKey)
		}
		k.pub, def = m, RS256
	case []byte:
		secret := append([]byte(nil), m...)
		k.priv, k.pub, def = secret, secret, HS256
	default:
		return nil, fmt.Errorf("%w: unsupported key type %T", ErrInvalidKey, material)
	}
	if ec, ok := k.pub.(*ecdsa.PublicKey); ok {
		switch ec.Curve {
		case elliptic.P256():
			def = ES256
		case elliptic.P384():
			def = ES384
		case elliptic.P521():
			def = ES512
		default:
			return nil, fmt.Errorf("%w: unsupported elliptic curve", ErrInvalidKey)
		}
		if _, err := ec.Bytes(); err != nil { // checks the point is on the curve
			return nil, fmt.Errorf("%w: ECDSA public key: %v", ErrInvalidKey, err)
		}
	}
	k.alg = opts.Algorithm
	if k.alg == "" {
		k.alg = def
	}
	info, ok := algs[k.alg]
	if !ok {
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidKey, k.alg)
	}
	k.info = info
	if err := k.checkFit(def); err != nil {
		return nil, err
	}
	k.id = opts.ID
	if k.id == "" {
		tp, err := k.Thumbprint()
		if err != nil {
			return nil, err
		}
		k.id = tp
	}
	k.header = b64.EncodeToString([]byte(`{"alg":"` + string(k.alg) + `","kid":` + quote(k.id) + `,"typ":"at+jwt"}`))
	if k.info.fam == famHMAC {
		secret, h := k.pub.([]byte), k.info.hash
		k.macs = &sync.Pool{New: func() any { return &macState{h: hmac.New(h.New, secret)} }}
	}
	return k, nil
}

type macState struct {
	h   hash.Hash
	sum [64]byte
}

// checkFit checks that the key material suits k.alg and is strong enough.
func (k *Key) checkFit(def Algorithm) error {
	mismatch := fmt.Errorf("%w: a %s key cannot be used with %s", ErrInvalidKey, def, k.alg)
	switch k.info.fam {
	case famEdDSA:
		if def != EdDSA {
			return mismatch
		}
		k.sigLen = ed25519.SignatureSize
	case famECDSA:
		if def != k.alg {
			return mismatch
		}
		k.sigLen = 2 * ((k.pub.(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8)
	case famRSA, famPSS:
		pub, ok := k.pub.(*rsa.PublicKey)
		if !ok {
			return mismatch
		}
		if pub.N == nil || pub.N.BitLen() < minRSABits {
			return fmt.Errorf("%w: RSA keys need at least %d bits", ErrWeakKey, minRSABits)
		}
		if rocaFingerprint(pub.N) {
			return fmt.Errorf("%w: the RSA modulus has the ROCA fingerprint (CVE-2017-15361): "+
				"made by a vulnerable Infineon chip or library, it can be factored; replace the key", ErrWeakKey)
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return fmt.Errorf("%w: RSA public exponent %d", ErrInvalidKey, pub.E)
		}
		k.sigLen = pub.Size()
	case famHMAC:
		secret, ok := k.pub.([]byte)
		if !ok {
			return mismatch
		}
		if len(secret) < k.info.hash.Size() {
			return fmt.Errorf("%w: %s secrets need at least %d bytes, got %d", ErrWeakKey, k.alg, k.info.hash.Size(), len(secret))
		}
		k.sigLen = k.info.hash.Size()
	}
	return nil
}

// GenerateKey creates a new random key for alg: Ed25519, an ECDSA key on
// the algorithm's curve, a 2048-bit RSA key (3072 for the 384 and 512
// variants), or an HMAC secret as long as the hash output.
func GenerateKey(alg Algorithm) (*Key, error) {
	info, ok := algs[alg]
	if !ok {
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidKey, alg)
	}
	var material any
	var err error
	switch info.fam {
	case famEdDSA:
		_, material, err = ed25519.GenerateKey(rand.Reader)
	case famECDSA:
		curve := map[Algorithm]elliptic.Curve{ES256: elliptic.P256(), ES384: elliptic.P384(), ES512: elliptic.P521()}[alg]
		material, err = ecdsa.GenerateKey(curve, rand.Reader)
	case famRSA, famPSS:
		bits := 2048
		if info.hash != crypto.SHA256 {
			bits = 3072
		}
		material, err = rsa.GenerateKey(rand.Reader, bits)
	case famHMAC:
		secret := make([]byte, info.hash.Size())
		rand.Read(secret)
		material = secret
	}
	if err != nil {
		return nil, fmt.Errorf("token: generating %s key: %w", alg, err)
	}
	return NewKey(material, KeyOptions{Algorithm: alg})
}

// ID returns the key ID ("kid").
func (k *Key) ID() string { return k.id }

// Algorithm returns the only algorithm the key signs and verifies with.
func (k *Key) Algorithm() Algorithm { return k.alg }

// CanSign reports whether the key holds private (or secret) material.
func (k *Key) CanSign() bool { return k.priv != nil }

// Symmetric reports whether the key is an HMAC secret.
func (k *Key) Symmetric() bool { return k.info.fam == famHMAC }

// PublicKey returns the public key (ed25519.PublicKey, *ecdsa.PublicKey or
// *rsa.PublicKey), or nil for an HMAC key.
func (k *Key) PublicKey() crypto.PublicKey {
	if k.Symmetric() {
		return nil
	}
	return k.pub
}

// Public returns the verification-only half of k with the same ID and
// algorithm, or nil for an HMAC key, which has no public half.
func (k *Key) Public() *Key {
	if k.Symmetric() {
		return nil
	}
	p := *k
	p.priv = nil
	return &p
}

// String describes the key without its material.
func (k *Key) String() string {
	kind := "public"
	switch {
	case k.Symmetric():
		kind = "secret"
	case k.CanSign():
		kind = "private"
	}
	return fmt.Sprintf("token.Key{kid: %q, alg: %s, %s}", k.id, k.alg, kind)
}

// GoString is String, so %#v does not print key material either.
func (k *Key) GoString() string { return k.String() }

// LogValue implements [slog.LogValuer]: kid and alg only.
func (k *Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.id), slog.String("alg", string(k.alg)))
}

// sign returns the signature of input.
func (k *Key) sign(input string) ([]byte, error) {
	return k.info.method.Sign(input, k.priv)
}

// VerifySignature reports whether sig, the base64url (unpadded) third
// segment of a compact JWS, is a valid signature of signingInput (the
// first two segments and their dot) under k with k's algorithm. It is for
// JWS other than access tokens (a DPoP proof, RFC 9449); access tokens are
// verified by a [Verifier]. It does no work on signatures of the wrong
// length.
func (k *Key) VerifySignature(signingInput, sig string) bool {
	return k.verify(readOnly(signingInput), readOnly(sig))
}

// verify reports whether sigB64 (base64url) is a valid signature of input.
// It does no work on signatures of the wrong length.
func (k *Key) verify(input, sigB64 []byte) bool {
	if b64.DecodedLen(len(sigB64)) != k.sigLen {
		return false
	}
	if k.info.fam == famHMAC {
		var buf [64]byte
		sig := buf[:k.sigLen]
		if n, err := b64.Decode(sig, sigB64); err != nil || n != k.sigLen {
			return false
		}
		st := k.macs.Get().(*macState)
		st.h.Reset()
		st.h.Write(input)
		ok := hmac.Equal(st.h.Sum(st.sum[:0]), sig)
		k.macs.Put(st)
		return ok
	}
	sig := make([]byte, k.sigLen)
	if n, err := b64.Decode(sig, sigB64); err != nil || n != k.sigLen {
		return false
	}
	if k.info.fam == famEdDSA {
		return ed25519.Verify(k.pub.(ed25519.PublicKey), input, sig)
	}
	h := k.info.hash.New()
	h.Write(input)
	digest := h.Sum(nil)
	switch k.info.fam {
	case famECDSA:
		half := len(sig) / 2
		r, s := new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])
		return ecdsa.Verify(k.pub.(*ecdsa.PublicKey), digest, r, s)
	case famRSA:
		return rsa.VerifyPKCS1v15(k.pub.(*rsa.PublicKey), k.info.hash, digest, sig) == nil
	case famPSS:
		return rsa.VerifyPSS(k.pub.(*rsa.PublicKey), k.info.hash, digest, sig, pssOptions) == nil
	}
	return false
}

// pssOptions pins the PSS salt length to the hash length (RFC 7518 §3.5).
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
