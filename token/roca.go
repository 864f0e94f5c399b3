package token

import (
	"math/big"
	"math/bits"
)

// ROCA (CVE-2017-15361; Nemec, Sys, Svenda, Klinec and Matyas, "The
// Return of Coppersmith's Attack", CCS 2017): Infineon's RSALib, in
// smart cards, TPMs and security tokens from 2012 to 2017, made RSA
// primes of the form p = k·M + (65537^a mod M), M the product of the
// first n primes (n growing with the key size, 39 for 512-bit keys),
// which Coppersmith's method factors: such a key is as good as public.
// Modulo each prime r dividing M, N = p·q is then a power of 65537: the
// paper's fingerprint, tested here on the primes its detector lists (up
// to 167, in M for every key size). A modulus not made by RSALib has the
// fingerprint with a probability of about 2^-28: such a rare key is
// refused too, and its owner makes another.

// rocaPrimes are the odd primes up to 167 (mod 2 every odd N passes).
var rocaPrimes = [...]uint64{3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
	79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167}

// rocaPowers[i] is the set of powers of 65537 modulo rocaPrimes[i], as a
// bitmap: bit x is set when x = 65537^a mod rocaPrimes[i] for some a.
// rocaGroups cut rocaPrimes into runs whose product fits in a uint64, so
// that N is reduced once per run.
var rocaPowers, rocaGroups = rocaTables()

type rocaGroup struct {
	m        uint64 // the product of rocaPrimes[from:to]
	from, to int
}

func rocaTables() (powers [len(rocaPrimes)][3]uint64, groups []rocaGroup) {
	g := rocaGroup{m: 1}
	for i, r := range rocaPrimes {
		for x := uint64(1); ; {
			powers[i][x/64] |= 1 << (x % 64)
			if x = x * 65537 % r; x == 1 {
				break
			}
		}
		if hi, _ := bits.Mul64(g.m, r); hi != 0 {
			groups = append(groups, g)
			g = rocaGroup{m: 1, from: i}
		}
		g.m *= r
		g.to = i + 1
	}
	return powers, append(groups, g)
}

// rocaFingerprint reports whether the RSA modulus n has the ROCA
// fingerprint. It allocates nothing and costs a few remainders per word
// of n; an ordinary modulus fails the test at the first few primes.
func rocaFingerprint(n *big.Int) bool {
	words := n.Bits()
	for _, g := range rocaGroups {
		rem := remainder(words, g.m)
		for i := g.from; i < g.to; i++ {
			x := rem % rocaPrimes[i]
			if rocaPowers[i][x/64]&(1<<(x%64)) == 0 {
				return false
			}
		}
	}
	return true
}

// remainder returns the natural number of the little-endian words w
// modulo m (m > 0).
func remainder(w []big.Word, m uint64) uint64 {
	var r uint64
	for i := len(w) - 1; i >= 0; i-- {
		if bits.UintSize == 64 {
			r = bits.Rem64(r, uint64(w[i]), m)
		} else { // 32-bit words: r·2^32 + w[i], r < m
			r = bits.Rem64(r>>32, r<<32|uint64(w[i]), m)
		}
	}
	return r
}
