// Package storetest is the conformance suite of [apitoken.Store]: every
// backend runs it, so that they all behave the same.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/apitoken"
)

// Open returns two handles on one fresh, empty backing store, as two
// instances of a service would have them (they may be the same value for
// an in-process store). It registers their cleanup with t.
type Open func(t *testing.T) (a, b apitoken.Store)

// Base is the moment the suite's records are built around.
var Base = time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Open) {
	t.Run("CreateGet", func(t *testing.T) { testCreateGet(t, open) })
	t.Run("ListCount", func(t *testing.T) { testListCount(t, open) })
	t.Run("Revoke", func(t *testing.T) { testRevoke(t, open) })
	t.Run("RevokeSubject", func(t *testing.T) { testRevokeSubject(t, open) })
	t.Run("ConcurrentRevoke", func(t *testing.T) { testConcurrentRevoke(t, open) })
	t.Run("Limit", func(t *testing.T) { testLimit(t, open) })
	t.Run("ConcurrentLimit", func(t *testing.T) { testConcurrentLimit(t, open) })
	t.Run("Touch", func(t *testing.T) { testTouch(t, open) })
	t.Run("ConcurrentTouch", func(t *testing.T) { testConcurrentTouch(t, open) })
	t.Run("TouchWhileRevoking", func(t *testing.T) { testTouchWhileRevoking(t, open) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, open) })
	t.Run("HostileStrings", func(t *testing.T) { testHostileStrings(t, open) })
	t.Run("Cutoff", func(t *testing.T) { testCutoff(t, open) })
}

// testCutoff: a subject's cut-off is the latest recorded, to the
// nanosecond, shared by the stores, one per subject, kept by Purge.
func testCutoff(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	cutoff := func(s apitoken.Store, subject string) time.Time {
		t.Helper()
		c, err := s.Cutoff(ctx, subject)
		if err != nil {
			t.Fatalf("Cutoff(%q): %v", subject, err)
		}
		return c
	}
	if c := cutoff(a, "alice"); !c.IsZero() {
		t.Fatalf("a cut-off before any: %v", c)
	}
	later := Base.Add(time.Hour)
	for _, step := range []struct {
		s    apitoken.Store
		at   time.Time
		want time.Time
	}{{a, Base, Base}, {b, later, later}, {a, Base.Add(time.Minute), later}, {b, later, later}} {
		if err := step.s.SetCutoff(ctx, "alice", step.at); err != nil {
			t.Fatalf("SetCutoff(%v): %v", step.at, err)
		}
		for _, s := range []apitoken.Store{a, b} {
			if c := cutoff(s, "alice"); !c.Equal(step.want) {
				t.Fatalf("after SetCutoff(%v): %v, want %v (the latest)", step.at, c, step.want)
			}
		}
	}
	if c := cutoff(b, "bob"); !c.IsZero() {
		t.Errorf("bob's cut-off after alice's: %v", c)
	}
	if _, err := a.Purge(ctx, later.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c := cutoff(b, "alice"); !c.Equal(later) {
		t.Errorf("after Purge: %v, want %v", c, later)
	}
	for _, s := range []string{"\x00", "a\x00b", "\xff"} {
		err := a.SetCutoff(ctx, s, Base)
		switch c, cerr := a.Cutoff(ctx, s); {
		case err != nil && !errors.Is(err, apitoken.ErrInvalid):
			t.Errorf("SetCutoff(%q) = %v, want nil or ErrInvalid", s, err)
		case cerr != nil:
			t.Errorf("Cutoff(%q) = %v", s, cerr)
		case err == nil && !c.Equal(Base), err != nil && !c.IsZero():
			t.Errorf("Cutoff(%q) = %v after SetCutoff: %v", s, c, err)
		}
	}
}

// NewRecord returns a record of subject created at at, with a random id and
// hash.
func NewRecord(subject string, at time.Time) apitoken.Record {
	h := sha256.Sum256([]byte(rand.Text()))
	return apitoken.Record{
		Token: apitoken.Token{
			ID: rand.Text(), Subject: subject, Name: "CI – déploiement", Scopes: []string{"widgets:read", "tokens:manage"},
			CreatedAt: at, ExpiresAt: at.Add(30 * 24 * time.Hour),
		},
		Hash: h[:],
	}
}

func insert(t *testing.T, s apitoken.Store, recs ...apitoken.Record) {
	t.Helper()
	for _, r := range recs {
		if err := s.Create(context.Background(), r, 1000); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
}

func get(t *testing.T, s apitoken.Store, id string) apitoken.Token {
	t.Helper()
	tok, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return tok
}

// Same reports whether a and b are equal: times to the nanosecond, no
// scopes and empty scopes alike.
func Same(a, b apitoken.Token) bool {
	return a.ID == b.ID && a.Subject == b.Subject && a.Name == b.Name &&
		(len(a.Scopes) == 0 && len(b.Scopes) == 0 || slices.Equal(a.Scopes, b.Scopes)) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.LastUsedAt.Equal(b.LastUsedAt) && a.RevokedAt.Equal(b.RevokedAt)
}

func testCreateGet(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	r := NewRecord("alice", Base)
	noScopes := NewRecord("alice", Base)
	noScopes.Scopes, noScopes.ExpiresAt = nil, time.Time{}
	insert(t, a, r, noScopes)

	for _, s := range []apitoken.Store{a, b} { // the other instance sees it
		got, err := s.GetByHash(ctx, r.Hash)
		if err != nil || !Same(got.Token, r.Token) || !slices.Equal(got.Hash, r.Hash) {
			t.Fatalf("GetByHash = %+v, %v; want %+v", got, err, r)
		}
		if tok := get(t, s, r.ID); !Same(tok, r.Token) {
			t.Fatalf("Get = %+v, want %+v", tok, r.Token)
		}
		if tok := get(t, s, noScopes.ID); !Same(tok, noScopes.Token) || !tok.ExpiresAt.IsZero() || len(tok.Scopes) != 0 {
			t.Fatalf("a token without scopes or expiry: Get = %+v", tok)
		}
	}
	sameID := NewRecord("bob", Base)
	sameID.ID = r.ID
	sameHash := NewRecord("bob", Base)
	sameHash.Hash = r.Hash
	for name, dup := range map[string]apitoken.Record{"same id": sameID, "same hash": sameHash} {
		if err := b.Create(ctx, dup, 1000); !errors.Is(err, apitoken.ErrExists) {
			t.Errorf("Create of a token with the %s: %v, want ErrExists", name, err)
		}
	}
	if tok := get(t, a, r.ID); tok.Subject != "alice" {
		t.Fatalf("a refused Create changed the token: %+v", tok)
	}
	other := sha256.Sum256([]byte("unknown"))
	if _, err := a.GetByHash(ctx, other[:]); !errors.Is(err, apitoken.ErrNotFound) {
		t.Errorf("GetByHash(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := a.GetByHash(ctx, r.Hash[:16]); !errors.Is(err, apitoken.ErrNotFound) {
		t.Errorf("GetByHash(a prefix of a hash) = %v, want ErrNotFound", err)
	}
	if _, err := a.Get(ctx, "unknown"); !errors.Is(err, apitoken.ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
}

func testListCount(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	r1, r2, r3 := NewRecord("alice", Base.Add(2*time.Second)), NewRecord("alice", Base), NewRecord("bob", Base)
	insert(t, a, r1, r2, r3)
	ts, err := b.List(ctx, "alice")
	if err != nil || len(ts) != 2 || !Same(ts[0], r2.Token) || !Same(ts[1], r1.Token) {
		t.Fatalf("List(alice) = %+v, %v; want r2 then r1 (oldest first)", ts, err)
	}
	for _, subject := range []string{"carol", "Alice", ""} {
		if ts, err := a.List(ctx, subject); len(ts) != 0 || err != nil {
			t.Errorf("List(%q) = %+v, %v; want none", subject, ts, err)
		}
	}
}

func testRevoke(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	r := NewRecord("alice", Base)
	insert(t, a, r)
	if _, err := b.Revoke(ctx, "bob", r.ID, Base.Add(time.Minute)); !errors.Is(err, apitoken.ErrNotFound) {
		t.Fatalf("Revoke of alice's token as bob: %v, want ErrNotFound", err)
	}
	if tok := get(t, a, r.ID); !tok.RevokedAt.IsZero() {
		t.Fatal("Revoke as another subject revoked the token")
	}
	at := Base.Add(time.Minute + 7)
	tok, err := b.Revoke(ctx, "alice", r.ID, at)
	if err != nil || !tok.RevokedAt.Equal(at) || tok.ID != r.ID || tok.Subject != "alice" {
		t.Fatalf("Revoke = %+v, %v; want revoked at %v", tok, err, at)
	}
	got, err := a.GetByHash(ctx, r.Hash)
	if err != nil || !got.RevokedAt.Equal(at) {
		t.Fatalf("GetByHash after Revoke: %+v, %v", got, err)
	}
	// Again: succeeds, keeps the first time.
	if tok, err := a.Revoke(ctx, "alice", r.ID, at.Add(time.Hour)); err != nil || !tok.RevokedAt.Equal(at) {
		t.Fatalf("Revoke again = %+v, %v; want the first revocation time kept", tok, err)
	}
	if _, err := a.Revoke(ctx, "alice", "no-such-id", at); !errors.Is(err, apitoken.ErrNotFound) {
		t.Errorf("Revoke(unknown id) = %v, want ErrNotFound", err)
	}
}

func testRevokeSubject(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	r1, r2, r3, bobs := NewRecord("alice", Base), NewRecord("alice", Base), NewRecord("alice", Base), NewRecord("bob", Base)
	insert(t, a, r1, r2, r3, bobs)
	early := Base.Add(time.Second)
	if _, err := a.Revoke(ctx, "alice", r1.ID, early); err != nil {
		t.Fatal(err)
	}
	at := Base.Add(time.Minute)
	ts, err := b.RevokeSubject(ctx, "alice", at)
	ids := []string{}
	for _, tok := range ts {
		ids = append(ids, tok.ID)
		if !tok.RevokedAt.Equal(at) {
			t.Errorf("RevokeSubject returned %+v, want revoked at %v", tok, at)
		}
	}
	slices.Sort(ids)
	want := []string{r2.ID, r3.ID}
	slices.Sort(want)
	if err != nil || !slices.Equal(ids, want) {
		t.Fatalf("RevokeSubject = %v, %v; want the two tokens not revoked yet, %v", ids, err, want)
	}
	if tok := get(t, a, r1.ID); !tok.RevokedAt.Equal(early) {
		t.Errorf("RevokeSubject changed the time of an earlier revocation: %v", tok.RevokedAt)
	}
	if tok := get(t, a, bobs.ID); !tok.RevokedAt.IsZero() {
		t.Error("RevokeSubject(alice) revoked bob's token")
	}
	if ts, err := a.RevokeSubject(ctx, "alice", at.Add(time.Hour)); len(ts) != 0 || err != nil {
		t.Errorf("RevokeSubject again = %v, %v; want none", ts, err)
	}
}

func testConcurrentRevoke(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	r := NewRecord("alice", Base)
	insert(t, a, r)
	var wg sync.WaitGroup
	times := make([]time.Time, 8)
	for i := range times {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			tok, err := s.Revoke(ctx, "alice", r.ID, Base.Add(time.Duration(i+1)*time.Second))
			if err != nil {
				t.Errorf("concurrent Revoke: %v", err)
			}
			times[i] = tok.RevokedAt
		})
	}
	wg.Wait()
	final := get(t, a, r.ID).RevokedAt
	for _, at := range times {
		if !at.Equal(final) {
			t.Fatalf("concurrent Revokes returned different times: %v (stored %v)", times, final)
		}
	}
}

func testTouch(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	r1, r2 := NewRecord("alice", Base), NewRecord("alice", Base)
	insert(t, a, r1, r2)
	t1, t2 := Base.Add(time.Minute+1), Base.Add(2*time.Minute+2)
	if err := b.Touch(ctx, []apitoken.Use{{ID: r1.ID, At: t2}, {ID: r2.ID, At: t1}, {ID: "unknown", At: t1}}); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	if got := get(t, a, r1.ID).LastUsedAt; !got.Equal(t2) {
		t.Errorf("LastUsedAt = %v, want %v", got, t2)
	}
	// An older use, from a slower instance, does not move it back.
	if err := a.Touch(ctx, []apitoken.Use{{ID: r1.ID, At: t1}, {ID: r2.ID, At: t2}}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, a, r1.ID).LastUsedAt; !got.Equal(t2) {
		t.Errorf("an older use moved LastUsedAt back to %v", got)
	}
	if got := get(t, b, r2.ID).LastUsedAt; !got.Equal(t2) {
		t.Errorf("LastUsedAt of r2 = %v, want %v", got, t2)
	}
	if err := a.Touch(ctx, nil); err != nil {
		t.Errorf("Touch(nothing) = %v", err)
	}
}

func testPurge(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	cut := Base.Add(time.Hour)
	expired, expiresAtCut, live, never := NewRecord("alice", Base), NewRecord("alice", Base), NewRecord("alice", Base), NewRecord("alice", Base)
	expired.ExpiresAt = cut.Add(-time.Nanosecond)
	expiresAtCut.ExpiresAt = cut
	live.ExpiresAt = cut.Add(time.Nanosecond)
	never.ExpiresAt = time.Time{}
	revokedEarly, revokedLate := NewRecord("bob", Base), NewRecord("bob", Base)
	insert(t, a, expired, expiresAtCut, live, never, revokedEarly, revokedLate)
	if _, err := a.Revoke(ctx, "bob", revokedEarly.ID, cut); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Revoke(ctx, "bob", revokedLate.ID, cut.Add(time.Nanosecond)); err != nil {
		t.Fatal(err)
	}
	n, err := b.Purge(ctx, cut)
	if err != nil || n != 3 {
		t.Fatalf("Purge = %d, %v; want 3 (expired before and at the cut, revoked at it)", n, err)
	}
	for _, r := range []apitoken.Record{expired, expiresAtCut, revokedEarly} {
		if _, err := a.GetByHash(ctx, r.Hash); !errors.Is(err, apitoken.ErrNotFound) {
			t.Errorf("purged token still found: %v", err)
		}
	}
	for _, r := range []apitoken.Record{live, never, revokedLate} {
		get(t, a, r.ID)
	}
}

func testHostileStrings(t *testing.T, open Open) {
	ctx := context.Background()
	a, _ := open(t)
	for _, s := range []string{"\x00", "a\x00b", "\xff", "\xc3("} {
		if _, err := a.Get(ctx, s); !errors.Is(err, apitoken.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", s, err)
		}
		if ts, err := a.List(ctx, s); len(ts) != 0 || err != nil {
			t.Errorf("List(%q) = %v, %v; want none", s, ts, err)
		}
		if _, err := a.Revoke(ctx, s, s, Base); !errors.Is(err, apitoken.ErrNotFound) {
			t.Errorf("Revoke(%q) = %v, want ErrNotFound", s, err)
		}
		if ts, err := a.RevokeSubject(ctx, s, Base); len(ts) != 0 || err != nil {
			t.Errorf("RevokeSubject(%q) = %v, %v; want none", s, ts, err)
		}
		if err := a.Touch(ctx, []apitoken.Use{{ID: s, At: Base}}); err != nil {
			t.Errorf("Touch(%q) = %v", s, err)
		}
	}
}

func testLimit(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	now := Base.Add(time.Hour)
	revoked, expired, expiring := NewRecord("alice", Base), NewRecord("alice", Base), NewRecord("alice", Base)
	expired.ExpiresAt = now
	expiring.ExpiresAt = now.Add(time.Nanosecond)
	insert(t, a, revoked, expired, expiring, NewRecord("bob", Base), NewRecord("bob", Base))
	if _, err := a.Revoke(ctx, "alice", revoked.ID, Base); err != nil {
		t.Fatal(err)
	}
	// alice has one active token at now (expiring); the limit is 2.
	r := NewRecord("alice", now)
	if err := b.Create(ctx, r, 2); err != nil {
		t.Fatalf("a second active token with limit 2: %v (revoked and expired ones must not count)", err)
	}
	third := NewRecord("alice", now)
	if err := a.Create(ctx, third, 2); !errors.Is(err, apitoken.ErrTooMany) {
		t.Fatalf("a third active token with limit 2: %v, want ErrTooMany", err)
	}
	if _, err := a.Get(ctx, third.ID); !errors.Is(err, apitoken.ErrNotFound) {
		t.Fatal("a refused Create stored the token")
	}
	// A duplicate at the limit is still ErrTooMany or ErrExists, never
	// stored twice; below it, ErrExists.
	dup := NewRecord("carol", now)
	dup.ID = r.ID
	if err := a.Create(ctx, dup, 2); !errors.Is(err, apitoken.ErrExists) {
		t.Errorf("an existing id for another subject: %v, want ErrExists", err)
	}
}

// testConcurrentLimit: 16 concurrent inserts for one subject with limit 5
// store exactly 5.
func testConcurrentLimit(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() { errs[i] = s.Create(ctx, NewRecord("alice", Base), 5) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, apitoken.ErrTooMany):
			t.Errorf("concurrent Create: %v", err)
		}
	}
	ts, err := a.List(ctx, "alice")
	if err != nil || ok != 5 || len(ts) != 5 {
		t.Fatalf("%d inserts succeeded, %d stored (%v); want 5 and 5", ok, len(ts), err)
	}
}

// testConcurrentTouch: two instances writing the same uses in opposite
// orders, at once, both succeed (no deadlock).
func testConcurrentTouch(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	var uses []apitoken.Use
	for i := range 200 {
		r := NewRecord("alice"+string(rune('a'+i%20)), Base)
		insert(t, a, r)
		uses = append(uses, apitoken.Use{ID: r.ID, At: Base.Add(time.Minute)})
	}
	reversed := slices.Clone(uses)
	slices.Reverse(reversed)
	for round := range 5 {
		var wg sync.WaitGroup
		var errA, errB error
		at := Base.Add(time.Duration(round+2) * time.Minute)
		for i := range uses {
			uses[i].At, reversed[i].At = at, at
		}
		wg.Go(func() { errA = a.Touch(ctx, uses) })
		wg.Go(func() { errB = b.Touch(ctx, reversed) })
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("round %d: concurrent Touch: %v, %v", round, errA, errB)
		}
	}
	if got := get(t, a, uses[0].ID).LastUsedAt; !got.Equal(Base.Add(6 * time.Minute)) {
		t.Errorf("LastUsedAt = %v", got)
	}
}

// testTouchWhileRevoking: last uses written while the subject's tokens are
// revoked, at once: both succeed (no deadlock), and the tokens end
// revoked.
func testTouchWhileRevoking(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t)
	for round := range 8 {
		var uses []apitoken.Use
		for range 60 {
			r := NewRecord("alice", Base)
			insert(t, a, r)
			uses = append(uses, apitoken.Use{ID: r.ID, At: Base.Add(time.Duration(round+1) * time.Minute)})
		}
		var wg sync.WaitGroup
		var errT, errR error
		var revoked []apitoken.Token
		wg.Go(func() { errT = a.Touch(ctx, uses) })
		wg.Go(func() { revoked, errR = b.RevokeSubject(ctx, "alice", Base.Add(time.Hour)) })
		wg.Wait()
		if errT != nil || errR != nil || len(revoked) != 60 {
			t.Fatalf("round %d: Touch: %v; RevokeSubject: %d revoked, %v", round, errT, len(revoked), errR)
		}
	}
}
