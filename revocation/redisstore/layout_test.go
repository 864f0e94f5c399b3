package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/revocation"
)

var base = time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)

// edgeTimes are times around the edges of the encodings: the epoch,
// millisecond boundaries, beyond 2^53 ns, the limits.
var edgeTimes = []time.Time{
	minTime,
	minTime.Add(time.Nanosecond),
	time.Unix(0, -1_000_001),
	time.Unix(0, -1_000_000),
	time.Unix(0, -999_999),
	time.Unix(0, -1),
	time.Unix(0, 0),
	time.Unix(0, 1),
	time.Unix(0, 999_999),
	time.Unix(0, 1_000_000),
	time.Unix(0, 1_000_001),
	time.Unix(0, 1<<53),
	time.Unix(0, 1<<53+1),
	base.Add(-time.Nanosecond),
	base,
	base.Add(time.Nanosecond),
	maxTime.Add(-time.Nanosecond),
	maxTime,
}

func TestTimeEncoding(t *testing.T) {
	var encs []string
	for _, tm := range edgeTimes {
		s, err := encodeTime(tm)
		if err != nil {
			t.Fatalf("encodeTime(%v): %v", tm, err)
		}
		if len(s) != timeLen {
			t.Errorf("encodeTime(%v) = %q, not %d digits", tm, s, timeLen)
		}
		got, err := decodeTime(s)
		if err != nil || !got.Equal(tm) {
			t.Errorf("decodeTime(encodeTime(%v)) = %v, %v", tm, got, err)
		}
		encs = append(encs, s)
	}
	if !slices.IsSorted(encs) {
		t.Errorf("encodings are not in the order of the times: %q", encs)
	}
	if s, _ := encodeTime(time.Time{}); s != zeroTime {
		t.Errorf("encodeTime(zero) = %q", s)
	}
	if got, err := decodeTime(zeroTime); err != nil || !got.IsZero() {
		t.Errorf("decodeTime(zeros) = %v, %v", got, err)
	}
	for _, tm := range []time.Time{minTime.Add(-time.Nanosecond), maxTime.Add(time.Nanosecond)} {
		if _, err := encodeTime(tm); err == nil {
			t.Errorf("encodeTime(%v) succeeded", tm)
		}
	}
	for _, s := range []string{"", "1", "+0000000000000000001", "99999999999999999999", "0000000000000000000x"} {
		if _, err := decodeTime(s); err == nil {
			t.Errorf("decodeTime(%q) succeeded", s)
		}
	}
}

func TestFieldEncoding(t *testing.T) {
	type ek struct {
		kind        revocation.Kind
		issuer, key string
	}
	keys := []ek{
		{revocation.KindToken, "a:b", "c"},
		{revocation.KindToken, "a", "b:c"},
		{revocation.KindToken, "", "abc"},
		{revocation.KindToken, "ab", "c"},
		{revocation.KindSubject, "ab", "c"},
		{revocation.KindToken, "1:a", "b"},
		{revocation.KindToken, "", ":"},
		{revocation.KindToken, ":", ""},
		{revocation.KindToken, strings.Repeat("i", revocation.MaxIssuerLen), strings.Repeat("k", revocation.MaxKeyLen)},
	}
	seen := map[string]ek{}
	for _, k := range keys {
		f := encodeField(k.kind, k.issuer, k.key)
		if other, ok := seen[f]; ok {
			t.Errorf("%+v and %+v have the same field %q", k, other, f)
		}
		seen[f] = k
		kind, issuer, key, err := decodeField(f)
		if err != nil || (ek{kind, issuer, key}) != k {
			t.Errorf("decodeField(%q) = %v, %q, %q, %v; want %+v", f, kind, issuer, key, err, k)
		}
	}
	for _, f := range []string{"", ":", "1", "1:", "1:1", "1:1:", "1:1:a", "1:1:ab", "01:1:a:b", "1:01:a:b",
		"1:-1::b", "+1:1:a:b", "1:5:a:b", "x:1:a:b", "1:x:a:b", "256:1:a:b", "1:99999999999:a:b"} {
		if kind, issuer, key, err := decodeField(f); err == nil {
			t.Errorf("decodeField(%q) = %v, %q, %q; want an error", f, kind, issuer, key)
		}
	}
}

func TestCeilMs(t *testing.T) {
	for _, c := range []struct{ ns, ms int64 }{
		{0, 0}, {1, 1}, {999_999, 1}, {1_000_000, 1}, {1_000_001, 2},
		{-1, 0}, {-999_999, 0}, {-1_000_000, -1}, {-1_000_001, -1},
		{math.MaxInt64, 9223372036855}, {math.MinInt64 + 1, -9223372036854},
	} {
		if got := ceilMs(c.ns); got != c.ms {
			t.Errorf("ceilMs(%d) = %d, want %d", c.ns, got, c.ms)
		}
	}
}

// testStore returns a Store on the test server with a prefix of its own.
func testStore(t *testing.T) (*Store, *redis.Client) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	var b [6]byte
	rand.Read(b[:])
	s, err := New(c, Config{Prefix: "sessionless-test:" + t.Name() + ":" + hex.EncodeToString(b[:])})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Del(context.Background(), s.entriesKey, s.expiryKey)
		c.Close()
	})
	return s, c
}

// TestLuaScore checks that the add script indexes an entry by its
// Expires in milliseconds rounded up, the way Purge computes its bound.
func TestLuaScore(t *testing.T) {
	s, c := testStore(t)
	ctx := context.Background()
	for i, tm := range edgeTimes {
		e := revocation.Entry{Kind: revocation.KindToken, Key: "k" + string(rune('a'+i)), Expires: tm}
		if e.Validate() != nil {
			continue // outside what any store keeps
		}
		if err := s.Create(ctx, e); err != nil {
			t.Fatalf("Create(%+v): %v", e, err)
		}
		score, err := c.ZScore(ctx, s.expiryKey, encodeField(e.Kind, e.Issuer, e.Key)).Result()
		if err != nil {
			t.Fatalf("ZSCORE: %v", err)
		}
		if want := ceilMs(tm.UnixNano()); score != float64(want) {
			t.Errorf("score of Expires %v (%d ns) = %v, want %d", tm, tm.UnixNano(), score, want)
		}
	}
}

// TestLuaMergeNanoseconds checks that the add script compares times
// exactly where doubles cannot.
func TestLuaMergeNanoseconds(t *testing.T) {
	s, _ := testStore(t)
	ctx := context.Background()
	early := revocation.Entry{Kind: revocation.KindSubject, Issuer: "iss", Key: "usr",
		Before: base.Add(time.Nanosecond), Expires: base.Add(time.Hour + time.Nanosecond)}
	late := early
	late.Before = late.Before.Add(time.Nanosecond)
	late.Expires = late.Expires.Add(time.Nanosecond)
	for _, order := range [][]revocation.Entry{{early, late}, {late, early}} {
		if _, err := s.Purge(ctx, maxTime); err != nil {
			t.Fatal(err)
		}
		for _, e := range order {
			if err := s.Create(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Snapshot(ctx, base)
		if err != nil || len(got) != 1 || !got[0].Before.Equal(late.Before) || !got[0].Expires.Equal(late.Expires) {
			t.Errorf("after adding %+v the snapshot is %+v, %v; want %+v", order, got, err, late)
		}
	}
}

// TestPurgeBatches checks Purge over several batches when some
// candidates in the last millisecond are kept among expired ones.
func TestPurgeBatches(t *testing.T) {
	s, c := testStore(t)
	s.purgeBatch = 2
	ctx := context.Background()
	now := base
	expires := map[string]time.Time{
		"a-keep":   now.Add(time.Nanosecond),
		"b-purge":  now,
		"c-keep":   now.Add(2 * time.Nanosecond),
		"d-purge":  now.Add(-time.Nanosecond),
		"e-keep":   now.Add(100 * time.Nanosecond),
		"f-purge":  now.Add(-400 * time.Microsecond), // same millisecond
		"g-purge":  now.Add(-time.Millisecond),
		"h-purge":  now.Add(-time.Hour),
		"i-keep":   now.Add(time.Millisecond),
		"j-purge2": now.Add(-3 * time.Nanosecond),
	}
	for k, exp := range expires {
		if err := s.Create(ctx, revocation.Entry{Kind: revocation.KindToken, Key: k, Expires: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Purge(ctx, now); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	got, err := s.Snapshot(ctx, minTime)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range got {
		keys = append(keys, e.Key)
	}
	slices.Sort(keys)
	if want := []string{"a-keep", "c-keep", "e-keep", "i-keep"}; !slices.Equal(keys, want) {
		t.Errorf("after Purge the store has %q, want %q", keys, want)
	}
	if n := c.ZCard(ctx, s.expiryKey).Val(); n != 4 {
		t.Errorf("ZCARD = %d, want 4", n)
	}
}

// TestStalePong checks that Next does not take the answer to an earlier
// PING for its own: entries published after that PING may still be on
// their way.
func TestStalePong(t *testing.T) {
	s, _ := testStore(t)
	ctx := context.Background()
	rs, err := s.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	sub := rs.(*subscription)
	if err := sub.ps.Ping(ctx, pingPrefix+"0"); err != nil {
		t.Fatal(err)
	}
	const wait = 100 * time.Millisecond
	start := time.Now()
	_, ok, err := sub.Next(ctx, wait)
	if took := time.Since(start); ok || err != nil || took < wait {
		t.Errorf("Next = %v, %v after %v; want a heartbeat after its own PING, after %v", ok, err, took, wait)
	}
}

// TestNextContextDeadline checks that a context deadline shorter than
// wait ends Next.
func TestNextContextDeadline(t *testing.T) {
	s, _ := testStore(t)
	sub, err := s.Subscribe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = sub.Next(ctx, time.Minute)
	if took := time.Since(start); err == nil || took > 5*time.Second {
		t.Errorf("Next with a 50ms context = %v after %v; want the context's error", err, took)
	}
}
