// Package redisstore is a [revocation.Store] on Redis, with
// github.com/redis/go-redis/v9.
//
// # Data layout
//
// A store keeps everything under its prefix (by default
// "sessionless:revocation"):
//
//   - PREFIX:entries is a hash with one field per kind, issuer and key:
//     "KIND:N:ISSUER:KEY", where KIND is 1 for a token and 2 for a
//     subject and N is the length of ISSUER in bytes, in decimal. The
//     length makes fields unambiguous whatever bytes issuers and keys
//     hold: ("a:b", "c") and ("a", "b:c") are different fields. The value
//     is "BEFORE:EXPIRES", two times as 20-digit zero-padded decimal
//     numbers: nanoseconds since the Unix epoch plus 2^63, so that the
//     order of the strings is the order of the times, and all zeros for
//     no time (the Before of a token entry).
//   - PREFIX:expiry is a sorted set indexing the same fields by Expires,
//     in milliseconds since the Unix epoch rounded up. Purge finds its
//     candidates there instead of scanning the hash.
//   - PREFIX:events is the Pub/Sub channel on which Create publishes
//     "BEFORE:EXPIRES:FIELD", the entry as stored after the merge.
//
// # Guarantees
//
// Create runs one Lua script, atomic in Redis: it merges the entry into the
// stored one for the same field (the later Before, the later Expires),
// updates the expiry index and publishes the merged entry. Every
// subscription confirmed before the script runs receives the entry, and
// a Snapshot taken after it returns includes it. Times keep nanoseconds;
// they must lie between 1677-09-21 and 2262-04-11 (nanoseconds since
// the Unix epoch in an int64), and Create refuses others with
// [revocation.ErrInvalidEntry].
//
// Snapshot reads the hash with HSCAN, so a large list does not block the
// server, and filters on the exact Expires. It is not a point-in-time
// view: an entry added during the scan may be missing, which is
// harmless because a List subscribes before it takes a snapshot. Purge
// deletes in batches with a Lua script that checks the exact Expires, to
// the nanosecond.
//
// Pub/Sub delivers at most once: an entry published while a
// subscription's connection is down is lost for it. So a subscription
// does not reconnect silently (as [redis.PubSub.Channel] would): once
// its connection fails, Next returns an error, and the List subscribes
// again and takes a new snapshot. On a quiet channel, Next sends a PING
// on the subscription's connection and waits for the answer before it
// reports that the connection is alive: every entry added before the
// call began has then been delivered.
//
// Entries are as durable as the server's persistence makes them: without
// AOF or RDB snapshots, a restart of Redis forgets every revocation.
// Entries that fail to decode make Snapshot and Next fail rather than be
// skipped (a revocation must not be lost silently); Create overwrites such
// a value and Purge deletes it once its index entry has expired.
//
// With Redis Cluster, the two keys must be in one hash slot: put a hash
// tag in the prefix, for example "{sessionless:revocation}".
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/revocation"
)

// DefaultPrefix is the key prefix of a [Config] that sets none.
const DefaultPrefix = "sessionless:revocation"

// maxPrefixLen bounds Config.Prefix.
const maxPrefixLen = 256

// Config configures a [Store].
type Config struct {
	// Prefix starts the names of the store's keys and channel. Every
	// instance of a service must use the same one; services with
	// different revocation lists on one server use different ones. It
	// must be printable UTF-8 without spaces, at most 256 bytes. Empty
	// means [DefaultPrefix].
	Prefix string
}

// Store is a [revocation.Store] on Redis. It is safe for concurrent use.
// It has no Close: the caller owns the client, and closes it after the
// last use of the store and of its subscriptions.
type Store struct {
	client     redis.UniversalClient
	entriesKey string
	expiryKey  string
	channel    string
	purgeBatch int
}

var _ revocation.Store = (*Store)(nil)

// defaultPurgeBatch is how many index entries one run of the purge
// script examines, so that a large purge does not block the server.
const defaultPurgeBatch = 1000

// snapshotCount is the COUNT hint of the HSCAN of Snapshot.
const snapshotCount = 1000

// New returns a Store that keeps its entries with client under
// cfg.Prefix.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, fmt.Errorf("redisstore: invalid prefix %s: %w", quoteShort(prefix), err)
	}
	return &Store{
		client:     client,
		entriesKey: prefix + ":entries",
		expiryKey:  prefix + ":expiry",
		channel:    prefix + ":events",
		purgeBatch: defaultPurgeBatch,
	}, nil
}

func checkPrefix(p string) error {
	if len(p) > maxPrefixLen {
		return fmt.Errorf("longer than %d bytes", maxPrefixLen)
	}
	if !utf8.ValidString(p) {
		return errors.New("not UTF-8")
	}
	for _, r := range p {
		if r == ' ' || !unicode.IsPrint(r) {
			return fmt.Errorf("has the character %U", r)
		}
	}
	return nil
}

// luaHelpers are the functions the scripts share, on the encodings of
// encoding.go. Lua numbers are doubles, exact only up to 2^53, so
// 20-digit times are compared in two halves of 10 digits.
const luaHelpers = `
local function valid(v)
	return v and string.len(v) == 41 and string.find(v, '^' .. string.rep('%d', 20) .. ':' .. string.rep('%d', 20) .. '$') ~= nil
end
local function later(a, b)
	local ah, bh = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
	if ah ~= bh then return ah > bh end
	return tonumber(string.sub(a, 11, 20)) > tonumber(string.sub(b, 11, 20))
end
-- score is the expiry index's score of an encoded time t = ns + 2^63:
-- ceil(ns / 1e6), from t = q*1e6 + r and 2^63 = 9223372036854*1e6 + 775808.
local function score(t)
	local ms = tonumber(string.sub(t, 1, 14)) - 9223372036854
	if tonumber(string.sub(t, 15, 20)) > 775808 then ms = ms + 1 end
	return ms
end
`

// addScript merges an entry into the hash, indexes it and publishes it.
// KEYS: entries, expiry. ARGV: field, value, channel.
var addScript = redis.NewScript(luaHelpers + `
local field, value = ARGV[1], ARGV[2]
local before, expires = string.sub(value, 1, 20), string.sub(value, 22, 41)
local old = redis.call('HGET', KEYS[1], field)
if valid(old) then
	local ob, oe = string.sub(old, 1, 20), string.sub(old, 22, 41)
	if later(ob, before) then before = ob end
	if later(oe, expires) then expires = oe end
end
value = before .. ':' .. expires
redis.call('HSET', KEYS[1], field, value)
redis.call('ZADD', KEYS[2], score(expires), field)
redis.call('PUBLISH', ARGV[3], value .. ':' .. field)
return 1
`)

// purgeScript deletes the expired entries among a batch of candidates
// from the expiry index: those at positions offset to offset+limit-1 of
// the fields scored up to max. It keeps the candidates whose exact
// Expires is after now and returns {candidates examined, kept}.
// KEYS: entries, expiry. ARGV: max, now, offset, limit.
var purgeScript = redis.NewScript(luaHelpers + `
local fields = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', ARGV[3], ARGV[4])
local kept = 0
for _, f in ipairs(fields) do
	local v = redis.call('HGET', KEYS[1], f)
	if valid(v) and later(string.sub(v, 22, 41), ARGV[2]) then
		kept = kept + 1
	else
		redis.call('HDEL', KEYS[1], f)
		redis.call('ZREM', KEYS[2], f)
	end
end
return {#fields, kept}
`)

// Create implements [revocation.Store].
func (s *Store) Create(ctx context.Context, e revocation.Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	value, err := encodeValue(e)
	if err != nil {
		return fmt.Errorf("%w: %v", revocation.ErrInvalidEntry, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: creating an entry: %w", err)
	}
	field := encodeField(e.Kind, e.Issuer, e.Key)
	err = addScript.Run(ctx, s.client, []string{s.entriesKey, s.expiryKey}, field, value, s.channel).Err()
	if err != nil {
		return fmt.Errorf("redisstore: creating an entry: %w", err)
	}
	return nil
}

// Snapshot implements [revocation.Store]. It returns one entry per kind,
// issuer and key, or occasionally two if the entry is merged during the
// scan.
func (s *Store) Snapshot(ctx context.Context, now time.Time) ([]revocation.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: snapshot: %w", err)
	}
	var out []revocation.Entry
	var cursor uint64
	for {
		kv, next, err := s.client.HScan(ctx, s.entriesKey, cursor, "", snapshotCount).Result()
		if err != nil {
			return nil, fmt.Errorf("redisstore: snapshot: %w", err)
		}
		if len(kv)%2 != 0 {
			return nil, errors.New("redisstore: snapshot: HSCAN returned an odd number of strings")
		}
		for i := 0; i < len(kv); i += 2 {
			e, err := decodeEntry(kv[i], kv[i+1])
			if err != nil {
				return nil, fmt.Errorf("redisstore: snapshot: field %s of %s: %w", quoteShort(kv[i]), s.entriesKey, err)
			}
			if e.Expires.After(now) {
				out = append(out, e)
			}
		}
		if next == 0 {
			return out, nil
		}
		cursor = next
	}
}

// Purge implements [revocation.Store].
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: purge: %w", err)
	}
	if before.Before(minTime) {
		return 0, nil // nothing stored expires that early
	}
	ns := maxTime.UnixNano()
	if before.Before(maxTime) {
		ns = before.UnixNano()
	}
	maxScore := strconv.FormatInt(ceilMs(ns), 10)
	beforeEnc := encodeNs(ns)
	keys := []string{s.entriesKey, s.expiryKey}
	// Each batch deletes what it does not keep, so once it is done the
	// first offset candidates are the kept ones and the next batch
	// starts after them. (Only candidates expiring in the last
	// millisecond of the range can be kept.)
	var offset, deleted int64
	for {
		res, err := purgeScript.Run(ctx, s.client, keys, maxScore, beforeEnc, offset, s.purgeBatch).Int64Slice()
		if err != nil {
			return deleted, fmt.Errorf("redisstore: purge: %w", err)
		}
		if len(res) != 2 {
			return deleted, fmt.Errorf("redisstore: purge: the script returned %d numbers, want 2", len(res))
		}
		examined, kept := res[0], res[1]
		offset += kept
		deleted += examined - kept
		if examined < int64(s.purgeBatch) {
			return deleted, nil
		}
	}
}

// Subscribe implements [revocation.Store]. It returns once Redis has
// confirmed the subscription.
func (s *Store) Subscribe(ctx context.Context) (revocation.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: subscribe: %w", err)
	}
	ps := s.client.Subscribe(ctx, s.channel)
	deadline := time.Now().Add(subscribeTimeout)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			ps.Close()
			return nil, fmt.Errorf("redisstore: subscribe: no confirmation from Redis within %v", subscribeTimeout)
		}
		msg, err := ps.ReceiveTimeout(ctx, wait)
		if err != nil {
			ps.Close()
			return nil, fmt.Errorf("redisstore: subscribe: %w", err)
		}
		if m, ok := msg.(*redis.Subscription); ok && m.Kind == "subscribe" && m.Channel == s.channel {
			return &subscription{ps: ps, channel: s.channel}, nil
		}
	}
}
