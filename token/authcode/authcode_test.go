package authcode_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/token/authcode"
)

var base = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// fakeRevoker records what it is asked to revoke.
type fakeRevoker struct {
	mu      sync.Mutex
	revoked []authcode.Issued
	err     error
}

func (r *fakeRevoker) RevokeIssued(_ context.Context, i authcode.Issued) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.revoked = append(r.revoked, i)
	return nil
}

func (r *fakeRevoker) got() []authcode.Issued {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]authcode.Issued(nil), r.revoked...)
}

type fixture struct {
	m        *authcode.Manager
	store    *authcode.MemoryStore
	clock    *testenv.Clock
	revoker  *fakeRevoker
	verifier string
	grant    authcode.Grant
	issues   atomic.Int32
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: authcode.NewMemoryStore(), clock: testenv.NewClock(base), revoker: &fakeRevoker{},
		verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"} // RFC 7636 Appendix B
	m, err := authcode.New(authcode.Config{Store: f.store, Revoker: f.revoker, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	f.grant = authcode.Grant{ClientID: "app", RedirectURI: "https://app.example/cb", Subject: "usr_1",
		Scope: "widgets:read", Resource: "https://api.example/", CodeChallenge: authcode.Challenge(f.verifier),
		AuthTime: base.Add(-time.Second)}
	return f
}

func (f *fixture) issueCode(t *testing.T) string {
	t.Helper()
	raw, err := f.m.Issue(context.Background(), f.grant)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return raw
}

// issue is an IssueFunc minting a new access token and refresh family.
func (f *fixture) issue(_ context.Context, g authcode.Grant) (authcode.Issued, error) {
	f.issues.Add(1)
	return authcode.Issued{RefreshFamily: "fam_" + rand.Text(), AccessIssuer: "https://issuer.example",
		AccessID: rand.Text(), AccessExpiresAt: base.Add(15 * time.Minute)}, nil
}

func (f *fixture) redeem(raw string) (authcode.Grant, authcode.Issued, error) {
	return f.m.Redeem(context.Background(), raw, f.grant.ClientID, f.grant.RedirectURI, f.verifier, f.issue)
}

func wantRefused(t *testing.T, err, precise error) {
	t.Helper()
	if !errors.Is(err, authcode.ErrInvalidGrant) || !errors.Is(err, precise) {
		t.Errorf("err = %v, want ErrInvalidGrant and %v", err, precise)
	}
}

func TestHappyPath(t *testing.T) {
	f := newFixture(t)
	raw := f.issueCode(t)
	if err := authcode.Check(raw); err != nil || !strings.HasPrefix(raw, authcode.Prefix) {
		t.Fatalf("Issue returned %q (%v)", raw, err)
	}
	rec, err := f.store.Get(context.Background(), authcode.HashCode(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !rec.IssuedAt.Equal(base) || !rec.ExpiresAt.Equal(base.Add(time.Minute)) {
		t.Errorf("record issued %v expiring %v", rec.IssuedAt, rec.ExpiresAt)
	}
	f.clock.Advance(59 * time.Second)
	var seen authcode.Grant
	g, issued, err := f.m.Redeem(context.Background(), raw, "app", "https://app.example/cb", f.verifier,
		func(ctx context.Context, g authcode.Grant) (authcode.Issued, error) {
			seen = g
			return f.issue(ctx, g)
		})
	if err != nil {
		t.Fatalf("Redeem: %v", err)
	}
	if g != f.grant || seen != f.grant {
		t.Errorf("Redeem returned %+v, issue saw %+v; want %+v", g, seen, f.grant)
	}
	rec, _ = f.store.Get(context.Background(), authcode.HashCode(raw))
	if !rec.UsedAt.Equal(base.Add(59*time.Second)) || rec.Issued != issued || !rec.ReusedAt.IsZero() {
		t.Errorf("record after redemption: %+v", rec)
	}
	if len(f.revoker.got()) != 0 {
		t.Error("a redemption revoked something")
	}
}

// TestRefusalsDoNotSpend: every failed check refuses the code with the
// precise error and leaves it redeemable by its client.
func TestRefusalsDoNotSpend(t *testing.T) {
	f := newFixture(t)
	raw := f.issueCode(t)
	ctx := context.Background()
	wrong := strings.Repeat("A", 43)
	for _, tt := range []struct {
		name                       string
		client, redirect, verifier string
		want                       error
	}{
		{"wrong verifier", "app", f.grant.RedirectURI, wrong, authcode.ErrPKCE},
		{"verifier too short", "app", f.grant.RedirectURI, f.verifier[:42], authcode.ErrPKCE},
		{"verifier too long", "app", f.grant.RedirectURI, strings.Repeat(f.verifier, 3), authcode.ErrPKCE},
		{"verifier of 129", "app", f.grant.RedirectURI, strings.Repeat("a", 129), authcode.ErrPKCE},
		{"verifier with a space", "app", f.grant.RedirectURI, f.verifier[:42] + " ", authcode.ErrPKCE},
		{"verifier with a plus", "app", f.grant.RedirectURI, f.verifier[:42] + "+", authcode.ErrPKCE},
		{"verifier with a slash", "app", f.grant.RedirectURI, "/" + f.verifier, authcode.ErrPKCE},
		{"verifier with ü", "app", f.grant.RedirectURI, f.verifier + "ü", authcode.ErrPKCE},
		{"the challenge as verifier", "app", f.grant.RedirectURI, f.grant.CodeChallenge, authcode.ErrPKCE},
		{"another client", "evil", f.grant.RedirectURI, f.verifier, authcode.ErrMismatch},
		{"client in another case", "App", f.grant.RedirectURI, f.verifier, authcode.ErrMismatch},
		{"no client", "", f.grant.RedirectURI, f.verifier, authcode.ErrMismatch},
		{"extra path", "app", f.grant.RedirectURI + "/x", f.verifier, authcode.ErrMismatch},
		{"extra query", "app", f.grant.RedirectURI + "?x=1", f.verifier, authcode.ErrMismatch},
		{"trailing slash", "app", f.grant.RedirectURI + "/", f.verifier, authcode.ErrMismatch},
		{"other host case", "app", "https://APP.example/cb", f.verifier, authcode.ErrMismatch},
		{"no redirect URI", "app", "", f.verifier, authcode.ErrMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.m.Redeem(ctx, raw, tt.client, tt.redirect, tt.verifier, f.issue)
			wantRefused(t, err, tt.want)
		})
	}
	if f.issues.Load() != 0 {
		t.Fatal("issue was called for a refused request")
	}
	if _, _, err := f.redeem(raw); err != nil {
		t.Fatalf("the code after refused attempts: %v", err)
	}
}

// TestVerifierRefusedBeforeStore: a malformed verifier (or code) never
// reaches the store.
func TestVerifierRefusedBeforeStore(t *testing.T) {
	m, err := authcode.New(authcode.Config{Store: failingStore{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	code := authcode.Prefix + strings.Repeat("A", 43)
	_, _, err = m.Redeem(ctx, code, "app", "https://app.example/cb", "short", nil)
	wantRefused(t, err, authcode.ErrPKCE)
	_, _, err = m.Redeem(ctx, "ac_nope", "app", "https://app.example/cb", strings.Repeat("a", 43), nil)
	wantRefused(t, err, authcode.ErrMalformed)
	// A well-formed request reaches the store, whose failure is no
	// refusal of the code.
	_, _, err = m.Redeem(ctx, code, "app", "https://app.example/cb", strings.Repeat("a", 43), nil)
	if err == nil || errors.Is(err, authcode.ErrInvalidGrant) || !errors.Is(err, errDown) {
		t.Errorf("a store failure = %v, want it without ErrInvalidGrant", err)
	}
}

var errDown = errors.New("store down")

// failingStore fails every call.
type failingStore struct{ authcode.Store }

func (failingStore) Get(context.Context, authcode.Hash) (authcode.Record, error) {
	return authcode.Record{}, errDown
}

func TestIssueRefusals(t *testing.T) {
	f := newFixture(t)
	sum := authcode.Challenge(f.verifier)
	for name, mut := range map[string]func(*authcode.Grant){
		"no client":           func(g *authcode.Grant) { g.ClientID = "" },
		"no redirect URI":     func(g *authcode.Grant) { g.RedirectURI = "" },
		"no subject":          func(g *authcode.Grant) { g.Subject = "" },
		"no challenge":        func(g *authcode.Grant) { g.CodeChallenge = "" },
		"plain challenge":     func(g *authcode.Grant) { g.CodeChallenge = f.verifier + "x" },
		"42 characters":       func(g *authcode.Grant) { g.CodeChallenge = sum[:42] },
		"44 characters":       func(g *authcode.Grant) { g.CodeChallenge = sum + "A" },
		"padded":              func(g *authcode.Grant) { g.CodeChallenge = sum + "=" },
		"standard base64":     func(g *authcode.Grant) { g.CodeChallenge = sum[:42] + "+" },
		"not canonical":       func(g *authcode.Grant) { g.CodeChallenge = sum[:42] + "B" }, // low bits set
		"hex SHA-256 (plain)": func(g *authcode.Grant) { g.CodeChallenge = strings.Repeat("ab", 32) },
	} {
		g := f.grant
		mut(&g)
		if _, err := f.m.Issue(context.Background(), g); !errors.Is(err, authcode.ErrInvalidRequest) {
			t.Errorf("%s: Issue = %v, want ErrInvalidRequest", name, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	raw := f.issueCode(t)
	f.clock.Advance(time.Minute) // exactly 60 s: expired
	_, _, err := f.redeem(raw)
	wantRefused(t, err, authcode.ErrExpired)

	// A code issued by an instance whose clock runs ahead is bounded by
	// its ExpiresAt all the same.
	f.clock.Set(base)
	ahead, err := authcode.New(authcode.Config{Store: f.store, Now: func() time.Time { return base.Add(30 * time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	raw, err = ahead.Issue(context.Background(), f.grant)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Set(base.Add(90 * time.Second))
	_, _, err = f.redeem(raw)
	wantRefused(t, err, authcode.ErrExpired)
	f.clock.Set(base.Add(89 * time.Second))
	if _, _, err := f.redeem(raw); err != nil {
		t.Errorf("a code from an instance ahead, within its lifetime: %v", err)
	}

	// A record whose ExpiresAt is beyond MaxLifetime (written by hand, or
	// by a broken instance) is bounded by MaxLifetime after IssuedAt.
	long := authcode.Record{Hash: authcode.HashCode(authcode.Prefix + strings.Repeat("B", 42) + "A"), Grant: f.grant,
		IssuedAt: base, ExpiresAt: base.Add(time.Hour)}
	if err := f.store.Create(context.Background(), long); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(base.Add(time.Minute))
	_, _, err = f.redeem(authcode.Prefix + strings.Repeat("B", 42) + "A")
	wantRefused(t, err, authcode.ErrExpired)

	_, _, err = f.redeem(authcode.Prefix + strings.Repeat("C", 42) + "A")
	wantRefused(t, err, authcode.ErrNotFound)
}

func TestShorterLifetime(t *testing.T) {
	clock := testenv.NewClock(base)
	m, err := authcode.New(authcode.Config{Lifetime: 10 * time.Second, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if m.Lifetime() != 10*time.Second {
		t.Errorf("Lifetime = %v", m.Lifetime())
	}
	f := newFixture(t)
	raw, err := m.Issue(context.Background(), f.grant)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Second)
	_, _, err = m.Redeem(context.Background(), raw, "app", f.grant.RedirectURI, f.verifier, f.issue)
	wantRefused(t, err, authcode.ErrExpired)
}

func TestNewRefusals(t *testing.T) {
	for _, cfg := range []authcode.Config{
		{Lifetime: authcode.MaxLifetime + time.Nanosecond},
		{Lifetime: 10 * time.Minute},
		{Lifetime: -time.Second},
		{KeepUsed: 30 * time.Second},
		{Lifetime: 10 * time.Second, KeepUsed: 5 * time.Second},
	} {
		if _, err := authcode.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if m, err := authcode.New(authcode.Config{}); err != nil || m.Lifetime() != time.Minute {
		t.Errorf("New with defaults: %v", err)
	}
}

// TestReplayRevokes: a code presented again after a success is refused
// with ErrReused, by any client, with any verifier, even expired, and
// each time what its redemption issued is revoked.
func TestReplayRevokes(t *testing.T) {
	f := newFixture(t)
	raw := f.issueCode(t)
	_, issued, err := f.redeem(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.redeem(raw)
	wantRefused(t, err, authcode.ErrReused)
	if got := f.revoker.got(); len(got) != 1 || got[0] != issued {
		t.Fatalf("revoked %+v, want %+v", got, issued)
	}
	f.clock.Advance(time.Hour) // expired, another client, a wrong verifier: still a replay
	_, _, err = f.m.Redeem(context.Background(), raw, "evil", "https://evil.example/", strings.Repeat("x", 43), f.issue)
	wantRefused(t, err, authcode.ErrReused)
	if got := f.revoker.got(); len(got) != 2 || got[1] != issued {
		t.Errorf("revoked %+v, want %+v twice", got, issued)
	}
	rec, _ := f.store.Get(context.Background(), authcode.HashCode(raw))
	if !rec.ReusedAt.Equal(base) {
		t.Errorf("ReusedAt = %v, want the first replay's %v", rec.ReusedAt, base)
	}
	if f.issues.Load() != 1 {
		t.Errorf("issue called %d times", f.issues.Load())
	}

	// A failing revocation is a failure, not a refusal: the client may
	// retry, which revokes again.
	f.revoker.err = errDown
	_, _, err = f.redeem(raw)
	if !errors.Is(err, errDown) || errors.Is(err, authcode.ErrInvalidGrant) {
		t.Errorf("replay with the revoker down = %v", err)
	}
}

// TestReplayWhileIssuing: a code presented again while its first
// redemption mints tokens finds nothing to revoke yet; the first
// redemption then finds the mark, revokes its tokens and fails too.
func TestReplayWhileIssuing(t *testing.T) {
	f := newFixture(t)
	raw := f.issueCode(t)
	var minted authcode.Issued
	var replay error
	_, _, err := f.m.Redeem(context.Background(), raw, "app", f.grant.RedirectURI, f.verifier,
		func(ctx context.Context, g authcode.Grant) (authcode.Issued, error) {
			_, _, replay = f.redeem(raw)
			minted, _ = f.issue(ctx, g)
			return minted, nil
		})
	wantRefused(t, replay, authcode.ErrReused)
	wantRefused(t, err, authcode.ErrReused)
	if got := f.revoker.got(); len(got) != 1 || got[0] != minted {
		t.Errorf("revoked %+v, want the tokens minted %+v", got, minted)
	}
}

// TestConcurrentRedeem: of N concurrent redemptions of one code exactly
// one mints tokens; every other is refused; the code was presented more
// than once, so the tokens minted end up revoked, whichever side saw the
// other.
func TestConcurrentRedeem(t *testing.T) {
	for range 20 {
		f := newFixture(t)
		raw := f.issueCode(t)
		const n = 8
		var wg sync.WaitGroup
		type result struct {
			issued authcode.Issued
			err    error
		}
		results := make(chan result, n)
		for range n {
			wg.Go(func() {
				_, issued, err := f.redeem(raw)
				results <- result{issued, err}
			})
		}
		wg.Wait()
		close(results)
		ok := 0
		for r := range results {
			switch {
			case r.err == nil:
				ok++
			case !errors.Is(r.err, authcode.ErrInvalidGrant) || !errors.Is(r.err, authcode.ErrReused):
				t.Errorf("concurrent Redeem: %v, want ErrInvalidGrant and ErrReused", r.err)
			}
		}
		if f.issues.Load() != 1 || ok > 1 {
			t.Fatalf("issue called %d times, %d successes; want 1 and at most 1", f.issues.Load(), ok)
		}
		rec, _ := f.store.Get(context.Background(), authcode.HashCode(raw))
		if got := f.revoker.got(); len(got) == 0 || got[0] != rec.Issued {
			t.Fatalf("revoked %+v, want the tokens minted %+v", got, rec.Issued)
		}
	}
}

// TestConcurrentRedeemOne: a single redemption, with presentations of
// other codes around it, succeeds and revokes nothing.
func TestConcurrentRedeemOne(t *testing.T) {
	f := newFixture(t)
	codes := make([]string, 8)
	for i := range codes {
		codes[i] = f.issueCode(t)
	}
	var wg sync.WaitGroup
	for _, raw := range codes {
		wg.Go(func() {
			if _, _, err := f.redeem(raw); err != nil {
				t.Errorf("Redeem: %v", err)
			}
		})
	}
	wg.Wait()
	if len(f.revoker.got()) != 0 || f.issues.Load() != int32(len(codes)) {
		t.Errorf("revoked %d, issued %d", len(f.revoker.got()), f.issues.Load())
	}
}

func TestIssueFailureSpends(t *testing.T) {
	f := newFixture(t)
	raw := f.issueCode(t)
	boom := errors.New("signing failed")
	_, _, err := f.m.Redeem(context.Background(), raw, "app", f.grant.RedirectURI, f.verifier,
		func(context.Context, authcode.Grant) (authcode.Issued, error) { return authcode.Issued{}, boom })
	if err != boom {
		t.Fatalf("Redeem = %v, want issue's error unchanged", err)
	}
	_, _, err = f.redeem(raw)
	wantRefused(t, err, authcode.ErrReused)
	if len(f.revoker.got()) != 0 {
		t.Error("revoked tokens that were never issued")
	}
}

// setIssuedFails is a MemoryStore whose SetIssued fails.
type setIssuedFails struct{ *authcode.MemoryStore }

func (setIssuedFails) SetIssued(context.Context, authcode.Hash, authcode.Issued) (authcode.Record, error) {
	return authcode.Record{}, errDown
}

func TestSetIssuedFailureRevokes(t *testing.T) {
	f := newFixture(t)
	m, err := authcode.New(authcode.Config{Store: setIssuedFails{f.store}, Revoker: f.revoker, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.Issue(context.Background(), f.grant)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = m.Redeem(context.Background(), raw, "app", f.grant.RedirectURI, f.verifier, f.issue)
	if !errors.Is(err, errDown) || errors.Is(err, authcode.ErrInvalidGrant) {
		t.Errorf("Redeem = %v, want the store's failure", err)
	}
	if got := f.revoker.got(); len(got) != 1 || got[0].AccessID == "" {
		t.Errorf("revoked %+v, want the tokens issued", got)
	}
}

func TestDPoP(t *testing.T) {
	f := newFixture(t)
	f.grant.JKT = "jkt-of-the-key"
	raw := f.issueCode(t)
	ctx := context.Background()
	for _, opts := range [][]authcode.RedeemOption{nil, {authcode.DPoPKey("")}, {authcode.DPoPKey("another")}} {
		_, _, err := f.m.Redeem(ctx, raw, "app", f.grant.RedirectURI, f.verifier, f.issue, opts...)
		wantRefused(t, err, authcode.ErrDPoP)
	}
	g, _, err := f.m.Redeem(ctx, raw, "app", f.grant.RedirectURI, f.verifier, f.issue, authcode.DPoPKey("jkt-of-the-key"))
	if err != nil || g.JKT != "jkt-of-the-key" {
		t.Fatalf("Redeem with the key = %+v, %v", g, err)
	}
	// A code not bound takes any proof.
	f.grant.JKT = ""
	raw = f.issueCode(t)
	if _, _, err := f.m.Redeem(ctx, raw, "app", f.grant.RedirectURI, f.verifier, f.issue, authcode.DPoPKey("any")); err != nil {
		t.Errorf("an unbound code with a proof: %v", err)
	}
}

func TestPurge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	unused := f.issueCode(t)
	used := f.issueCode(t)
	if _, _, err := f.redeem(used); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute) // the unused code expires
	if n, err := f.m.Purge(ctx); n != 1 || err != nil {
		t.Fatalf("Purge = %d, %v; want the expired unused code", n, err)
	}
	_, _, err := f.redeem(unused)
	wantRefused(t, err, authcode.ErrNotFound)
	f.clock.Advance(authcode.DefaultKeepUsed - time.Minute - time.Second)
	if n, err := f.m.Purge(ctx); n != 0 || err != nil {
		t.Fatalf("Purge = %d, %v; want the used code kept", n, err)
	}
	_, _, err = f.redeem(used) // still detected
	wantRefused(t, err, authcode.ErrReused)
	f.clock.Advance(time.Second)
	if n, err := f.m.Purge(ctx); n != 1 || err != nil {
		t.Fatalf("Purge = %d, %v; want the used code deleted", n, err)
	}
	_, _, err = f.redeem(used)
	wantRefused(t, err, authcode.ErrNotFound)
}

func TestChallenge(t *testing.T) {
	// RFC 7636 Appendix B.
	if got := authcode.Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Errorf("Challenge = %q", got)
	}
}

func TestCheck(t *testing.T) {
	good := authcode.Prefix + strings.Repeat("A", 42) + "E" // E: low bits zero
	if err := authcode.Check(good); err != nil {
		t.Errorf("Check(%q) = %v", good, err)
	}
	for _, raw := range []string{
		"", "ac_", good[:len(good)-1], good + "A", "rt_" + good[3:], "AC_" + good[3:],
		authcode.Prefix + strings.Repeat("A", 42) + "B", // not canonical
		authcode.Prefix + strings.Repeat("A", 42) + "+", authcode.Prefix + strings.Repeat("A", 42) + "=",
		authcode.Prefix + strings.Repeat("A", 41) + "==",
	} {
		if err := authcode.Check(raw); !errors.Is(err, authcode.ErrInvalidGrant) || !errors.Is(err, authcode.ErrMalformed) {
			t.Errorf("Check(%q) = %v, want ErrMalformed", raw, err)
		}
	}
}

// TestCheckGrant: the caller's check runs on the grant before the code is
// spent; its refusal comes back unchanged and the code stays good.
func TestCheckGrant(t *testing.T) {
	f := newFixture(t)
	raw := f.issueCode(t)
	errOther := errors.New("another resource")
	var seen authcode.Grant
	_, _, err := f.m.Redeem(context.Background(), raw, f.grant.ClientID, f.grant.RedirectURI, f.verifier, f.issue,
		authcode.CheckGrant(func(g authcode.Grant) error { seen = g; return errOther }))
	if err != errOther || seen.Resource != f.grant.Resource {
		t.Fatalf("Redeem with a refusing check = %v (grant seen %+v)", err, seen)
	}
	if _, _, err := f.redeem(raw); err != nil {
		t.Fatalf("the code after the check refused: %v", err)
	}
}
