package apitoken_test

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/apitoken/storetest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/token"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b apitoken.Store) {
		s := apitoken.NewMemoryStore()
		return s, s
	})
}

// newClock returns a clock at storetest.Base, for Config.Now.
func newClock() *testenv.Clock { return testenv.NewClock(storetest.Base) }

// countingStore counts the calls to its store, and fails them on demand.
type countingStore struct {
	apitoken.Store
	lookups, touches, touched atomic.Int64
	down                      atomic.Bool
	getDown                   atomic.Bool // Get fails, whatever down says
}

var errDown = errors.New("database down")

func (s *countingStore) GetByHash(ctx context.Context, h []byte) (apitoken.Record, error) {
	s.lookups.Add(1)
	if s.down.Load() {
		return apitoken.Record{}, errDown
	}
	return s.Store.GetByHash(ctx, h)
}

func (s *countingStore) Get(ctx context.Context, id string) (apitoken.Token, error) {
	if s.getDown.Load() {
		return apitoken.Token{}, errDown
	}
	return s.Store.Get(ctx, id)
}

func (s *countingStore) Touch(ctx context.Context, uses []apitoken.Use) error {
	s.touches.Add(1)
	if s.down.Load() {
		return errDown
	}
	s.touched.Add(int64(len(uses)))
	return s.Store.Touch(ctx, uses)
}

func (s *countingStore) Create(ctx context.Context, r apitoken.Record, max int) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.Create(ctx, r, max)
}

func newManager(t testing.TB, cfg apitoken.Config) *apitoken.Manager {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = apitoken.NewMemoryStore()
	}
	if cfg.SubjectIssuer == "" {
		cfg.SubjectIssuer = ownerIssuer
	}
	m, err := apitoken.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// ownerIssuer is the issuer of the principals that own tokens in these
// tests.
const ownerIssuer = "https://issuer.example"

func user(sub string, scopes ...string) *identity.Principal {
	return &identity.Principal{Subject: sub, Scopes: scopes, Method: identity.JWT, Issuer: ownerIssuer}
}

func mustCreate(t testing.TB, m *apitoken.Manager, creator *identity.Principal, req apitoken.CreateRequest) (string, apitoken.Token) {
	t.Helper()
	if req.Name == "" {
		req.Name = "test"
	}
	raw, tok, err := m.CreateFor(context.Background(), creator, req)
	if err != nil {
		t.Fatalf("CreateFor: %v", err)
	}
	return raw, tok
}

func TestFormat(t *testing.T) {
	m := newManager(t, apitoken.Config{})
	re := regexp.MustCompile(apitoken.Pattern("sl_"))
	if got := apitoken.Pattern("sl_"); got != `\bsl_[0-9A-Za-z]{36}\b` {
		t.Errorf("Pattern = %s", got)
	}
	seen := map[string]bool{}
	for i := range 200 {
		raw, _ := mustCreate(t, m, user(strconv.Itoa(i)), apitoken.CreateRequest{})
		if len(raw) != 3+apitoken.SecretLen+apitoken.ChecksumLen || !re.MatchString("leaked: "+raw+".") {
			t.Fatalf("token %q: wrong length or not matched by %s", raw, re)
		}
		if err := apitoken.Check("sl_", raw); err != nil {
			t.Fatalf("Check(a fresh token) = %v", err)
		}
		if seen[raw] {
			t.Fatal("the same token twice")
		}
		seen[raw] = true
	}
}

func TestCheck(t *testing.T) {
	m := newManager(t, apitoken.Config{})
	good, _ := mustCreate(t, m, user("alice"), apitoken.CreateRequest{})
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	upper := []byte(good)
	for i := 3; i < len(upper); i++ {
		if 'a' <= upper[i] && upper[i] <= 'z' {
			upper[i] -= 'a' - 'A'
			break
		}
	}
	for _, tc := range []struct{ name, raw string }{
		{"empty", ""},
		{"prefix only", "sl_"},
		{"wrong prefix", "gh_" + good[3:]},
		{"no prefix", good[3:]},
		{"prefix in capitals", "SL_" + good[3:]},
		{"one character short", good[:len(good)-1]},
		{"one character more", good + "a"},
		{"a typo in the secret", flip(good, 10)},
		{"a typo in the checksum", flip(good, len(good)-1)},
		{"one letter's case changed", string(upper)},
		{"two characters swapped", good[:5] + good[6:7] + good[5:6] + good[7:]},
		{"a character outside base62", good[:10] + "-" + good[11:]},
		{"a non-ASCII character", good[:10] + "é" + good[12:]},
		{"a NUL", good[:10] + "\x00" + good[11:]},
	} {
		if tc.raw == good {
			continue // a swap of two equal characters
		}
		if err := apitoken.Check("sl_", tc.raw); !errors.Is(err, apitoken.ErrMalformed) {
			t.Errorf("%s: Check(%q) = %v, want ErrMalformed", tc.name, tc.raw, err)
		}
	}
}

// failingStore fails the test on any call.
type failingStore struct{ t *testing.T }

func (s failingStore) fail() { s.t.Helper(); s.t.Fatal("the store was called") }
func (s failingStore) Create(context.Context, apitoken.Record, int) error {
	s.fail()
	return nil
}
func (s failingStore) GetByHash(context.Context, []byte) (apitoken.Record, error) {
	s.fail()
	return apitoken.Record{}, nil
}
func (s failingStore) Get(context.Context, string) (apitoken.Token, error) {
	s.fail()
	return apitoken.Token{}, nil
}
func (s failingStore) List(context.Context, string) ([]apitoken.Token, error) {
	s.fail()
	return nil, nil
}
func (s failingStore) Revoke(context.Context, string, string, time.Time) (apitoken.Token, error) {
	s.fail()
	return apitoken.Token{}, nil
}
func (s failingStore) RevokeSubject(context.Context, string, time.Time) ([]apitoken.Token, error) {
	s.fail()
	return nil, nil
}
func (s failingStore) Touch(context.Context, []apitoken.Use) error { s.fail(); return nil }
func (s failingStore) Purge(context.Context, time.Time) (int64, error) {
	s.fail()
	return 0, nil
}
func (s failingStore) SetCutoff(context.Context, string, time.Time) error { s.fail(); return nil }
func (s failingStore) Cutoff(context.Context, string) (time.Time, error) {
	s.fail()
	return time.Time{}, nil
}

// TestMalformedNeverReachesTheStore: a wrong prefix, length or checksum
// is refused by a manager whose store fails the test if called.
func TestMalformedNeverReachesTheStore(t *testing.T) {
	real := newManager(t, apitoken.Config{})
	good, _ := mustCreate(t, real, user("alice"), apitoken.CreateRequest{})
	m := newManager(t, apitoken.Config{Store: failingStore{t}})
	bad := []byte(good)
	bad[len(bad)-1] ^= 1
	for _, raw := range []string{"", "sl_", "xx_" + good[3:], good[:len(good)-1], good + "0", string(bad),
		"eyJhbGciOiJIUzI1NiJ9.e30.sig", strings.Repeat("A", 8192)} {
		if _, err := m.Authenticate(context.Background(), raw); !errors.Is(err, apitoken.ErrMalformed) {
			t.Errorf("Authenticate(%.20q…) = %v, want ErrMalformed", raw, err)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := &countingStore{Store: apitoken.NewMemoryStore()}
	m := newManager(t, apitoken.Config{Store: store, Now: c.Now})
	raw, tok := mustCreate(t, m, user("alice", "widgets:read", "widgets:write"),
		apitoken.CreateRequest{Name: "deploy", Scopes: []string{"widgets:read", "widgets:read"}, Lifetime: time.Hour})

	p, err := m.Authenticate(ctx, raw)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if p.Subject != "alice" || p.Method != identity.APIToken || p.Issuer != apitoken.DefaultIssuer+"sl_" ||
		p.TokenID != tok.ID || strings.Join(p.Scopes, " ") != "widgets:read" ||
		!p.IssuedAt.Equal(storetest.Base) || !p.ExpiresAt.Equal(storetest.Base.Add(time.Hour)) {
		t.Fatalf("principal = %+v", p)
	}
	if got, ok := p.Claims.(*apitoken.Token); !ok || got.Name != "deploy" {
		t.Errorf("Claims = %#v, want the *apitoken.Token", p.Claims)
	}

	// A well-formed token that was never issued.
	other := newManager(t, apitoken.Config{})
	stranger, _ := mustCreate(t, other, user("mallory"), apitoken.CreateRequest{})
	if _, err := m.Authenticate(ctx, stranger); !errors.Is(err, apitoken.ErrNotFound) {
		t.Errorf("unknown token: %v, want ErrNotFound", err)
	}
	// The store down: ErrUnavailable (a 503), not an invalid token.
	store.down.Store(true)
	if _, err := m.Authenticate(ctx, raw); !errors.Is(err, identity.ErrUnavailable) || errors.Is(err, apitoken.ErrNotFound) {
		t.Errorf("store down: %v, want identity.ErrUnavailable", err)
	}
	store.down.Store(false)

	// Expiry, to the nanosecond.
	c.Advance(time.Hour - time.Nanosecond)
	if _, err := m.Authenticate(ctx, raw); err != nil {
		t.Fatalf("a nanosecond before expiry: %v", err)
	}
	c.Advance(time.Nanosecond)
	if _, err := m.Authenticate(ctx, raw); !errors.Is(err, apitoken.ErrExpired) {
		t.Fatalf("at expiry: %v, want ErrExpired", err)
	}
	// A token of another prefix is malformed for this manager.
	live := newManager(t, apitoken.Config{Prefix: "sl_live_", Store: apitoken.NewMemoryStore()})
	lraw, _ := mustCreate(t, live, user("alice"), apitoken.CreateRequest{})
	if _, err := m.Authenticate(ctx, lraw); !errors.Is(err, apitoken.ErrMalformed) {
		t.Errorf("an sl_live_ token at the sl_ manager: %v, want ErrMalformed", err)
	}
	if _, err := live.Authenticate(ctx, lraw); err != nil {
		t.Errorf("sl_live_ token: %v", err)
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, apitoken.Config{})
	raw, tok := mustCreate(t, m, user("alice"), apitoken.CreateRequest{})
	raw2, _ := mustCreate(t, m, user("alice"), apitoken.CreateRequest{})
	bobs, _ := mustCreate(t, m, user("bob"), apitoken.CreateRequest{})
	if _, err := m.Revoke(ctx, "bob", tok.ID); !errors.Is(err, apitoken.ErrNotFound) {
		t.Fatalf("bob revoking alice's token: %v, want ErrNotFound", err)
	}
	if _, err := m.Authenticate(ctx, raw); err != nil {
		t.Fatalf("after a refused revocation: %v", err)
	}
	if _, err := m.Revoke(ctx, "alice", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Authenticate(ctx, raw); !errors.Is(err, apitoken.ErrRevoked) {
		t.Fatalf("revoked token: %v, want ErrRevoked", err)
	}
	if _, err := m.Revoke(ctx, "alice", tok.ID); err != nil {
		t.Errorf("revoking again: %v", err)
	}
	if n, err := m.RevokeSubject(ctx, "alice"); n != 1 || err != nil {
		t.Errorf("RevokeSubject = %d, %v; want 1 (the other was revoked already)", n, err)
	}
	if _, err := m.Authenticate(ctx, raw2); !errors.Is(err, apitoken.ErrRevoked) {
		t.Errorf("after RevokeSubject: %v, want ErrRevoked", err)
	}
	if _, err := m.Authenticate(ctx, bobs); err != nil {
		t.Errorf("bob's token after alice's were revoked: %v", err)
	}
	if _, err := m.OperatorRevoke(ctx, "no-such-id"); !errors.Is(err, apitoken.ErrNotFound) {
		t.Errorf("RevokeID(unknown) = %v", err)
	}
}

func TestCreateRefuses(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	m := newManager(t, apitoken.Config{Now: c.Now, MaxPerSubject: 3})
	alice := user("alice", "widgets:read", "tokens:manage")
	for _, tc := range []struct {
		name string
		req  apitoken.CreateRequest
		want error
	}{
		{"no name", apitoken.CreateRequest{}, apitoken.ErrInvalid},
		{"a name of 101 bytes", apitoken.CreateRequest{Name: strings.Repeat("n", 101)}, apitoken.ErrInvalid},
		{"a control character in the name", apitoken.CreateRequest{Name: "a\nb"}, apitoken.ErrInvalid},
		{"a name not UTF-8", apitoken.CreateRequest{Name: "\xff"}, apitoken.ErrInvalid},
		{"a scope the creator lacks", apitoken.CreateRequest{Name: "x", Scopes: []string{"widgets:write"}}, apitoken.ErrScope},
		{"admin", apitoken.CreateRequest{Name: "x", Scopes: []string{"widgets:read", "admin"}}, apitoken.ErrScope},
		{"a lifetime over the maximum", apitoken.CreateRequest{Name: "x", Lifetime: apitoken.DefaultMaxLifetime + time.Second}, apitoken.ErrInvalid},
		{"a negative lifetime", apitoken.CreateRequest{Name: "x", Lifetime: -time.Second}, apitoken.ErrInvalid},
	} {
		if _, _, err := m.CreateFor(ctx, alice, tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Scopes that are not scope tokens, even when the creator "holds" them.
	odd := user("alice", "a b", `q"`, "")
	for _, s := range odd.Scopes {
		if _, _, err := m.CreateFor(ctx, odd, apitoken.CreateRequest{Name: "x", Scopes: []string{s}}); !errors.Is(err, apitoken.ErrInvalid) {
			t.Errorf("scope %q: %v, want ErrInvalid", s, err)
		}
	}
	if _, _, err := m.CreateFor(ctx, nil, apitoken.CreateRequest{Name: "x"}); !errors.Is(err, apitoken.ErrForeignIssuer) {
		t.Errorf("no creator: %v", err)
	}
	// At most MaxPerSubject active tokens: revoked and expired ones do not
	// count.
	var ids []string
	for range 3 {
		_, tok := mustCreate(t, m, alice, apitoken.CreateRequest{Lifetime: time.Hour})
		ids = append(ids, tok.ID)
	}
	if _, _, err := m.CreateFor(ctx, alice, apitoken.CreateRequest{Name: "fourth"}); !errors.Is(err, apitoken.ErrInvalid) ||
		!errors.Is(err, apitoken.ErrTooMany) {
		t.Errorf("a fourth token with MaxPerSubject 3: %v", err)
	}
	if _, err := m.Revoke(ctx, "alice", ids[0]); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, m, alice, apitoken.CreateRequest{Name: "after a revocation"})
	c.Advance(time.Hour)
	mustCreate(t, m, alice, apitoken.CreateRequest{Name: "after two expired"})
	if _, err := m.Purge(ctx, -time.Second); err == nil {
		t.Error("Purge accepted a negative retention")
	}
}

// TestCreatedByAnAPIToken: an API token mints only narrower tokens that
// die with it.
func TestCreatedByAnAPIToken(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	m := newManager(t, apitoken.Config{Now: c.Now})
	parentRaw, _ := mustCreate(t, m, user("alice", "widgets:read", "widgets:write", "tokens:manage"),
		apitoken.CreateRequest{Scopes: []string{"widgets:read", "tokens:manage"}, Lifetime: 24 * time.Hour})
	parent, err := m.Authenticate(ctx, parentRaw)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.CreateFor(ctx, parent, apitoken.CreateRequest{Name: "x", Scopes: []string{"widgets:write"}}); !errors.Is(err, apitoken.ErrScope) {
		t.Errorf("a scope the parent token lacks (its subject has it): %v, want ErrScope", err)
	}
	if _, _, err := m.CreateFor(ctx, parent, apitoken.CreateRequest{Name: "x", Lifetime: 25 * time.Hour}); !errors.Is(err, apitoken.ErrInvalid) {
		t.Errorf("outliving the parent: %v, want ErrInvalid", err)
	}
	_, child := mustCreate(t, m, parent, apitoken.CreateRequest{Scopes: []string{"widgets:read"}})
	if !child.ExpiresAt.Equal(parent.ExpiresAt) || child.Subject != "alice" {
		t.Errorf("child = %+v, want subject alice, expiring with its parent at %v", child, parent.ExpiresAt)
	}
	c.Advance(24 * time.Hour)
	if _, _, err := m.CreateFor(ctx, parent, apitoken.CreateRequest{Name: "x"}); !errors.Is(err, apitoken.ErrExpired) {
		t.Errorf("an expired parent: %v, want ErrExpired", err)
	}
}

func TestNewRefuses(t *testing.T) {
	s := apitoken.NewMemoryStore()
	for name, cfg := range map[string]apitoken.Config{
		"no store":                      {SubjectIssuer: ownerIssuer},
		"no subject issuer":             {Store: s},
		"Issuer equal to SubjectIssuer": {Store: s, SubjectIssuer: ownerIssuer, Issuer: ownerIssuer},
		"a short pepper":                {Store: s, SubjectIssuer: ownerIssuer, Pepper: make([]byte, 31)},
		"an upper-case prefix":          {Store: s, SubjectIssuer: ownerIssuer, Prefix: "SL_"},
		"a prefix without _":            {Store: s, SubjectIssuer: ownerIssuer, Prefix: "sl"},
		"a JWT-like prefix":             {Store: s, SubjectIssuer: ownerIssuer, Prefix: "ey_"},
		"a prefix with a dot":           {Store: s, SubjectIssuer: ownerIssuer, Prefix: "s.l_"},
		"a long prefix":                 {Store: s, SubjectIssuer: ownerIssuer, Prefix: strings.Repeat("a", 32) + "_"},
		"flushing too often":            {Store: s, SubjectIssuer: ownerIssuer, FlushInterval: time.Millisecond},
		"a 101-year lifetime":           {Store: s, SubjectIssuer: ownerIssuer, MaxLifetime: 101 * 365 * 24 * time.Hour},
	} {
		if m, err := apitoken.New(cfg); err == nil {
			m.Close()
			t.Errorf("%s: New accepted it", name)
		}
	}
	m, err := apitoken.New(apitoken.Config{Store: s, SubjectIssuer: ownerIssuer})
	if err != nil {
		t.Fatalf("the minimal configuration: %v", err)
	}
	m.Close()
}

// TestForeignIssuer: a principal of another issuer with the same subject
// manages nothing, and an API token of another manager neither.
func TestForeignIssuer(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, apitoken.Config{})
	raw, tok := mustCreate(t, m, user("1234", "tokens:manage"), apitoken.CreateRequest{Scopes: []string{"tokens:manage"}})
	foreign := &identity.Principal{Subject: "1234", Issuer: "https://idp.other", Method: identity.OIDC, Scopes: []string{"tokens:manage"}}
	if _, _, err := m.CreateFor(ctx, foreign, apitoken.CreateRequest{Name: "x"}); !errors.Is(err, apitoken.ErrForeignIssuer) {
		t.Errorf("CreateFor by a foreign issuer's principal: %v, want ErrForeignIssuer", err)
	}
	if _, err := m.SubjectOf(ctx, foreign); !errors.Is(err, apitoken.ErrForeignIssuer) {
		t.Errorf("SubjectOf(foreign) = %v", err)
	}
	// An API-token-like principal claiming the subject issuer, and one of
	// another manager: refused.
	fake := &identity.Principal{Subject: "1234", Issuer: ownerIssuer, Method: identity.APIToken}
	other := &identity.Principal{Subject: "1234", Issuer: "other:apitoken", Method: identity.APIToken}
	for _, p := range []*identity.Principal{fake, other, nil, {Issuer: ownerIssuer}} {
		if _, err := m.SubjectOf(ctx, p); !errors.Is(err, apitoken.ErrForeignIssuer) {
			t.Errorf("SubjectOf(%+v) = %v, want ErrForeignIssuer", p, err)
		}
	}
	// The manager's own API token acts for its subject.
	p, err := m.Authenticate(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if subject, err := m.SubjectOf(ctx, p); subject != "1234" || err != nil {
		t.Errorf("SubjectOf(own API token) = %q, %v", subject, err)
	}
	if _, err := m.Revoke(ctx, "1234", tok.ID); err != nil {
		t.Fatal(err)
	}
}

// TestLastUseCoalesced: 10,000 authentications of one token write its
// last use once, at the flush; a failed write is retried. It runs in a
// testing/synctest bubble, where the background writer's ticker follows
// the bubble's clock, which stands still while the test works: however
// slow the machine, no tick comes between the requests and the checks.
func TestLastUseCoalesced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newClock()
		store := &countingStore{Store: apitoken.NewMemoryStore()}
		m := newManager(t, apitoken.Config{Store: store, Now: c.Now})
		raw, tok := mustCreate(t, m, user("alice"), apitoken.CreateRequest{})
		for range 10000 {
			c.Advance(time.Millisecond)
			if _, err := m.Authenticate(ctx, raw); err != nil {
				t.Fatal(err)
			}
		}
		if n := store.touches.Load(); n != 0 {
			t.Fatalf("%d writes during the requests, want none", n)
		}
		last := c.Now()
		store.down.Store(true)
		if err := m.Flush(ctx); err == nil {
			t.Fatal("Flush with the store down reported success")
		}
		store.down.Store(false)
		if err := m.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if n := store.touched.Load(); n != 1 {
			t.Fatalf("%d rows written, want 1", n)
		}
		got, _ := store.Get(ctx, tok.ID)
		if !got.LastUsedAt.Equal(last) {
			t.Errorf("LastUsedAt = %v, want the last use %v", got.LastUsedAt, last)
		}
		// Close writes what is left.
		c.Advance(time.Second)
		m.Authenticate(ctx, raw)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if got, _ := store.Get(ctx, tok.ID); !got.LastUsedAt.Equal(c.Now()) {
			t.Errorf("after Close: LastUsedAt = %v, want %v", got.LastUsedAt, c.Now())
		}
	})
}

// TestFlushLoop: the background writer writes the uses noted during each
// Config.FlushInterval in one Touch, writes nothing when nothing was
// used, logs a failed write and retries it at the next tick, and stops at
// Close. In a testing/synctest bubble: the test moves the ticker's clock
// and synctest.Wait lets the writer finish each tick before the test
// looks, so nothing waits on the wall clock.
func TestFlushLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		const interval = time.Second
		store := &countingStore{Store: apitoken.NewMemoryStore()}
		var logs testenv.SyncBuffer
		m := newManager(t, apitoken.Config{Store: store, FlushInterval: interval, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		raw, tok := mustCreate(t, m, user("alice"), apitoken.CreateRequest{})
		// tick moves the bubble's clock past the next tick (half an
		// interval on: no tie with the ticker) and waits for the writer.
		tick := func() {
			time.Sleep(interval)
			synctest.Wait()
		}
		time.Sleep(interval / 2)
		if _, err := m.Authenticate(ctx, raw); err != nil {
			t.Fatal(err)
		}
		used := time.Now()
		synctest.Wait()
		if n := store.touches.Load(); n != 0 {
			t.Fatalf("%d writes before the first tick", n)
		}
		tick()
		if n, rows := store.touches.Load(), store.touched.Load(); n != 1 || rows != 1 {
			t.Fatalf("after a tick: %d writes of %d rows, want 1 of 1", n, rows)
		}
		if got, _ := store.Get(ctx, tok.ID); !got.LastUsedAt.Equal(used) {
			t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, used)
		}
		tick()
		if n := store.touches.Load(); n != 1 {
			t.Errorf("a tick with no use wrote (%d writes)", n-1)
		}
		// A failed write is logged and kept for the next tick.
		m.Authenticate(ctx, raw)
		store.down.Store(true)
		tick()
		if n := store.touches.Load(); n != 2 || !strings.Contains(logs.String(), "retrying at the next flush") {
			t.Fatalf("the store down: %d writes, log %q", n, logs.String())
		}
		store.down.Store(false)
		tick()
		if n, rows := store.touches.Load(), store.touched.Load(); n != 3 || rows != 2 {
			t.Fatalf("the store back: %d writes of %d rows, want 3 of 2", n, rows)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		m.Authenticate(ctx, raw) // noted, never written: the writer has stopped
		time.Sleep(10 * interval)
		synctest.Wait()
		if n := store.touches.Load(); n != 3 {
			t.Errorf("%d writes after Close, want none", n-3)
		}
	})
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	m := newManager(t, apitoken.Config{Now: c.Now})
	_, short := mustCreate(t, m, user("alice"), apitoken.CreateRequest{Lifetime: time.Hour})
	_, long := mustCreate(t, m, user("alice"), apitoken.CreateRequest{})
	c.Advance(2 * time.Hour)
	if n, err := m.Purge(ctx, time.Hour); n != 1 || err != nil {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	if _, err := m.Get(ctx, short.ID); !errors.Is(err, apitoken.ErrNotFound) {
		t.Error("the expired token is still there")
	}
	if _, err := m.Get(ctx, long.ID); err != nil {
		t.Error("the live token was purged")
	}
}

// TestDocumentedToken: the token shown in the package documentation is
// well formed.
func TestDocumentedToken(t *testing.T) {
	if err := apitoken.Check("sl_", "sl_7Vq2cQ0yN8wF3kTzB5mA1sLhD9rXo410rwUC"); err != nil {
		t.Fatal(err)
	}
}

// flakyRevoker fails while down, and records what it was told.
type flakyRevoker struct {
	mu   sync.Mutex
	down bool
	got  []string
}

func (r *flakyRevoker) RevokeToken(ctx context.Context, _, jti string, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down || ctx.Err() != nil {
		return errDown
	}
	r.got = append(r.got, jti)
	return nil
}

// TestRevokeRetries: after the Revoker failed, revoking again pushes the
// tokens the store had already revoked.
func TestRevokeRetries(t *testing.T) {
	ctx := context.Background()
	rv := &flakyRevoker{down: true}
	m := newManager(t, apitoken.Config{Revoker: rv})
	_, t1 := mustCreate(t, m, user("alice"), apitoken.CreateRequest{})
	_, t2 := mustCreate(t, m, user("alice"), apitoken.CreateRequest{})
	if n, err := m.RevokeSubject(ctx, "alice"); n != 2 || err == nil {
		t.Fatalf("RevokeSubject with the list down = %d, %v; want 2 and an error", n, err)
	}
	rv.down = false
	if n, err := m.RevokeSubject(ctx, "alice"); n != 0 || err != nil {
		t.Fatalf("RevokeSubject again = %d, %v", n, err)
	}
	slices.Sort(rv.got)
	want := []string{t1.ID, t2.ID}
	slices.Sort(want)
	if !slices.Equal(rv.got, want) {
		t.Errorf("pushed %v on the retry, want %v", rv.got, want)
	}
	// A request cancelled once the store has revoked still pushes.
	cs := &cancelOnRevoke{Store: apitoken.NewMemoryStore()}
	m2 := newManager(t, apitoken.Config{Store: cs, Revoker: rv})
	_, t3 := mustCreate(t, m2, user("bob"), apitoken.CreateRequest{})
	cctx, cancel := context.WithCancel(ctx)
	cs.cancel = cancel
	if _, err := m2.Revoke(cctx, "bob", t3.ID); err != nil {
		t.Fatalf("Revoke with the request cancelled after the store: %v", err)
	}
	if !slices.Contains(rv.got, t3.ID) {
		t.Error("not pushed to the revocation list")
	}
}

// cancelOnRevoke cancels the request's context once it has revoked.
type cancelOnRevoke struct {
	apitoken.Store
	cancel func()
}

func (s *cancelOnRevoke) Revoke(ctx context.Context, subject, id string, at time.Time) (apitoken.Token, error) {
	t, err := s.Store.Revoke(ctx, subject, id, at)
	s.cancel()
	return t, err
}

// slowTouch makes Touch take a while.
type slowTouch struct {
	apitoken.Store
	touched atomic.Int64
}

func (s *slowTouch) Touch(ctx context.Context, uses []apitoken.Use) error {
	time.Sleep(50 * time.Millisecond) // a slow database, for the second Close to wait on
	s.touched.Add(1)
	return s.Store.Touch(ctx, uses)
}

// TestCloseTwice: every Close returns once the last write is done.
func TestCloseTwice(t *testing.T) {
	store := &slowTouch{Store: apitoken.NewMemoryStore()}
	m := newManager(t, apitoken.Config{Store: store})
	raw, _ := mustCreate(t, m, user("alice"), apitoken.CreateRequest{})
	m.Authenticate(context.Background(), raw)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := m.Close(); err != nil {
				t.Error(err)
			}
			if store.touched.Load() != 1 {
				t.Error("Close returned before the last write")
			}
		})
	}
	wg.Wait()
}

// TestCreatorCheckedInTheStore: the principal of an API token revoked,
// expired or deleted since it was authenticated (a cache still holds it,
// or another instance revoked it) creates nothing.
func TestCreatorCheckedInTheStore(t *testing.T) {
	ctx := context.Background()
	alice := user("alice", "widgets:read", "tokens:manage")
	for _, tc := range []struct {
		name string
		// after ends the token the principal p was authenticated from.
		after func(m *apitoken.Manager, c *testenv.Clock, tok apitoken.Token)
		want  error
	}{
		{"revoked", func(m *apitoken.Manager, _ *testenv.Clock, tok apitoken.Token) {
			if _, err := m.Revoke(ctx, "alice", tok.ID); err != nil {
				t.Fatal(err)
			}
		}, apitoken.ErrRevoked},
		{"expired", func(_ *apitoken.Manager, c *testenv.Clock, _ apitoken.Token) { c.Advance(time.Hour) }, apitoken.ErrExpired},
		{"gone", func(m *apitoken.Manager, _ *testenv.Clock, tok apitoken.Token) {
			if _, err := m.Revoke(ctx, "alice", tok.ID); err != nil {
				t.Fatal(err)
			}
			if n, err := m.Purge(ctx, 0); n != 1 || err != nil {
				t.Fatalf("Purge = %d, %v", n, err)
			}
		}, apitoken.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			m := newManager(t, apitoken.Config{Now: c.Now})
			raw, tok := mustCreate(t, m, alice, apitoken.CreateRequest{Scopes: []string{"widgets:read", "tokens:manage"}, Lifetime: time.Hour})
			p, err := m.Authenticate(ctx, raw) // what the middleware's cache keeps
			if err != nil {
				t.Fatal(err)
			}
			tc.after(m, c, tok)
			if subject, err := m.SubjectOf(ctx, p); !errors.Is(err, tc.want) {
				t.Errorf("SubjectOf(the %s token) = %q, %v; want %v", tc.name, subject, err, tc.want)
			}
			if _, child, err := m.CreateFor(ctx, p, apitoken.CreateRequest{Name: "child", Scopes: []string{"widgets:read"}}); !errors.Is(err, tc.want) {
				t.Errorf("CreateFor by the %s token = %+v, %v; want %v", tc.name, child, err, tc.want)
			}
			ts, _ := m.List(ctx, "alice")
			if len(ts) > 1 {
				t.Errorf("alice has %d tokens, want no child", len(ts))
			}
		})
	}
}

// TestCreatorStoreDown: when the store cannot say whether the caller's
// API token is still good, nothing is created: identity.ErrUnavailable.
func TestCreatorStoreDown(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{Store: apitoken.NewMemoryStore()}
	m := newManager(t, apitoken.Config{Store: store})
	raw, _ := mustCreate(t, m, user("alice", "tokens:manage"), apitoken.CreateRequest{Scopes: []string{"tokens:manage"}})
	p, err := m.Authenticate(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	store.down.Store(true)
	store.getDown.Store(true)
	if _, err := m.SubjectOf(ctx, p); !errors.Is(err, identity.ErrUnavailable) {
		t.Errorf("SubjectOf with the store down: %v, want identity.ErrUnavailable", err)
	}
	store.down.Store(false) // Create works: only the check of the creator fails
	if _, _, err := m.CreateFor(ctx, p, apitoken.CreateRequest{Name: "x"}); !errors.Is(err, identity.ErrUnavailable) {
		t.Errorf("CreateFor with the store down: %v, want identity.ErrUnavailable", err)
	}
	// A principal of the subject issuer needs no lookup.
	if _, _, err := m.CreateFor(ctx, user("alice"), apitoken.CreateRequest{Name: "x"}); err != nil {
		t.Errorf("CreateFor by a user with Get failing: %v", err)
	}
}

// claimsOf returns a principal of alice, of the subject issuer, whose
// token has these claims.
func claimsOf(c any) *identity.Principal {
	p := user("alice", "widgets:read", "tokens:manage")
	p.Claims = c
	return p
}

// TestConstrainedCreator: a token bound to a key, or asked for one
// resource, mints no API token unless the configuration says so.
func TestConstrainedCreator(t *testing.T) {
	ctx := context.Background()
	const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	api := token.Audience{"https://api.example"}
	graphql := token.Audience{"https://api.example/graphql"}
	strict := newManager(t, apitoken.Config{})
	listed := newManager(t, apitoken.Config{CreatorAudiences: api})
	insecure := newManager(t, apitoken.Config{CreatorAudiences: api, InsecureAllowBoundCreators: true})
	for _, tc := range []struct {
		name string
		m    *apitoken.Manager
		c    any
		want error
	}{
		// The strict default.
		{"no claims (a principal built by hand)", strict, nil, nil},
		{"an API token's claims", strict, &apitoken.Token{}, nil},
		{"a bearer JWT: no audience listed", strict, &token.Claims{Audience: api}, apitoken.ErrConstrained},
		{"a bound JWT", strict, &token.Claims{JKT: jkt, Audience: api}, apitoken.ErrConstrained},
		{"a JWT without audience", strict, &token.Claims{}, apitoken.ErrConstrained},
		// CreatorAudiences lists the API's general audience.
		{"a bearer JWT for the API", listed, &token.Claims{Audience: api}, nil},
		{"a bearer JWT for the API and a resource", listed, &token.Claims{Audience: append(graphql, api...)}, nil},
		{"a JWT for one resource", listed, &token.Claims{Audience: graphql}, apitoken.ErrConstrained},
		{"a bound JWT for the API", listed, &token.Claims{JKT: jkt, Audience: api}, apitoken.ErrConstrained},
		{"a JWT without audience, listed", listed, &token.Claims{}, apitoken.ErrConstrained},
		{"claims bound to no key", listed, boundClaims(""), nil},
		{"claims bound to a key", listed, boundClaims(jkt), apitoken.ErrConstrained},
		// InsecureAllowBoundCreators.
		{"a bound JWT, allowed", insecure, &token.Claims{JKT: jkt, Audience: api}, nil},
		{"a bound JWT for one resource, allowed bound", insecure, &token.Claims{JKT: jkt, Audience: graphql}, apitoken.ErrConstrained},
	} {
		_, _, err := tc.m.CreateFor(ctx, claimsOf(tc.c), apitoken.CreateRequest{Name: "x", Scopes: []string{"widgets:read"}})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		// Managing the tokens it has is not creating one.
		if _, err := tc.m.SubjectOf(ctx, claimsOf(tc.c)); err != nil {
			t.Errorf("%s: SubjectOf = %v", tc.name, err)
		}
	}
	if m, err := apitoken.New(apitoken.Config{Store: apitoken.NewMemoryStore(), SubjectIssuer: ownerIssuer, CreatorAudiences: []string{"api", ""}}); err == nil {
		m.Close()
		t.Error("New accepted an empty creator audience")
	}
}

// boundClaims are claims of a verifier of one's own that report a key
// binding and nothing else.
type boundClaims string

func (c boundClaims) BoundKey() string { return string(c) }

// steppingClock moves by step at every reading: a clock that runs ahead
// (or steps back) between two readings of one operation.
type steppingClock struct {
	mu   sync.Mutex
	t    time.Time
	step func(n int) time.Duration // how far the n-th reading (from 0) moves it
	n    int
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step(c.n))
	c.n++
	return t
}

// jumpAfterNext makes the clock jump by d once the next reading is taken.
func (c *steppingClock) jumpAfterNext(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, step := c.n, c.step
	c.step = func(n int) time.Duration {
		if n == at {
			return d
		}
		return step(n)
	}
}

// TestCreatorExpiresMeanwhile: a creator still good when CreateFor checks
// it, but expired at the reading the child's times come from, creates
// nothing: ErrExpired from the manager, 401 invalid_token from the
// handlers.
func TestCreatorExpiresMeanwhile(t *testing.T) {
	ctx := context.Background()
	c := &steppingClock{t: storetest.Base, step: func(int) time.Duration { return 0 }}
	m := newManager(t, apitoken.Config{Now: c.Now})
	raw, _ := mustCreate(t, m, user("alice", "tokens:manage"), apitoken.CreateRequest{Scopes: []string{"tokens:manage"}, Lifetime: time.Hour})
	p, err := m.Authenticate(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	c.jumpAfterNext(time.Hour) // the check of the creator reads the clock first
	if _, child, err := m.CreateFor(ctx, p, apitoken.CreateRequest{Name: "child"}); !errors.Is(err, apitoken.ErrExpired) {
		t.Errorf("CreateFor = %+v, %v; want ErrExpired", child, err)
	}
	// The same through the handlers: back to before the expiry, and the
	// jump again after the check.
	c.mu.Lock()
	c.t = c.t.Add(-time.Hour)
	c.mu.Unlock()
	c.jumpAfterNext(time.Hour)
	rec := serve(m.Handlers(apitoken.HandlerConfig{}).Create(), p, "POST", `{"name": "child"}`)
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("POST: %d %q %s, want 401 invalid_token", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
	}
	if ts, _ := m.List(ctx, "alice"); len(ts) != 1 {
		t.Errorf("alice has %d tokens, want only the creator", len(ts))
	}
}

// TestChildNeverOutlivesItsCreator: a token created by an API token
// expires at the latest with it, whatever the clock does between the
// readings of one CreateFor.
func TestChildNeverOutlivesItsCreator(t *testing.T) {
	ctx := context.Background()
	for name, step := range map[string]func(int) time.Duration{
		"ahead a minute at each reading": func(int) time.Duration { return time.Minute },
		"back a minute at each reading":  func(int) time.Duration { return -time.Minute },
		"back an hour, then ahead again": func(n int) time.Duration { return time.Duration(1-2*(n%2)) * time.Hour },
		"ahead an hour, then back again": func(n int) time.Duration { return time.Duration(2*(n%2)-1) * time.Hour },
	} {
		t.Run(name, func(t *testing.T) {
			c := &steppingClock{t: storetest.Base, step: step}
			m := newManager(t, apitoken.Config{Now: c.Now})
			raw, _ := mustCreate(t, m, user("alice", "widgets:read", "tokens:manage"),
				apitoken.CreateRequest{Scopes: []string{"widgets:read", "tokens:manage"}, Lifetime: 24 * time.Hour})
			p, err := m.Authenticate(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := m.Get(ctx, p.TokenID)
			if err != nil {
				t.Fatal(err)
			}
			for _, lifetime := range []time.Duration{0, 23 * time.Hour, 24*time.Hour - time.Minute, 24 * time.Hour} {
				_, child, err := m.CreateFor(ctx, p, apitoken.CreateRequest{Name: "child", Lifetime: lifetime})
				if err != nil {
					if lifetime == 0 || !errors.Is(err, apitoken.ErrInvalid) {
						t.Errorf("lifetime %v: %v", lifetime, err)
					}
					continue
				}
				if child.ExpiresAt.IsZero() || child.ExpiresAt.After(stored.ExpiresAt) {
					t.Errorf("lifetime %v: the child expires at %v, after its creator at %v", lifetime, child.ExpiresAt, stored.ExpiresAt)
				}
			}
		})
	}
}
