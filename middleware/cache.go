package middleware

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/strictjson"
)

// DefaultOpaqueCacheAge is how long a principal from an opaque-token
// (prefix) verifier that does not implement [CachePolicy], or one without
// an expiry from any verifier, is served from the cache: such tokens are
// usually looked up in a database, which the cache must not hide for long.
const DefaultOpaqueCacheAge = time.Minute

// CachePolicy is an optional interface of a [Verifier]: MaxCacheAge is how
// long a principal it returned may be served from the verified-token cache
// before the verifier is asked again. Zero or less keeps its principals
// out of the cache. An entry never outlives its principal's ExpiresAt
// either. Verifiers without it are cached until ExpiresAt when they verify
// JWTs (signed, self-contained; revocation is checked on every hit), and
// for at most [DefaultOpaqueCacheAge] when they verify opaque tokens.
type CachePolicy interface {
	MaxCacheAge() time.Duration
}

// TrustChecker is an optional interface of a principal's Claims:
// StillTrusted reports whether the key that verified the credential is
// still trusted by its verifier. The cache serves a principal only while
// it holds; otherwise the token is verified again, so a token signed by a
// key retired since (from a token.KeyRing, or a provider's key set) is
// refused at once rather than served until its exp. *token.Claims
// implements it. It sits on the claims, not the verifier, so that it
// survives verifiers wrapped for logging or metrics. It runs on every
// cache hit: it must be cheap.
type TrustChecker interface {
	StillTrusted() bool
}

// cacheKey names a token in the cache without holding it: a 128-bit
// secret-keyed hash (see keyer).
type cacheKey [16]byte

// keyer computes cache keys. With AES-GCM available it is GMAC under a
// random key drawn per Authenticator: the GCM tag of the token as
// additional data, with a fixed nonce. GHASH is a universal hash: two
// different tokens of up to L bytes collide for at most L/16+1 of the
// 2^128 hash keys, and the hash key and the tags never leave the process,
// so a crafted token hits an entry of another token with probability
// below 2^-110 per entry, whatever the attacker sends — the guarantee a
// cache key needs, at a third of the cost of SHA-256. (The fixed nonce
// would be fatal to GMAC as a MAC whose tags are seen; these are not.)
// In FIPS 140-only mode, which refuses GCM with chosen nonces, it is
// HMAC-SHA-256 under the same random key, truncated to 128 bits.
type keyer struct {
	gcm    cipher.AEAD
	nonce  [12]byte
	secret []byte // for the HMAC fallback
	macs   sync.Pool
}

func newKeyer() *keyer {
	k := &keyer{secret: make([]byte, 32)}
	rand.Read(k.secret)
	if block, err := aes.NewCipher(k.secret[:16]); err == nil {
		k.gcm, _ = cipher.NewGCM(block) // nil in FIPS 140-only mode
	}
	k.macs.New = func() any { return hmac.New(sha256.New, k.secret) }
	return k
}

func (k *keyer) key(raw string) cacheKey {
	var out cacheKey
	if k.gcm == nil {
		mac := k.macs.Get().(hash.Hash)
		mac.Reset()
		mac.Write(readOnly(raw))
		var sum [sha256.Size]byte
		copy(out[:], mac.Sum(sum[:0]))
		k.macs.Put(mac)
		return out
	}
	// Seal is an interface call, so its destination escapes: take it
	// from a pool rather than allocate 16 bytes per request.
	buf := tags.Get().(*[16]byte)
	copy(out[:], k.gcm.Seal(buf[:0], k.nonce[:], nil, readOnly(raw)))
	tags.Put(buf)
	return out
}

var tags = sync.Pool{New: func() any { return new([16]byte) }}

// readOnly returns the bytes of s without copying them, for functions
// that only read their input.
func readOnly(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

type cacheEntry struct {
	p     *identity.Principal
	until time.Time
}

// cache is a bounded cache of verified principals, split in shards that
// each evict by CLOCK (second chance, an approximation of LRU): a hit
// takes a shard's read lock and sets a bit, an insert allocates nothing
// once the shard is full.
type cache struct {
	shards []cacheShard
}

type cacheShard struct {
	mu    sync.RWMutex
	index map[cacheKey]int32
	slots []cacheSlot // at most max
	max   int
	hand  int
}

type cacheSlot struct {
	key  cacheKey
	e    cacheEntry
	live bool
	used atomic.Bool // hit since the hand last passed
}

// Shards: up to 16, of at least 64 entries each.
const (
	maxCacheShards     = 16
	minCacheShardSlots = 64
)

func newCache(size int) *cache {
	n := min(max(size/minCacheShardSlots, 1), maxCacheShards)
	c := &cache{shards: make([]cacheShard, n)}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.max = size / n
		if i < size%n {
			sh.max++
		}
		sh.index = make(map[cacheKey]int32, sh.max)
	}
	return c
}

func (c *cache) shard(k cacheKey) *cacheShard { return &c.shards[int(k[0])%len(c.shards)] }

// get returns the principal cached under k, if its entry is not past its
// time and the key that verified it is still trusted.
func (c *cache) get(k cacheKey, now time.Time) (*identity.Principal, bool) {
	sh := c.shard(k)
	sh.mu.RLock()
	i, ok := sh.index[k]
	var e cacheEntry
	if ok {
		s := &sh.slots[i]
		e = s.e
		if !s.used.Load() {
			s.used.Store(true)
		}
	}
	sh.mu.RUnlock()
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) || !stillTrusted(e.p) {
		sh.remove(k, e.p)
		return nil, false
	}
	return e.p, true
}

// remove drops the entry of k if it still holds p.
func (sh *cacheShard) remove(k cacheKey, p *identity.Principal) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i, ok := sh.index[k]; ok && sh.slots[i].e.p == p {
		delete(sh.index, k)
		sh.slots[i] = cacheSlot{}
	}
}

// put stores e under k, in a free slot or in place of the first entry the
// clock hand finds not hit since it last passed.
func (sh *cacheShard) put(k cacheKey, e cacheEntry) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, ok := sh.index[k]
	switch {
	case ok:
	case len(sh.slots) < sh.max:
		i = int32(len(sh.slots))
		sh.slots = append(sh.slots, cacheSlot{})
	default:
		for {
			s := &sh.slots[sh.hand]
			i = int32(sh.hand)
			sh.hand = (sh.hand + 1) % len(sh.slots)
			if !s.live {
				break
			}
			if s.used.Load() {
				s.used.Store(false)
				continue
			}
			delete(sh.index, s.key)
			break
		}
	}
	s := &sh.slots[i]
	s.key, s.e, s.live = k, e, true
	s.used.Store(false)
	sh.index[k] = i
}

func stillTrusted(p *identity.Principal) bool {
	tc, ok := p.Claims.(TrustChecker)
	return !ok || tc.StillTrusted()
}

// add caches p, verified through r, until the earlier of its expiry and
// the route's cache age.
func (c *cache) add(k cacheKey, p *identity.Principal, r *route, now time.Time) {
	until, age := p.ExpiresAt, r.maxAge
	if age < 0 && until.IsZero() {
		age = DefaultOpaqueCacheAge // a principal that never expires is checked again
	}
	if age >= 0 && (until.IsZero() || until.After(now.Add(age))) {
		until = now.Add(age)
	}
	if !now.Before(until) {
		return
	}
	c.shard(k).put(k, cacheEntry{p: p, until: until})
}

// peekIssuer reads the unverified "iss" of a JWT, only to route it. The
// payload must be a JSON object naming iss once, exactly.
func peekIssuer(raw string) (string, error) {
	_, rest, _ := strings.Cut(raw, ".")
	payload, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", errors.New("payload is not base64url")
	}
	var iss []byte
	m := strictjson.Object(b)
	for m.Next() {
		if string(m.Name()) == "iss" {
			iss, _ = strictjson.String(m.Value())
		}
	}
	if m.Err() != nil || len(iss) == 0 {
		return "", errors.New("no issuer")
	}
	return string(iss), nil
}
