package token_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/sessionless/sessionless/token"
)

// rocaM is the product of the primes up to 167: the part of RSALib's M
// (a primorial) that every key size shares, and that the ROCA
// fingerprint reads.
var rocaM = func() *big.Int {
	m := big.NewInt(1)
	for r := int64(2); r <= 167; r++ {
		if big.NewInt(r).ProbablyPrime(0) {
			m.Mul(m, big.NewInt(r))
		}
	}
	return m
}()

// rocaPrime returns a prime of bits bits built as Infineon's RSALib built
// them (ROCA, CVE-2017-15361): k·M + (65537^a mod M), with k and a drawn
// from rng, at least 1.5·2^(bits−1) so that two make a modulus of 2·bits
// bits, and with p − 1 prime to 65537 so that e = 65537 works.
func rocaPrime(rng *mrand.Rand, bits int) *big.Int {
	e := big.NewInt(65537)
	lo := new(big.Int).Lsh(big.NewInt(3), uint(bits-2))
	lo.Div(lo.Add(lo, rocaM), rocaM) // ⌈3·2^(bits−2) / M⌉, rounded up enough
	hi := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(1), uint(bits)), rocaM)
	span := new(big.Int).Sub(hi, lo)
	for {
		r := new(big.Int)
		for r.BitLen() < span.BitLen()+64 {
			r.Lsh(r, 64).Or(r, new(big.Int).SetUint64(rng.Uint64()))
		}
		k := r.Mod(r, span).Add(r, lo)
		p := new(big.Int).Mul(k, rocaM)
		p.Add(p, new(big.Int).Exp(e, new(big.Int).SetUint64(rng.Uint64()), rocaM))
		pm1 := new(big.Int).Sub(p, big.NewInt(1))
		if new(big.Int).Mod(pm1, e).Sign() != 0 && p.ProbablyPrime(20) {
			return p
		}
	}
}

// rocaKeys are RSA keys with ROCA's structure, made once from fixed
// seeds, of 2048 bits: the smallest this package accepts, and the most
// common. (Other sizes: TestROCAFingerprint.)
var rocaKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	var keys []*rsa.PrivateKey
	for i, bits := range []int{2048, 2048} {
		rng := mrand.New(mrand.NewChaCha8([32]byte{'r', 'o', 'c', 'a', byte(i)}))
		p, q := rocaPrime(rng, bits/2), rocaPrime(rng, bits/2)
		one := big.NewInt(1)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		k := &rsa.PrivateKey{
			PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537},
			D:         new(big.Int).ModInverse(big.NewInt(65537), phi),
			Primes:    []*big.Int{p, q},
		}
		k.Precompute()
		if err := k.Validate(); err != nil || k.N.BitLen() != bits {
			panic(err)
		}
		keys = append(keys, k)
	}
	return keys
})

// TestROCA: RSA keys with the ROCA fingerprint are refused with
// ErrWeakKey however they are loaded: as crypto keys, PEM, a JWK or a
// key of a JWK Set, private or public.
func TestROCA(t *testing.T) {
	for _, k := range rocaKeys() {
		pub := &k.PublicKey
		pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		pkix, _ := x509.MarshalPKIXPublicKey(pub)
		jwk := rsaJWK(pub, map[string]any{"kid": "roca", "alg": "RS256"})
		load := map[string]func() (*token.Key, error){
			"NewKey private":       func() (*token.Key, error) { return token.NewKey(k, token.KeyOptions{}) },
			"NewKey public, PS256": func() (*token.Key, error) { return token.NewKey(pub, token.KeyOptions{Algorithm: token.PS256}) },
			"PEM PKCS#8": func() (*token.Key, error) {
				return token.ParsePEM(pemOf(t, "PRIVATE KEY", pkcs8, nil), token.KeyOptions{})
			},
			"PEM PKCS#1": func() (*token.Key, error) {
				return token.ParsePEM(pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k), nil), token.KeyOptions{})
			},
			"PEM PKIX public": func() (*token.Key, error) {
				return token.ParsePEM(pemOf(t, "PUBLIC KEY", pkix, nil), token.KeyOptions{})
			},
			"JWK public": func() (*token.Key, error) { return token.ParseJWK(must(json.Marshal(jwk)), token.KeyOptions{}) },
			"JWK private": func() (*token.Key, error) {
				priv := rsaJWK(pub, map[string]any{"d": b64u(k.D.Bytes()), "p": b64u(k.Primes[0].Bytes()), "q": b64u(k.Primes[1].Bytes())})
				return token.ParseJWK(must(json.Marshal(priv)), token.KeyOptions{})
			},
		}
		for name, f := range load {
			key, err := f()
			if !errors.Is(err, token.ErrWeakKey) || key != nil || !strings.Contains(err.Error(), "ROCA") {
				t.Errorf("%d bits, %s: %v, %v; want ErrWeakKey naming ROCA", k.N.BitLen(), name, key, err)
			}
		}
		// In a JWK Set, the key is skipped (with its reason); the others
		// stay usable.
		good := &rsaKeys(t, 1)[0].PublicKey
		set, skipped, err := token.ParseJWKSet(jwkSet(jwk, rsaJWK(good, map[string]any{"kid": "good", "alg": "RS256"})),
			token.JWKSetOptions{Algorithms: []token.Algorithm{token.RS256}})
		if err != nil || len(set.Keys()) != 1 || len(skipped) != 1 || !errors.Is(skipped[0], token.ErrWeakKey) {
			t.Errorf("%d bits, a JWK Set: %v, skipped %v", k.N.BitLen(), err, skipped)
		}
		if _, _, err := token.ParseJWKSet(jwkSet(jwk), token.JWKSetOptions{Algorithms: []token.Algorithm{token.RS256}}); !errors.Is(err, token.ErrInvalidKey) {
			t.Errorf("%d bits, a JWK Set of the ROCA key alone: %v, want no usable key", k.N.BitLen(), err)
		}
	}
}

// TestROCAOrdinaryKeys: keys made by crypto/rsa do not have the
// fingerprint.
func TestROCAOrdinaryKeys(t *testing.T) {
	for i, k := range rsaKeys(t, 4) {
		if _, err := token.NewKey(&k.PublicKey, token.KeyOptions{}); err != nil {
			t.Errorf("crypto/rsa key %d: %v", i, err)
		}
	}
}

var (
	rsaKeysMu sync.Mutex
	rsaKeySet []*rsa.PrivateKey
)

// rsaKeys returns n 2048-bit keys from crypto/rsa, generated once per
// process.
func rsaKeys(t testing.TB, n int) []*rsa.PrivateKey {
	rsaKeysMu.Lock()
	defer rsaKeysMu.Unlock()
	for len(rsaKeySet) < n {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKeySet = append(rsaKeySet, k)
	}
	return rsaKeySet[:n]
}
