package middleware

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/sessionless/sessionless/identity"
)

// cacheKey is the SHA-256 of the raw token: the cache never holds tokens,
// and a collision-resistant hash means one token cannot be served
// another's principal.
type cacheKey [sha256.Size]byte

func keyOf(raw string) cacheKey {
	// Hashing []byte(raw) directly would allocate a copy on every request.
	bp := keyBufs.Get().(*[]byte)
	buf := append((*bp)[:0], raw...)
	k := sha256.Sum256(buf)
	*bp = buf
	keyBufs.Put(bp)
	return k
}

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxUncheckedAge bounds how long a principal without an expiry (an API
// token) is served from the cache.
const maxUncheckedAge = time.Minute

type cacheEntry struct {
	p     *identity.Principal
	until time.Time
}

// cache is a bounded LRU of verified principals.
type cache struct {
	lru *lru.Cache[cacheKey, cacheEntry]
}

func newCache(size int) *cache {
	l, _ := lru.New[cacheKey, cacheEntry](size) // size > 0
	return &cache{lru: l}
}

func (c *cache) get(k cacheKey, now time.Time) (*identity.Principal, bool) {
	e, ok := c.lru.Get(k)
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		c.lru.Remove(k)
		return nil, false
	}
	return e.p, true
}

func (c *cache) add(k cacheKey, p *identity.Principal, now time.Time) {
	until := p.ExpiresAt
	if until.IsZero() || until.After(now.Add(maxUncheckedAge)) && p.Method == identity.APIToken {
		until = now.Add(maxUncheckedAge)
	}
	c.lru.Add(k, cacheEntry{p: p, until: until})
}

// peekIssuer reads the unverified "iss" of a JWT, only to route it.
func peekIssuer(raw string) (string, error) {
	_, rest, _ := strings.Cut(raw, ".")
	payload, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", errors.New("payload is not base64url")
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Iss == "" {
		return "", errors.New("no issuer")
	}
	return c.Iss, nil
}
