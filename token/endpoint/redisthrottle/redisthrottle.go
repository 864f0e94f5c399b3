// Package redisthrottle is an [endpoint.Limiter] in Redis, with
// github.com/redis/go-redis/v9: the login budgets of every instance of a
// service in one place, so that a client spends one budget however many
// instances its requests reach.
//
//	limiter, err := redisthrottle.New(redisClient, redisthrottle.Config{})
//	srv, err := endpoint.New(endpoint.Config{ /* … */
//		Throttle: endpoint.ThrottleConfig{Shared: limiter},
//	})
//
// Each bucket is one string key, PREFIX + the throttle's key (a hash of
// the username or the address, never the name itself), holding the
// bucket's theoretical arrival time (GCRA, the generic cell rate
// algorithm: a token bucket kept as the moment it is full again), in
// microseconds since the Unix epoch. One Lua script reads it, decides and
// writes it: atomic in Redis, whatever the number of instances. The key
// expires when the bucket is full again, so Redis holds only the buckets
// in use: at most one per username and address seen in the last
// Burst × Every (a minute with the defaults). Under a maxmemory limit,
// prefer the volatile-ttl policy: it evicts the buckets closest to full,
// whose loss costs least.
//
// Times come from the instances' clocks (Config.Now), not from Redis:
// keep them in sync (NTP). A clock ahead of the others makes their
// buckets look emptier (stricter, never looser); a bucket is never
// taken as emptier than empty. A value that is not a time (written by
// something else) counts as an empty bucket, which is written anew.
//
// When Redis cannot answer, Take returns the error and the
// [endpoint.Throttle] decides on the instance's own buckets (or answers
// 503 with ThrottleConfig.FailClosed).
//
// With Redis Cluster each bucket is one key: any slot will do.
package redisthrottle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/token/endpoint"
)

// DefaultPrefix starts the keys of a [Config] that sets none.
const DefaultPrefix = "sessionless:throttle:"

// Config configures a [Limiter].
type Config struct {
	// Prefix starts every key. Every instance of a service must use the
	// same one. Empty means DefaultPrefix.
	Prefix string
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Limiter is an [endpoint.Limiter] in Redis. It is safe for concurrent
// use. The caller owns the client, and closes it after the last Take.
type Limiter struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
}

var _ endpoint.Limiter = (*Limiter)(nil)

// New returns a limiter on client.
func New(client redis.UniversalClient, cfg Config) (*Limiter, error) {
	if client == nil {
		return nil, errors.New("redisthrottle: nil client")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{client: client, prefix: cfg.Prefix, now: cfg.Now}, nil
}

// maxSpan bounds Burst × Every: the script's arithmetic is exact in a
// Lua number (a double) up to 2^53 microseconds.
const maxSpan = 100 * 365 * 24 * time.Hour

// takeScript takes a token (GCRA). KEYS: the bucket. ARGV: now, every
// (microseconds), burst. The value is the moment the bucket is full
// again. Returns 0 when it took a token, else the microseconds until one.
var takeScript = redis.NewScript(`
local now, every, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local span = every * burst
local v = redis.call('GET', KEYS[1])
local tat = now
if v then
	tat = tonumber(v)
	if tat == nil or tat ~= tat or string.find(v, '^%d+$') == nil then
		tat = now + span -- not a time: an empty bucket
		redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil(span / 1000))
	end
end
if tat < now then tat = now end
if tat > now + span then tat = now + span end -- never emptier than empty
local after = tat + every
local wait = after - span - now
if wait > 0 then return wait end
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000))
return 0
`)

// Take implements [endpoint.Limiter].
func (l *Limiter) Take(ctx context.Context, key string, r endpoint.Rate) (time.Duration, error) {
	every := (r.Every + time.Microsecond - 1) / time.Microsecond // rounded up
	if r.Burst < 1 || every < 1 || r.Every > maxSpan || int64(r.Burst) > int64(maxSpan/r.Every) {
		return 0, fmt.Errorf("redisthrottle: rate %+v out of bounds", r)
	}
	now := l.now().UnixMicro()
	wait, err := takeScript.Run(ctx, l.client, []string{l.prefix + key}, now, int64(every), r.Burst).Int64()
	if err != nil {
		return 0, fmt.Errorf("redisthrottle: %w", err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}
