package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/bridge/internal/bridgetest"
	"github.com/sessionless/sessionless/bridge/phpsession"
	"github.com/sessionless/sessionless/bridge/phpsession/redisstore"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/middleware"
)

var _ middleware.SessionSource = (*phpsession.Source)(nil)

// newClient returns a client of the test server and its options, closed
// when t ends.
func newClient(t *testing.T) (*redis.Client, *redis.Options) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c, opt
}

// uniquePrefix returns a key prefix no other test uses, and deletes its
// keys when t ends.
func uniquePrefix(t *testing.T, c *redis.Client) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	p := "sessionless-test:" + strings.ReplaceAll(t.Name(), "/", ":") + ":" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := c.Keys(ctx, p+"*").Result()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("deleting the test keys: %v", err)
		}
	})
	return p
}

// phpRedis starts PHP with phpredis's session handler on the test
// server, keys under prefix ("" for phpredis's default), in format.
func phpRedis(t *testing.T, opt *redis.Options, prefix string, format phpsession.Format) string {
	t.Helper()
	testenv.PHP(t, "redis")
	savePath := fmt.Sprintf("tcp://%s?database=%d", opt.Addr, opt.DB)
	if prefix != "" {
		savePath += "&prefix=" + prefix
	}
	return bridgetest.PHP(t,
		"session.save_handler=redis",
		`session.save_path="`+savePath+`"`,
		"session.serialize_handler="+string(format),
		"session.gc_maxlifetime=600",
		"session.use_strict_mode=1",
	)
}

// php calls the PHP application, and returns the body.
func php(t *testing.T, base, action, id, query string) string {
	t.Helper()
	body, _ := bridgetest.PHPCall(t, base, action, id, query)
	return body
}

// TestPHPRedis: a session phpredis writes, in both serialize_handler
// formats, is read here with its TTL as its expiry; reading it writes
// nothing, takes no lock and extends nothing; PHP's logout ends it here
// too, and a session destroyed here is gone for PHP.
func TestPHPRedis(t *testing.T) {
	c, opt := newClient(t)
	ctx := context.Background()
	for _, format := range []phpsession.Format{phpsession.FormatPHP, phpsession.FormatPHPSerialize} {
		t.Run(string(format), func(t *testing.T) {
			prefix := uniquePrefix(t, c)
			base := phpRedis(t, opt, prefix, format)
			id := php(t, base, "login", "", "user=42")
			key := prefix + id
			raw, err := c.Get(ctx, key).Result()
			if err != nil {
				t.Fatalf("phpredis wrote no %s: %v", key, err)
			}
			t.Logf("phpredis wrote %q", raw)

			now := time.Now()
			store, err := redisstore.New(c, redisstore.Config{Prefix: prefix, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			src, err := phpsession.New(store, phpsession.Config{Format: format, Principal: phpsession.UserID("user_id")})
			if err != nil {
				t.Fatal(err)
			}
			ttlBefore := c.PTTL(ctx, key).Val()
			p, err := src.Session(ctx, id)
			if err != nil {
				t.Fatalf("Session: %v", err)
			}
			if left := p.ExpiresAt.Sub(now); p.Subject != "42" || p.Method != identity.Session || left <= 0 || left > 600*time.Second {
				t.Fatalf("principal %+v (expires in %v)", p, left)
			}
			roles, _ := p.Claims.(phpsession.Array).Get("roles")
			if fmt.Sprint(roles) != "[{0 admin} {1 editor}]" {
				t.Fatalf("roles %v", roles)
			}

			// Read only: the same value, a TTL that only ran down, no lock.
			if after := c.Get(ctx, key).Val(); after != raw {
				t.Fatal("reading the session changed it")
			}
			if ttlAfter := c.PTTL(ctx, key).Val(); ttlAfter > ttlBefore {
				t.Fatalf("reading the session extended it: TTL %v, then %v", ttlBefore, ttlAfter)
			}
			if n := c.Exists(ctx, key+"_LOCK").Val(); n != 0 {
				t.Fatal("a lock key appeared")
			}

			// PHP's logout.
			php(t, base, "logout", id, "")
			if _, err := src.Session(ctx, id); !errors.Is(err, phpsession.ErrNoSession) {
				t.Fatalf("after PHP's logout: %v", err)
			}

			// Destroyed here, gone for PHP.
			id = php(t, base, "login", "", "user=usr_ann")
			if p, err := src.Session(ctx, id); err != nil || p.Subject != "usr_ann" {
				t.Fatalf("second login: %+v, %v", p, err)
			}
			if err := src.Destroy(ctx, id); err != nil {
				t.Fatal(err)
			}
			if who := php(t, base, "whoami", id, ""); who != "nobody" {
				t.Fatalf("after Destroy, PHP says %q", who)
			}
		})
	}
}

// TestPHPRedisDefaultPrefix: with phpredis's defaults on both sides,
// the keys meet.
func TestPHPRedisDefaultPrefix(t *testing.T) {
	c, opt := newClient(t)
	base := phpRedis(t, opt, "", phpsession.FormatPHP)
	id := php(t, base, "login", "", "user=42")
	t.Cleanup(func() { c.Del(context.Background(), redisstore.DefaultPrefix+id) })
	store, _ := redisstore.New(c, redisstore.Config{})
	src, _ := phpsession.New(store, phpsession.Config{Principal: phpsession.UserID("user_id")})
	if p, err := src.Session(context.Background(), id); err != nil || p.Subject != "42" {
		t.Fatalf("Session = %+v, %v", p, err)
	}
}

func TestRead(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	prefix := uniquePrefix(t, c)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	store, _ := redisstore.New(c, redisstore.Config{Prefix: prefix, Now: func() time.Time { return now }})
	const id = "q8mv0s3c5dd1l6tbg8a2u7k0rj"
	c.Set(ctx, prefix+id, "user_id|i:42;", 0)
	c.Set(ctx, prefix+"big0123456789012345678901", strings.Repeat("x", 101), time.Hour)
	c.Set(ctx, prefix+"x_LOCK", "1", time.Hour)

	if data, exp, err := store.Read(ctx, id, 100); err != nil || string(data) != "user_id|i:42;" || !exp.IsZero() {
		t.Fatalf("a key without TTL: %q, %v, %v", data, exp, err)
	}
	for _, tc := range []struct {
		name, id string
		want     error
	}{
		{"missing", "nokey0123456789012345678", phpsession.ErrNoSession},
		{"over the limit", "big0123456789012345678901", phpsession.ErrLimit},
		{"not an id", "x_LOCK", phpsession.ErrNoSession},
		{"a pattern", "*", phpsession.ErrNoSession},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if data, _, err := store.Read(ctx, tc.id, 100); !errors.Is(err, tc.want) {
				t.Fatalf("Read(%q) = %q, %v; want %v", tc.id, data, err, tc.want)
			}
		})
	}
	if data, _, err := store.Read(ctx, "big0123456789012345678901", 101); err != nil || len(data) != 101 {
		t.Fatalf("a session of exactly the limit: %d bytes, %v", len(data), err)
	}
	if err := store.Destroy(ctx, "x_LOCK"); err != nil || c.Exists(ctx, prefix+"x_LOCK").Val() != 1 {
		t.Fatalf("Destroy deleted a key that is no session's: %v", err)
	}
}

// TestUnavailable: a Redis that cannot be reached is "cannot tell now",
// never "no session".
func TestUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { c.Close() })
	store, _ := redisstore.New(c, redisstore.Config{})
	ctx := context.Background()
	if _, _, err := store.Read(ctx, "q8mv0s3c5dd1l6tbg8a2u7k0rj", 100); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("Read: %v", err)
	}
	if err := store.Destroy(ctx, "q8mv0s3c5dd1l6tbg8a2u7k0rj"); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("Destroy: %v", err)
	}
	if _, err := redisstore.New(nil, redisstore.Config{}); err == nil {
		t.Fatal("New accepted no client")
	}
}
