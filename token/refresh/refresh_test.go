package refresh_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/token/refresh"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// revoker records the access tokens revoked.
type revoker struct {
	mu  sync.Mutex
	ids []string
}

func (r *revoker) RevokeToken(_ context.Context, _, jti string, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, jti)
	return nil
}

func (r *revoker) revoked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

type fixture struct {
	m     *refresh.Manager
	store *countingStore
	clock *testenv.Clock
	rev   *revoker
	mints atomic.Int64

	mu   sync.Mutex
	seen []refresh.Minting // what mint was called with
}

// newFixture returns a Manager on a MemoryStore, with a clock of the
// test's, after configure (if any) changed its Config.
func newFixture(t *testing.T, configure ...func(*refresh.Config)) *fixture {
	f := &fixture{store: &countingStore{Store: refresh.NewMemoryStore()}, clock: testenv.NewClock(t0), rev: &revoker{}}
	cfg := refresh.Config{Store: f.store, Revoker: f.rev, Now: f.clock.Now}
	for _, c := range configure {
		c(&cfg)
	}
	m, err := refresh.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	return f
}

// noGrace is a configure of newFixture turning the grace period off.
func noGrace(c *refresh.Config) { c.GracePeriod = -1 }

var grant = refresh.Grant{Subject: "usr_1", ClientID: "demo", Scope: "a b", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/146.0"}

// mint is a Mint whose access tokens are "at-1", "at-2", …, and which
// mints a reissue as asked. It records what it was called with.
func (f *fixture) mint(ctx context.Context, m refresh.Minting) (refresh.AccessToken, error) {
	f.mu.Lock()
	f.seen = append(f.seen, m)
	f.mu.Unlock()
	if m.Reissue.ID != "" {
		return m.Reissue, nil
	}
	n := f.mints.Add(1)
	return refresh.AccessToken{Issuer: "iss", ID: fmt.Sprint("at-", n), ExpiresAt: f.clock.Now().Add(15 * time.Minute)}, nil
}

// mintings returns what mint was called with, and forgets it.
func (f *fixture) mintings() []refresh.Minting {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := f.seen
	f.seen = nil
	return seen
}

// record returns the stored record of raw.
func (f *fixture) record(t *testing.T, raw string) refresh.Record {
	t.Helper()
	rec, err := f.store.Get(context.Background(), refresh.HashToken(raw))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (f *fixture) issue(t *testing.T) string {
	t.Helper()
	raw, err := f.m.Issue(context.Background(), grant, refresh.AccessToken{Issuer: "iss", ID: "at-0", ExpiresAt: t0.Add(15 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// rotate rotates raw, and checks that a successful rotation returns the
// grant of raw.
func (f *fixture) rotate(t *testing.T, raw string) (string, error) {
	t.Helper()
	next, g, err := f.m.Rotate(context.Background(), raw, f.mint)
	if err == nil {
		if want := f.record(t, raw).Grant; g != want {
			t.Errorf("Rotate returned grant %+v, want %+v", g, want)
		}
	}
	return next, err
}

// countingStore counts the calls that reach the store, and fails its
// reads while fail is set.
type countingStore struct {
	refresh.Store
	gets atomic.Int64
	fail atomic.Bool
}

var errDown = errors.New("store down")

func (s *countingStore) Get(ctx context.Context, h refresh.Hash) (refresh.Record, error) {
	s.gets.Add(1)
	if s.fail.Load() {
		return refresh.Record{}, errDown
	}
	return s.Store.Get(ctx, h)
}

func (s *countingStore) Families(ctx context.Context, subject string, limit int) ([]refresh.Family, error) {
	if s.fail.Load() {
		return nil, errDown
	}
	return s.Store.Families(ctx, subject, limit)
}

func TestIssueStoresOnlyTheHash(t *testing.T) {
	f := newFixture(t)
	raw := f.issue(t)
	if !strings.HasPrefix(raw, refresh.Prefix) || len(raw) != 46 || refresh.Check(raw) != nil {
		t.Fatalf("token %q is not rt_ + 43 base64url characters", raw)
	}
	rec, err := f.store.Get(context.Background(), refresh.HashToken(raw))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Grant != grant || !rec.IssuedAt.Equal(t0) || !rec.FamilyCreated.Equal(t0) || rec.Access.ID != "at-0" || len(rec.Seed) != 32 {
		t.Errorf("stored record %+v", rec)
	}
	if raw2 := f.issue(t); raw2 == raw {
		t.Error("two tokens are equal")
	}
}

func TestRotateAndReuse(t *testing.T) {
	f := newFixture(t)
	r1 := f.issue(t)
	f.clock.Advance(time.Minute)
	r2, err := f.rotate(t, r1)
	if err != nil || r2 == r1 {
		t.Fatalf("Rotate = %q, %v", r2, err)
	}
	f.clock.Advance(time.Minute)
	r3, err := f.rotate(t, r2)
	if err != nil {
		t.Fatalf("second Rotate: %v", err)
	}
	if len(f.rev.revoked()) != 0 {
		t.Fatalf("rotation revoked access tokens %v", f.rev.revoked())
	}

	// An attacker replays r1: reuse. The family and its access tokens go.
	_, err = f.rotate(t, r1)
	if !errors.Is(err, refresh.ErrReused) || !errors.Is(err, refresh.ErrInvalidGrant) {
		t.Fatalf("reuse = %v, want ErrReused and ErrInvalidGrant", err)
	}
	if got := strings.Join(f.rev.revoked(), ","); !containsAll(got, "at-0", "at-1", "at-2") {
		t.Errorf("revoked access tokens %q, want at-0, at-1 and at-2", got)
	}
	// The legitimate client's newest token is dead too.
	if _, err := f.rotate(t, r3); !errors.Is(err, refresh.ErrRevoked) || !errors.Is(err, refresh.ErrInvalidGrant) {
		t.Errorf("newest token after reuse = %v, want ErrRevoked", err)
	}
}

// TestBindTo: a DPoP refresh of an unbound family binds it from the
// successor on (RFC 9449 §5); a bound family keeps its key.
func TestBindTo(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r1 := f.issue(t)
	var seen []string // the grant's key each mint saw
	mint := func(ctx context.Context, m refresh.Minting) (refresh.AccessToken, error) {
		seen = append(seen, m.Grant.JKT)
		return f.mint(ctx, m)
	}
	r2, g, err := f.m.Rotate(ctx, r1, mint, refresh.BindTo("key-1"))
	if err != nil || g.JKT != "key-1" {
		t.Fatalf("Rotate with BindTo = %+v, %v; want the grant bound to key-1", g, err)
	}
	if rec, err := f.store.Get(ctx, refresh.HashToken(r2)); err != nil || rec.Grant.JKT != "key-1" {
		t.Fatalf("stored successor %+v, %v; want it bound to key-1", rec.Grant, err)
	}
	r3, g, err := f.m.Rotate(ctx, r2, mint, refresh.BindTo("key-2"))
	if err != nil || g.JKT != "key-1" {
		t.Fatalf("BindTo another key on a bound family = %+v, %v; want key-1 kept", g, err)
	}
	if _, g, err = f.m.Rotate(ctx, r3, mint); err != nil || g.JKT != "key-1" {
		t.Fatalf("Rotate without BindTo = %+v, %v; want key-1 kept", g, err)
	}
	if strings.Join(seen, ",") != ",key-1,key-1" {
		t.Errorf("mint saw the keys %q, want the stored grant's: \"\", key-1, key-1", seen)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func TestLifetimes(t *testing.T) {
	tests := []struct {
		name    string
		steps   []time.Duration // wait before each rotation
		wantErr error
	}{
		{"idle just under 7 days", []time.Duration{7*24*time.Hour - time.Nanosecond}, nil},
		{"idle 7 days", []time.Duration{7 * 24 * time.Hour}, refresh.ErrExpired},
		{"used every 6 days until day 24", []time.Duration{6 * 24 * time.Hour, 6 * 24 * time.Hour, 6 * 24 * time.Hour, 6 * 24 * time.Hour}, nil},
		{"used every 6 days, day 30 is past the absolute lifetime", []time.Duration{6 * 24 * time.Hour, 6 * 24 * time.Hour, 6 * 24 * time.Hour, 6 * 24 * time.Hour, 6 * 24 * time.Hour}, refresh.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			raw := f.issue(t)
			var err error
			for _, d := range tt.steps {
				f.clock.Advance(d)
				var next string
				if next, err = f.rotate(t, raw); err != nil {
					break
				}
				raw = next
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil && !errors.Is(err, refresh.ErrInvalidGrant) {
				t.Errorf("%v does not wrap ErrInvalidGrant", err)
			}
		})
	}
}

func TestMalformedNeverReachesTheStore(t *testing.T) {
	f := newFixture(t)
	good := f.issue(t)
	for _, raw := range []string{
		"", "rt_", "rt_short", good[:len(good)-1], good + "A", "xx" + good[2:],
		"rt_" + strings.Repeat("+", 43), "rt_" + strings.Repeat("A", 42) + "=",
		"rt_" + strings.Repeat("A", 42) + "B", // non-canonical: the last character carries 4 bits
		strings.Repeat("A", 1<<20), "rt_" + strings.Repeat("é", 21) + "A",
	} {
		_, err := f.rotate(t, raw)
		if !errors.Is(err, refresh.ErrMalformed) || !errors.Is(err, refresh.ErrInvalidGrant) {
			t.Errorf("Rotate(%.20q) = %v, want ErrMalformed", raw, err)
		}
	}
	if n := f.store.gets.Load(); n != 0 {
		t.Errorf("malformed tokens reached the store %d times", n)
	}
	if n := f.mints.Load(); n != 0 {
		t.Errorf("malformed tokens minted %d access tokens", n)
	}
	if _, err := f.rotate(t, "rt_"+strings.Repeat("A", 43)); !errors.Is(err, refresh.ErrNotFound) || !errors.Is(err, refresh.ErrInvalidGrant) {
		t.Errorf("well-formed unknown token = %v, want ErrNotFound", err)
	}
}

// TestConcurrentRotationWithoutGrace: without a grace period, of
// concurrent rotations of one token one succeeds and the others are
// reuse.
func TestConcurrentRotationWithoutGrace(t *testing.T) {
	f := newFixture(t, noGrace)
	raw := f.issue(t)
	const n = 8
	var wg sync.WaitGroup
	var ok, reused atomic.Int64
	for range n {
		wg.Go(func() {
			_, _, err := f.m.Rotate(context.Background(), raw, f.mint)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, refresh.ErrReused), errors.Is(err, refresh.ErrRevoked):
				reused.Add(1)
			default:
				t.Errorf("Rotate: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || reused.Load() != n-1 {
		t.Errorf("%d succeeded and %d were refused as reuse, want 1 and %d", ok.Load(), reused.Load(), n-1)
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t)
	raw := f.issue(t)
	ctx := context.Background()
	if err := f.m.Revoke(ctx, raw, "usr_other"); !errors.Is(err, refresh.ErrInvalidGrant) {
		t.Errorf("Revoke by another subject = %v", err)
	}
	if len(f.rev.revoked()) != 0 {
		t.Fatal("another subject's Revoke revoked something")
	}
	if err := f.m.Revoke(ctx, raw, grant.Subject); err != nil {
		t.Fatal(err)
	}
	if got := f.rev.revoked(); len(got) != 1 || got[0] != "at-0" {
		t.Errorf("revoked access tokens %v, want [at-0]", got)
	}
	if _, err := f.rotate(t, raw); !errors.Is(err, refresh.ErrRevoked) {
		t.Errorf("Rotate after Revoke = %v", err)
	}

	raw2 := f.issue(t)
	if err := f.m.RevokeSubject(ctx, grant.Subject); err != nil {
		t.Fatal(err)
	}
	if _, err := f.rotate(t, raw2); !errors.Is(err, refresh.ErrRevoked) {
		t.Errorf("Rotate after RevokeSubject = %v", err)
	}
}

// TestLookup: the grant of a token in any state, without side effects;
// unknown and malformed tokens are invalid grants.
func TestLookup(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	raw := f.issue(t)
	if g, err := f.m.Lookup(ctx, raw); err != nil || g != grant {
		t.Fatalf("Lookup = %+v, %v", g, err)
	}
	next, err := f.rotate(t, raw)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := f.m.Lookup(ctx, raw); err != nil || g != grant { // spent
		t.Fatalf("Lookup of a spent token = %+v, %v", g, err)
	}
	if _, err := f.rotate(t, next); err != nil {
		t.Fatalf("Lookup changed the family: %v", err)
	}
	for _, bad := range []string{"", "rt_x", strings.Repeat("a", 46), "rt_" + strings.Repeat("A", 43)} {
		if _, err := f.m.Lookup(ctx, bad); !errors.Is(err, refresh.ErrInvalidGrant) {
			t.Errorf("Lookup(%q) = %v", bad, err)
		}
	}
}

func TestStoreDownIsNotInvalidGrant(t *testing.T) {
	f := newFixture(t)
	raw := f.issue(t)
	f.store.fail.Store(true)
	_, err := f.rotate(t, raw)
	if err == nil || errors.Is(err, refresh.ErrInvalidGrant) {
		t.Errorf("Rotate with the store down = %v; want an error that is not invalid_grant", err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("rt_" + strings.Repeat("A", 43))
	f.Add("rt_")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		if refresh.Check(raw) == nil && (len(raw) != 46 || !strings.HasPrefix(raw, refresh.Prefix)) {
			t.Fatalf("Check accepted %q", raw)
		}
	})
}

// failingRevoker fails while down is set.
type failingRevoker struct {
	revoker
	down atomic.Bool
}

func (r *failingRevoker) RevokeToken(ctx context.Context, iss, jti string, exp time.Time) error {
	if r.down.Load() {
		return errDown
	}
	return r.revoker.RevokeToken(ctx, iss, jti, exp)
}

// TestReuseRetriedAfterRevokerFailure: when revoking the access tokens of
// a reused family fails, the request fails (503) and a retry finishes the
// job, although the family itself was revoked by the first attempt.
func TestReuseRetriedAfterRevokerFailure(t *testing.T) {
	rev := &failingRevoker{}
	m, err := refresh.New(refresh.Config{Revoker: rev, Now: func() time.Time { return t0 }, GracePeriod: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	raw, err := m.Issue(ctx, grant, refresh.AccessToken{Issuer: "iss", ID: "at-0", ExpiresAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(context.Context, refresh.Minting) (refresh.AccessToken, error) {
		return refresh.AccessToken{Issuer: "iss", ID: "at-1", ExpiresAt: t0.Add(time.Hour)}, nil
	}
	if _, _, err := m.Rotate(ctx, raw, mint); err != nil {
		t.Fatal(err)
	}
	rev.down.Store(true)
	_, _, err = m.Rotate(ctx, raw, mint)
	if err == nil || errors.Is(err, refresh.ErrInvalidGrant) {
		t.Fatalf("reuse with the revoker down = %v; want a failure that is not invalid_grant", err)
	}
	rev.down.Store(false)
	if _, _, err = m.Rotate(ctx, raw, mint); !errors.Is(err, refresh.ErrReused) {
		t.Fatalf("retried reuse = %v, want ErrReused", err)
	}
	if got := strings.Join(rev.revoked(), ","); !containsAll(got, "at-0", "at-1") {
		t.Errorf("after the retry the revoked access tokens are %q, want at-0 and at-1", got)
	}
	// Logout is retryable the same way.
	raw2, _ := m.Issue(ctx, grant, refresh.AccessToken{Issuer: "iss", ID: "at-9", ExpiresAt: t0.Add(time.Hour)})
	rev.down.Store(true)
	if err := m.Revoke(ctx, raw2, grant.Subject); err == nil {
		t.Fatal("Revoke with the revoker down succeeded")
	}
	rev.down.Store(false)
	if err := m.Revoke(ctx, raw2, grant.Subject); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(rev.revoked(), ","), "at-9") {
		t.Error("a retried Revoke did not revoke the access token")
	}
}

// TestGraceTwoTabs: two tabs present one token a few seconds apart: both
// get the same successor; the second mint reissues the successor's access
// token; nothing is revoked, and nothing written.
func TestGraceTwoTabs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r1 := f.issue(t)
	fam := f.record(t, r1).Family
	f.clock.Advance(time.Minute)
	r2, err := f.rotate(t, r1)
	if err != nil {
		t.Fatal(err)
	}
	spent, succ := f.record(t, r1), f.record(t, r2)
	f.clock.Advance(3 * time.Second)
	again, g, err := f.m.Rotate(ctx, r1, f.mint)
	if err != nil || again != r2 || g != grant {
		t.Fatalf("second Rotate of one token within the grace period = %q, %+v, %v; want the first's successor %q", again, g, err, r2)
	}
	seen := f.mintings()
	want := []refresh.Minting{
		{Grant: grant, Family: fam, Created: t0},
		{Grant: grant, Family: fam, Created: t0, Reissue: succ.Access},
	}
	if !slices.Equal(seen, want) {
		t.Errorf("mint saw\n%+v\nwant\n%+v", seen, want)
	}
	if succ.Access.ID != "at-1" {
		t.Errorf("the successor's access token is %q, want at-1", succ.Access.ID)
	}
	if got := f.rev.revoked(); len(got) != 0 {
		t.Errorf("a rotation within the grace period revoked %v", got)
	}
	// Nothing changed: the old token stays spent, the successor as it was.
	if rec := f.record(t, r1); !rec.SpentAt.Equal(spent.SpentAt) || !rec.RevokedAt.IsZero() {
		t.Errorf("the presented token's record became %+v", rec)
	}
	if rec := f.record(t, r2); !rec.IssuedAt.Equal(succ.IssuedAt) || rec.Access != succ.Access || !rec.SpentAt.IsZero() {
		t.Errorf("the successor's record became %+v, was %+v", rec, succ)
	}
	// Both tabs go on with the successor: the first rotation of it wins,
	// and the other tab, within the period, gets the same token again.
	r3, err := f.rotate(t, r2)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := f.rotate(t, r2); err != nil || again != r3 {
		t.Errorf("second Rotate of the successor = %q, %v; want %q", again, err, r3)
	}
}

// TestGraceWindow: the grace period covers a presentation less than
// GracePeriod after or before (a clock behind) the rotation, of a family
// within its lifetimes; anything else is reuse, and revokes the family.
func TestGraceWindow(t *testing.T) {
	const rotated = time.Hour // the rotation's time after t0
	tests := []struct {
		name      string
		configure func(*refresh.Config)
		after     time.Duration // the second presentation, after the rotation
		ok        bool
	}{
		{"at once", nil, 0, true},
		{"just within", nil, refresh.DefaultGracePeriod - time.Nanosecond, true},
		{"at the end", nil, refresh.DefaultGracePeriod, false},
		{"a minute later", nil, time.Minute, false},
		{"clock a little behind", nil, -refresh.DefaultGracePeriod + time.Nanosecond, true},
		{"clock stepped back beyond the period", nil, -refresh.DefaultGracePeriod, false},
		{"clock stepped back an hour", nil, -time.Hour, false},
		{"grace off", noGrace, 0, false},
		{"a longer period", func(c *refresh.Config) { c.GracePeriod = refresh.MaxGracePeriod }, 59 * time.Second, true},
		{"a shorter period", func(c *refresh.Config) { c.GracePeriod = time.Second }, time.Second, false},
		{"family past its absolute lifetime", func(c *refresh.Config) { c.AbsoluteLifetime = rotated + 5*time.Second }, 5 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var configure []func(*refresh.Config)
			if tt.configure != nil {
				configure = append(configure, tt.configure)
			}
			f := newFixture(t, configure...)
			r1 := f.issue(t)
			f.clock.Advance(rotated)
			r2, err := f.rotate(t, r1)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(tt.after)
			again, err := f.rotate(t, r1)
			if tt.ok {
				if err != nil || again != r2 {
					t.Fatalf("Rotate again = %q, %v; want the successor %q", again, err, r2)
				}
				return
			}
			wantReuse(t, f, err, r2, "at-0", "at-1")
		})
	}
}

// wantReuse checks that err is reuse, that the access tokens ids were
// revoked, and that live, the family's newest token, is revoked.
func wantReuse(t *testing.T, f *fixture, err error, live string, ids ...string) {
	t.Helper()
	if !errors.Is(err, refresh.ErrReused) || !errors.Is(err, refresh.ErrInvalidGrant) {
		t.Fatalf("err = %v, want ErrReused", err)
	}
	if got := strings.Join(f.rev.revoked(), ","); !containsAll(got, ids...) {
		t.Errorf("revoked access tokens %q, want %v", got, ids)
	}
	if _, err := f.rotate(t, live); !errors.Is(err, refresh.ErrRevoked) {
		t.Errorf("the family's newest token after reuse = %v, want ErrRevoked", err)
	}
}

// TestGraceEndsWithTheSuccessor: once the successor was rotated, the
// token before it is reuse, even within the grace period.
func TestGraceEndsWithTheSuccessor(t *testing.T) {
	f := newFixture(t)
	r1 := f.issue(t)
	r2, err := f.rotate(t, r1)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	r3, err := f.rotate(t, r2)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	_, err = f.rotate(t, r1)
	wantReuse(t, f, err, r3, "at-0", "at-1", "at-2")
}

// TestGraceOfARevokedFamily: a revoked family has no grace period.
func TestGraceOfARevokedFamily(t *testing.T) {
	f := newFixture(t)
	r1 := f.issue(t)
	if _, err := f.rotate(t, r1); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Revoke(context.Background(), r1, grant.Subject); err != nil {
		t.Fatal(err)
	}
	if _, err := f.rotate(t, r1); !errors.Is(err, refresh.ErrReused) {
		t.Errorf("a spent token of a revoked family within the grace period = %v, want ErrReused", err)
	}
}

// validToken returns a random token that Check accepts.
func validToken() string {
	var b [32]byte
	rand.Read(b[:])
	return refresh.Prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// storeToken stores a first token raw with seed in s, as Issue would.
func storeToken(t *testing.T, s refresh.Store, raw string, seed []byte) {
	t.Helper()
	rec := refresh.Record{Hash: refresh.HashToken(raw), Family: "fam_" + rand.Text(), Grant: grant,
		FamilyCreated: t0, IssuedAt: t0, Access: refresh.AccessToken{Issuer: "iss", ID: "at-0"}, Seed: seed}
	if err := s.Create(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

// TestRecordWithoutSeed: a token stored by a release before seeds gets a
// random successor, which has a seed, and no grace period.
func TestRecordWithoutSeed(t *testing.T) {
	f := newFixture(t)
	r1 := validToken()
	storeToken(t, f.store, r1, nil)
	r2, err := f.rotate(t, r1)
	if err != nil {
		t.Fatal(err)
	}
	if unkeyed := derive(r1, nil); r2 == unkeyed {
		t.Error("the successor of a token without a seed is derived with an empty one")
	}
	if seed := f.record(t, r2).Seed; len(seed) != 32 {
		t.Errorf("the successor's seed is %x, want 32 bytes", seed)
	}
	_, err = f.rotate(t, r1)
	wantReuse(t, f, err, r2, "at-0", "at-1")
}

// derive is the successor of raw with seed, as the package documents it.
func derive(raw string, seed []byte) string {
	mac := hmac.New(sha256.New, []byte(raw))
	mac.Write(seed)
	return refresh.Prefix + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestSuccessorDerivation: a successor is the HMAC-SHA256 of the seed
// keyed with the token, a token Check accepts; another seed gives another
// successor, so the token alone does not tell it; the successor's seed is
// new.
func TestSuccessorDerivation(t *testing.T) {
	raw := validToken()
	seeds := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32)}
	var got []string
	for _, seed := range seeds {
		f := newFixture(t)
		storeToken(t, f.store, raw, seed)
		next, err := f.rotate(t, raw)
		if err != nil {
			t.Fatal(err)
		}
		if want := derive(raw, seed); next != want {
			t.Errorf("successor %q, want %q", next, want)
		}
		if err := refresh.Check(next); err != nil {
			t.Errorf("Check(successor): %v", err)
		}
		if s := f.record(t, next).Seed; len(s) != 32 || bytes.Equal(s, seed) {
			t.Errorf("the successor's seed is %x, want 32 new bytes", s)
		}
		got = append(got, next)
	}
	if got[0] == got[1] {
		t.Error("two seeds gave one successor")
	}
	if got[0] != got[2] {
		t.Error("one token and seed gave two successors")
	}
	if got[0] == derive(validToken(), seeds[0]) {
		t.Error("another token with the same seed gave the same successor")
	}
}

// barrierStore holds the first n Gets until all n have arrived: n
// concurrent rotations of one token all find it unspent, and race in
// Store.Rotate.
type barrierStore struct {
	refresh.Store
	n       int64
	gets    atomic.Int64
	arrived sync.WaitGroup
}

func newBarrierStore(s refresh.Store, n int) *barrierStore {
	b := &barrierStore{Store: s, n: int64(n)}
	b.arrived.Add(n)
	return b
}

func (s *barrierStore) Get(ctx context.Context, h refresh.Hash) (refresh.Record, error) {
	rec, err := s.Store.Get(ctx, h)
	if s.gets.Add(1) <= s.n {
		s.arrived.Done()
		s.arrived.Wait()
	}
	return rec, err
}

// TestConcurrentRotation: concurrent rotations of one token all succeed,
// with one successor: each mints an access token, one stores it with the
// successor, and the others, which lose the race in the store, mint that
// one again.
func TestConcurrentRotation(t *testing.T) {
	const n = 16
	var barrier *barrierStore
	f := newFixture(t, func(c *refresh.Config) {
		barrier = newBarrierStore(c.Store, n)
		c.Store = barrier
	})
	raw := f.issue(t)
	var wg sync.WaitGroup
	got := make([]string, n)
	for i := range n {
		wg.Go(func() {
			next, g, err := f.m.Rotate(context.Background(), raw, f.mint)
			if err != nil || g != grant {
				t.Errorf("Rotate = %+v, %v", g, err)
			}
			got[i] = next
		})
	}
	wg.Wait()
	for _, next := range got {
		if next != got[0] {
			t.Fatalf("concurrent rotations returned %q, want one successor", got)
		}
	}
	succ := f.record(t, got[0])
	fresh, reissues := 0, 0
	for _, m := range f.mintings() {
		if m.Reissue == (refresh.AccessToken{}) {
			fresh++
			continue
		}
		reissues++
		if m.Reissue != succ.Access {
			t.Errorf("a reissue of %+v, want the successor's %+v", m.Reissue, succ.Access)
		}
	}
	if fresh != n || reissues != n-1 {
		t.Errorf("%d access tokens minted and %d reissued, want %d and %d", fresh, reissues, n, n-1)
	}
	if got := f.rev.revoked(); len(got) != 0 {
		t.Errorf("concurrent rotations revoked %v", got)
	}
	if _, err := f.rotate(t, got[0]); err != nil {
		t.Errorf("Rotate of the successor: %v", err)
	}
}

// TestReissueWithAnotherID: a Mint that does not reissue the successor's
// access token makes Rotate fail (its token would survive the family's
// revocation), as a server error.
func TestReissueWithAnotherID(t *testing.T) {
	f := newFixture(t)
	r1 := f.issue(t)
	if _, err := f.rotate(t, r1); err != nil {
		t.Fatal(err)
	}
	fresh := func(context.Context, refresh.Minting) (refresh.AccessToken, error) {
		return refresh.AccessToken{Issuer: "iss", ID: "at-other"}, nil
	}
	next, _, err := f.m.Rotate(context.Background(), r1, fresh)
	if !errors.Is(err, refresh.ErrMint) || errors.Is(err, refresh.ErrInvalidGrant) || next != "" {
		t.Errorf("Rotate with a Mint ignoring Reissue = %q, %v; want a failure that is not invalid_grant", next, err)
	}
	errMint := errors.New("mint failed")
	failing := func(context.Context, refresh.Minting) (refresh.AccessToken, error) {
		return refresh.AccessToken{}, errMint
	}
	if _, _, err := f.m.Rotate(context.Background(), r1, failing); !errors.Is(err, errMint) {
		t.Errorf("Rotate with a failing reissue = %v, want the Mint's error", err)
	}
}

func TestNewGracePeriod(t *testing.T) {
	for _, g := range []time.Duration{-time.Hour, -1, 0, time.Nanosecond, refresh.MaxGracePeriod} {
		if _, err := refresh.New(refresh.Config{GracePeriod: g}); err != nil {
			t.Errorf("New with GracePeriod %v: %v", g, err)
		}
	}
	if _, err := refresh.New(refresh.Config{GracePeriod: refresh.MaxGracePeriod + 1}); err == nil {
		t.Error("New accepted a GracePeriod longer than MaxGracePeriod")
	}
}

// TestStart: the family's ID is picked before mint, which sees it, and
// the access token mint returns is recorded; a failing mint stores
// nothing.
func TestStart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g := grant
	g.UserAgent = "Agent\x00\r\nX"
	raw, family, err := f.m.Start(ctx, g, f.mint)
	if err != nil {
		t.Fatal(err)
	}
	want := grant
	want.UserAgent = "AgentX"
	if seen := f.mintings(); len(seen) != 1 || seen[0] != (refresh.Minting{Grant: want, Family: family, Created: t0}) {
		t.Errorf("mint saw %+v, want the cleaned grant, the family %q and %v", seen, family, t0)
	}
	rec := f.record(t, raw)
	if rec.Family != family || !strings.HasPrefix(family, "fam_") || rec.Grant != want || rec.Access.ID != "at-1" ||
		!rec.FamilyCreated.Equal(t0) || !rec.IssuedAt.Equal(t0) || len(rec.Seed) != 32 || !rec.SpentAt.IsZero() {
		t.Errorf("stored %+v", rec)
	}
	if refresh.Check(raw) != nil {
		t.Errorf("Start returned %q", raw)
	}
	if _, err := f.rotate(t, raw); err != nil {
		t.Errorf("Rotate of a token from Start: %v", err)
	}

	errMint := errors.New("mint failed")
	failing := func(context.Context, refresh.Minting) (refresh.AccessToken, error) {
		return refresh.AccessToken{}, errMint
	}
	if _, _, err := f.m.Start(ctx, refresh.Grant{Subject: "usr_2"}, failing); !errors.Is(err, errMint) {
		t.Errorf("Start with a failing mint = %v", err)
	}
	if fams, err := f.m.Families(ctx, "usr_2"); err != nil || len(fams) != 0 {
		t.Errorf("a failed Start stored %+v, %v", fams, err)
	}
	if _, _, err := f.m.Start(ctx, refresh.Grant{}, f.mint); err == nil {
		t.Error("Start of a grant without a subject succeeded")
	}
	// Issue cleans the User-Agent too.
	rawIssued, err := f.m.Issue(ctx, g, refresh.AccessToken{})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.record(t, rawIssued).Grant.UserAgent; got != "AgentX" {
		t.Errorf("Issue stored the User-Agent %q", got)
	}
}

// TestFamilies: a subject's live families, newest use first, with their
// newest grant; EndFamily ends one of them and nothing else.
func TestFamilies(t *testing.T) {
	f := newFixture(t, func(c *refresh.Config) { c.AbsoluteLifetime, c.IdleLifetime = 10*time.Hour, 4*time.Hour })
	ctx := context.Background()
	start := func(subject, agent string) (string, string) {
		t.Helper()
		raw, fam, err := f.m.Start(ctx, refresh.Grant{Subject: subject, ClientID: "demo", UserAgent: agent}, f.mint)
		if err != nil {
			t.Fatal(err)
		}
		return raw, fam
	}
	laptop, laptopFam := start("usr_alice", "Firefox") // used at 3 h and 6 h: past its absolute lifetime at 10 h
	idle, idleFam := start("usr_alice", "Old phone")   // never used again: idle from 4 h
	for range 2 {
		f.clock.Advance(3 * time.Hour)
		var err error
		if laptop, err = f.rotate(t, laptop); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(time.Hour)
	phone, phoneFam := start("usr_alice", "Safari") // at 7 h
	bob, bobFam := start("usr_bob", "Chrome")
	f.clock.Advance(2 * time.Hour)
	// Now 9 h.
	want := []refresh.Family{
		{ID: phoneFam, Grant: refresh.Grant{Subject: "usr_alice", ClientID: "demo", UserAgent: "Safari"}, Created: t0.Add(7 * time.Hour), LastUsed: t0.Add(7 * time.Hour)},
		{ID: laptopFam, Grant: refresh.Grant{Subject: "usr_alice", ClientID: "demo", UserAgent: "Firefox"}, Created: t0, LastUsed: t0.Add(6 * time.Hour)},
	}
	if got, err := f.m.Families(ctx, "usr_alice"); err != nil || !slices.Equal(got, want) {
		t.Fatalf("Families =\n%+v, %v\nwant\n%+v", got, err, want)
	}
	for _, fam := range []string{bobFam, idleFam, "fam_unknown", ""} {
		if err := f.m.EndFamily(ctx, "usr_alice", fam); !errors.Is(err, refresh.ErrNotFound) || !errors.Is(err, refresh.ErrInvalidGrant) {
			t.Errorf("EndFamily(%q) of alice = %v, want ErrNotFound", fam, err)
		}
	}
	if got := f.rev.revoked(); len(got) != 0 {
		t.Fatalf("refused EndFamily calls revoked %v", got)
	}
	if _, err := f.rotate(t, idle); !errors.Is(err, refresh.ErrExpired) {
		t.Errorf("the idle family = %v, want ErrExpired (not revoked)", err)
	}
	if bob, err := f.rotate(t, bob); err != nil || bob == "" {
		t.Fatalf("bob's family after alice's EndFamily calls: %v", err)
	}

	phoneAccess := f.record(t, phone).Access.ID
	if err := f.m.EndFamily(ctx, "usr_alice", phoneFam); err != nil {
		t.Fatal(err)
	}
	if got := f.rev.revoked(); !slices.Equal(got, []string{phoneAccess}) {
		t.Errorf("EndFamily revoked the access tokens %v, want [%s]", got, phoneAccess)
	}
	if _, err := f.rotate(t, phone); !errors.Is(err, refresh.ErrRevoked) || !errors.Is(err, refresh.ErrInvalidGrant) {
		t.Errorf("the ended family's token = %v, want ErrRevoked", err)
	}
	if err := f.m.EndFamily(ctx, "usr_alice", phoneFam); !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("EndFamily of an ended family = %v, want ErrNotFound", err)
	}
	if got, err := f.m.Families(ctx, "usr_alice"); err != nil || !slices.Equal(got, want[1:]) {
		t.Errorf("Families after EndFamily = %+v, %v", got, err)
	}
	// At 10 h the laptop is past its absolute lifetime, however recently
	// used: alice has no live family left.
	f.clock.Advance(time.Hour)
	if got, err := f.m.Families(ctx, "usr_alice"); err != nil || len(got) != 0 {
		t.Errorf("Families with only expired families = %+v, %v", got, err)
	}
	if err := f.m.EndFamily(ctx, "usr_alice", laptopFam); !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("EndFamily of an expired family = %v, want ErrNotFound", err)
	}

	f.store.fail.Store(true)
	if _, err := f.m.Families(ctx, "usr_bob"); err == nil || errors.Is(err, refresh.ErrInvalidGrant) {
		t.Errorf("Families with the store down = %v", err)
	}
	if err := f.m.EndFamily(ctx, "usr_bob", bobFam); !errors.Is(err, errDown) || errors.Is(err, refresh.ErrInvalidGrant) {
		t.Errorf("EndFamily with the store down = %v, want the store's error, not invalid_grant", err)
	}
}

// TestFamiliesAtMost: at most MaxFamilies, the ones used last.
func TestFamiliesAtMost(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var last string
	for range refresh.MaxFamilies + 5 {
		f.clock.Advance(time.Second)
		var err error
		if _, last, err = f.m.Start(ctx, grant, f.mint); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.m.Families(ctx, grant.Subject)
	if err != nil || len(got) != refresh.MaxFamilies || got[0].ID != last {
		t.Errorf("Families = %d families, the first %q, %v; want %d, the newest %q first", len(got), got[0].ID, err, refresh.MaxFamilies, last)
	}
}

func TestCleanUserAgent(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct{ in, want string }{
		{"", ""},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/143.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/143.0"},
		{long, long[:256]},
		{strings.Repeat("a", 255) + "é", strings.Repeat("a", 255)}, // é is 2 bytes: cut before it
		{strings.Repeat("a", 254) + "é", strings.Repeat("a", 254) + "é"},
		{strings.Repeat("a", 254) + "漢", strings.Repeat("a", 254)},
		{"a\x00b\x7fc\td\r\ne\x1b[31mf\u0085g\u009fh", "abcde[31mfgh"},
		{"a\xffb\xc3", "a\ufffdb\ufffd"},
		{"ü 漢字 🙂 \ufffd", "ü 漢字 🙂 \ufffd"},
		{strings.Repeat("\x00", 1000) + "x", "x"},
		{strings.Repeat("\xff", 100), strings.Repeat("\ufffd", 85)},
	}
	for _, tt := range tests {
		if got := refresh.CleanUserAgent(tt.in); got != tt.want {
			t.Errorf("CleanUserAgent(%.40q) = %.40q, want %.40q", tt.in, got, tt.want)
		}
	}
}

func FuzzCleanUserAgent(f *testing.F) {
	f.Add("Mozilla/5.0 ü\x00\xff")
	f.Add(strings.Repeat("漢", 100))
	f.Fuzz(func(t *testing.T, s string) {
		got := refresh.CleanUserAgent(s)
		if len(got) > refresh.MaxUserAgentLength || !utf8.ValidString(got) || strings.ContainsFunc(got, unicode.IsControl) {
			t.Fatalf("CleanUserAgent(%q) = %q", s, got)
		}
		if again := refresh.CleanUserAgent(got); again != got {
			t.Fatalf("CleanUserAgent is not idempotent on %q: %q", got, again)
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl) && !strings.HasPrefix(s, got) {
			t.Fatalf("CleanUserAgent(%q) = %q, not a prefix of a clean string", s, got)
		}
	})
}

// TestRevokeFamily: revoking a family by its ID (a logout's sid) stops
// its refresh tokens and revokes its access tokens; a retry after the
// revoker failed revokes them again; an unknown family is no error.
func TestRevokeFamily(t *testing.T) {
	rev := &failingRevoker{}
	m, err := refresh.New(refresh.Config{Revoker: rev, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	raw, fam, err := m.Start(ctx, grant, func(context.Context, refresh.Minting) (refresh.AccessToken, error) {
		return refresh.AccessToken{Issuer: "iss", ID: "at-0", ExpiresAt: t0.Add(time.Hour)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rev.down.Store(true)
	if err := m.RevokeFamily(ctx, fam); !errors.Is(err, errDown) {
		t.Fatalf("revoker down: %v", err)
	}
	rev.down.Store(false)
	if err := m.RevokeFamily(ctx, fam); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rev.ids, "at-0") {
		t.Fatalf("revoked %v", rev.ids)
	}
	if _, _, err := m.Rotate(ctx, raw, func(context.Context, refresh.Minting) (refresh.AccessToken, error) {
		return refresh.AccessToken{}, nil
	}); !errors.Is(err, refresh.ErrRevoked) {
		t.Fatalf("rotate after: %v", err)
	}
	if err := m.RevokeFamily(ctx, "fam_unknown"); err != nil {
		t.Fatalf("unknown family: %v", err)
	}
	if err := m.RevokeFamily(ctx, ""); err == nil {
		t.Fatal("an empty family revoked")
	}
}
