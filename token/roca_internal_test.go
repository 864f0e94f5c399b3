package token

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

// randomBig returns a number of bits bits, top bit set, from rng.
func randomBig(rng *rand.Rand, bits int) *big.Int {
	n := new(big.Int)
	for n.BitLen() < bits {
		n.Lsh(n, 64).Or(n, new(big.Int).SetUint64(rng.Uint64()|1<<63))
	}
	return n.Rsh(n, uint(n.BitLen()-bits))
}

// rocaModulus returns a number of about bits bits with ROCA's structure
// modulo the checked primes: k·M + 65537^c mod M, as the product of two
// RSALib primes is (M the product of the primes up to 167).
func rocaModulus(rng *rand.Rand, bits int) *big.Int {
	m := big.NewInt(2)
	for _, r := range rocaPrimes {
		m.Mul(m, new(big.Int).SetUint64(r))
	}
	n := randomBig(rng, bits-m.BitLen())
	n.Mul(n, m)
	return n.Add(n, new(big.Int).Exp(big.NewInt(65537), new(big.Int).SetUint64(rng.Uint64()), m))
}

// TestROCAFingerprint checks the fingerprint on every key size against
// moduli with and without ROCA's structure, and its arithmetic against
// math/big's.
func TestROCAFingerprint(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m2 := big.NewInt(2) // 2M: the checked primes and 2, to keep n odd
	for _, r := range rocaPrimes {
		m2.Mul(m2, new(big.Int).SetUint64(r))
	}
	for _, bits := range []int{512, 1024, 2048, 2049, 3072, 4096, 8192} {
		for range 20 {
			n := rocaModulus(rng, bits)
			if !rocaFingerprint(n) {
				t.Fatalf("%d bits: a ROCA-structured modulus %x not detected", bits, n)
			}
			// One residue moved off the powers of 65537, the others
			// kept: n + d·(2M/r) changes n modulo r alone.
			for i, r := range rocaPrimes {
				br := new(big.Int).SetUint64(r)
				step := new(big.Int).Div(m2, br)
				off := new(big.Int).Set(n)
				for {
					off.Add(off, step)
					if x := new(big.Int).Mod(off, br).Uint64(); rocaPowers[i][x/64]&(1<<(x%64)) == 0 {
						break
					}
				}
				if rocaFingerprint(off) {
					t.Fatalf("%d bits: detected with %x mod %d off the powers of 65537", bits, off, r)
				}
			}
		}
		// Random odd numbers: the fingerprint's false positives are
		// about 2^-28.
		for range 2000 {
			n := randomBig(rng, bits)
			if rocaFingerprint(n.SetBit(n, 0, 1)) {
				t.Fatalf("%d bits: a random modulus %x detected", bits, n)
			}
		}
	}
	// The powers of 65537 and the remainders, against math/big.
	for i, r := range rocaPrimes {
		for x := range r {
			in := false
			for a := range r {
				if new(big.Int).Exp(big.NewInt(65537), big.NewInt(int64(a)), new(big.Int).SetUint64(r)).Uint64() == x {
					in = true
				}
			}
			if got := rocaPowers[i][x/64]&(1<<(x%64)) != 0; got != in {
				t.Fatalf("mod %d: %d listed %v, is a power of 65537 %v", r, x, got, in)
			}
		}
	}
	covered := 0
	for _, g := range rocaGroups {
		m := new(big.Int).SetUint64(g.m)
		want := big.NewInt(1)
		for _, r := range rocaPrimes[g.from:g.to] {
			want.Mul(want, new(big.Int).SetUint64(r))
		}
		if m.Cmp(want) != 0 || g.from != covered {
			t.Fatalf("group %+v", g)
		}
		covered = g.to
		for range 200 {
			n := randomBig(rng, 1+rng.IntN(5000))
			if got, want := remainder(n.Bits(), g.m), new(big.Int).Mod(n, m).Uint64(); got != want {
				t.Fatalf("%x mod %d = %d, want %d", n, g.m, got, want)
			}
		}
	}
	if covered != len(rocaPrimes) {
		t.Fatalf("the groups cover %d primes of %d", covered, len(rocaPrimes))
	}
}
