package apitoken

import (
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"regexp"
	"strings"
)

// The token format: Prefix, then SecretLen base62 characters drawn from
// crypto/rand (about 178 bits), then ChecksumLen base62 characters: the
// CRC-32 (IEEE) of the secret part, zero-padded on the left. The
// checksum is no protection (anyone can compute it): it lets a typo or
// a random string be refused without a database query, and lets secret
// scanners tell a token from noise.
const (
	DefaultPrefix = "sl_"
	SecretLen     = 30
	ChecksumLen   = 6
	// MaxPrefixLen bounds Config.Prefix.
	MaxPrefixLen = 32
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// checkPrefix reports whether p is a prefix the package accepts:
// lowercase letters, digits and underscores, starting with a letter and
// ending with an underscore, at most MaxPrefixLen bytes. A prefix starting
// "ew", "ey" or "e3" could capture JWTs and is refused, as the middleware
// would refuse it.
func checkPrefix(p string) error {
	ok := len(p) >= 2 && len(p) <= MaxPrefixLen && 'a' <= p[0] && p[0] <= 'z' && p[len(p)-1] == '_'
	for i := 0; ok && i < len(p); i++ {
		c := p[i]
		ok = c == '_' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
	}
	if !ok {
		return fmt.Errorf("apitoken: bad prefix %q: want [a-z][a-z0-9_]*_ of at most %d bytes, like %q", p, MaxPrefixLen, DefaultPrefix)
	}
	if p[0] == 'e' && strings.IndexByte("wy3", p[1]) >= 0 {
		return fmt.Errorf("apitoken: prefix %q could capture JWTs (their headers start ew, ey or e3)", p)
	}
	return nil
}

// Pattern returns the regular expression (RE2 and PCRE syntax) that
// matches the tokens of prefix, for secret scanners:
//
//	\bsl_[0-9A-Za-z]{36}\b
//
// for the default prefix. A match whose last 6 characters are the
// checksum of the 30 before them is almost certainly a token.
func Pattern(prefix string) string {
	return `\b` + regexp.QuoteMeta(prefix) + fmt.Sprintf(`[0-9A-Za-z]{%d}\b`, SecretLen+ChecksumLen)
}

// generate returns a new token of prefix.
func generate(prefix string) string {
	b := make([]byte, 0, len(prefix)+SecretLen+ChecksumLen)
	b = append(b, prefix...)
	var buf [64]byte
	for n := 0; n < SecretLen; {
		rand.Read(buf[:]) // never fails (crypto/rand panics rather than return an error)
		for _, c := range buf {
			// 248 = 4 × 62: rejection sampling keeps every character
			// equally likely.
			if c < 248 && n < SecretLen {
				b = append(b, base62[c%62])
				n++
			}
		}
	}
	return string(appendChecksum(b, b[len(prefix):]))
}

// appendChecksum appends the base62 CRC-32 of secret to b.
func appendChecksum(b, secret []byte) []byte {
	sum := crc32.ChecksumIEEE(secret)
	var c [ChecksumLen]byte
	for i := ChecksumLen - 1; i >= 0; i-- {
		c[i] = base62[sum%62]
		sum /= 62
	}
	return append(b, c[:]...)
}

// Check reports whether raw is well formed for prefix: the prefix, then
// exactly SecretLen+ChecksumLen base62 characters, the last ChecksumLen
// of them the checksum of the others. It does no I/O and no
// cryptography: a mistyped or random string is refused here, before any
// database query. Errors wrap [ErrMalformed].
func Check(prefix, raw string) error {
	rest, ok := strings.CutPrefix(raw, prefix)
	switch {
	case !ok:
		return fmt.Errorf("%w: wrong prefix", ErrMalformed)
	case len(rest) != SecretLen+ChecksumLen:
		return fmt.Errorf("%w: %d characters after the prefix, want %d", ErrMalformed, len(rest), SecretLen+ChecksumLen)
	}
	for i := 0; i < len(rest); i++ {
		if !isBase62(rest[i]) {
			return fmt.Errorf("%w: a character outside [0-9A-Za-z]", ErrMalformed)
		}
	}
	var want [ChecksumLen]byte
	appendChecksum(want[:0], []byte(rest[:SecretLen]))
	if string(want[:]) != rest[SecretLen:] {
		return fmt.Errorf("%w: bad checksum", ErrMalformed)
	}
	return nil
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}
