package dpop

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// ReplayCache remembers the proofs seen. Implementations must be safe for
// concurrent use; instances that must refuse each other's replays share
// one (dpop/redisreplay).
type ReplayCache interface {
	// Remember records key until expires and reports whether it was new:
	// false when it was recorded already and has not expired. An error
	// means the cache cannot answer (the caller refuses: fail closed).
	Remember(ctx context.Context, key string, expires time.Time) (fresh bool, err error)
}

// memoryShards spreads the memory cache's lock.
const memoryShards = 32

// MemoryCache is a [ReplayCache] in memory, for one instance. Expired
// entries are dropped as new ones arrive.
type MemoryCache struct {
	seed   maphash.Seed
	now    func() time.Time
	shards [memoryShards]memoryShard
}

type memoryShard struct {
	mu      sync.Mutex
	entries map[string]time.Time
	sweep   int // inserts since the last sweep
}

// NewMemoryCache returns an empty cache; now is its clock (nil: time.Now).
func NewMemoryCache(now func() time.Time) *MemoryCache {
	if now == nil {
		now = time.Now
	}
	c := &MemoryCache{seed: maphash.MakeSeed(), now: now}
	for i := range c.shards {
		c.shards[i].entries = map[string]time.Time{}
	}
	return c
}

// Remember implements [ReplayCache].
func (c *MemoryCache) Remember(_ context.Context, key string, expires time.Time) (bool, error) {
	now := c.now()
	s := &c.shards[maphash.String(c.seed, key)%memoryShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.entries[key]; ok && at.After(now) {
		return false, nil
	}
	s.entries[key] = expires
	// Sweep once the shard has doubled since the last sweep: amortized
	// O(1), and the map holds at most about twice the live entries.
	if s.sweep++; s.sweep > len(s.entries)/2+64 {
		s.sweep = 0
		for k, at := range s.entries {
			if !at.After(now) {
				delete(s.entries, k)
			}
		}
	}
	return true, nil
}

// Len returns the number of entries held (expired ones not swept yet
// included).
func (c *MemoryCache) Len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.Lock()
		n += len(c.shards[i].entries)
		c.shards[i].mu.Unlock()
	}
	return n
}
