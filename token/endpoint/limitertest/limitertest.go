// Package limitertest is the conformance suite of [endpoint.Limiter]:
// every implementation runs it (endpoint.MemoryLimiter, redisthrottle),
// so that they all give the same answers, to the millisecond.
package limitertest

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/token/endpoint"
)

// Open returns two handles on one fresh limiter, as two instances would
// have them (the same value for an in-process limiter), reading the time
// from now: the suite's clock, which moves only when the suite moves it,
// however busy the machine. It registers their cleanup with t.
type Open func(t *testing.T, now func() time.Time) (a, b endpoint.Limiter)

// tolerance is how far a wait may be from the exact one: implementations
// count in nanoseconds or microseconds and round up.
const tolerance = time.Millisecond

// Run runs the conformance suite.
func Run(t *testing.T, open Open) {
	t.Run("Burst", func(t *testing.T) { testBurst(t, open) })
	t.Run("Refill", func(t *testing.T) { testRefill(t, open) })
	t.Run("Shared", func(t *testing.T) { testShared(t, open) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, open) })
	t.Run("ClockBack", func(t *testing.T) { testClockBack(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
}

// start is the suite's time: any fixed moment (redisthrottle counts
// microseconds since the Unix epoch).
var start = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func setup(t *testing.T, open Open) (a, b endpoint.Limiter, c *testenv.Clock) {
	c = testenv.NewClock(start)
	a, b = open(t, c.Now)
	return a, b, c
}

func key() string { return "k:" + rand.Text() }

// take takes a token and fails the test on an error.
func take(t *testing.T, l endpoint.Limiter, key string, r endpoint.Rate) time.Duration {
	t.Helper()
	wait, err := l.Take(context.Background(), key, r)
	if err != nil {
		t.Fatalf("Take(%q): %v", key, err)
	}
	return wait
}

// wantWait checks a refusal's wait against want, within tolerance.
func wantWait(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if got <= 0 || got < want-tolerance || got > want+tolerance {
		t.Fatalf("%s: wait %v, want %v", what, got, want)
	}
}

// testBurst: a new key has a full bucket: Burst takes, then a refusal
// that says how long until the next token. A refusal takes nothing.
func testBurst(t *testing.T, open Open) {
	a, _, _ := setup(t, open)
	for _, r := range []endpoint.Rate{{Burst: 1, Every: time.Second}, {Burst: 10, Every: 6 * time.Second}, {Burst: 3, Every: 1500 * time.Millisecond}} {
		k := key()
		for i := range r.Burst {
			if wait := take(t, a, k, r); wait != 0 {
				t.Fatalf("%+v: take %d of a new key refused (wait %v)", r, i+1, wait)
			}
		}
		for range 3 { // refusals take nothing: the wait does not grow
			wantWait(t, "past the burst", take(t, a, k, r), r.Every)
		}
	}
}

// testRefill: tokens come back at the rate, up to the burst and no more;
// the wait shrinks as time passes.
func testRefill(t *testing.T, open Open) {
	a, _, c := setup(t, open)
	r := endpoint.Rate{Burst: 3, Every: 2 * time.Second}
	k := key()
	for range r.Burst {
		take(t, a, k, r)
	}
	c.Advance(500 * time.Millisecond)
	wantWait(t, "a quarter of a refill later", take(t, a, k, r), 1500*time.Millisecond)
	c.Advance(1500 * time.Millisecond)
	if wait := take(t, a, k, r); wait != 0 {
		t.Fatalf("one refill later: wait %v", wait)
	}
	wantWait(t, "after the refilled token", take(t, a, k, r), r.Every)
	c.Advance(time.Hour) // full again, not fuller
	for i := range r.Burst {
		if wait := take(t, a, k, r); wait != 0 {
			t.Fatalf("an hour later: take %d refused (wait %v)", i+1, wait)
		}
	}
	wantWait(t, "an hour later, past the burst", take(t, a, k, r), r.Every)
}

// testShared: the two handles share each bucket.
func testShared(t *testing.T, open Open) {
	a, b, _ := setup(t, open)
	r := endpoint.Rate{Burst: 4, Every: time.Second}
	k := key()
	for i := range r.Burst {
		l := a
		if i%2 == 1 {
			l = b
		}
		if wait := take(t, l, k, r); wait != 0 {
			t.Fatalf("take %d refused", i+1)
		}
	}
	for _, l := range []endpoint.Limiter{a, b} {
		wantWait(t, "past the shared burst", take(t, l, k, r), r.Every)
	}
}

// testKeys: keys have buckets of their own, each of the rate it is taken
// with.
func testKeys(t *testing.T, open Open) {
	a, _, _ := setup(t, open)
	slow, fast := endpoint.Rate{Burst: 1, Every: time.Minute}, endpoint.Rate{Burst: 2, Every: time.Second}
	k1, k2 := key(), key()
	take(t, a, k1, slow)
	wantWait(t, "k1", take(t, a, k1, slow), time.Minute)
	for range 2 {
		if wait := take(t, a, k2, fast); wait != 0 {
			t.Fatal("k2 refused: it shares k1's bucket")
		}
	}
	wantWait(t, "k2", take(t, a, k2, fast), time.Second)
}

// testClockBack: a clock that steps back gives no token: the bucket is
// at most empty, the wait at most one refill.
func testClockBack(t *testing.T, open Open) {
	a, b, c := setup(t, open)
	r := endpoint.Rate{Burst: 2, Every: time.Second}
	k := key()
	for range r.Burst {
		take(t, a, k, r)
	}
	c.Advance(-time.Hour)
	wantWait(t, "an hour back", take(t, b, k, r), r.Every)
	c.Advance(time.Hour)
	wantWait(t, "back to the time of the burst", take(t, a, k, r), r.Every)
	c.Advance(r.Every)
	if wait := take(t, a, k, r); wait != 0 {
		t.Fatalf("a refill after: wait %v", wait)
	}
}

// testConcurrent: of 40 concurrent takes of one key on both handles,
// exactly Burst succeed.
func testConcurrent(t *testing.T, open Open) {
	a, b, _ := setup(t, open)
	r := endpoint.Rate{Burst: 10, Every: time.Minute}
	k := key()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			wait, err := l.Take(context.Background(), k, r)
			if err != nil {
				t.Error(err)
			}
			if wait == 0 {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if n := ok.Load(); n != int64(r.Burst) {
		t.Fatalf("%d of 40 concurrent takes succeeded, want %d", n, r.Burst)
	}
}
