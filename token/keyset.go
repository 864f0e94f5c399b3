package token

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync/atomic"
)

// KeySource hands out the current key set. [*KeySet] (fixed keys) and
// [*KeyRing] (keys that rotate) implement it. KeySet is called on every
// Issue and Verify and must be cheap and safe for concurrent use.
type KeySource interface {
	KeySet() *KeySet
}

// KeySet is an immutable set of keys: at most one active signing key and
// any number of verification-only keys, each with a distinct kid. Rotation
// builds a new set from the old one ([KeySet.WithSigningKey],
// [KeySet.WithVerificationKey], [KeySet.Without]) and stores it in a
// [KeyRing]:
//
//  1. add the new key for verification and publish it (JWKS), and wait for
//     the JWKS cache lifetime so every verifier knows it;
//  2. switch signing to it (the old signing key stays for verification);
//  3. after the longest token lifetime, retire the old key.
type KeySet struct {
	signing *Key
	keys    []*Key // signing key first
	byID    map[string]*Key
	jwks    []byte // the public JWK Set document
	etag    string
}

// NewKeySet builds a set. signing may be nil for a verification-only set;
// otherwise it must hold private or secret material.
func NewKeySet(signing *Key, verifyOnly ...*Key) (*KeySet, error) {
	all := make([]*Key, 0, 1+len(verifyOnly))
	if signing != nil {
		if !signing.CanSign() {
			return nil, fmt.Errorf("%w: signing key %q has no private material", ErrConfig, signing.id)
		}
		all = append(all, signing)
	}
	for _, k := range verifyOnly {
		if k == nil {
			return nil, fmt.Errorf("%w: nil key", ErrConfig)
		}
		all = append(all, k)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: a key set needs at least one key", ErrConfig)
	}
	s := &KeySet{signing: signing, keys: all, byID: make(map[string]*Key, len(all))}
	type doc struct {
		Keys []*Key `json:"keys"`
	}
	d := doc{Keys: []*Key{}}
	for _, k := range all {
		if _, dup := s.byID[k.id]; dup {
			return nil, fmt.Errorf("%w: duplicate kid %q", ErrConfig, k.id)
		}
		s.byID[k.id] = k
		if !k.Symmetric() {
			d.Keys = append(d.Keys, k.Public())
		}
	}
	var err error
	if s.jwks, err = json.Marshal(d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	sum := sha256.Sum256(s.jwks)
	s.etag = `"` + b64.EncodeToString(sum[:16]) + `"`
	return s, nil
}

// KeySet returns s itself, so a fixed set is a [KeySource].
func (s *KeySet) KeySet() *KeySet { return s }

// SigningKey returns the active signing key, or nil.
func (s *KeySet) SigningKey() *Key { return s.signing }

// Key returns the key with the given kid.
func (s *KeySet) Key(kid string) (*Key, bool) {
	k, ok := s.byID[kid]
	return k, ok
}

// Keys returns every key, the signing key first.
func (s *KeySet) Keys() []*Key { return append([]*Key(nil), s.keys...) }

// JWKS returns the public JWK Set document (RFC 7517 §5): every asymmetric
// key's public half with kid, alg and use. Secrets never appear in it.
func (s *KeySet) JWKS() []byte { return append([]byte(nil), s.jwks...) }

func (s *KeySet) others(skip string) []*Key {
	var out []*Key
	for _, k := range s.keys {
		if k != s.signing && k.id != skip {
			out = append(out, k)
		}
	}
	return out
}

// WithSigningKey returns a new set that signs with k; the previous signing
// key stays in it for verification.
func (s *KeySet) WithSigningKey(k *Key) (*KeySet, error) {
	if k == nil {
		return nil, fmt.Errorf("%w: nil key", ErrConfig)
	}
	rest := s.others(k.id)
	if s.signing != nil && s.signing.id != k.id {
		rest = append([]*Key{s.signing}, rest...)
	}
	return NewKeySet(k, rest...)
}

// WithVerificationKey returns a new set that also accepts tokens signed by k.
func (s *KeySet) WithVerificationKey(k *Key) (*KeySet, error) {
	return NewKeySet(s.signing, append(s.others(""), k)...)
}

// Without returns a new set without the key kid (retirement). The active
// signing key cannot be removed: switch signing first.
func (s *KeySet) Without(kid string) (*KeySet, error) {
	if s.signing != nil && s.signing.id == kid {
		return nil, fmt.Errorf("%w: cannot retire the active signing key %q", ErrConfig, kid)
	}
	if _, ok := s.byID[kid]; !ok {
		return nil, fmt.Errorf("%w: no key %q", ErrConfig, kid)
	}
	return NewKeySet(s.signing, s.others(kid)...)
}

// KeyRing holds the current [KeySet] and swaps it atomically: an Issue or
// Verify running during [KeyRing.Store] uses either the old or the new set,
// never a mix. The zero KeyRing is not usable; call [NewKeyRing].
type KeyRing struct {
	cur atomic.Pointer[KeySet]
}

// NewKeyRing returns a ring holding set.
func NewKeyRing(set *KeySet) (*KeyRing, error) {
	r := &KeyRing{}
	if err := r.Store(set); err != nil {
		return nil, err
	}
	return r, nil
}

// KeySet returns the current set.
func (r *KeyRing) KeySet() *KeySet { return r.cur.Load() }

// Store makes set the current set.
func (r *KeyRing) Store(set *KeySet) error {
	if set == nil {
		return fmt.Errorf("%w: nil key set", ErrConfig)
	}
	r.cur.Store(set)
	return nil
}
