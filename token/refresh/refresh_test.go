package refresh_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{store: &countingStore{Store: refresh.NewMemoryStore()}, clock: testenv.NewClock(t0), rev: &revoker{}}
	m, err := refresh.New(refresh.Config{Store: f.store, Revoker: f.rev, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	return f
}

var grant = refresh.Grant{Subject: "usr_1", ClientID: "demo", Scope: "a b"}

// mint returns a mint function whose access tokens are "at-1", "at-2", …
func (f *fixture) mint(ctx context.Context, g refresh.Grant) (refresh.AccessToken, error) {
	n := f.mints.Add(1)
	return refresh.AccessToken{Issuer: "iss", ID: "at-" + string(rune('0'+n)), ExpiresAt: f.clock.Now().Add(15 * time.Minute)}, nil
}

func (f *fixture) issue(t *testing.T) string {
	t.Helper()
	raw, err := f.m.Issue(context.Background(), grant, refresh.AccessToken{Issuer: "iss", ID: "at-0", ExpiresAt: t0.Add(15 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (f *fixture) rotate(t *testing.T, raw string) (string, error) {
	t.Helper()
	next, g, err := f.m.Rotate(context.Background(), raw, f.mint)
	if err == nil && g != grant {
		t.Errorf("Rotate returned grant %+v, want %+v", g, grant)
	}
	return next, err
}

// countingStore counts the calls that reach the store.
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
	if rec.Grant != grant || !rec.IssuedAt.Equal(t0) || !rec.FamilyCreated.Equal(t0) || rec.Access.ID != "at-0" {
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
	mint := func(ctx context.Context, g refresh.Grant) (refresh.AccessToken, error) {
		seen = append(seen, g.JKT)
		return f.mint(ctx, g)
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

func TestConcurrentRotationIsReuse(t *testing.T) {
	f := newFixture(t)
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
	m, err := refresh.New(refresh.Config{Revoker: rev, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	raw, err := m.Issue(ctx, grant, refresh.AccessToken{Issuer: "iss", ID: "at-0", ExpiresAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(context.Context, refresh.Grant) (refresh.AccessToken, error) {
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
