// Package redisstore reads the PHP sessions that phpredis's session
// handler keeps in Redis (session.save_handler = redis), and those of
// Symfony's RedisSessionHandler, for package phpsession. It is a package
// of its own so that only its users import a Redis client
// (github.com/redis/go-redis/v9).
//
// phpredis stores a session under "PHPREDIS_SESSION:<id>" (the prefix
// is save_path's "prefix=" parameter; Symfony's is "sf_s"), as a string
// whose TTL is session.gc_maxlifetime, renewed by every request that
// starts the session. A [Store] reads the string and its TTL and nothing
// else: it takes no lock (phpredis's "<key>_LOCK", with
// redis.session.locking_enabled), and refreshes no TTL.
//
//	client := redis.NewClient(&redis.Options{Addr: "localhost:6379", DB: 0}) // save_path's database=
//	defer client.Close()
//	store, err := redisstore.New(client, redisstore.Config{})                 // or Prefix: "sf_s"
//	sessions, err := phpsession.New(store, phpsession.Config{Principal: phpsession.UserID("user_id")})
//
// Sessions written compressed (redis.session.compression) or with
// another serializer than PHP's (igbinary, msgpack) are refused by the
// decoder.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/bridge/phpsession"
	"github.com/sessionless/sessionless/identity"
)

// DefaultPrefix is phpredis's session key prefix.
const DefaultPrefix = "PHPREDIS_SESSION:"

// Config configures a [Store].
type Config struct {
	// Prefix is put before a session id to make its key: save_path's
	// "prefix=" parameter. Default DefaultPrefix ("PHPREDIS_SESSION:");
	// Symfony's RedisSessionHandler uses "sf_s" unless told otherwise.
	Prefix string
	// Now returns the current time, for the sessions' expiry (now plus
	// their TTL). Nil means time.Now.
	Now func() time.Time
}

// Store is a [phpsession.Store] and [phpsession.Destroyer] on Redis. It
// does not own the client: close the client when done. It is safe for
// concurrent use.
type Store struct {
	client redis.UniversalClient
	cfg    Config
}

var _ phpsession.Store = (*Store)(nil)
var _ phpsession.Destroyer = (*Store)(nil)

// New returns a store reading sessions through client.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: no client")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{client: client, cfg: cfg}, nil
}

// Read returns the data of session id and when it expires (now plus the
// key's TTL; zero for a key without one). A missing key is
// phpsession.ErrNoSession: Redis has expired it, or PHP destroyed it. It
// reads at most limit+1 bytes of the value (GETRANGE), in one round trip
// with the TTL, and writes nothing.
func (s *Store) Read(ctx context.Context, id string, limit int) ([]byte, time.Time, error) {
	if !phpsession.ValidID(id) {
		return nil, time.Time{}, fmt.Errorf("%w: not a session id", phpsession.ErrNoSession)
	}
	key := s.cfg.Prefix + id
	var ttl *redis.DurationCmd
	var data *redis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		ttl = p.PTTL(ctx, key)
		data = p.GetRange(ctx, key, 0, int64(limit))
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: redisstore: %w", identity.ErrUnavailable, err)
	}
	now := s.cfg.Now()
	var expires time.Time
	switch d := ttl.Val(); {
	case d == -2: // no such key
		return nil, time.Time{}, fmt.Errorf("%w: no session key", phpsession.ErrNoSession)
	case d >= 0:
		expires = now.Add(d)
	}
	b := []byte(data.Val())
	if len(b) > limit {
		return nil, time.Time{}, fmt.Errorf("%w: a session of more than %d bytes", phpsession.ErrLimit, limit)
	}
	return b, expires, nil
}

// Destroy deletes the session id, as session_destroy() does. A key
// already gone is no error.
func (s *Store) Destroy(ctx context.Context, id string) error {
	if !phpsession.ValidID(id) {
		return nil
	}
	if err := s.client.Del(ctx, s.cfg.Prefix+id).Err(); err != nil {
		return fmt.Errorf("%w: redisstore: %w", identity.ErrUnavailable, err)
	}
	return nil
}
