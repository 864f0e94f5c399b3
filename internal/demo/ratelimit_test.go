package demo

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/sessionless/sessionless/token/endpoint"
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
	for i := range endpoint.DefaultUsernameBurst {
		if resp := login("demo", "wrong"); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %s", i+1, resp.Status)
		}
	}
	checked := e.passwords.Verifications()
	resp := login("demo", testPassword)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("attempt %d: %s, want 429 with Retry-After", endpoint.DefaultUsernameBurst+1, resp.Status)
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
	e.clock.Advance(endpoint.DefaultUsernameEvery)
	if resp := login("demo", testPassword); resp.StatusCode != 200 {
		t.Errorf("after %v: %s", endpoint.DefaultUsernameEvery, resp.Status)
	}
	// The address: 30 requests at once, whatever the usernames.
	n := 0
	for ; n < 100; n++ {
		if resp := login(fmt.Sprintf("nobody-%d", n), "x"); resp.StatusCode == 429 {
			break
		}
	}
	if n == 100 || n > endpoint.DefaultAddressBurst {
		t.Fatalf("the address limit let %d requests through", n)
	}
	if resp, _ := e.do(t, "POST", "/auth/token", "grant_type=refresh_token&refresh_token=x",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}); resp.StatusCode != 429 {
		t.Errorf("the token endpoint from a throttled address: %s", resp.Status)
	}
}
