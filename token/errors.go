package token

import "errors"

// Verification errors. [Verifier.Verify] wraps exactly one of these, so
// callers test the reason with [errors.Is]. The wrapped message may carry
// detail for logs; it never contains the token itself.
var (
	// ErrMalformed: the token is not a compact JWS of the accepted form
	// (too long, wrong number of segments, non-strict base64url, invalid
	// JSON, a header or payload that is not a JSON object or names a member
	// twice, a date that is not a JSON number in range, ...).
	ErrMalformed = errors.New("token: malformed")
	// ErrUnsupported: the header asks for something this package refuses to
	// process, such as a "crit" extension.
	ErrUnsupported = errors.New("token: unsupported header")
	// ErrWrongType: the "typ" header is not "at+jwt": the JWT is not an
	// access token (an ID token, a refresh token, ...).
	ErrWrongType = errors.New("token: not an access token")
	// ErrUnknownKey: the "kid" header names no key of the verifier's key set.
	ErrUnknownKey = errors.New("token: unknown key")
	// ErrAlgorithm: the "alg" header is not the algorithm of the key named
	// by "kid".
	ErrAlgorithm = errors.New("token: algorithm does not match key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("token: invalid signature")
	// ErrMissingClaim: a required claim (iss, sub, aud, exp, iat, jti) is absent.
	ErrMissingClaim = errors.New("token: missing required claim")
	// ErrIssuer: "iss" is not the configured issuer.
	ErrIssuer = errors.New("token: wrong issuer")
	// ErrAudience: "aud" does not contain the configured audience.
	ErrAudience = errors.New("token: wrong audience")
	// ErrExpired: "exp" has passed (beyond the leeway).
	ErrExpired = errors.New("token: expired")
	// ErrNotYetValid: "nbf" or "iat" lies in the future (beyond the leeway).
	ErrNotYetValid = errors.New("token: not yet valid")
	// ErrLifetime: the token lives longer than the verifier's
	// MaxTokenLifetime: exp is too far after iat.
	ErrLifetime = errors.New("token: lifetime too long")
)

// Construction errors, returned when keys, key sets, issuers and verifiers
// are built; never at request time.
var (
	// ErrWeakKey: an HMAC secret shorter than its hash output (32 bytes for
	// HS256), an RSA modulus under 2048 bits, or one with the ROCA
	// fingerprint (CVE-2017-15361: made by Infineon's RSALib, whose keys
	// can be factored).
	ErrWeakKey = errors.New("token: key too weak")
	// ErrInvalidKey: the key material is unusable (unknown type, wrong
	// curve for the algorithm, malformed PEM or JWK, ...).
	ErrInvalidKey = errors.New("token: invalid key")
	// ErrConfig: a configuration value is missing or out of range.
	ErrConfig = errors.New("token: invalid configuration")
	// ErrKeyFileMode: a private key file that group or others may read or
	// write (any of the mode bits 0o077), which [ReadKeyFile] and
	// [LoadOrCreateKeyFile] refuse, as ssh does. It is returned as a
	// [*KeyFileModeError], which carries the key for callers that choose to
	// only warn.
	ErrKeyFileMode = errors.New("token: private key file is accessible to group or others; chmod 600 it")
)
