// Package storetest is the conformance suite of [revocation.Store]: every
// backend runs it, so that they all behave the same.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/revocation"
)

// Open returns two handles on one fresh, empty backing store, as two
// instances of a service would have them (they may be the same value for
// an in-process store). It registers their cleanup with t.
type Open func(t *testing.T) (a, b revocation.Store)

// deliveryTimeout bounds how long a subscription may take to deliver an
// entry added by either instance.
const deliveryTimeout = 30 * time.Second

// Base is the moment the suite's entries are built around. Stores get
// times explicitly, so the suite needs no clock.
var Base = time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Open) {
	t.Run("CreateSnapshot", func(t *testing.T) { testCreateSnapshot(t, open) })
	t.Run("Validate", func(t *testing.T) { testValidate(t, open) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, open) })
	t.Run("Merge", func(t *testing.T) { testMerge(t, open) })
	t.Run("KeysDoNotCollide", func(t *testing.T) { testKeysDoNotCollide(t, open) })
	t.Run("Subscribe", func(t *testing.T) { testSubscribe(t, open) })
	t.Run("Heartbeat", func(t *testing.T) { testHeartbeat(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
	t.Run("Cancelled", func(t *testing.T) { testCancelled(t, open) })
}

func tokenEntry(iss, jti string, exp time.Time) revocation.Entry {
	return revocation.Entry{Kind: revocation.KindToken, Issuer: iss, Key: jti, Expires: exp}
}

func subjectEntry(iss, sub string, before, exp time.Time) revocation.Entry {
	return revocation.Entry{Kind: revocation.KindSubject, Issuer: iss, Key: sub, Before: before, Expires: exp}
}

type key struct {
	kind     revocation.Kind
	iss, key string
}

// merged is a snapshot merged by key the way a List merges it.
func merged(t *testing.T, s revocation.Store, now time.Time) map[key]revocation.Entry {
	t.Helper()
	list, err := s.Snapshot(context.Background(), now)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	m := make(map[key]revocation.Entry)
	for _, e := range list {
		if !e.Expires.After(now) {
			t.Errorf("Snapshot(%v) returned an expired entry %+v", now, e)
		}
		k := key{e.Kind, e.Issuer, e.Key}
		old, ok := m[k]
		if ok {
			if old.Before.After(e.Before) {
				e.Before = old.Before
			}
			if old.Expires.After(e.Expires) {
				e.Expires = old.Expires
			}
		}
		m[k] = e
	}
	return m
}

func add(t *testing.T, s revocation.Store, entries ...revocation.Entry) {
	t.Helper()
	for _, e := range entries {
		if err := s.Create(context.Background(), e); err != nil {
			t.Fatalf("Create(%+v): %v", e, err)
		}
	}
}

func sameEntry(a, b revocation.Entry) bool {
	return a.Kind == b.Kind && a.Issuer == b.Issuer && a.Key == b.Key &&
		a.Before.Equal(b.Before) && a.Expires.Equal(b.Expires)
}

func wantEntries(t *testing.T, got map[key]revocation.Entry, want ...revocation.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("snapshot has %d keys, want %d: %+v", len(got), len(want), got)
	}
	for _, w := range want {
		g, ok := got[key{w.Kind, w.Issuer, w.Key}]
		if !ok {
			t.Errorf("snapshot lacks %+v", w)
			continue
		}
		if !sameEntry(g, w) {
			t.Errorf("snapshot has %+v, want %+v (times to the nanosecond)", g, w)
		}
	}
}

func testCreateSnapshot(t *testing.T, open Open) {
	a, b := open(t)
	tok := tokenEntry("https://issuer.example", "jti-1", Base.Add(15*time.Minute))
	sub := subjectEntry("https://issuer.example", "usr_1", Base.Add(7*time.Nanosecond), Base.Add(24*time.Hour))
	add(t, a, tok, sub)
	wantEntries(t, merged(t, a, Base), tok, sub)
	// The other instance sees the same entries.
	wantEntries(t, merged(t, b, Base), tok, sub)
}

func testValidate(t *testing.T, open Open) {
	a, _ := open(t)
	bad := []revocation.Entry{
		{},
		{Kind: 9, Key: "k", Expires: Base},
		{Kind: revocation.KindToken, Expires: Base},
		{Kind: revocation.KindToken, Key: "k"},
		{Kind: revocation.KindToken, Key: "k", Before: Base, Expires: Base},
		{Kind: revocation.KindSubject, Key: "k", Expires: Base},
		{Kind: revocation.KindToken, Key: strings.Repeat("k", revocation.MaxKeyLen+1), Expires: Base},
		{Kind: revocation.KindToken, Key: "\xff", Expires: Base},
		{Kind: revocation.KindToken, Key: "a\x00b", Expires: Base},
		{Kind: revocation.KindToken, Issuer: "\x00", Key: "k", Expires: Base},
		{Kind: revocation.KindToken, Key: "k", Expires: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Kind: revocation.KindSubject, Key: "k", Before: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), Expires: Base},
	}
	for _, e := range bad {
		if err := a.Create(context.Background(), e); !errors.Is(err, revocation.ErrInvalidEntry) {
			t.Errorf("Create(%+v) = %v, want ErrInvalidEntry", e, err)
		}
	}
	wantEntries(t, merged(t, a, Base.Add(-time.Hour)))
}

func testExpiry(t *testing.T, open Open) {
	a, b := open(t)
	early := tokenEntry("iss", "early", Base.Add(time.Minute))
	late := tokenEntry("iss", "late", Base.Add(time.Hour))
	add(t, a, early, late)
	// Snapshot leaves out what has expired at its now, to the nanosecond.
	wantEntries(t, merged(t, a, Base.Add(time.Minute-time.Nanosecond)), early, late)
	wantEntries(t, merged(t, a, Base.Add(time.Minute)), late)
	// Purge deletes it for every instance.
	if n, err := b.Purge(context.Background(), Base.Add(2*time.Minute)); n != 1 || err != nil {
		t.Fatalf("Purge = %d, %v; want 1 entry deleted", n, err)
	}
	wantEntries(t, merged(t, a, Base), late)
	if n, err := a.Purge(context.Background(), Base.Add(2*time.Hour)); n != 1 || err != nil {
		t.Fatalf("Purge = %d, %v; want 1 entry deleted", n, err)
	}
	wantEntries(t, merged(t, a, Base))
}

func testMerge(t *testing.T, open Open) {
	a, b := open(t)
	first := subjectEntry("iss", "usr", Base, Base.Add(time.Hour))
	second := subjectEntry("iss", "usr", Base.Add(time.Second), Base.Add(2*time.Hour))
	older := subjectEntry("iss", "usr", Base.Add(-time.Second), Base.Add(30*time.Minute))
	add(t, a, first)
	add(t, b, second, older, first)
	wantEntries(t, merged(t, a, Base), subjectEntry("iss", "usr", Base.Add(time.Second), Base.Add(2*time.Hour)))
}

func testKeysDoNotCollide(t *testing.T, open Open) {
	a, _ := open(t)
	exp := Base.Add(time.Hour)
	entries := []revocation.Entry{
		tokenEntry("a:b", "c", exp),
		tokenEntry("a", "b:c", exp),
		tokenEntry("a|b", "c", exp),
		tokenEntry("a", "b|c", exp),
		tokenEntry("a\nb", "c", exp),
		tokenEntry("", "abc", exp),
		tokenEntry("ab", "c", exp),
		tokenEntry("iss", "same", exp),
		subjectEntry("iss", "same", Base, exp),
		tokenEntry("iss", "ünïcode ✓ 'quote\" %_*?", exp),
		tokenEntry("https://issuer.example/", strings.Repeat("x", revocation.MaxKeyLen), exp),
	}
	add(t, a, entries...)
	wantEntries(t, merged(t, a, Base), entries...)
}

// next waits for the next entry of sub, skipping heartbeats.
func next(t *testing.T, sub revocation.Subscription) revocation.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout)
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

func subscribe(t *testing.T, s revocation.Store) revocation.Subscription {
	t.Helper()
	sub, err := s.Subscribe(context.Background())
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

func testSubscribe(t *testing.T, open Open) {
	a, b := open(t)
	subA, subB := subscribe(t, a), subscribe(t, b)
	e1 := tokenEntry("iss", "from-a", Base.Add(time.Hour))
	e2 := subjectEntry("iss", "from-b", Base.Add(time.Nanosecond), Base.Add(time.Hour))
	add(t, a, e1)
	add(t, b, e2)
	for _, sub := range []revocation.Subscription{subA, subB} {
		got := []revocation.Entry{next(t, sub), next(t, sub)}
		for i, want := range []revocation.Entry{e1, e2} {
			if !sameEntry(got[i], want) {
				t.Errorf("delivery %d = %+v, want %+v (in the order added)", i, got[i], want)
			}
		}
	}
}

func testHeartbeat(t *testing.T, open Open) {
	a, _ := open(t)
	sub := subscribe(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout)
	defer cancel()
	for i := range 3 {
		e, ok, err := sub.Next(ctx, 50*time.Millisecond)
		if err != nil || ok {
			t.Fatalf("Next #%d on a quiet store = %+v, %v, %v; want a heartbeat (false, nil)", i, e, ok, err)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("three heartbeats of 50ms took longer than %v", deliveryTimeout)
	}
}

func testConcurrent(t *testing.T, open Open) {
	a, b := open(t)
	sub := subscribe(t, b)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			errs <- s.Create(context.Background(), tokenEntry("iss", fmt.Sprintf("jti-%d", i), Base.Add(time.Hour)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Add: %v", err)
		}
	}
	if got := len(merged(t, a, Base)); got != n {
		t.Errorf("after %d concurrent adds the snapshot has %d entries", n, got)
	}
	seen := map[string]bool{}
	for range n {
		seen[next(t, sub).Key] = true
	}
	if len(seen) != n {
		t.Errorf("the subscription delivered %d distinct entries, want %d", len(seen), n)
	}
}

func testCancelled(t *testing.T, open Open) {
	a, _ := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Create(ctx, tokenEntry("iss", "x", Base.Add(time.Hour))); err == nil {
		t.Error("Add with a cancelled context succeeded")
	}
	if _, err := a.Snapshot(ctx, Base); err == nil {
		t.Error("Snapshot with a cancelled context succeeded")
	}
}
