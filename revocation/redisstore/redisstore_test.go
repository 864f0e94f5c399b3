package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/revocation/redisstore"
	"github.com/sessionless/sessionless/revocation/storetest"
)

// newClient returns a client of the test server, closed when t ends.
func newClient(t *testing.T, mod func(*redis.Options)) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	if mod != nil {
		mod(opt)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// uniquePrefix returns a prefix no other test uses, and deletes its keys
// when t ends.
func uniquePrefix(t *testing.T, c *redis.Client) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	p := "sessionless-test:" + t.Name() + ":" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Del(ctx, p+":entries", p+":expiry").Err(); err != nil {
			t.Errorf("deleting the test keys: %v", err)
		}
	})
	return p
}

func newStore(t *testing.T, c redis.UniversalClient, prefix string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// open is a storetest.Open: two instances with their own clients on
// one prefix.
func open(t *testing.T) (a, b revocation.Store) {
	ca, cb := newClient(t, nil), newClient(t, nil)
	prefix := uniquePrefix(t, ca)
	return newStore(t, ca, prefix), newStore(t, cb, prefix)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

func tokenEntry(jti string, exp time.Time) revocation.Entry {
	return revocation.Entry{Kind: revocation.KindToken, Issuer: "iss", Key: jti, Expires: exp}
}

func TestPurgeToTheNanosecond(t *testing.T) {
	c := newClient(t, nil)
	prefix := uniquePrefix(t, c)
	s := newStore(t, c, prefix)
	ctx := context.Background()
	now := storetest.Base
	for _, e := range []revocation.Entry{
		tokenEntry("expired", now.Add(-time.Nanosecond)),
		tokenEntry("at-now", now),
		tokenEntry("after-now", now.Add(time.Nanosecond)),
		tokenEntry("later", now.Add(time.Hour)),
	} {
		if err := s.Create(ctx, e); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	if _, err := s.Purge(ctx, now); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	// Snapshot far in the past: it leaves out nothing itself.
	got, err := s.Snapshot(ctx, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	keys := map[string]bool{}
	for _, e := range got {
		keys[e.Key] = true
	}
	if len(got) != 2 || !keys["after-now"] || !keys["later"] {
		t.Errorf("after Purge(now) the store has %+v, want after-now and later", got)
	}
	// Both the hash and the index lost the purged fields.
	if n := c.HLen(ctx, prefix+":entries").Val(); n != 2 {
		t.Errorf("HLEN = %d, want 2", n)
	}
	if n := c.ZCard(ctx, prefix+":expiry").Val(); n != 2 {
		t.Errorf("ZCARD = %d, want 2", n)
	}
}

func TestOutOfRangeTime(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never used
	defer c.Close()
	s := newStore(t, c, "")
	for _, exp := range []time.Time{
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		err := s.Create(context.Background(), tokenEntry("x", exp))
		if !errors.Is(err, revocation.ErrInvalidEntry) {
			t.Errorf("Create with Expires %v = %v, want ErrInvalidEntry", exp, err)
		}
	}
}

// next waits for the next entry of sub, skipping heartbeats.
func next(t *testing.T, sub revocation.Subscription) revocation.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		e, ok, err := sub.Next(ctx, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if ok {
			return e
		}
	}
}

// pubsubClientID returns the id of the one pub/sub connection named name.
func pubsubClientID(t *testing.T, c *redis.Client, name string) string {
	t.Helper()
	list, err := c.Do(context.Background(), "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	var ids []string
	for line := range strings.Lines(list) {
		var id, n string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(f, "name="); ok {
				n = v
			}
		}
		if n == name {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d pub/sub connections named %s, want 1:\n%s", len(ids), name, list)
	}
	return ids[0]
}

func TestDroppedSubscription(t *testing.T) {
	admin := newClient(t, nil)
	prefix := uniquePrefix(t, admin)
	name := "redisstore-test-" + strings.ReplaceAll(prefix[strings.LastIndexByte(prefix, ':')+1:], ":", "")
	subClient := newClient(t, func(o *redis.Options) { o.ClientName = name })
	a, b := newStore(t, admin, prefix), newStore(t, subClient, prefix)
	ctx := context.Background()

	sub, err := b.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer sub.Close()
	if _, ok, err := sub.Next(ctx, 50*time.Millisecond); ok || err != nil {
		t.Fatalf("Next on a quiet store = %v, %v; want a heartbeat", ok, err)
	}

	id := pubsubClientID(t, admin, name)
	if err := admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
		t.Fatalf("CLIENT KILL: %v", err)
	}
	lost := tokenEntry("published-while-down", storetest.Base.Add(time.Hour))
	if err := a.Create(ctx, lost); err != nil {
		t.Fatalf("Create: %v", err)
	}

	nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var nextErr error
	for nextErr == nil && nctx.Err() == nil {
		var e revocation.Entry
		var ok bool
		e, ok, nextErr = sub.Next(nctx, 100*time.Millisecond)
		if ok {
			t.Fatalf("Next after the connection was killed delivered %+v", e)
		}
	}
	if nextErr == nil {
		t.Fatal("Next kept reporting heartbeats after its connection was killed")
	}
	t.Logf("Next after the kill: %v", nextErr)
	if _, _, err := sub.Next(ctx, 50*time.Millisecond); err == nil {
		t.Error("Next succeeded again after an error: a broken subscription must stay broken")
	}
	if err := sub.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := sub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// A new subscription works, and the snapshot has what was lost.
	sub2, err := b.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe again: %v", err)
	}
	defer sub2.Close()
	snap, err := b.Snapshot(ctx, storetest.Base)
	if err != nil || len(snap) != 1 || snap[0].Key != lost.Key {
		t.Errorf("Snapshot = %+v, %v; want the entry added while down", snap, err)
	}
	e := tokenEntry("after-resubscribe", storetest.Base.Add(time.Hour))
	if err := a.Create(ctx, e); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if got := next(t, sub2); got.Key != e.Key || !got.Expires.Equal(e.Expires) {
		t.Errorf("new subscription delivered %+v, want %+v", got, e)
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// No command retries, so that the test is quick; with the default
	// retries each operation fails after about 2s.
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	s := newStore(t, c, "")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const prompt = 5 * time.Second
	check := func(op string, f func() error) {
		t.Helper()
		start := time.Now()
		err := f()
		took := time.Since(start)
		if err == nil {
			t.Errorf("%s with Redis unreachable succeeded", op)
			return
		}
		if !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("%s error %q lacks the package's prefix", op, err)
		}
		if took > prompt {
			t.Errorf("%s took %v to fail", op, took)
		}
		t.Logf("%s: %v (after %v)", op, err, took.Round(time.Millisecond))
	}
	check("Create", func() error { return s.Create(ctx, tokenEntry("x", storetest.Base)) })
	check("Snapshot", func() error { _, err := s.Snapshot(ctx, storetest.Base); return err })
	check("Purge", func() error { _, err := s.Purge(ctx, storetest.Base); return err })
	check("Subscribe", func() error {
		sub, err := s.Subscribe(ctx)
		if err == nil {
			sub.Close()
		}
		return err
	})
}

func TestNewRejectsBadPrefix(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, p := range []string{" ", "a b", "tab\there", "new\nline", "\xff", "nul\x00", strings.Repeat("p", 257)} {
		if _, err := redisstore.New(c, redisstore.Config{Prefix: p}); err == nil {
			t.Errorf("New accepted the prefix %q", p)
		}
	}
	for _, p := range []string{"", "sessionless:revocation", "{app}:revocation", "ünï:✓"} {
		if _, err := redisstore.New(c, redisstore.Config{Prefix: p}); err != nil {
			t.Errorf("New refused the prefix %q: %v", p, err)
		}
	}
	if _, err := redisstore.New(nil, redisstore.Config{}); err == nil {
		t.Error("New accepted a nil client")
	}
}

// TestCorruptData checks that data a store cannot decode makes it fail,
// not panic, and that Create and Purge get over it.
func TestCorruptData(t *testing.T) {
	c := newClient(t, nil)
	prefix := uniquePrefix(t, c)
	s := newStore(t, c, prefix)
	ctx := context.Background()
	entries, expiry := prefix+":entries", prefix+":expiry"

	sub, err := s.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer sub.Close()
	if err := c.Publish(ctx, prefix+":events", "garbage").Err(); err != nil {
		t.Fatal(err)
	}
	if e, ok, err := sub.Next(ctx, time.Second); err == nil {
		t.Errorf("Next on a malformed message = %+v, %v, nil; want an error", e, ok)
	}

	e := tokenEntry("jti", storetest.Base.Add(time.Hour))
	if err := s.Create(ctx, e); err != nil {
		t.Fatalf("Create: %v", err)
	}
	var field string
	for _, f := range c.HKeys(ctx, entries).Val() {
		field = f
	}
	for _, bad := range []string{"", "x", strings.Repeat("9", 41), strings.Repeat("1", 20) + ":" + strings.Repeat("z", 20)} {
		c.HSet(ctx, entries, field, bad)
		if got, err := s.Snapshot(ctx, storetest.Base); err == nil {
			t.Errorf("Snapshot with the value %q = %+v, nil; want an error", bad, got)
		}
	}
	// Create overwrites the malformed value.
	if err := s.Create(ctx, e); err != nil {
		t.Fatalf("Create over a malformed value: %v", err)
	}
	if got, err := s.Snapshot(ctx, storetest.Base); err != nil || len(got) != 1 || !got[0].Expires.Equal(e.Expires) {
		t.Errorf("Snapshot after Add = %+v, %v; want %+v", got, err, e)
	}

	// Purge deletes a malformed field once its index entry has expired.
	c.HSet(ctx, entries, "not a field", "not a value")
	c.ZAdd(ctx, expiry, redis.Z{Score: 0, Member: "not a field"})
	if _, err := s.Snapshot(ctx, storetest.Base); err == nil {
		t.Error("Snapshot with a malformed field succeeded")
	}
	if _, err := s.Purge(ctx, storetest.Base); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if got, err := s.Snapshot(ctx, storetest.Base); err != nil || len(got) != 1 {
		t.Errorf("Snapshot after Purge = %+v, %v; want the one entry", got, err)
	}
}
