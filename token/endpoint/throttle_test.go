package endpoint

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
)

// TestThrottleAllow: Allow spends a username's budget, then refuses for
// as long as one attempt takes to refill; other usernames are unaffected.
func TestThrottleAllow(t *testing.T) {
	c := testenv.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	th, err := NewThrottle(ThrottleConfig{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range DefaultUsernameBurst {
		if ok, _ := th.Allow(nil, "alice"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	ok, wait := th.Allow(nil, "alice")
	if ok || wait <= 0 || wait > DefaultUsernameEvery {
		t.Fatalf("attempt %d: %v, retry after %v", DefaultUsernameBurst+1, ok, wait)
	}
	if ok, _ := th.Allow(nil, "bob"); !ok {
		t.Fatal("another username refused")
	}
	c.Advance(DefaultUsernameEvery)
	if ok, _ := th.Allow(nil, "alice"); !ok {
		t.Fatal("refused after a refill")
	}
	for _, bad := range []ThrottleConfig{{UsernameBurst: -1}, {AddressEvery: -time.Second}, {MaxKeys: -1}} {
		if _, err := NewThrottle(bad); err == nil {
			t.Errorf("NewThrottle(%+v) accepted", bad)
		}
	}
}

// TestThrottleLimit: requests of one address beyond the burst get 429
// with Retry-After, as an OAuth error; another address goes on.
func TestThrottleLimit(t *testing.T) {
	c := testenv.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	th, _ := NewThrottle(ThrottleConfig{AddressBurst: 3, AddressEvery: 2 * time.Second, Now: c.Now})
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
}

// TestLimiterMemory: a flood of distinct keys keeps at most the bound.
func TestLimiterMemory(t *testing.T) {
	c := testenv.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := newLimiters(time.Second, 1, 100, c.Now)
	for i := range 10000 {
		c.Advance(20 * time.Millisecond) // the oldest budgets refill in time
		if res, _ := l.reserve(strconv.Itoa(i)); res == nil {
			t.Fatalf("new key %d refused", i)
		}
	}
	if n := l.len(); n != 100 {
		t.Fatalf("%d keys held, want 100", n)
	}
}

// TestLimiterKeepsDepletedBudgets: a flood of other keys does not reset a
// depleted budget: the new keys are refused until it has refilled.
func TestLimiterKeepsDepletedBudgets(t *testing.T) {
	c := testenv.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := newLimiters(6*time.Second, 2, 100, c.Now)
	for range 2 {
		l.reserve("demo")
	}
	if res, _ := l.reserve("demo"); res != nil {
		t.Fatal("a third attempt within the burst of 2")
	}
	refused := 0
	for i := range 1000 {
		if res, _ := l.reserve(fmt.Sprint("junk-", i)); res == nil {
			refused++
		}
	}
	if res, _ := l.reserve("demo"); res != nil {
		t.Fatal("the flood of other usernames reset demo's budget")
	}
	// A new key waits until the oldest budget has refilled, all of it:
	// two attempts of 6 s.
	one := newLimiters(6*time.Second, 2, 1, c.Now)
	one.reserve("a")
	one.reserve("a")
	if res, wait := one.reserve("b"); res != nil || wait != 12*time.Second {
		t.Fatalf("a new key with the table full: %v, retry after %v; want 12s", res, wait)
	}
	if refused == 0 {
		t.Fatal("no key refused with the table full of depleted budgets")
	}
	c.Advance(12 * time.Second)
	if res, _ := l.reserve("someone-new"); res == nil {
		t.Fatal("a new key refused once the old budgets have refilled")
	}
}

// TestClientAddr: an IPv6 client is its /64.
func TestClientAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:1234":             "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:80":      "192.0.2.7",
		"not an address":             "not an address",
	} {
		if got := ClientAddr(&http.Request{RemoteAddr: in}); got != want {
			t.Errorf("ClientAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
