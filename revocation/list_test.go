package revocation_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/revocation"
)

const iss = "https://issuer.example"

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// newClock returns a clock at t0.
func newClock() *testenv.Clock { return testenv.NewClock(t0) }

func open(t *testing.T, cfg revocation.Config) *revocation.List {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := revocation.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func principal(sub, jti string, iat time.Time) *identity.Principal {
	return &identity.Principal{Issuer: iss, Subject: sub, TokenID: jti, IssuedAt: iat, ExpiresAt: iat.Add(15 * time.Minute)}
}

func revoked(t *testing.T, l *revocation.List, p *identity.Principal) bool {
	t.Helper()
	got, err := l.Revoked(context.Background(), p)
	if err != nil {
		t.Fatalf("Revoked: %v", err)
	}
	return got
}

// eventually waits for cond in the test's bubble (testing/synctest),
// where time passes only once every goroutine waits: the list's
// background sync has run as far as it can before each look, so a busy
// machine cannot make the minute of bubble time run out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatalf("no %s after a minute of the bubble's time", what)
		}
	}
}

func TestRevokeToken(t *testing.T) {
	c := newClock()
	l := open(t, revocation.Config{Now: c.Now})
	p := principal("usr_1", "jti-1", t0)
	if revoked(t, l, p) {
		t.Fatal("revoked before any revocation")
	}
	if err := l.RevokePrincipal(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    *identity.Principal
		want bool
	}{
		{"the token", p, true},
		{"same jti re-encoded: the principal is what counts", principal("usr_1", "jti-1", t0), true},
		{"another token of the subject", principal("usr_1", "jti-2", t0), false},
		{"same jti from another issuer", &identity.Principal{Issuer: "https://other.example", Subject: "usr_1", TokenID: "jti-1", IssuedAt: t0}, false},
		{"no token id", principal("usr_1", "", t0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := revoked(t, l, tt.p); got != tt.want {
				t.Errorf("Revoked = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRevokeSubjectSubSecond(t *testing.T) {
	c := newClock()
	l := open(t, revocation.Config{Now: c.Now})
	at := t0.Add(500 * time.Millisecond)
	if err := l.RevokeSubject(context.Background(), iss, "usr_1", at); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    *identity.Principal
		want bool
	}{
		{"issued a second before", principal("usr_1", "a", at.Add(-time.Second)), true},
		{"issued 1ms before, same second", principal("usr_1", "b", at.Add(-time.Millisecond)), true},
		{"issued 1ns before", principal("usr_1", "c", at.Add(-time.Nanosecond)), true},
		{"issued at the moment", principal("usr_1", "d", at), false},
		{"issued 1ms after, same second", principal("usr_1", "e", at.Add(time.Millisecond)), false},
		{"issued later", principal("usr_1", "f", at.Add(time.Hour)), false},
		{"no issue time: cannot be proved newer", principal("usr_1", "g", time.Time{}), true},
		{"another subject", principal("usr_2", "h", at.Add(-time.Second)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := revoked(t, l, tt.p); got != tt.want {
				t.Errorf("Revoked = %v, want %v", got, tt.want)
			}
		})
	}
	// A later revocation moves the moment forward; an earlier one does
	// not move it back.
	if err := l.RevokeSubject(context.Background(), iss, "usr_1", at.Add(time.Hour+time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := l.RevokeSubject(context.Background(), iss, "usr_1", at); err != nil {
		t.Fatal(err)
	}
	if !revoked(t, l, principal("usr_1", "f", at.Add(time.Hour))) {
		t.Error("a later subject revocation did not revoke a token issued before it")
	}
}

func TestEntriesExpire(t *testing.T) {
	c := newClock()
	store := revocation.NewMemoryStore()
	l := open(t, revocation.Config{Store: store, Now: c.Now, Leeway: time.Minute, MaxTokenLifetime: time.Hour})
	ctx := context.Background()
	if err := l.RevokeToken(ctx, iss, "short", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := l.RevokeSubject(ctx, iss, "usr", t0); err != nil {
		t.Fatal(err)
	}
	// Already past exp + leeway: nothing to remember.
	if err := l.RevokeToken(ctx, iss, "old", t0.Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := l.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	l.Purge(t0.Add(11*time.Minute - time.Nanosecond))
	if n := l.Len(); n != 2 {
		t.Fatalf("Len before exp+leeway = %d, want 2", n)
	}
	l.Purge(t0.Add(11 * time.Minute))
	if n := l.Len(); n != 1 {
		t.Fatalf("Len after the token's exp+leeway = %d, want 1", n)
	}
	l.Purge(t0.Add(61 * time.Minute))
	if n := l.Len(); n != 0 {
		t.Fatalf("Len after the subject entry's lifetime = %d, want 0", n)
	}
	snap, err := store.Snapshot(ctx, t0)
	if err != nil || len(snap) != 2 {
		t.Fatalf("store snapshot = %v, %v; want the 2 entries", snap, err)
	}
}

func TestPropagation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := revocation.NewMemoryStore()
		a := open(t, revocation.Config{Store: store})
		// b starts after a revocation (snapshot) and sees the next one pushed.
		p1, p2 := principal("usr_1", "one", time.Now()), principal("usr_1", "two", time.Now())
		if err := a.RevokePrincipal(context.Background(), p1); err != nil {
			t.Fatal(err)
		}
		b := open(t, revocation.Config{Store: store})
		if !revoked(t, b, p1) {
			t.Error("a new instance did not load the existing revocation")
		}
		if err := a.RevokePrincipal(context.Background(), p2); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the revocation to reach the other instance", func() bool { return revoked(t, b, p2) })
	})
}

// flaky is a store that can be taken down.
type flaky struct {
	*revocation.MemoryStore
	down atomic.Bool
}

var errDown = errors.New("store down")

func (f *flaky) Create(ctx context.Context, e revocation.Entry) error {
	if f.down.Load() {
		return errDown
	}
	return f.MemoryStore.Create(ctx, e)
}

func (f *flaky) Snapshot(ctx context.Context, now time.Time) ([]revocation.Entry, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.MemoryStore.Snapshot(ctx, now)
}

func (f *flaky) Subscribe(ctx context.Context) (revocation.Subscription, error) {
	if f.down.Load() {
		return nil, errDown
	}
	s, err := f.MemoryStore.Subscribe(ctx)
	return &flakySub{s, f}, err
}

type flakySub struct {
	revocation.Subscription
	f *flaky
}

func (s *flakySub) Next(ctx context.Context, wait time.Duration) (revocation.Entry, bool, error) {
	if s.f.down.Load() {
		return revocation.Entry{}, false, errDown
	}
	e, ok, err := s.Subscription.Next(ctx, wait)
	if s.f.down.Load() {
		return revocation.Entry{}, false, errDown
	}
	return e, ok, err
}

func TestStaleFailsClosedAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		shared := revocation.NewMemoryStore()
		f := &flaky{MemoryStore: shared}
		l := open(t, revocation.Config{Store: f, Now: c.Now, Staleness: time.Second})
		p := principal("usr_1", "jti", t0)
		if revoked(t, l, p) {
			t.Fatal("revoked at start")
		}

		f.down.Store(true)
		// Within the bound the mirror still answers.
		c.Advance(900 * time.Millisecond)
		if _, err := l.Revoked(context.Background(), p); err != nil {
			t.Fatalf("Revoked within the staleness bound: %v", err)
		}
		// Meanwhile another instance revokes the token in the shared store.
		if err := shared.Create(context.Background(), revocation.Entry{Kind: revocation.KindToken, Issuer: iss, Key: "jti", Expires: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		c.Advance(200 * time.Millisecond)
		eventually(t, "ErrStale past the bound", func() bool {
			_, err := l.Revoked(context.Background(), p)
			return errors.Is(err, revocation.ErrStale)
		})
		if !l.Stale() {
			t.Error("Stale() = false while Revoked fails")
		}
		// A revocation cannot be made meanwhile: it fails as a whole, so the
		// caller can tell the client to retry.
		if err := l.RevokeToken(context.Background(), iss, "local", t0.Add(time.Hour)); !errors.Is(err, revocation.ErrStore) {
			t.Errorf("RevokeToken with the store down = %v, want ErrStore", err)
		}
		if l.Len() != 0 {
			t.Errorf("a failed revocation left %d entries in the mirror", l.Len())
		}

		f.down.Store(false)
		eventually(t, "recovery", func() bool { _, err := l.Revoked(context.Background(), p); return err == nil })
		// The full resync brought in the revocation made during the outage.
		if !revoked(t, l, p) {
			t.Error("after recovery the revocation made during the outage is missing")
		}
		if err := l.RevokeToken(context.Background(), iss, "local", t0.Add(time.Hour)); err != nil {
			t.Errorf("RevokeToken after recovery: %v", err)
		}
		if !revoked(t, l, principal("usr_1", "local", t0)) {
			t.Error("the retried revocation did not take effect")
		}
	})
}

func TestFailOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		f := &flaky{MemoryStore: revocation.NewMemoryStore()}
		l := open(t, revocation.Config{Store: f, Now: c.Now, Staleness: time.Second, FailOpen: true})
		p := principal("usr_1", "jti", t0)
		if err := l.RevokePrincipal(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		f.down.Store(true)
		c.Advance(2 * time.Second)
		eventually(t, "the mirror to go stale", l.Stale)
		got, err := l.Revoked(context.Background(), p)
		if err != nil || !got {
			t.Errorf("fail-open Revoked of a revoked token = %v, %v; want true, nil", got, err)
		}
		got, err = l.Revoked(context.Background(), principal("usr_1", "other", t0))
		if err != nil || got {
			t.Errorf("fail-open Revoked of another token = %v, %v; want false, nil", got, err)
		}
	})
}

func TestOpenFailsWithoutStore(t *testing.T) {
	f := &flaky{MemoryStore: revocation.NewMemoryStore()}
	f.down.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	l, err := revocation.Open(ctx, revocation.Config{Store: f})
	if !errors.Is(err, revocation.ErrStore) || l != nil {
		t.Fatalf("Open with the store down = %v, %v; want ErrStore", l, err)
	}
}

func TestInvalid(t *testing.T) {
	l := open(t, revocation.Config{})
	ctx := context.Background()
	if err := l.RevokePrincipal(ctx, principal("usr", "", t0)); !errors.Is(err, revocation.ErrInvalidEntry) {
		t.Errorf("RevokePrincipal without a jti = %v", err)
	}
	if err := l.RevokeToken(ctx, iss, "", time.Now().Add(time.Hour)); !errors.Is(err, revocation.ErrInvalidEntry) {
		t.Errorf("RevokeToken without a jti = %v", err)
	}
	if _, err := revocation.Open(ctx, revocation.Config{Staleness: time.Millisecond}); err == nil {
		t.Error("Open accepted a 1ms staleness bound")
	}
	l.Close()
	if err := l.RevokeToken(ctx, iss, "x", time.Now().Add(time.Hour)); !errors.Is(err, revocation.ErrClosed) {
		t.Errorf("RevokeToken after Close = %v", err)
	}
}

// countingStore counts Creates.
type countingStore struct {
	*revocation.MemoryStore
	adds atomic.Int64
}

func (c *countingStore) Create(ctx context.Context, e revocation.Entry) error {
	c.adds.Add(1)
	return c.MemoryStore.Create(ctx, e)
}

// TestRepeatedRevocationWritesOnce: revoking what the list holds already
// writes nothing, so retries and replays cost no store write.
func TestRepeatedRevocationWritesOnce(t *testing.T) {
	c := newClock()
	store := &countingStore{MemoryStore: revocation.NewMemoryStore()}
	l := open(t, revocation.Config{Store: store, Now: c.Now})
	ctx := context.Background()
	for range 3 {
		if err := l.RevokeToken(ctx, iss, "jti", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := l.RevokeSubject(ctx, iss, "usr", t0); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.adds.Load(); n != 2 {
		t.Errorf("%d store writes for 2 revocations repeated 3 times, want 2", n)
	}
	// Later expiry or a later moment is new information: written.
	if err := l.RevokeToken(ctx, iss, "jti", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := l.RevokeSubject(ctx, iss, "usr", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := store.adds.Load(); n != 4 {
		t.Errorf("%d store writes, want 4", n)
	}
}

// TestStaleWhenClockStepsBack: staleness does not trust the wall clock.
// With an injected clock (no monotonic reading) that steps back an hour
// while the store is down, the list still goes stale within the bound
// (before, it counted as fresh for the hour: fail closed became fail
// open), and it is fresh again once the store is back, the clock still
// behind.
func TestStaleWhenClockStepsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		f := &flaky{MemoryStore: revocation.NewMemoryStore()}
		l := open(t, revocation.Config{Store: f, Now: c.Now, Staleness: time.Second})
		p := principal("usr_1", "jti", t0)
		if revoked(t, l, p) {
			t.Fatal("revoked at start")
		}
		synced := l.SyncedAt()
		if synced.IsZero() || synced.Before(t0) {
			t.Fatalf("SyncedAt = %v, want the wall time of the sync (at or after %v)", synced, t0)
		}

		f.down.Store(true)
		c.Advance(-time.Hour)
		eventually(t, "ErrStale after the clock stepped back with the store down", func() bool {
			_, err := l.Revoked(context.Background(), p)
			return errors.Is(err, revocation.ErrStale) && l.Stale()
		})
		if got := l.SyncedAt(); !got.Equal(synced) {
			t.Errorf("SyncedAt while down = %v, want the last sync's %v", got, synced)
		}

		f.down.Store(false)
		eventually(t, "recovery with the clock still an hour back", func() bool {
			_, err := l.Revoked(context.Background(), p)
			return err == nil && !l.Stale()
		})
		if got := l.SyncedAt(); !got.Before(synced) {
			t.Errorf("SyncedAt after recovery = %v, want the wall time of the new sync, before %v", got, synced)
		}
	})
}

// TestRevokeTokenClampsFarExpiry: a token whose exp is past what the
// stores hold (2261) is revoked until then instead of failing (logout must
// not fail); any earlier exp is kept as it is, even past this list's
// MaxTokenLifetime, since a verifier may accept longer-lived tokens than
// the list was told.
func TestRevokeTokenClampsFarExpiry(t *testing.T) {
	const (
		leeway   = time.Minute
		lifetime = time.Hour
	)
	last := time.Date(2261, 12, 31, 23, 59, 59, 0, time.UTC)
	tests := []struct {
		name    string
		exp     time.Time
		expires time.Time // of the stored entry
	}{
		{"year 2300", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), last},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), last},
		{"at the last storable moment", last.Add(-leeway), last},
		{"the last moment, in UTC+14 (local year 2262)", last.Add(-leeway).In(time.FixedZone("+14", 14*3600)), last},
		{"72 h, past MaxTokenLifetime: kept", t0.Add(72 * time.Hour), t0.Add(72*time.Hour + leeway)},
		{"30 minutes", t0.Add(30 * time.Minute), t0.Add(30*time.Minute + leeway)},
		{"zero: MaxTokenLifetime", time.Time{}, t0.Add(lifetime + leeway)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// In a bubble: the list's background sync runs only when the
			// test waits, so moving the injected clock 25 h cannot race a
			// staleness check (it did on a busy machine).
			synctest.Test(t, func(t *testing.T) {
				c := newClock()
				store := revocation.NewMemoryStore()
				l := open(t, revocation.Config{Store: store, Now: c.Now, Leeway: leeway, MaxTokenLifetime: lifetime})
				ctx := context.Background()
				p := principal("usr_1", "far", t0)
				before := l.Len()
				if err := l.RevokeToken(ctx, iss, p.TokenID, tt.exp); err != nil {
					t.Fatalf("RevokeToken(exp %v): %v", tt.exp, err)
				}
				if !revoked(t, l, p) {
					t.Error("the token is not revoked")
				}
				if n := l.Len(); n != before+1 {
					t.Errorf("Len = %d, want %d", n, before+1)
				}
				snap, err := store.Snapshot(ctx, t0)
				if err != nil || len(snap) != 1 {
					t.Fatalf("store snapshot = %v, %v; want 1 entry", snap, err)
				}
				if !snap[0].Expires.Equal(tt.expires) {
					t.Errorf("stored entry expires %v, want %v", snap[0].Expires, tt.expires)
				}
				// Still revoked a day after MaxTokenLifetime, until it expires.
				c.Advance(25 * time.Hour)
				l.Purge(c.Now())
				if want := tt.expires.After(c.Now()); revoked(t, l, p) != want {
					t.Errorf("revoked 25 h later = %v, want %v", !want, want)
				}
				l.Purge(tt.expires.Add(-time.Nanosecond))
				if tt.expires.After(c.Now()) && !revoked(t, l, p) {
					t.Errorf("purged before %v", tt.expires)
				}
				l.Purge(tt.expires)
				if n := l.Len(); n != before {
					t.Errorf("Len after purging at %v = %d, want %d", tt.expires, n, before)
				}
			})
		})
	}
}

// TestOpenRefusesAbsurdLimits: lifetimes and leeways that would push
// entries past what the stores hold are configuration errors.
func TestOpenRefusesAbsurdLimits(t *testing.T) {
	for _, cfg := range []revocation.Config{
		{MaxTokenLifetime: math.MaxInt64},
		{MaxTokenLifetime: revocation.MaxMaxTokenLifetime + 1},
		{Leeway: revocation.MaxLeeway + 1},
		{Leeway: -1},
	} {
		if l, err := revocation.Open(context.Background(), cfg); err == nil {
			l.Close()
			t.Errorf("Open(%+v) accepted", cfg)
		}
	}
}

// TestErrorsAreUnavailable: every error of a List that means "cannot tell
// now" wraps identity.ErrUnavailable, so callers answer 503 without
// knowing this package.
func TestErrorsAreUnavailable(t *testing.T) {
	var writeErr, staleErr, openErr error
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		f := &flaky{MemoryStore: revocation.NewMemoryStore()}
		l := open(t, revocation.Config{Store: f, Now: c.Now, Staleness: time.Second})
		ctx := context.Background()

		f.down.Store(true)
		writeErr = l.RevokeToken(ctx, iss, "jti", t0.Add(time.Hour))
		c.Advance(2 * time.Second)
		eventually(t, "the mirror to go stale", l.Stale)
		_, staleErr = l.Revoked(ctx, principal("usr_1", "jti", t0))
		octx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, openErr = revocation.Open(octx, revocation.Config{Store: f})
	})

	tests := []struct {
		name string
		err  error
		is   error
	}{
		{"ErrStale", revocation.ErrStale, revocation.ErrStale},
		{"ErrStore", revocation.ErrStore, revocation.ErrStore},
		{"Revoked when stale", staleErr, revocation.ErrStale},
		{"a failed write", writeErr, revocation.ErrStore},
		{"a failed first sync", openErr, revocation.ErrStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.is) {
				t.Fatalf("err = %v, want it to wrap %v", tt.err, tt.is)
			}
			if !errors.Is(tt.err, identity.ErrUnavailable) {
				t.Errorf("err = %v, does not wrap identity.ErrUnavailable", tt.err)
			}
			if !strings.HasPrefix(tt.err.Error(), "revocation: ") {
				t.Errorf("message %q does not start with %q", tt.err, "revocation: ")
			}
		})
	}
	if errors.Is(revocation.ErrClosed, identity.ErrUnavailable) || errors.Is(revocation.ErrInvalidEntry, identity.ErrUnavailable) {
		t.Error("ErrClosed or ErrInvalidEntry wraps identity.ErrUnavailable: they are not outages")
	}
}
