package endpoint

import (
	"container/list"
	"context"
	"errors"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: it holds at most Burst tokens and gains one
// every Every; each request takes one, and a request that finds none is
// refused.
type Rate struct {
	Burst int
	Every time.Duration
}

func (r Rate) valid() bool {
	return r.Burst >= 1 && r.Every > 0 && int64(r.Burst) <= int64(maxRateSpan/r.Every)
}

// maxRateSpan bounds Burst × Every, the time an empty bucket takes to
// fill: a century.
const maxRateSpan = 100 * 365 * 24 * time.Hour

// fullAfter is how long a bucket holding tokens takes to be full again.
func (r Rate) fullAfter(tokens float64) time.Duration {
	missing := float64(r.Burst) - tokens
	if missing <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(missing * float64(r.Every)))
}

// Limiter keeps token buckets by key: the budgets of a [Throttle].
// [MemoryLimiter] keeps them in this process; package
// token/endpoint/redisthrottle keeps them in Redis, shared by every
// instance of a service. Implementations must be safe for concurrent use;
// limitertest is their conformance suite.
type Limiter interface {
	// Take takes one token from the bucket of key, whose size and refill
	// are r (r.Burst >= 1, r.Every > 0); a key the limiter does not hold
	// has a full bucket. When the bucket holds no token, Take takes
	// nothing and returns how long until it holds one (more than zero).
	// An error means the limiter cannot answer now. The Throttle's keys
	// are at most 40 bytes of ASCII, without spaces.
	Take(ctx context.Context, key string, r Rate) (wait time.Duration, err error)
}

// DefaultThrottleKeys is how many buckets a [MemoryLimiter] keeps
// exactly when MemoryLimiterConfig.MaxKeys is zero.
const DefaultThrottleKeys = 10000

// MemoryLimiterConfig configures a [MemoryLimiter].
type MemoryLimiterConfig struct {
	// MaxKeys bounds the buckets kept exactly. With MaxKeys keys held, a
	// new key makes the limiter forget the fullest of the evictSample
	// least recently used buckets (a full one costs nothing to forget).
	// One forgotten while spent (less than one token) is remembered in a
	// fixed table, two cells per key picked by a hash seeded at random,
	// as the moment it is full again; a new key starts from the earlier
	// of its two cells' moments. So a flood of distinct keys cannot reset
	// a spent budget, and costs MaxKeys buckets and the fixed table
	// (16 bytes per cell, MaxKeys cells or more), whatever its size. A
	// new key starts spent only when both its cells hold a spent
	// bucket's moment: a flood must spend whole budgets to do that. A
	// bucket forgotten with tokens left starts full when its key comes
	// back: forgetting it takes MaxKeys other keys and gives back less
	// than Burst. Zero means DefaultThrottleKeys (10000).
	MaxKeys int
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// MemoryLimiter is a [Limiter] in this process's memory: token buckets
// of golang.org/x/time/rate, in bounded memory (see
// MemoryLimiterConfig.MaxKeys). Take never fails. It is safe for
// concurrent use.
type MemoryLimiter struct {
	max  int
	now  func() time.Time
	seed maphash.Seed

	mu  sync.Mutex
	m   map[string]*list.Element
	lru *list.List // of *bucket, most recently used first
	// forgotten holds, per cell, the latest moment (Unix nanoseconds) a
	// bucket forgotten with a key hashing there is full again: two rows
	// of cells, a key's cell in each from its own half of the hash.
	forgotten [2][]int64
	mask      uint64
}

var _ Limiter = (*MemoryLimiter)(nil)

type bucket struct {
	key  string
	rate Rate
	lim  *rate.Limiter
}

// minForgottenCells is the least number of cells per row of the table of
// forgotten buckets.
const minForgottenCells = 1024

// NewMemoryLimiter returns an empty limiter; a negative MaxKeys is an
// error.
func NewMemoryLimiter(cfg MemoryLimiterConfig) (*MemoryLimiter, error) {
	if cfg.MaxKeys < 0 {
		return nil, errors.New("endpoint: negative MemoryLimiterConfig.MaxKeys")
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultThrottleKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cells := minForgottenCells
	for cells < cfg.MaxKeys {
		cells *= 2
	}
	m := &MemoryLimiter{max: cfg.MaxKeys, now: cfg.Now, seed: maphash.MakeSeed(),
		m: map[string]*list.Element{}, lru: list.New(), mask: uint64(cells - 1)}
	m.forgotten[0], m.forgotten[1] = make([]int64, cells), make([]int64, cells)
	return m, nil
}

// errInvalidRate: a Rate without a token or a refill.
var errInvalidRate = errors.New("endpoint: a Rate needs Burst >= 1, Every > 0, and Burst × Every at most a century")

// Take implements [Limiter].
func (m *MemoryLimiter) Take(_ context.Context, key string, r Rate) (time.Duration, error) {
	if !r.valid() {
		return 0, errInvalidRate
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.bucket(key, r, now)
	if b.lim.AllowN(now, 1) {
		return 0, nil
	}
	// Until the bucket holds one token: at least a nanosecond, so that a
	// refusal never reads as a success.
	wait := max(time.Duration(math.Ceil((1-b.lim.TokensAt(now))*float64(r.Every))), 1)
	return wait, nil
}

// bucket returns the bucket of key, made or moved to the front of the
// LRU list, with rate r. m.mu is held.
func (m *MemoryLimiter) bucket(key string, r Rate, now time.Time) *bucket {
	if e, ok := m.m[key]; ok {
		m.lru.MoveToFront(e)
		b := e.Value.(*bucket)
		if b.rate != r { // the configuration changed: keep the tokens
			b.lim.SetLimitAt(now, rate.Every(r.Every))
			b.lim.SetBurstAt(now, r.Burst)
			b.rate = r
		}
		return b
	}
	if m.lru.Len() >= m.max {
		m.evict(now)
	}
	b := &bucket{key: key, rate: r, lim: rate.NewLimiter(rate.Every(r.Every), r.Burst)}
	if full := m.fullAt(key); full > now.UnixNano() {
		// Start as a bucket that is full again at that moment, at most
		// an empty one: one that was emptied Burst refills before it.
		span := time.Duration(r.Burst) * r.Every
		full = min(full, now.Add(span).UnixNano())
		b.lim.ReserveN(time.Unix(0, full).Add(-span), r.Burst)
	}
	m.m[key] = m.lru.PushFront(b)
	return b
}

// evictSample is how many of the least recently used buckets eviction
// looks at.
const evictSample = 8

// evict forgets the fullest of the evictSample least recently used
// buckets (the least recently used of them on a tie), remembering in
// its cells the moment it is full again if it is spent. m.mu is held.
func (m *MemoryLimiter) evict(now time.Time) {
	var victim *list.Element
	most := -1.0
	e := m.lru.Back()
	for i := 0; i < evictSample && e != nil; i, e = i+1, e.Prev() {
		if tokens := e.Value.(*bucket).lim.TokensAt(now); tokens > most {
			victim, most = e, tokens
		}
	}
	b := victim.Value.(*bucket)
	m.lru.Remove(victim)
	delete(m.m, b.key)
	if most >= 1 {
		return // tokens left: forgetting it gives back less than Burst
	}
	full := now.Add(b.rate.fullAfter(most)).UnixNano()
	for row, i := range m.cells(b.key) {
		m.forgotten[row][i] = max(m.forgotten[row][i], full)
	}
}

// fullAt is the earliest of the moments held in key's cells.
func (m *MemoryLimiter) fullAt(key string) int64 {
	c := m.cells(key)
	return min(m.forgotten[0][c[0]], m.forgotten[1][c[1]])
}

// cells returns key's cell in each row.
func (m *MemoryLimiter) cells(key string) [2]uint64 {
	h := maphash.String(m.seed, key)
	return [2]uint64{h & m.mask, (h >> 32) & m.mask}
}

// len returns the number of buckets held exactly.
func (m *MemoryLimiter) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}
