// Package storetest is the conformance suite of [refresh.Store]: every
// backend runs it, so that they all behave the same.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token/refresh"
)

// Open returns two handles on one fresh, empty backing store, as two
// instances of a service would have them (they may be the same value for
// an in-process store). It registers their cleanup with t.
type Open func(t *testing.T) (a, b refresh.Store)

// Base is the moment the suite's records are built around.
var Base = time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Open) {
	t.Run("CreateGet", func(t *testing.T) { testCreateGet(t, open) })
	t.Run("Rotate", func(t *testing.T) { testRotate(t, open) })
	t.Run("ConcurrentRotate", func(t *testing.T) { testConcurrentRotate(t, open) })
	t.Run("RevokeFamily", func(t *testing.T) { testRevokeFamily(t, open) })
	t.Run("RevokeSubject", func(t *testing.T) { testRevokeSubject(t, open) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, open) })
}

// NewRecord returns the first record of a new family of subject, issued
// at at.
func NewRecord(subject string, at time.Time) refresh.Record {
	return refresh.Record{
		Hash:          refresh.HashToken(rand.Text()),
		Family:        "fam_" + rand.Text(),
		Grant:         refresh.Grant{Subject: subject, ClientID: "client-ü", Scope: "a:read b:write", JKT: "jkt-" + rand.Text(), Resource: "https://api.example/ü"},
		FamilyCreated: at,
		IssuedAt:      at,
		Access:        refresh.AccessToken{Issuer: "https://issuer.example", ID: rand.Text(), ExpiresAt: at.Add(15 * time.Minute)},
	}
}

// Successor returns the record that rotating prev at at stores.
func Successor(prev refresh.Record, at time.Time) refresh.Record {
	next := prev
	next.Hash = refresh.HashToken(rand.Text())
	next.IssuedAt = at
	next.SpentAt, next.RevokedAt = time.Time{}, time.Time{}
	next.Access.ID = rand.Text()
	next.Access.ExpiresAt = at.Add(15 * time.Minute)
	return next
}

func create(t *testing.T, s refresh.Store, recs ...refresh.Record) {
	t.Helper()
	for _, r := range recs {
		if err := s.Create(context.Background(), r); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
}

func get(t *testing.T, s refresh.Store, h refresh.Hash) refresh.Record {
	t.Helper()
	r, err := s.Get(context.Background(), h)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return r
}

func sameRecord(a, b refresh.Record) bool {
	return a.Hash == b.Hash && a.Family == b.Family && a.Grant == b.Grant &&
		a.FamilyCreated.Equal(b.FamilyCreated) && a.IssuedAt.Equal(b.IssuedAt) &&
		a.SpentAt.Equal(b.SpentAt) && a.RevokedAt.Equal(b.RevokedAt) &&
		a.Access.Issuer == b.Access.Issuer && a.Access.ID == b.Access.ID && a.Access.ExpiresAt.Equal(b.Access.ExpiresAt)
}

func wantRecord(t *testing.T, s refresh.Store, want refresh.Record) {
	t.Helper()
	if got := get(t, s, want.Hash); !sameRecord(got, want) {
		t.Errorf("Get = %+v\nwant  %+v (times to the nanosecond)", got, want)
	}
}

func testCreateGet(t *testing.T, open Open) {
	a, b := open(t)
	r := NewRecord("usr_1", Base)
	create(t, a, r)
	wantRecord(t, a, r)
	wantRecord(t, b, r)
	if err := b.Create(context.Background(), r); !errors.Is(err, refresh.ErrExists) {
		t.Errorf("Create of an existing hash = %v, want ErrExists", err)
	}
	if _, err := a.Get(context.Background(), refresh.HashToken("unknown")); !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("Get of an unknown hash = %v, want ErrNotFound", err)
	}
}

func testRotate(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	r1 := NewRecord("usr_1", Base)
	r1.Grant.JKT = "" // an unbound family, bound from its successor on (a DPoP refresh)
	create(t, a, r1)
	r2 := Successor(r1, Base.Add(time.Minute))
	r2.Grant.JKT = "jkt-" + rand.Text()
	if err := b.Rotate(ctx, r1.Hash, Base.Add(time.Minute), r2); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	spent := r1
	spent.SpentAt = Base.Add(time.Minute)
	wantRecord(t, a, spent)
	wantRecord(t, a, r2)

	// The spent token cannot rotate again, and the failed attempt stores
	// nothing.
	r3 := Successor(r1, Base.Add(2*time.Minute))
	if err := a.Rotate(ctx, r1.Hash, Base.Add(2*time.Minute), r3); !errors.Is(err, refresh.ErrSpent) {
		t.Errorf("Rotate of a spent token = %v, want ErrSpent", err)
	}
	if _, err := a.Get(ctx, r3.Hash); !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("a refused Rotate stored its successor: %v", err)
	}
	if err := a.Rotate(ctx, refresh.HashToken("unknown"), Base, Successor(r1, Base)); !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("Rotate of an unknown token = %v, want ErrNotFound", err)
	}
	if _, err := a.RevokeFamily(ctx, r1.Family, Base.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := a.Rotate(ctx, r2.Hash, Base.Add(4*time.Minute), Successor(r2, Base.Add(4*time.Minute))); !errors.Is(err, refresh.ErrRevoked) {
		t.Errorf("Rotate in a revoked family = %v, want ErrRevoked", err)
	}
}

func testConcurrentRotate(t *testing.T, open Open) {
	a, b := open(t)
	r := NewRecord("usr_1", Base)
	create(t, a, r)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			errs <- s.Rotate(context.Background(), r.Hash, Base.Add(time.Second), Successor(r, Base.Add(time.Second)))
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, refresh.ErrSpent):
			t.Errorf("concurrent Rotate: %v, want nil or ErrSpent", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent rotations of one token succeeded, want exactly 1", ok, n)
	}
}

func testRevokeFamily(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	r1 := NewRecord("usr_1", Base)
	other := NewRecord("usr_1", Base)
	create(t, a, r1, other)
	r2 := Successor(r1, Base.Add(time.Minute))
	if err := a.Rotate(ctx, r1.Hash, Base.Add(time.Minute), r2); err != nil {
		t.Fatal(err)
	}
	at := Base.Add(2 * time.Minute)
	got, err := b.RevokeFamily(ctx, r1.Family, at)
	if err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	ids := map[string]bool{}
	for _, x := range got {
		ids[x.ID] = true
		if x.Issuer != r1.Access.Issuer {
			t.Errorf("access token issuer %q", x.Issuer)
		}
	}
	if len(got) != 2 || !ids[r1.Access.ID] || !ids[r2.Access.ID] {
		t.Errorf("RevokeFamily returned %+v, want the access tokens of both records", got)
	}
	for _, r := range []refresh.Record{r1, r2} {
		if rec := get(t, a, r.Hash); !rec.RevokedAt.Equal(at) {
			t.Errorf("RevokedAt = %v, want %v", rec.RevokedAt, at)
		}
	}
	if rec := get(t, a, other.Hash); !rec.RevokedAt.IsZero() {
		t.Error("RevokeFamily revoked another family")
	}
	// Again: the same access tokens (a caller may retry revoking them),
	// and the revocation time stays.
	again, err := a.RevokeFamily(ctx, r1.Family, at.Add(time.Minute))
	if err != nil || len(again) != 2 {
		t.Errorf("RevokeFamily again = %+v, %v; want the same two access tokens", again, err)
	}
	if rec := get(t, a, r1.Hash); !rec.RevokedAt.Equal(at) {
		t.Error("revoking again moved RevokedAt")
	}
	if none, err := a.RevokeFamily(ctx, "fam_unknown", at); err != nil || len(none) != 0 {
		t.Errorf("RevokeFamily of an unknown family = %+v, %v", none, err)
	}
}

func testRevokeSubject(t *testing.T, open Open) {
	a, b := open(t)
	mine := []refresh.Record{NewRecord("usr_me", Base), NewRecord("usr_me", Base.Add(time.Hour))}
	theirs := NewRecord("usr_them", Base)
	create(t, a, append(mine, theirs)...)
	at := Base.Add(2 * time.Hour)
	if err := b.RevokeSubject(context.Background(), "usr_me", at); err != nil {
		t.Fatalf("RevokeSubject: %v", err)
	}
	for _, r := range mine {
		if rec := get(t, a, r.Hash); !rec.RevokedAt.Equal(at) {
			t.Errorf("RevokedAt = %v, want %v", rec.RevokedAt, at)
		}
	}
	if rec := get(t, a, theirs.Hash); !rec.RevokedAt.IsZero() {
		t.Error("RevokeSubject revoked another subject's family")
	}
}

func testPurge(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	old := NewRecord("usr", Base.Add(-31*24*time.Hour)) // past the absolute lifetime
	oldNext := Successor(old, Base.Add(-time.Hour))     // used recently, still too old
	idle := NewRecord("usr", Base.Add(-8*24*time.Hour)) // unused for 8 days
	live := NewRecord("usr", Base.Add(-10*24*time.Hour))
	liveNext := Successor(live, Base.Add(-time.Hour))
	create(t, a, old, idle, live)
	for _, p := range [][2]refresh.Record{{old, oldNext}, {live, liveNext}} {
		if err := a.Rotate(ctx, p[0].Hash, p[1].IssuedAt, p[1]); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.Purge(ctx, Base.Add(-30*24*time.Hour), Base.Add(-7*24*time.Hour)); n != 3 || err != nil {
		t.Fatalf("Purge = %d, %v; want 3 records deleted", n, err)
	}
	for _, r := range []refresh.Record{old, oldNext, idle} {
		if _, err := a.Get(ctx, r.Hash); !errors.Is(err, refresh.ErrNotFound) {
			t.Errorf("record of family created %v survived Purge: %v", r.FamilyCreated, err)
		}
	}
	// The live family keeps its spent record: it is what detects reuse.
	for _, r := range []refresh.Record{live, liveNext} {
		if _, err := a.Get(ctx, r.Hash); err != nil {
			t.Errorf("record of a live family: %v", err)
		}
	}
}
