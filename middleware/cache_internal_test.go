package middleware

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/identity"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func keyN(n int) cacheKey {
	var k cacheKey
	binary.LittleEndian.PutUint64(k[8:], uint64(n))
	k[0] = byte(n * 7) // spread over the shards
	return k
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.index)
		sh.mu.RUnlock()
	}
	return n
}

var forever = &route{maxAge: -1}

func principal(n int) *identity.Principal {
	return &identity.Principal{Subject: string(rune('a' + n%26)), ExpiresAt: t0.Add(time.Hour)}
}

// TestCacheBounded: the cache never holds more than its size, whatever is
// put in it, and keeps the newest entry.
func TestCacheBounded(t *testing.T) {
	for _, size := range []int{1, 10, 64, 100, 1000, 10000} {
		c := newCache(size)
		for i := range 3 * size {
			c.add(keyN(i), principal(i), forever, t0)
			if n := c.len(); n > size {
				t.Fatalf("size %d: %d entries after %d puts", size, n, i+1)
			}
		}
		if _, ok := c.get(keyN(3*size-1), t0); !ok {
			t.Fatalf("size %d: the newest entry was evicted", size)
		}
		if size >= minCacheShardSlots && c.len() < size*9/10 {
			t.Errorf("size %d: only %d entries kept", size, c.len())
		}
	}
}

// TestCacheSecondChance: when full, the clock evicts an entry that was not
// hit before one that was.
func TestCacheSecondChance(t *testing.T) {
	c := newCache(minCacheShardSlots) // one shard
	for i := range minCacheShardSlots {
		c.add(keyN(i), principal(i), forever, t0)
	}
	if _, ok := c.get(keyN(0), t0); !ok {
		t.Fatal("miss")
	}
	c.add(keyN(1000), principal(1000), forever, t0)
	if _, ok := c.get(keyN(0), t0); !ok {
		t.Error("the entry that was hit was evicted")
	}
	if _, ok := c.get(keyN(1), t0); ok {
		t.Error("the oldest entry not hit is still there")
	}
	if c.len() != minCacheShardSlots {
		t.Errorf("%d entries", c.len())
	}
}

// TestCacheExpiryAndRemoval: an entry past its time is dropped on get and
// its slot reused; putting a key again replaces its entry.
func TestCacheExpiryAndRemoval(t *testing.T) {
	c := newCache(64)
	p := principal(1)
	c.add(keyN(1), p, forever, t0)
	if got, ok := c.get(keyN(1), t0.Add(59*time.Minute)); !ok || got != p {
		t.Fatal("miss before expiry")
	}
	if _, ok := c.get(keyN(1), t0.Add(time.Hour)); ok || c.len() != 0 {
		t.Fatalf("hit at expiry, %d entries", c.len())
	}
	q := principal(2)
	c.add(keyN(2), p, forever, t0)
	c.add(keyN(2), q, forever, t0)
	if got, _ := c.get(keyN(2), t0); got != q || c.len() != 1 {
		t.Fatalf("put again: %v, %d entries", got, c.len())
	}
	// An already expired principal is not cached.
	c.add(keyN(3), &identity.Principal{ExpiresAt: t0}, forever, t0)
	if c.len() != 1 {
		t.Fatal("cached an expired principal")
	}
}

// TestCacheConcurrent hammers one small cache from many goroutines (run
// with -race).
func TestCacheConcurrent(t *testing.T) {
	c := newCache(128)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				k := keyN((i*31 + g) % 500)
				if p, ok := c.get(k, t0); ok && p == nil {
					t.Error("nil principal")
				}
				if i%3 == 0 {
					c.add(k, principal(i), forever, t0)
				}
			}
		})
	}
	wg.Wait()
	if n := c.len(); n > 128 {
		t.Fatalf("%d entries", n)
	}
}

// TestCacheKeys: keys are the same for the same token under one keyer,
// differ between tokens, and depend on the keyer's secret, with GMAC and
// with the HMAC-SHA-256 of FIPS 140-only mode alike.
func TestCacheKeys(t *testing.T) {
	hmac1, hmac2 := newKeyer(), newKeyer()
	hmac1.gcm, hmac2.gcm = nil, nil
	pairs := [][2]*keyer{{hmac1, hmac2}}
	if gmac1, gmac2 := newKeyer(), newKeyer(); gmac1.gcm != nil { // nil in FIPS 140-only mode
		pairs = append(pairs, [2]*keyer{gmac1, gmac2})
		if gmac1.key("x") == hmac1.key("x") {
			t.Fatal("GMAC and HMAC keys agree")
		}
	}
	for _, pair := range pairs {
		a, b := pair[0], pair[1]
		for _, tok := range []string{"", "a", "eyJ.eyJ.sig", string(make([]byte, 8<<10))} {
			if k := a.key(tok); a.key(tok) != k {
				t.Fatalf("%q: two keys", tok)
			}
			if a.key(tok) == b.key(tok) {
				t.Fatalf("%q: the same key under two secrets", tok)
			}
			if a.key(tok) == a.key(tok+"x") || a.key(tok+"\x00") == a.key(tok) {
				t.Fatalf("%q: collides with a longer token", tok)
			}
		}
	}
}
