package endpoint_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token/endpoint"
)

// Tests of the throttle in the endpoints, over HTTP. The test server's
// clients all connect from 127.0.0.1: tests that need several client
// addresses trust 127.0.0.1 as a proxy and send X-Forwarded-For.

func defaultThrottle(c *endpoint.Config) { c.Throttle = endpoint.ThrottleConfig{} }

// xff sets the X-Forwarded-For header.
func xff(addr string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("X-Forwarded-For", addr) }
}

func (e *env) loginFrom(t *testing.T, name, pw string, edit func(*http.Request)) reply {
	t.Helper()
	return e.do(t, "POST", "/auth/login", "application/json", fmt.Sprintf(`{"username":%q,"password":%q}`, name, pw), edit)
}

// TestThrottleOnByDefault: endpoints built with no throttle configuration
// refuse the eleventh password attempt for a username with 429 and
// Retry-After, before any password is checked: as the login endpoint's
// JSON error and as the token endpoint's OAuth error; the user's next
// attempt passes once the budget refilled; the address budget covers
// every request to the endpoints.
func TestThrottleOnByDefault(t *testing.T) {
	e := newEnv(t, backends[0], defaultThrottle)
	if e.srv.Throttle() == nil {
		t.Fatal("no throttle by default")
	}
	for i := range endpoint.DefaultUsernameBurst {
		if r := e.login(t, "alice", "wrong"); r.status != 401 {
			t.Fatalf("attempt %d: %d %s", i+1, r.status, r.body)
		}
	}
	checked := e.passwords.Verifications()
	r := e.login(t, "alice", secret)
	wantError(t, r, 429, "slow_down")
	if secs, _ := strconv.Atoi(r.header.Get("Retry-After")); secs < 1 || secs > 6 || r.json["error_description"] != "too many attempts; retry later" {
		t.Fatalf("Retry-After %q, %s", r.header.Get("Retry-After"), r.body)
	}
	r = e.form(t, "/auth/token", map[string][]string{"grant_type": {"password"}, "username": {"ALICE"}, "password": {secret}}, nil)
	wantError(t, r, 429, "slow_down") // a variant of the name shares its budget
	if e.passwords.Verifications() != checked {
		t.Fatal("a throttled attempt checked a password")
	}
	if !slices.Contains(e.eventKinds(), endpoint.Throttled) {
		t.Fatalf("events %v", e.eventKinds())
	}
	if r := e.login(t, "bob", secret); r.status != 200 {
		t.Fatalf("another user: %d %s", r.status, r.body)
	}
	e.clock.Advance(endpoint.DefaultUsernameEvery)
	if r := e.login(t, "alice", secret); r.status != 200 {
		t.Fatalf("alice after a refill: %d %s", r.status, r.body)
	}
	// 14 password attempts so far; the address has 30 at once, and one
	// every 500 ms (12 in the 6 s): the 43rd is refused, whatever the
	// username. Refresh grants and revocations take no address budget.
	want := endpoint.DefaultAddressBurst + int(endpoint.DefaultUsernameEvery/endpoint.DefaultAddressEvery) + 1
	n := 15
	for ; n < 100; n++ {
		if r := e.login(t, fmt.Sprint("user", n), "wrong"); r.status == 429 {
			wantError(t, r, 429, "slow_down")
			if r.json["error_description"] != "too many requests from this address; retry later" {
				t.Fatalf("attempt %d: %s", n, r.body)
			}
			break
		}
	}
	if n != want {
		t.Fatalf("request %d from the address was refused, want %d", n, want)
	}
	for range 3 * endpoint.DefaultAddressBurst {
		if r := e.form(t, "/auth/revoke", map[string][]string{"token": {"x"}}, nil); r.status != 200 {
			t.Fatalf("a revocation from the spent address: %d %s", r.status, r.body)
		}
		r := e.form(t, "/auth/token", map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {"rt_x"}}, nil)
		wantError(t, r, 400, "invalid_grant")
	}
}

// TestFloodOfOneUsername: 60 parallel wrong passwords for one username,
// from one address, against endpoints built on the defaults (the case
// that answered 34x401 and 26x503 before the throttle was in the
// library): at most the username's burst is checked, every other
// attempt is 429, none 503.
func TestFloodOfOneUsername(t *testing.T) {
	e := newEnv(t, backends[0], defaultThrottle)
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 60 {
		wg.Go(func() {
			<-start
			r := e.login(t, "alice", "wrong")
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
		})
	}
	close(start)
	wg.Wait()
	t.Logf("statuses: %v", statuses)
	if statuses[401] > endpoint.DefaultUsernameBurst || statuses[429] < 60-endpoint.DefaultUsernameBurst || statuses[401]+statuses[429] != 60 {
		t.Fatalf("statuses %v: want at most %d 401, the rest 429", statuses, endpoint.DefaultUsernameBurst)
	}
}

// gatedUsers holds UserByName of the names starting with "g-" until
// its gate is opened: their password checks stay in flight (and end
// with 401: no such user).
type gatedUsers struct {
	endpoint.Users
	gate    chan struct{}
	arrived chan struct{}
}

func (g *gatedUsers) UserByName(ctx context.Context, name string) (endpoint.User, error) {
	if strings.HasPrefix(name, "g-") {
		g.arrived <- struct{}{}
		<-g.gate
	}
	return g.Users.UserByName(ctx, name)
}

// TestPasswordChecksInFlight: with a password check of a username in
// flight, another is refused at once (429, Retry-After 1) from any
// address, and so is a third from an address with two in flight, of any
// user; other users from other addresses go on.
func TestPasswordChecksInFlight(t *testing.T) {
	gated := &gatedUsers{gate: make(chan struct{}), arrived: make(chan struct{}, 3)}
	e := newEnv(t, backends[0], func(c *endpoint.Config) {
		c.Throttle = endpoint.ThrottleConfig{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
		gated.Users = c.Users
		c.Users = gated
	})
	results := make(chan reply, 2)
	inFlight := func(name, addr string) {
		go func() { results <- e.loginFrom(t, name, secret, xff(addr)) }()
		<-gated.arrived
	}
	inFlight("g-mallory", "198.51.100.1")
	checked := e.passwords.Verifications()
	r := e.loginFrom(t, "G-MALLORY", secret, xff("198.51.100.3"))
	wantError(t, r, 429, "slow_down")
	if r.header.Get("Retry-After") != "1" || r.json["error_description"] != "a login with these credentials is in progress; retry in a moment" {
		t.Fatalf("a second check of the username: %v %s", r.header, r.body)
	}
	inFlight("g-carol", "198.51.100.1") // 198.51.100.1 has two in flight now
	wantError(t, e.loginFrom(t, "bob", secret, xff("198.51.100.1")), 429, "slow_down")
	if e.passwords.Verifications() != checked {
		t.Fatal("a refused attempt checked a password")
	}
	if r := e.loginFrom(t, "bob", secret, xff("198.51.100.4")); r.status != 200 {
		t.Fatalf("bob from another address: %d %s", r.status, r.body)
	}
	close(gated.gate)
	for range 2 {
		if r := <-results; r.status != 401 {
			t.Fatalf("a check in flight ended with %d %s", r.status, r.body)
		}
	}
	if r := e.loginFrom(t, "bob", secret, xff("198.51.100.1")); r.status != 200 {
		t.Fatalf("bob once the checks ended: %d %s", r.status, r.body)
	}
}

// TestTrustedProxy: behind a trusted proxy each client has its own
// address budget (one flooding client does not lock out the others),
// the entries a client writes on the left are not believed, and without
// trusted proxies the header is ignored: every client shares the
// proxy's budget.
func TestTrustedProxy(t *testing.T) {
	limits := endpoint.ThrottleConfig{Address: endpoint.Rate{Burst: 3, Every: time.Minute},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.Throttle = limits })
	// attempt is a password grant for a new username each time: 200
	// for its 400 (no such user), or 429.
	n := 0
	attempt := func(edit func(*http.Request)) int {
		n++
		s := e.form(t, "/auth/token", map[string][]string{"grant_type": {"password"}, "username": {fmt.Sprint("user", n)}, "password": {"x"}}, edit).status
		if s == 400 {
			return 200
		}
		return s
	}
	for range 3 {
		if s := attempt(xff("198.51.100.1")); s != 200 {
			t.Fatalf("within the burst: %d", s)
		}
	}
	if s := attempt(xff("203.0.113.66, 198.51.100.1")); s != 429 {
		t.Fatalf("the flooding client, with a spoofed entry on the left: %d", s)
	}
	if s := attempt(xff("198.51.100.1, 203.0.113.66")); s != 200 {
		t.Fatalf("another client (the rightmost entry): %d", s)
	}
	if s := attempt(xff("198.51.100.2")); s != 200 {
		t.Fatalf("another client: %d", s)
	}

	limits.TrustedProxies = nil
	e = newEnv(t, backends[0], func(c *endpoint.Config) { c.Throttle = limits })
	for i := range 3 {
		attempt(xff(fmt.Sprint("198.51.100.", i)))
	}
	if s := attempt(xff("198.51.100.9")); s != 429 {
		t.Fatalf("without trusted proxies, the header was believed: %d", s)
	}
	if logs := e.logs.String(); !containsOnce(logs, "no trusted proxy is configured") {
		t.Fatalf("no hint (or more than one) in the logs: %s", logs)
	}
}

func containsOnce(s, sub string) bool { return strings.Count(s, sub) == 1 }

// brokenLimiter is a shared limiter that cannot answer.
type brokenLimiter struct{}

func (brokenLimiter) Take(context.Context, string, endpoint.Rate) (time.Duration, error) {
	return 0, errors.New("connection refused")
}

// TestSharedLimiterDown: when the shared limiter cannot answer, logins
// go on under the instance's own budgets, or, with FailClosed, are 503
// with Retry-After and no password is checked.
func TestSharedLimiterDown(t *testing.T) {
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.Throttle = endpoint.ThrottleConfig{Shared: brokenLimiter{}} })
	for i := range endpoint.DefaultUsernameBurst {
		if r := e.login(t, "alice", "wrong"); r.status != 401 {
			t.Fatalf("attempt %d: %d %s", i+1, r.status, r.body)
		}
	}
	wantError(t, e.login(t, "alice", "wrong"), 429, "slow_down")

	e = newEnv(t, backends[0], func(c *endpoint.Config) {
		c.Throttle = endpoint.ThrottleConfig{Shared: brokenLimiter{}, FailClosed: true}
	})
	r := e.login(t, "alice", secret)
	wantError(t, r, 503, "temporarily_unavailable")
	if r.header.Get("Retry-After") == "" || e.passwords.Verifications() != 0 {
		t.Fatalf("FailClosed: %v, %d verifications", r.header, e.passwords.Verifications())
	}
}

// TestInsecureSkipThrottle: the protection off, on purpose: no 429.
func TestInsecureSkipThrottle(t *testing.T) {
	e := newEnv(t, backends[0], func(c *endpoint.Config) {
		c.Throttle = endpoint.ThrottleConfig{}
		c.InsecureSkipThrottle = true
	})
	if e.srv.Throttle() != nil {
		t.Fatal("a throttle")
	}
	for i := range 3 * endpoint.DefaultUsernameBurst {
		if r := e.login(t, "alice", "wrong"); r.status != 401 {
			t.Fatalf("attempt %d: %d", i+1, r.status)
		}
	}
	if e.srv.Throttle().Limit(http.NotFoundHandler()) == nil {
		t.Fatal("a nil throttle's Limit")
	}
}

// panickyUsers is a user store whose lookup of "boom" panics.
type panickyUsers struct{ *users }

func (u panickyUsers) UserByName(ctx context.Context, name string) (endpoint.User, error) {
	if name == "boom" {
		panic("a bug in the user store")
	}
	return u.users.UserByName(ctx, name)
}

// TestPanicReleasesInFlight: a password check that panics (net/http
// recovers it) gives its in-flight slots back: the username and the
// address are not held for good.
func TestPanicReleasesInFlight(t *testing.T) {
	e := newEnv(t, backends[0], func(c *endpoint.Config) {
		c.Users = panickyUsers{c.Users.(*users)}
		c.Throttle = endpoint.ThrottleConfig{MaxHashesPerAddress: 1}
	})
	e.srv.Throttle() // the defaults: one check in flight per username
	for range 2 {
		req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{"username":"boom","password":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			e.srv.Login().ServeHTTP(httptest.NewRecorder(), req)
		}()
	}
	// The address (one check in flight at most) is free again, and so is
	// the username.
	if r := e.login(t, "alice", secret); r.status != 200 {
		t.Fatalf("a login after the panics: %d %s", r.status, r.body)
	}
}

// TestRetryAfterAtLeastOneSecond: whatever a Hooks.Allow returns (zero,
// negative, a fraction), Retry-After is a whole number of seconds, at
// least one.
func TestRetryAfterAtLeastOneSecond(t *testing.T) {
	for after, want := range map[time.Duration]string{-5 * time.Second: "1", -1500 * time.Millisecond: "1", 0: "1",
		time.Nanosecond: "1", time.Second: "1", 1500 * time.Millisecond: "2", time.Minute: "60"} {
		e := newEnv(t, backends[0], func(c *endpoint.Config) {
			c.Hooks.Allow = func(*http.Request, string) (bool, time.Duration) { return false, after }
		})
		r := e.login(t, "alice", secret)
		wantError(t, r, 429, "slow_down")
		if got := r.header.Get("Retry-After"); got != want {
			t.Errorf("Allow's %v: Retry-After %q, want %q", after, got, want)
		}
	}
}

// looseUsers finds a user by any name that folds to its own under
// Unicode case and accent folding, as a database collation may.
type looseUsers struct{ *users }

func (u looseUsers) UserByName(ctx context.Context, name string) (endpoint.User, error) {
	if strings.NewReplacer("é", "e", "á", "a", "í", "i").Replace(strings.ToLower(name)) == "alice" {
		return u.users.UserByName(ctx, "alice")
	}
	return u.users.UserByName(ctx, name)
}

// TestUserBudgetAcrossNames: a user store that finds one user by many
// names gives the names no budget of their own: after the username's
// burst, other names of the same user are 429 too, before any password is
// checked; other users are not.
func TestUserBudgetAcrossNames(t *testing.T) {
	e := newEnv(t, backends[0], func(c *endpoint.Config) {
		c.Users = looseUsers{c.Users.(*users)}
		c.Throttle = endpoint.ThrottleConfig{}
	})
	for i := range endpoint.DefaultUsernameBurst {
		if r := e.login(t, "alice", "wrong"); r.status != 401 {
			t.Fatalf("attempt %d: %d %s", i+1, r.status, r.body)
		}
	}
	checked := e.passwords.Verifications()
	for _, name := range []string{"alicé", "ALÍCE", "álice"} {
		r := e.login(t, name, secret)
		wantError(t, r, 429, "slow_down")
	}
	if e.passwords.Verifications() != checked {
		t.Fatal("a throttled attempt checked a password")
	}
	e.mu.Lock()
	last := e.events[len(e.events)-1]
	e.mu.Unlock()
	if last.Kind != endpoint.Throttled || last.Username != "álice" {
		t.Fatalf("the audit event of the refusal: %+v", last)
	}
	if r := e.login(t, "bob", secret); r.status != 200 {
		t.Fatalf("another user: %d %s", r.status, r.body)
	}
}
