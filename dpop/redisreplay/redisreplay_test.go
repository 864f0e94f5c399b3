package redisreplay_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/dpop/redisreplay"
	"github.com/sessionless/sessionless/dpop/replaytest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
)

func client(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestConformance on a real Redis, two clients as two instances. Redis
// keeps its own time: the suite's clock is the wall clock, moved by
// waiting.
func TestConformance(t *testing.T) {
	replaytest.Run(t, func(t *testing.T) (dpop.ReplayCache, dpop.ReplayCache, replaytest.Clock) {
		prefix := "test:" + rand.Text() + ":"
		a, err := redisreplay.New(client(t), redisreplay.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := redisreplay.New(client(t), redisreplay.Config{Prefix: prefix})
		return a, b, replaytest.WallClock
	})
}

// TestRedisDown: a cache that cannot answer fails the proof closed.
func TestRedisDown(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	cache, _ := redisreplay.New(c, redisreplay.Config{})
	v, err := dpop.New(dpop.Config{Replay: cache})
	if err != nil {
		t.Fatal(err)
	}
	alice := dpoptest.NewClient(t)
	_, err = verify(v, context.Background(), alice.Proof("GET", url, "", time.Now(), nil), request{Method: "GET", URL: url})
	if !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("Redis down: %v, want identity.ErrUnavailable (a 503)", err)
	}
}

const url = "https://api.example/api/widgets"

// TestReplayOnAnotherInstance: a proof accepted by one instance is
// refused by another sharing the Redis.
func TestReplayOnAnotherInstance(t *testing.T) {
	prefix := "test:" + rand.Text() + ":"
	var vs []*dpop.Verifier
	for range 2 {
		cache, _ := redisreplay.New(client(t), redisreplay.Config{Prefix: prefix})
		v, err := dpop.New(dpop.Config{Replay: cache})
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	alice := dpoptest.NewClient(t)
	proof := alice.Proof("GET", url, "", time.Now(), nil)
	req := request{Method: "GET", URL: url}
	if _, err := verify(vs[0], context.Background(), proof, req); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(vs[1], context.Background(), proof, req); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("the proof replayed on the other instance: %v, want ErrReplayed", err)
	}
}

// TestClockSkewBetweenInstances: two instances whose clocks differ by 4 s
// (within the verifier's 5 s leeway). A accepts a proof near the end of
// its window and writes the entry with a TTL from its clock; once A's
// iat + window has passed, B, whose clock is behind, would still accept
// the proof: the entry must outlive that (iat + window + leeway), not
// vanish at A's iat + window. Redis keeps its own time, so the test
// waits; each step has seconds of margin, for a busy machine.
func TestClockSkewBetweenInstances(t *testing.T) {
	prefix := "test:" + rand.Text() + ":"
	ca, _ := redisreplay.New(client(t), redisreplay.Config{Prefix: prefix})
	cb, _ := redisreplay.New(client(t), redisreplay.Config{Prefix: prefix})
	a, _ := dpop.New(dpop.Config{Replay: ca})
	const skew = 4 * time.Second
	b, _ := dpop.New(dpop.Config{Replay: cb, Now: func() time.Time { return time.Now().Add(-skew) }})
	alice := dpoptest.NewClient(t)
	// Proofs carry whole seconds: this iat is 57 to 58 s old, and A
	// accepts it for 2 s more at least.
	iat := time.Now().Truncate(time.Second).Add(-57 * time.Second)
	proof := alice.Proof("GET", url, "", iat, nil)
	req := request{Method: "GET", URL: url}
	if _, err := verify(a, context.Background(), proof, req); err != nil {
		t.Fatalf("instance A, the proof %v old: %v", time.Since(iat), err)
	}
	// Past A's iat + window by 1 s; B, 4 s behind, accepts the iat for
	// 3 s more, and the entry must live 4 s more.
	time.Sleep(time.Until(iat.Add(dpop.DefaultWindow + time.Second)))
	if _, err := verify(b, context.Background(), proof, req); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("the proof on instance B (clock %v behind), %v after A's iat + window: %v, want ErrReplayed",
			skew, time.Since(iat.Add(dpop.DefaultWindow)), err)
	}
}

// BenchmarkReplayOnlyRedis: one Remember on a loopback Redis.
func BenchmarkReplayOnlyRedis(b *testing.B) {
	cache, _ := redisreplay.New(client(b), redisreplay.Config{Prefix: "bench:" + rand.Text() + ":"})
	until := time.Now().Add(time.Minute)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := cache.Remember(context.Background(), "jkt "+string(rune(i%50000)), until); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// request is the request a proof is checked for.
type request struct{ Method, URL string }

// verify checks proof for req with v.CheckProof.
func verify(v *dpop.Verifier, ctx context.Context, proof string, req request) (string, error) {
	return v.CheckProof(ctx, proof, req.Method, req.URL, "")
}
