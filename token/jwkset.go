package token

import (
	"crypto"
	"errors"
	"fmt"
	"slices"

	"github.com/sessionless/sessionless/internal/strictjson"
)

// JWKSetOptions says which keys of a JWK Set [ParseJWKSet] accepts.
type JWKSetOptions struct {
	// Algorithms are the accepted algorithms. Required. A key whose "alg"
	// is not one of them is skipped; EdDSA and Ed25519 (RFC 9864) accept
	// each other ([Algorithm.Equal]). A key without "alg" (RFC 7517 makes
	// it optional) gets the one algorithm of this list that fits its type
	// and curve, never a silent default: with none, or with several (RS256
	// and PS256 for an RSA key), it is skipped.
	Algorithms []Algorithm
	// Previous is the set this one replaces, when a set is fetched again:
	// a key of Previous with the same kid, algorithm and public key is
	// kept as the same *Key, so that claims it verified stay trusted
	// ([Claims.StillTrusted]); a key that left the document does not.
	Previous *KeySet
}

// ParseJWKSet reads a JWK Set document (RFC 7517 §5), {"keys": [...]},
// with exact member names, none repeated, for verifying signatures. Each
// key is read as [ParseJWK] reads one; a key that cannot verify with an
// accepted algorithm is skipped rather than failing the whole set: "use"
// other than "sig", "key_ops" without "verify", an unknown "kty" or
// curve, a weak RSA key (under 2048 bits, or with the ROCA fingerprint:
// [ErrWeakKey]), an algorithm not accepted, no "alg" and no single
// fitting algorithm, private or secret members (a published set holds
// none), or a "kid" shared with another key (which one a token means is
// unknowable). The skipped keys' reasons are returned. A
// document that is not a JWK Set, or has no usable key, is
// [ErrInvalidKey]. Documents are untrusted: sizes are the caller's to
// bound.
func ParseJWKSet(data []byte, opts JWKSetOptions) (*KeySet, []error, error) {
	if len(opts.Algorithms) == 0 {
		return nil, nil, fmt.Errorf("%w: JWKSetOptions.Algorithms is required", ErrConfig)
	}
	for _, a := range opts.Algorithms {
		if _, ok := algs[a]; !ok {
			return nil, nil, fmt.Errorf("%w: unsupported algorithm %q", ErrConfig, a)
		}
	}
	var raw [][]byte
	found := false
	m := strictjson.Object(data)
	for m.Next() {
		if string(m.Name()) != "keys" {
			continue
		}
		found = true
		e := strictjson.Array(m.Value())
		for e.Next() {
			raw = append(raw, e.Value())
		}
		if e.Err() != nil {
			return nil, nil, fmt.Errorf("%w: JWK Set: \"keys\" is not an array", ErrInvalidKey)
		}
	}
	if err := m.Err(); err != nil {
		return nil, nil, fmt.Errorf("%w: JWK Set: %w", ErrInvalidKey, err)
	}
	if !found {
		return nil, nil, fmt.Errorf("%w: JWK Set has no \"keys\" member", ErrInvalidKey)
	}

	var skipped []error
	var keys []*Key
	kids := map[string]int{}
	for i, r := range raw {
		k, err := parseSetKey(r, opts.Algorithms)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		kids[k.id]++
		keys = append(keys, k)
	}
	usable := keys[:0]
	for _, k := range keys {
		if kids[k.id] > 1 {
			skipped = append(skipped, fmt.Errorf("%w: kid %q names %d keys", ErrInvalidKey, k.id, kids[k.id]))
			continue
		}
		if opts.Previous != nil {
			if old, ok := opts.Previous.byID[k.id]; ok && old.alg.Equal(k.alg) && old.CanSign() == k.CanSign() && samePublic(old, k) {
				k = old
			}
		}
		usable = append(usable, k)
	}
	if len(usable) == 0 {
		return nil, skipped, fmt.Errorf("%w: JWK Set has no usable key (%w)", ErrInvalidKey, errors.Join(skipped...))
	}
	set, err := NewKeySet(nil, usable...)
	if err != nil {
		return nil, skipped, err
	}
	return set, skipped, nil
}

// parseSetKey reads one key of a published set.
func parseSetKey(data []byte, accepted []Algorithm) (*Key, error) {
	j, _, err := parseJWKMembers(data)
	if err != nil {
		return nil, err
	}
	if j.D != "" || j.K != "" || j.P != "" || j.Q != "" {
		return nil, fmt.Errorf("%w: a published key with private or secret members", ErrInvalidKey)
	}
	opts := KeyOptions{}
	if j.Alg != "" {
		if !slices.ContainsFunc(accepted, Algorithm(j.Alg).Equal) {
			return nil, fmt.Errorf("%w: alg %q is not accepted", ErrInvalidKey, j.Alg)
		}
	} else {
		var fits []Algorithm // distinct: EdDSA and Ed25519 are one
		for _, a := range accepted {
			if jwkFits(j, a) && !slices.ContainsFunc(fits, a.Equal) {
				fits = append(fits, a)
			}
		}
		if len(fits) != 1 {
			return nil, fmt.Errorf("%w: no alg, and %d accepted algorithms fit the %s key", ErrInvalidKey, len(fits), j.Kty)
		}
		opts.Algorithm = fits[0]
	}
	return ParseJWK(data, opts)
}

// jwkFits reports whether alg can be used with a key of j's type and
// curve.
func jwkFits(j jwk, alg Algorithm) bool {
	switch algs[alg].fam {
	case famEdDSA:
		return j.Kty == "OKP" && j.Crv == "Ed25519"
	case famECDSA:
		want := map[Algorithm]string{ES256: "P-256", ES384: "P-384", ES512: "P-521"}[alg]
		return j.Kty == "EC" && j.Crv == want
	case famRSA, famPSS:
		return j.Kty == "RSA"
	}
	return false
}

// samePublic reports whether a and b hold the same public key.
func samePublic(a, b *Key) bool {
	type equaler interface{ Equal(x crypto.PublicKey) bool }
	pa, ok := a.pub.(equaler)
	return ok && pa.Equal(b.pub)
}
