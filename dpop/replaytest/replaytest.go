// Package replaytest is the conformance suite of [dpop.ReplayCache]: every
// implementation runs it, so that they all behave the same.
package replaytest

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/dpop"
)

// Open returns two handles on one fresh cache, as two instances would
// have them (the same value for an in-process cache), and the caches'
// clock. It registers their cleanup with t.
type Open func(t *testing.T) (a, b dpop.ReplayCache, clock Clock)

// Clock is the time a cache counts expiries on, as the suite reads and
// moves it: for a cache given a clock, that clock, moved by hand (no wall
// time passes); [WallClock] for a cache that keeps its own time (a
// server).
type Clock interface {
	Now() time.Time
	Advance(d time.Duration)
}

// WallClock is the real time: Advance sleeps.
var WallClock Clock = wallClock{}

type wallClock struct{}

func (wallClock) Now() time.Time          { return time.Now() }
func (wallClock) Advance(d time.Duration) { time.Sleep(d) }

// Run runs the conformance suite.
func Run(t *testing.T, open Open) {
	t.Run("Once", func(t *testing.T) { testOnce(t, open) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
}

func testOnce(t *testing.T, open Open) {
	ctx := context.Background()
	a, b, clock := open(t)
	key := "jkt " + rand.Text()
	until := clock.Now().Add(time.Minute)
	if fresh, err := a.Remember(ctx, key, until); !fresh || err != nil {
		t.Fatalf("first Remember = %v, %v; want fresh", fresh, err)
	}
	for _, c := range []dpop.ReplayCache{a, b} { // the other instance too
		if fresh, err := c.Remember(ctx, key, until); fresh || err != nil {
			t.Fatalf("a replay = %v, %v; want not fresh", fresh, err)
		}
	}
	if fresh, err := b.Remember(ctx, "jkt "+rand.Text(), until); !fresh || err != nil {
		t.Fatalf("another key = %v, %v; want fresh", fresh, err)
	}
}

// testExpiry: an entry lives until the time it was given, then the key is
// new again. Expiries are read on the caches' clock. On the wall clock a
// busy machine may let the time pass while the replay is tried: a fresh
// answer is a failure only if it came back before the expiry (so the
// cache answered before it too).
func testExpiry(t *testing.T, open Open) {
	ctx := context.Background()
	a, b, clock := open(t)
	key := "jkt " + rand.Text()
	expires := clock.Now().Add(2 * time.Second)
	if fresh, _ := a.Remember(ctx, key, expires); !fresh {
		t.Fatal("first Remember not fresh")
	}
	clock.Advance(time.Second)
	fresh, _ := b.Remember(ctx, key, clock.Now().Add(2*time.Second))
	switch answered := clock.Now(); {
	case fresh && answered.Before(expires):
		t.Fatalf("a replay answered %v before the entry's expiry was fresh", expires.Sub(answered))
	case fresh:
		t.Logf("the replay was answered %v after the entry's expiry (a busy machine): not checked", answered.Sub(expires))
	}
	clock.Advance(2 * time.Second)
	if fresh, err := b.Remember(ctx, key, clock.Now().Add(time.Minute)); !fresh || err != nil {
		t.Fatalf("after expiry = %v, %v; want fresh", fresh, err)
	}
}

// testConcurrent: of 16 concurrent Remembers of one key, on two handles,
// exactly one is fresh.
func testConcurrent(t *testing.T, open Open) {
	ctx := context.Background()
	a, b, clock := open(t)
	key := "jkt " + rand.Text()
	until := clock.Now().Add(time.Minute)
	var fresh atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Go(func() {
			ok, err := c.Remember(ctx, key, until)
			if err != nil {
				t.Error(err)
			}
			if ok {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if n := fresh.Load(); n != 1 {
		t.Fatalf("%d of 16 concurrent Remembers were fresh, want 1", n)
	}
}
