package token

import (
	"crypto"
	"crypto/rsa"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithm is a JWS "alg" value (RFC 7518 §3.1). Every [Key] carries
// exactly one; a verifier accepts a token only when its header names the
// algorithm of the key its "kid" selects.
type Algorithm string

// The supported algorithms. "none" is not one of them.
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

// Algorithms lists every supported algorithm.
var Algorithms = []Algorithm{EdDSA, ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, HS256, HS384, HS512}

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
	EdDSA: {famEdDSA, 0, jwt.SigningMethodEdDSA},
	ES256: {famECDSA, crypto.SHA256, jwt.SigningMethodES256},
	ES384: {famECDSA, crypto.SHA384, jwt.SigningMethodES384},
	ES512: {famECDSA, crypto.SHA512, jwt.SigningMethodES512},
	RS256: {famRSA, crypto.SHA256, jwt.SigningMethodRS256},
	RS384: {famRSA, crypto.SHA384, jwt.SigningMethodRS384},
	RS512: {famRSA, crypto.SHA512, jwt.SigningMethodRS512},
	PS256: {famPSS, crypto.SHA256, strictPSS(jwt.SigningMethodPS256)},
	PS384: {famPSS, crypto.SHA384, strictPSS(jwt.SigningMethodPS384)},
	PS512: {famPSS, crypto.SHA512, strictPSS(jwt.SigningMethodPS512)},
	HS256: {famHMAC, crypto.SHA256, jwt.SigningMethodHS256},
	HS384: {famHMAC, crypto.SHA384, jwt.SigningMethodHS384},
	HS512: {famHMAC, crypto.SHA512, jwt.SigningMethodHS512},
}
