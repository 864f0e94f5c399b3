package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// TestThrottleConfig: zero fields are the documented defaults; values
// that cannot work are refused by NewThrottle, not met at request time.
func TestThrottleConfig(t *testing.T) {
	th, err := NewThrottle(ThrottleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if th.username != (Rate{DefaultUsernameBurst, DefaultUsernameEvery}) || th.address != (Rate{DefaultAddressBurst, DefaultAddressEvery}) ||
		th.maxHashesUser != DefaultMaxHashesPerUsername || th.maxHashesAddr != DefaultMaxHashesPerAddress ||
		th.v6bits != DefaultIPv6PrefixLen || th.addrsOf.header != HeaderXForwardedFor || th.users.max != DefaultThrottleKeys ||
		th.sharedTimeout != DefaultSharedTimeout || len(th.addrsOf.trusted) != 0 {
		t.Fatalf("defaults: %+v", th)
	}
	// Each field of a Rate defaults on its own.
	th, _ = NewThrottle(ThrottleConfig{Username: Rate{Burst: 3}, Address: Rate{Every: time.Second}, ForwardedHeader: "forwarded"})
	if th.username != (Rate{3, DefaultUsernameEvery}) || th.address != (Rate{DefaultAddressBurst, time.Second}) || th.addrsOf.header != HeaderForwarded {
		t.Fatalf("partial: %+v %+v %q", th.username, th.address, th.addrsOf.header)
	}
	// Trusted prefixes are masked; an IPv4-mapped one is its IPv4 prefix.
	th, _ = NewThrottle(ThrottleConfig{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:10.1.2.3/104"), netip.MustParsePrefix("2001:db8::1/32")}})
	if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}; fmt.Sprint(th.addrsOf.trusted) != fmt.Sprint(want) {
		t.Fatalf("trusted %v, want %v", th.addrsOf.trusted, want)
	}
	for name, bad := range map[string]ThrottleConfig{
		"negative burst":          {Username: Rate{Burst: -1}},
		"negative every":          {Address: Rate{Every: -time.Second}},
		"negative hashes":         {MaxHashesPerAddress: -1},
		"negative keys":           {MaxKeys: -1},
		"negative shared timeout": {SharedTimeout: -time.Second},
		"another header":          {ForwardedHeader: "X-Real-IP"},
		"IPv6 prefix too short":   {IPv6PrefixLen: 16},
		"IPv6 prefix too long":    {IPv6PrefixLen: 129},
		"invalid prefix":          {TrustedProxies: []netip.Prefix{{}}},
	} {
		if _, err := NewThrottle(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestThrottlePasswordAttempt: a username's budget is spent by attempts
// from any address, then refused with the time one attempt takes to
// refill; another username goes on; variants of a name share its budget.
func TestThrottlePasswordAttempt(t *testing.T) {
	c := testenv.NewClock(t0)
	th, err := NewThrottle(ThrottleConfig{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	attempt := func(name, addr string) error {
		r := httptest.NewRequest("POST", "/auth/login", nil)
		r.RemoteAddr = addr
		done, err := th.PasswordAttempt(r, name)
		if err == nil {
			done()
			done() // twice is harmless
		}
		return err
	}
	names := []string{"alice", "Alice", " ALICE ", "alice"}
	for i := range DefaultUsernameBurst {
		if err := attempt(names[i%len(names)], fmt.Sprintf("192.0.2.%d:1000", i)); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	err = attempt("aLiCe", "198.51.100.1:1")
	var le *LimitError
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &le) || le.Budget != BudgetUsername || le.RetryAfter <= 0 || le.RetryAfter > DefaultUsernameEvery {
		t.Fatalf("past the burst: %v", err)
	}
	if err := attempt("bob", "192.0.2.1:1000"); err != nil {
		t.Fatalf("another username: %v", err)
	}
	c.Advance(DefaultUsernameEvery)
	if err := attempt("alice", "192.0.2.1:1000"); err != nil {
		t.Fatalf("after a refill: %v", err)
	}
	if n := len(th.inflight); n != 0 {
		t.Fatalf("%d keys left in flight", n)
	}
	var nilThrottle *Throttle
	if done, err := nilThrottle.PasswordAttempt(httptest.NewRequest("POST", "/", nil), "x"); err != nil || done == nil {
		t.Fatal("a nil Throttle refused")
	}
}

// TestThrottleInFlight: with a username's (or an address's) checks in
// flight, one more is refused at once, and taking nothing from the
// username's budget; the slots come back with done.
func TestThrottleInFlight(t *testing.T) {
	c := testenv.NewClock(t0)
	th, _ := NewThrottle(ThrottleConfig{Now: c.Now, Username: Rate{Burst: 100}})
	req := func(addr string) *http.Request {
		r := httptest.NewRequest("POST", "/auth/login", nil)
		r.RemoteAddr = addr
		return r
	}
	var dones []func()
	for i := range DefaultMaxHashesPerUsername {
		done, err := th.PasswordAttempt(req(fmt.Sprintf("192.0.2.%d:1", i)), "alice")
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	var le *LimitError
	if _, err := th.PasswordAttempt(req("192.0.2.99:1"), "alice"); !errors.As(err, &le) || le.Budget != BudgetInFlight || le.RetryAfter != time.Second {
		t.Fatalf("one more check of alice in flight: %v", err)
	}
	// The address: two in flight from 203.0.113.7, of other users.
	for _, name := range []string{"bob", "carol"} {
		done, err := th.PasswordAttempt(req("203.0.113.7:1"), name)
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	if _, err := th.PasswordAttempt(req("203.0.113.7:2"), "dave"); !errors.As(err, &le) || le.Budget != BudgetInFlight {
		t.Fatalf("a third check from one address in flight: %v", err)
	}
	if _, err := th.PasswordAttempt(req("203.0.113.8:1"), "dave"); err != nil {
		t.Fatalf("dave from another address: %v", err)
	}
	for _, done := range dones {
		done()
	}
	if _, err := th.PasswordAttempt(req("192.0.2.99:1"), "alice"); err != nil {
		t.Fatalf("after the checks ended: %v", err)
	}
	// The refusals took nothing: alice spent one per check that ran.
	if tokens, want := th.users.tokens(th.usernameKey("alice")), float64(100-DefaultMaxHashesPerUsername-1); tokens != want {
		t.Fatalf("alice has %v tokens, want %v", tokens, want)
	}
}

// TestThrottleLimit: requests of one address beyond the burst get 429
// with Retry-After, as an OAuth error; another address goes on.
func TestThrottleLimit(t *testing.T) {
	c := testenv.NewClock(t0)
	th, _ := NewThrottle(ThrottleConfig{Address: Rate{Burst: 3, Every: 2 * time.Second}, Now: c.Now})
	h := th.Limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	do := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/auth/login", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for range 3 {
		if w := do("192.0.2.1:1000"); w.Code != 200 {
			t.Fatalf("within the burst: %d", w.Code)
		}
	}
	w := do("192.0.2.1:1001")
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" || w.Header().Get("Cache-Control") != "no-store" ||
		w.Body.String() != `{"error":"slow_down","error_description":"too many requests from this address; retry later"}`+"\n" {
		t.Fatalf("over the burst: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w := do("192.0.2.2:1000"); w.Code != 200 {
		t.Fatalf("another address: %d", w.Code)
	}
	// Retry-After is whole seconds, rounded up, at least 1.
	c.Advance(1500 * time.Millisecond)
	if w := do("192.0.2.1:1000"); w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("half a second before the refill: %d %q", w.Code, w.Header().Get("Retry-After"))
	}
	// An IPv6 client is its /64.
	for i := range 3 {
		do(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1))
	}
	if w := do("[2001:db8:1:2:ffff::1]:443"); w.Code != 429 {
		t.Fatalf("another address of the same /64: %d", w.Code)
	}
	if w := do("[2001:db8:1:3::1]:443"); w.Code != 200 {
		t.Fatalf("another /64: %d", w.Code)
	}
	var nilThrottle *Throttle
	if nilThrottle.Limit(h) == nil || nilThrottle.CheckAddress(httptest.NewRequest("GET", "/", nil)) != nil {
		t.Fatal("a nil Throttle limits")
	}
}

// TestRetryAfter: whole seconds, rounded up, at least one.
func TestRetryAfter(t *testing.T) {
	for after, want := range map[time.Duration]string{
		time.Nanosecond: "1", time.Second: "1", time.Second + 1: "2", 6 * time.Second: "6", 59500 * time.Millisecond: "60",
	} {
		w := httptest.NewRecorder()
		tooMany(w, after, "x")
		if got := w.Header().Get("Retry-After"); got != want {
			t.Errorf("%v: Retry-After %s, want %s", after, got, want)
		}
	}
}

// fakeShared is a shared limiter that fails while down is set, and
// counts its calls.
type fakeShared struct {
	inner Limiter
	down  bool
	calls int
}

func (f *fakeShared) Take(ctx context.Context, key string, r Rate) (time.Duration, error) {
	f.calls++
	if f.down {
		return 0, errors.New("connection refused")
	}
	return f.inner.Take(ctx, key, r)
}

// TestThrottleShared: with a shared limiter, it decides after the
// instance's bucket; when it fails, the instance's buckets decide alone
// (or, FailClosed, ErrLimiterUnavailable), it is not asked again for a
// second, and the log says when it stops and starts answering.
func TestThrottleShared(t *testing.T) {
	c := testenv.NewClock(t0)
	mem, _ := NewMemoryLimiter(MemoryLimiterConfig{Now: c.Now})
	logs := &testenv.SyncBuffer{}
	shared := &fakeShared{inner: mem}
	th, _ := NewThrottle(ThrottleConfig{Shared: shared, Address: Rate{Burst: 2, Every: time.Minute}, Now: c.Now, Logger: testLogger(logs)})
	r := httptest.NewRequest("POST", "/auth/token", nil)
	// Another instance spent the shared budget.
	mem.Take(context.Background(), th.addressKey(r), th.address)
	mem.Take(context.Background(), th.addressKey(r), th.address)
	var le *LimitError
	if err := th.CheckAddress(r); !errors.As(err, &le) || le.RetryAfter != time.Minute {
		t.Fatalf("the shared budget spent: %v", err)
	}
	shared.down = true
	if err := th.CheckAddress(r); err != nil {
		t.Fatalf("shared limiter down: %v, want the instance's bucket to decide", err)
	}
	if err := th.CheckAddress(r); !errors.As(err, &le) {
		t.Fatalf("the instance's bucket spent too: %v", err)
	}
	calls := shared.calls
	c.Advance(time.Minute) // the instance's bucket refills one
	if err := th.CheckAddress(r); err != nil || shared.calls != calls+1 {
		t.Fatalf("a minute later: %v, %d calls", err, shared.calls-calls)
	}
	from := func(addr string) *http.Request {
		r := httptest.NewRequest("POST", "/auth/token", nil)
		r.RemoteAddr = addr
		return r
	}
	if err := th.CheckAddress(from("198.51.100.1:1")); err != nil || shared.calls != calls+1 {
		t.Fatalf("within a second of a failure: %v, asked %d times", err, shared.calls-calls)
	}
	shared.down = false
	c.Advance(sharedRetry)
	if err := th.CheckAddress(from("198.51.100.2:1")); err != nil || shared.calls != calls+2 {
		t.Fatalf("a second after: %v, asked %d times", err, shared.calls-calls)
	}
	if got := logs.String(); countOf(got, "the shared limiter cannot answer") != 1 || countOf(got, "answers again") != 1 {
		t.Fatalf("logs: %s", got)
	}

	closed, _ := NewThrottle(ThrottleConfig{Shared: &fakeShared{down: true}, FailClosed: true, Now: c.Now})
	err := closed.CheckAddress(r)
	if !errors.Is(err, ErrLimiterUnavailable) || errors.Is(err, ErrThrottled) {
		t.Fatalf("FailClosed: %v", err)
	}
	w := httptest.NewRecorder()
	writeThrottled(w, r, err)
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("FailClosed answered %d %v", w.Code, w.Header())
	}
	if err := closed.CheckAddress(r); !errors.Is(err, ErrLimiterUnavailable) {
		t.Fatalf("FailClosed, within the second: %v", err)
	}
}

// TestMemoryLimiterBounded: a flood of distinct keys keeps at most
// MaxKeys buckets and never refuses a key that has not spent its own
// budget, and a spent bucket it makes the limiter forget comes back spent.
func TestMemoryLimiterBounded(t *testing.T) {
	ctx := context.Background()
	c := testenv.NewClock(t0)
	l, _ := NewMemoryLimiter(MemoryLimiterConfig{MaxKeys: 100, Now: c.Now})
	r := Rate{Burst: 10, Every: 6 * time.Second}
	for range 10 {
		l.Take(ctx, "demo", r)
	}
	if wait, _ := l.Take(ctx, "demo", r); wait <= 0 {
		t.Fatal("an attempt past the burst")
	}
	// 50000 usernames tried once each: none refused, 100 held, and demo,
	// spent, is never the one forgotten.
	for i := range 50000 {
		if wait, _ := l.Take(ctx, fmt.Sprint("junk-", i), r); wait > 0 {
			t.Fatalf("new key %d refused: a bucket tried once is not spent", i)
		}
	}
	if n := l.len(); n != 100 {
		t.Fatalf("%d keys held, want 100", n)
	}
	if _, held := l.m["demo"]; !held {
		t.Fatal("the flood made the limiter forget a spent bucket before full ones")
	}

	// A flood that spends whole budgets (one attempt each, burst 1)
	// makes it forget demo: demo comes back spent all the same.
	spend := Rate{Burst: 1, Every: time.Hour}
	refused := 0
	for i := range 2000 {
		if wait, _ := l.Take(ctx, fmt.Sprint("spent-", i), spend); wait > 0 {
			refused++
		}
	}
	if _, held := l.m["demo"]; held {
		t.Fatal("demo still held")
	}
	wait, _ := l.Take(ctx, "demo", r)
	if wait <= 0 || wait > 6*time.Second {
		t.Fatalf("the flood reset demo's budget: wait %v", wait)
	}
	c.Advance(wait)
	if wait, _ := l.Take(ctx, "demo", r); wait != 0 {
		t.Fatalf("demo after its refill: wait %v", wait)
	}
	// The cost: a new key starts spent when both its cells hold a spent
	// bucket (here 2000 spent keys in 1024 cells a row: most).
	t.Logf("%d of 2000 keys of the spending flood refused", refused)
	fresh := 0
	for i := range 1000 {
		if wait, _ := l.Take(ctx, fmt.Sprint("fresh-", i), r); wait == 0 {
			fresh++
		}
	}
	t.Logf("after it, %d of 1000 new keys allowed", fresh)
	c.Advance(time.Hour)
	for i := range 1000 {
		if wait, _ := l.Take(ctx, fmt.Sprint("later-", i), r); wait > 0 {
			t.Fatalf("an hour after the flood, new key %d refused", i)
		}
	}
	// The configuration changes: the bucket keeps its tokens.
	l.Take(ctx, "demo", r)
	for range 9 {
		l.Take(ctx, "demo", r)
	}
	if wait, _ := l.Take(ctx, "demo", Rate{Burst: 20, Every: time.Second}); wait <= 0 {
		t.Fatal("a new rate gave demo a full bucket")
	}
	if _, err := l.Take(ctx, "x", Rate{}); err == nil {
		t.Fatal("a zero Rate accepted")
	}
	if _, err := NewMemoryLimiter(MemoryLimiterConfig{MaxKeys: -1}); err == nil {
		t.Fatal("negative MaxKeys accepted")
	}
}

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func countOf(s, sub string) int { return strings.Count(s, sub) }

// tokens returns the tokens of key's bucket, -1 when it is not held.
func (m *MemoryLimiter) tokens(key string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[key]
	if !ok {
		return -1
	}
	return e.Value.(*bucket).lim.TokensAt(m.now())
}
