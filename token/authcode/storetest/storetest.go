// Package storetest is the conformance suite of [authcode.Store]: every
// backend runs it, so that they all behave the same.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token/authcode"
)

// Open returns two handles on one fresh, empty backing store, as two
// instances of a service would have them (they may be the same value for
// an in-process store). It registers their cleanup with t.
type Open func(t *testing.T) (a, b authcode.Store)

// Base is the moment the suite's records are built around.
var Base = time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Open) {
	t.Run("CreateGet", func(t *testing.T) { testCreateGet(t, open) })
	t.Run("Redeem", func(t *testing.T) { testRedeem(t, open) })
	t.Run("ConcurrentRedeem", func(t *testing.T) { testConcurrentRedeem(t, open) })
	t.Run("SetIssued", func(t *testing.T) { testSetIssued(t, open) })
	t.Run("Reuse", func(t *testing.T) { testReuse(t, open) })
	t.Run("ReuseRacingSetIssued", func(t *testing.T) { testReuseRacingSetIssued(t, open) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, open) })
}

// NewRecord returns the record of a new code issued at at, living 60
// seconds, with every field of its grant set.
func NewRecord(at time.Time) authcode.Record {
	return authcode.Record{
		Hash: authcode.HashCode(rand.Text()),
		Grant: authcode.Grant{
			ClientID:      "client-ü " + rand.Text(),
			RedirectURI:   "https://app.example/cb?x='ü'",
			Subject:       "usr_" + rand.Text(),
			Scope:         "a:read b:write",
			Resource:      "https://api.example/ü",
			JKT:           "jkt-" + rand.Text(),
			CodeChallenge: authcode.Challenge(rand.Text() + rand.Text()),
			AuthTime:      at.Add(-time.Minute - 1),
		},
		IssuedAt:  at,
		ExpiresAt: at.Add(authcode.MaxLifetime),
	}
}

// NewIssued returns an Issued with every field set, expiring after at.
func NewIssued(at time.Time) authcode.Issued {
	return authcode.Issued{RefreshFamily: "fam_" + rand.Text(), AccessIssuer: "https://issuer.example",
		AccessID: rand.Text(), AccessExpiresAt: at.Add(15*time.Minute + 7)}
}

func create(t *testing.T, s authcode.Store, recs ...authcode.Record) {
	t.Helper()
	for _, r := range recs {
		if err := s.Create(context.Background(), r); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
}

func get(t *testing.T, s authcode.Store, h authcode.Hash) authcode.Record {
	t.Helper()
	r, err := s.Get(context.Background(), h)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return r
}

// SameRecord reports whether a and b are the same record: the same
// fields, times to the nanosecond (whatever their locations).
func SameRecord(a, b authcode.Record) bool {
	ga, gb := a.Grant, b.Grant
	return a.Hash == b.Hash && ga.ClientID == gb.ClientID && ga.RedirectURI == gb.RedirectURI &&
		ga.Subject == gb.Subject && ga.Scope == gb.Scope && ga.Resource == gb.Resource && ga.JKT == gb.JKT &&
		ga.CodeChallenge == gb.CodeChallenge && ga.AuthTime.Equal(gb.AuthTime) &&
		a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.UsedAt.Equal(b.UsedAt) && a.ReusedAt.Equal(b.ReusedAt) && sameIssued(a.Issued, b.Issued)
}

func sameIssued(a, b authcode.Issued) bool {
	return a.RefreshFamily == b.RefreshFamily && a.AccessIssuer == b.AccessIssuer && a.AccessID == b.AccessID &&
		a.AccessExpiresAt.Equal(b.AccessExpiresAt)
}

func wantRecord(t *testing.T, s authcode.Store, want authcode.Record) {
	t.Helper()
	if got := get(t, s, want.Hash); !SameRecord(got, want) {
		t.Errorf("Get = %+v\nwant  %+v (times to the nanosecond)", got, want)
	}
}

func testCreateGet(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	r := NewRecord(Base)
	// A record with every field set, as a Create of any record stores it.
	full := NewRecord(Base.Add(time.Second))
	full.UsedAt, full.ReusedAt, full.Issued = Base.Add(2*time.Second+1), Base.Add(3*time.Second+2), NewIssued(Base)
	// And one with the zero times an unknown auth_time and an unused code
	// have.
	bare := NewRecord(Base)
	bare.Grant.AuthTime, bare.Grant.Scope, bare.Grant.Resource, bare.Grant.JKT = time.Time{}, "", "", ""
	create(t, a, r, full, bare)
	for _, x := range []authcode.Record{r, full, bare} {
		wantRecord(t, a, x)
		wantRecord(t, b, x)
	}
	if got := get(t, b, bare.Hash); !got.Grant.AuthTime.IsZero() || !got.UsedAt.IsZero() || !got.Issued.IsZero() {
		t.Errorf("zero times and an empty Issued read back as %+v", got)
	}
	dup := NewRecord(Base.Add(time.Hour))
	dup.Hash = r.Hash
	if err := b.Create(ctx, dup); !errors.Is(err, authcode.ErrExists) {
		t.Errorf("Create of an existing hash = %v, want ErrExists", err)
	}
	wantRecord(t, a, r)
	if _, err := a.Get(ctx, authcode.HashCode("unknown")); !errors.Is(err, authcode.ErrNotFound) {
		t.Errorf("Get of an unknown hash = %v, want ErrNotFound", err)
	}
}

func testRedeem(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	r, other := NewRecord(Base), NewRecord(Base)
	create(t, a, r, other)
	at := Base.Add(5*time.Second + 3)
	if err := b.Redeem(ctx, r.Hash, at); err != nil {
		t.Fatalf("Redeem: %v", err)
	}
	used := r
	used.UsedAt = at
	wantRecord(t, a, used)
	wantRecord(t, a, other)
	if err := a.Redeem(ctx, r.Hash, at.Add(time.Second)); !errors.Is(err, authcode.ErrUsed) {
		t.Errorf("Redeem of a used code = %v, want ErrUsed", err)
	}
	wantRecord(t, b, used) // UsedAt stays
	if err := a.Redeem(ctx, authcode.HashCode("unknown"), at); !errors.Is(err, authcode.ErrNotFound) {
		t.Errorf("Redeem of an unknown code = %v, want ErrNotFound", err)
	}
	if err := a.Redeem(ctx, other.Hash, time.Time{}); err == nil || errors.Is(err, authcode.ErrUsed) {
		t.Errorf("Redeem at the zero time = %v, want an error", err)
	}
	wantRecord(t, b, other)
}

func testConcurrentRedeem(t *testing.T, open Open) {
	a, b := open(t)
	r := NewRecord(Base)
	create(t, a, r)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() { errs <- s.Redeem(context.Background(), r.Hash, Base.Add(time.Duration(i+1)*time.Millisecond)) })
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, authcode.ErrUsed):
			t.Errorf("concurrent Redeem: %v, want nil or ErrUsed", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent redemptions of one code succeeded, want exactly 1", ok, n)
	}
}

func testSetIssued(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	r := NewRecord(Base)
	create(t, a, r)
	if err := a.Redeem(ctx, r.Hash, Base.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	want := r
	want.UsedAt, want.Issued = Base.Add(time.Second), NewIssued(Base)
	got, err := b.SetIssued(ctx, r.Hash, want.Issued)
	if err != nil {
		t.Fatalf("SetIssued: %v", err)
	}
	if !SameRecord(got, want) {
		t.Errorf("SetIssued returned %+v\nwant %+v", got, want)
	}
	wantRecord(t, a, want)
	// Partly empty: only an access token, no refresh family.
	want.Issued = authcode.Issued{AccessIssuer: "https://issuer.example", AccessID: "jti", AccessExpiresAt: Base.Add(time.Hour)}
	if _, err := a.SetIssued(ctx, r.Hash, want.Issued); err != nil {
		t.Fatal(err)
	}
	wantRecord(t, b, want)
	if _, err := a.SetIssued(ctx, authcode.HashCode("unknown"), want.Issued); !errors.Is(err, authcode.ErrNotFound) {
		t.Errorf("SetIssued of an unknown code = %v, want ErrNotFound", err)
	}
}

func testReuse(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	r, unused := NewRecord(Base), NewRecord(Base)
	create(t, a, r, unused)
	// Not used yet: returned unchanged.
	got, err := b.Reuse(ctx, unused.Hash, Base.Add(time.Second))
	if err != nil || !SameRecord(got, unused) {
		t.Errorf("Reuse of an unused code = %+v, %v; want it unchanged", got, err)
	}
	wantRecord(t, a, unused)

	if err := a.Redeem(ctx, r.Hash, Base.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	want := r
	want.UsedAt, want.ReusedAt = Base.Add(time.Second), Base.Add(2*time.Second+5)
	if got, err := b.Reuse(ctx, r.Hash, want.ReusedAt); err != nil || !SameRecord(got, want) {
		t.Errorf("Reuse = %+v, %v\nwant %+v", got, err, want)
	}
	// SetIssued after a Reuse returns the mark; a Reuse after it returns
	// what was issued, and keeps the first ReusedAt.
	want.Issued = NewIssued(Base)
	if got, err := a.SetIssued(ctx, r.Hash, want.Issued); err != nil || !SameRecord(got, want) {
		t.Errorf("SetIssued after Reuse = %+v, %v\nwant %+v", got, err, want)
	}
	if got, err := a.Reuse(ctx, r.Hash, Base.Add(time.Hour)); err != nil || !SameRecord(got, want) {
		t.Errorf("Reuse again = %+v, %v\nwant %+v", got, err, want)
	}
	wantRecord(t, b, want)
	if _, err := a.Reuse(ctx, authcode.HashCode("unknown"), Base); !errors.Is(err, authcode.ErrNotFound) {
		t.Errorf("Reuse of an unknown code = %v, want ErrNotFound", err)
	}
}

// testReuseRacingSetIssued: of a SetIssued and a Reuse of one used code
// racing on two handles, the second to run sees what the first wrote.
func testReuseRacingSetIssued(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	for round := range 20 {
		r := NewRecord(Base)
		create(t, a, r)
		if err := a.Redeem(ctx, r.Hash, Base.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		issued := NewIssued(Base)
		var set, reused authcode.Record
		var wg sync.WaitGroup
		wg.Go(func() {
			var err error
			if set, err = a.SetIssued(ctx, r.Hash, issued); err != nil {
				t.Errorf("SetIssued: %v", err)
			}
		})
		wg.Go(func() {
			var err error
			if reused, err = b.Reuse(ctx, r.Hash, Base.Add(2*time.Second)); err != nil {
				t.Errorf("Reuse: %v", err)
			}
		})
		wg.Wait()
		if set.ReusedAt.IsZero() && !sameIssued(reused.Issued, issued) {
			t.Fatalf("round %d: neither SetIssued saw the Reuse nor Reuse the tokens: %+v, %+v", round, set, reused)
		}
	}
}

func testPurge(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	expired := NewRecord(Base.Add(-2 * time.Minute))    // expired at Base-1m, unused
	atBound := NewRecord(Base.Add(-time.Minute))        // expires at Base exactly
	live := NewRecord(Base.Add(-30 * time.Second))      // expires at Base+30s
	usedOld := NewRecord(Base.Add(-25 * time.Hour))     // used 25 h ago
	usedRecent := NewRecord(Base.Add(-2 * time.Minute)) // used 2 minutes ago, expired
	create(t, a, expired, atBound, live, usedOld, usedRecent)
	for _, r := range []authcode.Record{usedOld, usedRecent} {
		if err := a.Redeem(ctx, r.Hash, r.IssuedAt.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := b.Purge(ctx, Base, Base.Add(-24*time.Hour))
	if n != 3 || err != nil {
		t.Fatalf("Purge = %d, %v; want 3 records deleted", n, err)
	}
	for _, r := range []authcode.Record{expired, atBound, usedOld} {
		if _, err := a.Get(ctx, r.Hash); !errors.Is(err, authcode.ErrNotFound) {
			t.Errorf("record issued at %v survived Purge: %v", r.IssuedAt, err)
		}
	}
	// The live code stays, and the used one within its keeping period:
	// it is what detects a replay.
	for _, r := range []authcode.Record{live, usedRecent} {
		if _, err := a.Get(ctx, r.Hash); err != nil {
			t.Errorf("record issued at %v: %v", r.IssuedAt, err)
		}
	}
	if n, err := a.Purge(ctx, Base, Base.Add(-24*time.Hour)); n != 0 || err != nil {
		t.Errorf("Purge again = %d, %v; want 0", n, err)
	}
}
