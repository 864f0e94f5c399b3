// Package redisreplay is a [dpop.ReplayCache] in Redis, shared by the
// instances of a service: a proof replayed on another instance is refused
// too. Each proof is one SET key NX PX ttl: atomic, and Redis forgets it
// when the proof could no longer be accepted (the ttl, counted from this
// instance's clock, rounded up to the millisecond).
package redisreplay

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/dpop"
)

// DefaultPrefix starts the cache's keys.
const DefaultPrefix = "sessionless:dpop:"

// Config configures a [Cache].
type Config struct {
	// Prefix starts every key. Default DefaultPrefix.
	Prefix string
}

// Cache is a [dpop.ReplayCache] in Redis. The caller owns the client.
type Cache struct {
	client redis.UniversalClient
	prefix string
}

var _ dpop.ReplayCache = (*Cache)(nil)

// New returns a cache on client.
func New(client redis.UniversalClient, cfg Config) (*Cache, error) {
	if client == nil {
		return nil, errors.New("redisreplay: nil client")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	return &Cache{client: client, prefix: cfg.Prefix}, nil
}

// Remember implements [dpop.ReplayCache]: SET prefix+hash(key) 1 NX PX
// (expires - now, rounded up to the millisecond). Keys are hashed: their
// length is bounded whatever the proof.
func (c *Cache) Remember(ctx context.Context, key string, expires time.Time) (bool, error) {
	sum := sha256.Sum256([]byte(key))
	k := c.prefix + base64.RawURLEncoding.EncodeToString(sum[:])
	ttl := time.Until(expires)
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond) // PX counts milliseconds: never short
	if ttl < time.Millisecond {
		ttl = time.Millisecond // already expired: nothing to keep, but still atomic
	}
	ok, err := c.client.SetNX(ctx, k, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redisreplay: %w", err)
	}
	return ok, nil
}
