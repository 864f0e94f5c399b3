// Package storetest is the conformance suite of [refresh.Store]: every
// backend runs it, so that they all behave the same.
package storetest

import (
	"bytes"
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
	t.Run("SeedAndUserAgent", func(t *testing.T) { testSeedAndUserAgent(t, open) })
	t.Run("Rotate", func(t *testing.T) { testRotate(t, open) })
	t.Run("ConcurrentRotate", func(t *testing.T) { testConcurrentRotate(t, open) })
	t.Run("RevokeFamily", func(t *testing.T) { testRevokeFamily(t, open) })
	t.Run("RevokeSubject", func(t *testing.T) { testRevokeSubject(t, open) })
	t.Run("Families", func(t *testing.T) { testFamilies(t, open) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, open) })
}

// NewRecord returns the first record of a new family of subject, issued
// at at, with a seed of 32 random bytes.
func NewRecord(subject string, at time.Time) refresh.Record {
	return refresh.Record{
		Hash:   refresh.HashToken(rand.Text()),
		Family: "fam_" + rand.Text(),
		Grant: refresh.Grant{Subject: subject, ClientID: "client-ü", Scope: "a:read b:write", JKT: "jkt-" + rand.Text(),
			Resource: "https://api.example/ü", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/146.0 ü " + rand.Text()},
		FamilyCreated: at,
		IssuedAt:      at,
		Access:        refresh.AccessToken{Issuer: "https://issuer.example", ID: rand.Text(), ExpiresAt: at.Add(15 * time.Minute)},
		Seed:          seed(),
	}
}

// seed returns 32 random bytes, a Record.Seed.
func seed() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// Successor returns the record that rotating prev at at stores, with a
// seed of its own.
func Successor(prev refresh.Record, at time.Time) refresh.Record {
	next := prev
	next.Hash = refresh.HashToken(rand.Text())
	next.IssuedAt = at
	next.SpentAt, next.RevokedAt = time.Time{}, time.Time{}
	next.Access.ID = rand.Text()
	next.Access.ExpiresAt = at.Add(15 * time.Minute)
	next.Seed = seed()
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

// sameRecord reports whether a and b are the same record: the same
// fields, times to the nanosecond, seeds byte for byte (an empty seed
// equal to a nil one).
func sameRecord(a, b refresh.Record) bool {
	return a.Hash == b.Hash && a.Family == b.Family && a.Grant == b.Grant &&
		a.FamilyCreated.Equal(b.FamilyCreated) && a.IssuedAt.Equal(b.IssuedAt) &&
		a.SpentAt.Equal(b.SpentAt) && a.RevokedAt.Equal(b.RevokedAt) &&
		a.Access.Issuer == b.Access.Issuer && a.Access.ID == b.Access.ID && a.Access.ExpiresAt.Equal(b.Access.ExpiresAt) &&
		bytes.Equal(a.Seed, b.Seed)
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
	// The loser of a race presents the winner's successor (successors
	// are derived): that is ErrSpent too, not ErrExists, and changes
	// nothing.
	if err := b.Rotate(ctx, r1.Hash, Base.Add(2*time.Minute), r2); !errors.Is(err, refresh.ErrSpent) {
		t.Errorf("Rotate of a spent token to its stored successor = %v, want ErrSpent", err)
	}
	wantRecord(t, a, spent)
	wantRecord(t, a, r2)
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

// testSeedAndUserAgent: seeds round-trip byte for byte (any bytes, and
// empty as empty: the records of releases before seeds), as do
// User-Agents.
func testSeedAndUserAgent(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	odd := NewRecord("usr_1", Base)
	odd.Seed = []byte{0, 0xff, 0, '\'', 'x', 0x80, 0}
	odd.Grant.UserAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) 'quoted' \"double\" ü 漢字 🙂"
	empty := NewRecord("usr_1", Base)
	empty.Seed, empty.Grant.UserAgent = []byte{}, ""
	none := NewRecord("usr_1", Base)
	none.Seed = nil
	create(t, a, odd, empty, none)
	for _, r := range []refresh.Record{odd, empty, none} {
		wantRecord(t, b, r)
	}
	for _, r := range []refresh.Record{empty, none} {
		if got := get(t, b, r.Hash); len(got.Seed) != 0 {
			t.Errorf("an empty seed reads as %x", got.Seed)
		}
	}
	// A record without a seed rotates to one with a seed.
	next := Successor(none, Base.Add(time.Minute))
	if err := b.Rotate(ctx, none.Hash, next.IssuedAt, next); err != nil {
		t.Fatal(err)
	}
	wantRecord(t, a, next)
	// The store keeps its own copy of the seed.
	want := bytes.Clone(odd.Seed)
	odd.Seed[0] = 42
	got := get(t, a, odd.Hash)
	if !bytes.Equal(got.Seed, want) {
		t.Errorf("changing the caller's seed after Create changed the stored one: %x", got.Seed)
	}
	got.Seed[1] = 42
	if again := get(t, a, odd.Hash); !bytes.Equal(again.Seed, want) {
		t.Errorf("changing the seed Get returned changed the stored one: %x", again.Seed)
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

// testFamilies: the subject's unrevoked families, as their newest records
// report them, newest use first, at most the limit.
func testFamilies(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	old := NewRecord("usr_me", Base)                        // rotated twice, last at Base+2h
	recent := NewRecord("usr_me", Base.Add(90*time.Minute)) // never rotated
	revoked := NewRecord("usr_me", Base.Add(3*time.Hour))   // the newest, but revoked
	quiet := NewRecord("usr_me", Base.Add(-time.Hour))      // used last at Base-1h
	theirs := NewRecord("usr_them", Base.Add(4*time.Hour))
	// Rotated at the instant it was issued: of the two records issued
	// then, the unspent one is the newest, although its hash is higher.
	instant := NewRecord("usr_me", Base.Add(-2*time.Hour))
	instantNext := Successor(instant, instant.IssuedAt)
	instantNext.Grant.UserAgent = "Agent of the successor"
	if bytes.Compare(instant.Hash[:], instantNext.Hash[:]) > 0 {
		instant.Hash, instantNext.Hash = instantNext.Hash, instant.Hash
	}
	create(t, a, old, recent, revoked, quiet, theirs, instant)
	if err := a.Rotate(ctx, instant.Hash, instant.IssuedAt, instantNext); err != nil {
		t.Fatal(err)
	}
	newest := old
	for i := range 2 {
		next := Successor(newest, Base.Add(time.Duration(i+1)*time.Hour))
		// The newest token's grant is reported: a family bound from a
		// refresh on, say.
		next.Grant.JKT, next.Grant.Scope = "jkt-"+rand.Text(), "a:read"
		next.Grant.UserAgent = "Agent of the newest token " + rand.Text()
		if err := b.Rotate(ctx, newest.Hash, next.IssuedAt, next); err != nil {
			t.Fatal(err)
		}
		newest = next
	}
	if _, err := b.RevokeFamily(ctx, revoked.Family, Base.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := []refresh.Family{
		{ID: old.Family, Grant: newest.Grant, Created: Base, LastUsed: Base.Add(2 * time.Hour)},
		{ID: recent.Family, Grant: recent.Grant, Created: recent.FamilyCreated, LastUsed: recent.IssuedAt},
		{ID: quiet.Family, Grant: quiet.Grant, Created: quiet.FamilyCreated, LastUsed: quiet.IssuedAt},
		{ID: instant.Family, Grant: instantNext.Grant, Created: instant.FamilyCreated, LastUsed: instant.IssuedAt},
	}
	for _, tt := range []struct {
		s     refresh.Store
		limit int
		want  []refresh.Family
	}{
		{a, 10, want}, {b, 4, want}, {a, 2, want[:2]}, {b, 1, want[:1]}, {a, 0, nil}, {b, -1, nil},
	} {
		got, err := tt.s.Families(ctx, "usr_me", tt.limit)
		if err != nil {
			t.Fatalf("Families: %v", err)
		}
		if !sameFamilies(got, tt.want) {
			t.Errorf("Families(limit %d) =\n%+v\nwant\n%+v", tt.limit, got, tt.want)
		}
	}
	if got, err := a.Families(ctx, "usr_nobody", 10); err != nil || len(got) != 0 {
		t.Errorf("Families of a subject without families = %+v, %v", got, err)
	}
	// Revoking the subject ends them all.
	if err := a.RevokeSubject(ctx, "usr_me", Base.Add(6*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Families(ctx, "usr_me", 10); err != nil || len(got) != 0 {
		t.Errorf("Families after RevokeSubject = %+v, %v", got, err)
	}
	if got, err := b.Families(ctx, "usr_them", 10); err != nil || !sameFamilies(got, []refresh.Family{
		{ID: theirs.Family, Grant: theirs.Grant, Created: theirs.FamilyCreated, LastUsed: theirs.IssuedAt}}) {
		t.Errorf("Families of another subject = %+v, %v", got, err)
	}
}

func sameFamilies(a, b []refresh.Family) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Grant != b[i].Grant || !a[i].Created.Equal(b[i].Created) || !a[i].LastUsed.Equal(b[i].LastUsed) {
			return false
		}
	}
	return true
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
