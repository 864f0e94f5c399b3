package token

import (
	"crypto/rsa"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
)

// BenchmarkROCAFingerprint: the check every RSA key load runs. An
// ordinary modulus is cleared at the first primes; a ROCA one (the worst
// case) is reduced by every group of primes. It allocates nothing.
func BenchmarkROCAFingerprint(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bits := range []int{2048, 4096, 16384} {
		ordinary := randomBig(rng, bits)
		ordinary.SetBit(ordinary, 0, 1)
		for rocaFingerprint(ordinary) { // a 2^-28 chance
			ordinary.Add(ordinary, big.NewInt(2))
		}
		for name, n := range map[string]*big.Int{"ordinary": ordinary, "roca": rocaModulus(rng, bits)} {
			b.Run(strconv.Itoa(bits)+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if rocaFingerprint(n) != (name == "roca") {
						b.Fatal("wrong answer")
					}
				}
			})
		}
	}
}

// BenchmarkNewKeyRSA: loading an RSA public key, the ROCA check
// included, for scale.
func BenchmarkNewKeyRSA(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := randomBig(rng, 2048)
	for rocaFingerprint(n.SetBit(n, 0, 1)) {
		n.Add(n, big.NewInt(2))
	}
	pub := &rsa.PublicKey{N: n, E: 65537}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewKey(pub, KeyOptions{ID: "k"}); err != nil {
			b.Fatal(err)
		}
	}
}
