package demo

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestLoginRateLimit: password attempts are limited per username (10 at
// once, then one per 6 s) and requests per client address; the refusal is
// 429 with Retry-After, before any password is checked.
func TestLoginRateLimit(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	login := func(user, pw string) *http.Response {
		resp, _ := e.do(t, "POST", "/auth/login", `{"username":"`+user+`","password":"`+pw+`"}`, nil)
		return resp
	}
	for i := range perUsernameBurst {
		if resp := login("demo", "wrong"); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %s", i+1, resp.Status)
		}
	}
	checked := e.passwords.Verifications()
	resp := login("demo", testPassword)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("attempt %d: %s, want 429 with Retry-After", perUsernameBurst+1, resp.Status)
	}
	if secs, _ := strconv.Atoi(resp.Header.Get("Retry-After")); secs < 1 || secs > 6 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if e.passwords.Verifications() != checked {
		t.Error("a throttled attempt checked a password")
	}
	if resp := login("viewer", testPassword); resp.StatusCode != 200 {
		t.Errorf("another user, same address: %s", resp.Status)
	}
	e.clock.Advance(perUsernameEvery)
	if resp := login("demo", testPassword); resp.StatusCode != 200 {
		t.Errorf("after %v: %s", perUsernameEvery, resp.Status)
	}
	// The address: 30 requests at once, whatever the usernames.
	n := 0
	for ; n < 100; n++ {
		if resp := login(fmt.Sprintf("nobody-%d", n), "x"); resp.StatusCode == 429 {
			break
		}
	}
	if n == 100 || n > perAddressBurst {
		t.Fatalf("the address limit let %d requests through", n)
	}
	if resp, _ := e.do(t, "POST", "/auth/token", "grant_type=refresh_token&refresh_token=x",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}); resp.StatusCode != 429 {
		t.Errorf("the token endpoint from a throttled address: %s", resp.Status)
	}
}

// TestLimiterMemory: a flood of distinct keys keeps at most the bound.
func TestLimiterMemory(t *testing.T) {
	c := newTestClock()
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
	c := newTestClock()
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
		if got := clientAddr(&http.Request{RemoteAddr: in}); got != want {
			t.Errorf("clientAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
