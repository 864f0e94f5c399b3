package middleware

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/identity"
)

// BenchmarkCacheKey compares the cache key (GMAC under a per-process key)
// with SHA-256, the key it replaced, for tokens of typical (400 bytes, an
// EdDSA access token), large (1.2 KB, RS256 with claims) and maximum size.
func BenchmarkCacheKey(b *testing.B) {
	k := newKeyer()
	if k.gcm == nil {
		b.Skip("AES-GCM unavailable (FIPS 140-only mode)")
	}
	for _, n := range []int{400, 1200, 8 << 10} {
		raw := strings.Repeat("a", n)
		b.Run("gmac/"+itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				k.key(raw)
			}
		})
		b.Run("sha256/"+itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				sha256.Sum256(readOnly(raw))
			}
		})
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func BenchmarkCacheGet(b *testing.B) {
	c := newCache(10000)
	k := newKeyer()
	key := k.key("token")
	c.add(key, &identity.Principal{Subject: "x", ExpiresAt: time.Unix(3600, 0)}, &route{maxAge: -1}, time.Unix(0, 0))
	now := time.Unix(1, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.get(key, now); !ok {
			b.Fatal("miss")
		}
	}
}
