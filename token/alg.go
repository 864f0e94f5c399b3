package token

import (
	"crypto"
	"crypto/rsa"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithm is a JWS "alg" value (RFC 7518 §3.1). Every [Key] carries
// exactly one; a verifier accepts a token only when its header names the
// algorithm of the key its "kid" selects ([Algorithm.Equal]).
type Algorithm string

// The supported algorithms. "none" is not one of them. [Ed25519] is
// EdDSA's other name.
const (
	EdDSA Algorithm = "EdDSA" // Ed25519 (RFC 8037)
	ES256 Algorithm = "ES256" // ECDSA P-256 SHA-256
	ES384 Algorithm = "ES384" // ECDSA P-384 SHA-384
	ES512 Algorithm = "ES512" // ECDSA P-521 SHA-512
	RS256 Algorithm = "RS256" // RSASSA-PKCS1-v1_5 SHA-256
	RS384 Algorithm = "RS384"
	RS512 Algorithm = "RS512"
	PS256 Algorithm = "PS256" // RSASSA-PSS SHA-256, salt length 32
	PS384 Algorithm = "PS384"
	PS512 Algorithm = "PS512"
	HS256 Algorithm = "HS256" // HMAC SHA-256, secret of at least 32 bytes
	HS384 Algorithm = "HS384"
	HS512 Algorithm = "HS512"
)

// Ed25519 is the fully-specified name of EdDSA with the Ed25519 curve
// (RFC 9864 §2), which strict clients write instead of EdDSA. It is
// the same algorithm as EdDSA, whose only keys here are Ed25519 keys,
// and is accepted wherever EdDSA is ([Algorithm.Equal]). Ed25519 keys
// default to EdDSA, the name every verifier knows; a key made for
// Ed25519 signs with "Ed25519".
const Ed25519 Algorithm = "Ed25519"

// Algorithms lists every supported algorithm once, under the name keys
// default to: [Ed25519], EdDSA's other name, is not listed.
var Algorithms = []Algorithm{EdDSA, ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, HS256, HS384, HS512}

// Equal reports whether a and b name the same algorithm: the same name,
// or EdDSA and Ed25519. RFC 9864 §2 makes "Ed25519" EdDSA with the
// Ed25519 curve, and EdDSA with a key of this package is nothing else:
// it has no Ed448 keys, for which "EdDSA" would mean Ed448 and
// "Ed25519" must never verify.
func (a Algorithm) Equal(b Algorithm) bool {
	return a == b || a.isEd25519() && b.isEd25519()
}

func (a Algorithm) isEd25519() bool { return a == EdDSA || a == Ed25519 }

// Asymmetric reports whether a is a supported algorithm with a public
// key: EdDSA (or Ed25519), ES*, RS* or PS*; not HS*, not "none".
func (a Algorithm) Asymmetric() bool {
	info, ok := algs[a]
	return ok && info.fam != famHMAC
}

type family uint8

const (
	famNone family = iota
	famEdDSA
	famECDSA
	famRSA
	famPSS
	famHMAC
)

// algInfo is what a key needs to know about its algorithm.
type algInfo struct {
	fam    family
	hash   crypto.Hash
	method jwt.SigningMethod // golang-jwt signs for us
}

// strictPSS returns a PS* method whose verification, like its signing,
// requires the salt length to equal the hash length (RFC 7518 §3.5);
// golang-jwt's own PS* methods accept any salt length when verifying.
func strictPSS(m *jwt.SigningMethodRSAPSS) *jwt.SigningMethodRSAPSS {
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
	return &jwt.SigningMethodRSAPSS{SigningMethodRSA: m.SigningMethodRSA, Options: opts, VerifyOptions: opts}
}

var algs = map[Algorithm]algInfo{
	EdDSA:   {famEdDSA, 0, jwt.SigningMethodEdDSA},
	Ed25519: {famEdDSA, 0, jwt.SigningMethodEdDSA}, // signs as EdDSA does; the header says Ed25519
	ES256:   {famECDSA, crypto.SHA256, jwt.SigningMethodES256},
	ES384:   {famECDSA, crypto.SHA384, jwt.SigningMethodES384},
	ES512:   {famECDSA, crypto.SHA512, jwt.SigningMethodES512},
	RS256:   {famRSA, crypto.SHA256, jwt.SigningMethodRS256},
	RS384:   {famRSA, crypto.SHA384, jwt.SigningMethodRS384},
	RS512:   {famRSA, crypto.SHA512, jwt.SigningMethodRS512},
	PS256:   {famPSS, crypto.SHA256, strictPSS(jwt.SigningMethodPS256)},
	PS384:   {famPSS, crypto.SHA384, strictPSS(jwt.SigningMethodPS384)},
	PS512:   {famPSS, crypto.SHA512, strictPSS(jwt.SigningMethodPS512)},
	HS256:   {famHMAC, crypto.SHA256, jwt.SigningMethodHS256},
	HS384:   {famHMAC, crypto.SHA384, jwt.SigningMethodHS384},
	HS512:   {famHMAC, crypto.SHA512, jwt.SigningMethodHS512},
}
