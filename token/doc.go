// Package token issues and verifies first-party JWT access tokens: the
// "JWT Profile for OAuth 2.0 Access Tokens" (RFC 9068), validated as the
// JWT Best Current Practices (RFC 8725) ask. Signing uses
// github.com/golang-jwt/jwt/v5; verification is this package's own, strict
// and within a few percent of the cost of the bare crypto.
//
// # Keys
//
// A [Key] carries exactly one [Algorithm] and a key ID ("kid", by default
// its RFC 7638 thumbprint). Load keys with [ParsePEM] or [ParseJWK], wrap
// crypto keys with [NewKey], or make new ones with [GenerateKey]. Weak keys
// (RSA under 2048 bits or with the ROCA fingerprint, HMAC secrets shorter
// than the hash) are refused with [ErrWeakKey]. [Ed25519], EdDSA's RFC
// 9864 name, is EdDSA under another name ([Algorithm.Equal]).
// [ReadKeyFile] reads a PEM key file, refusing a private key file that
// group or others may read or write; [LoadOrCreateKeyFile] reads a signing
// key file, or creates it on the first start.
// A [KeySet] holds one signing key and any number of verification-only
// keys; a [KeyRing] swaps sets atomically for rotation:
//
//	key, err := token.ParsePEM(pemBytes, token.KeyOptions{})
//	set, err := token.NewKeySet(key)
//	ring, err := token.NewKeyRing(set)
//
// [JWKSHandler] publishes the public keys (RFC 7517) for other services.
//
// # Issuing
//
//	issuer, err := token.NewIssuer(ring, token.IssuerConfig{
//		Issuer:   "https://api.example",
//		Audience: []string{"api"},
//		TTL:      15 * time.Minute,
//	})
//	raw, claims, err := issuer.Issue(token.Claims{Subject: "user-42", Scope: "widgets:read"})
//
// # Verifying
//
//	verifier, err := token.NewVerifier(ring, token.VerifierConfig{
//		Issuer:   "https://api.example",
//		Audience: "api",
//	})
//	claims, err := verifier.Verify(raw)
//	if errors.Is(err, token.ErrExpired) { ... }
//
// [Verifier.Verify] rejects, before any signature check: tokens over 8 KiB,
// anything but three non-empty strict base64url segments, a "typ" other
// than "at+jwt" (so ID tokens and other JWTs from the same key never pass
// as access tokens), any "crit" header, a "kid" not in the key set, and an
// "alg" other than that key's (EdDSA and Ed25519 are one). The header
// never chooses a key or an algorithm, and keys named or carried in it
// (jku, x5u, jwk, x5c) are ignored. Header and payload are JSON objects
// read with exact member names ("EXP" is not "exp", RFC 7519 §4), none
// repeated at any depth.
// Dates must be JSON numbers between 1970 and 9999. After the signature it
// requires iss, sub, aud, exp, iat and jti, matches iss exactly, requires
// the configured audience in aud, checks exp, nbf and iat against
// [VerifierConfig.Now] with a leeway (30 s by default), and refuses a
// lifetime (exp − iat) over [VerifierConfig.MaxTokenLifetime] (24 h by
// default). Every error wraps one sentinel (ErrMalformed, ErrExpired,
// ...); a failed verification never returns claims, and the claims it
// returns keep the decoded payload but not the token.
//
// Package tokentest mints valid and hostile tokens for tests.
package token
