package demo

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/token/endpoint"
)

// TestLoginRateLimit: password attempts are limited per username (10 at
// once, then one per 6 s) and requests per client address; the refusal is
// 429 with Retry-After, before any password is checked.
func TestLoginRateLimit(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	tr := e.login(t, "viewer", testPassword)
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
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if resp, _ := e.do(t, "POST", "/auth/token", "grant_type=password&username=viewer&password="+testPassword, form); resp.StatusCode != 429 {
		t.Errorf("the password grant from a throttled address: %s", resp.Status)
	}
	// A refresh takes no address budget: the clients behind one address
	// (a NAT, a proxy not listed) refresh often, and a refresh token
	// cannot be guessed.
	if resp, _ := e.do(t, "POST", "/auth/token", "grant_type=refresh_token&refresh_token="+tr.RefreshToken, form); resp.StatusCode != 200 {
		t.Errorf("a refresh from a throttled address: %s", resp.Status)
	}
}

// TestTrustedProxies: -trusted-proxy takes CIDRs and addresses, and the
// variable a comma-separated list; a value that is neither, or with bits
// past its length, is refused.
func TestTrustedProxies(t *testing.T) {
	cfg, err := ParseConfig([]string{"-trusted-proxy", "10.0.0.0/8", "-trusted-proxy", "2001:db8::1"},
		env(map[string]string{"DEMO_TRUSTED_PROXIES": "192.0.2.1"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(cfg.TrustedProxies); got != "[10.0.0.0/8 2001:db8::1/128]" {
		t.Fatalf("flags: %s", got)
	}
	cfg, err = ParseConfig(nil, env(map[string]string{"DEMO_TRUSTED_PROXIES": "192.0.2.1, 172.16.0.0/12"}), io.Discard)
	if err != nil || fmt.Sprint(cfg.TrustedProxies) != "[192.0.2.1/32 172.16.0.0/12]" {
		t.Fatalf("variable: %v %v", cfg.TrustedProxies, err)
	}
	for _, bad := range []string{"proxy.internal", "10.0.0.1/8", "10.0.0.0/33", "fe80::1%eth0"} {
		if _, err := ParseConfig([]string{"-trusted-proxy", bad}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "-trusted-proxy/DEMO_TRUSTED_PROXIES") {
			t.Errorf("-trusted-proxy %s: %v", bad, err)
		}
	}
}

// TestLoginBehindProxy: with -trusted-proxy, each client behind the
// proxy has its own address budget: one that floods the login is
// refused, the next client is not.
func TestLoginBehindProxy(t *testing.T) {
	cfg := testConfig(t)
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	e := newTestEnv(t, cfg)
	login := func(user, client string) int {
		resp, _ := e.do(t, "POST", "/auth/login", `{"username":"`+user+`","password":"x"}`, http.Header{"X-Forwarded-For": {client}})
		return resp.StatusCode
	}
	n := 0
	for ; n < 100 && login(fmt.Sprintf("nobody-%d", n), "198.51.100.7") != 429; n++ {
	}
	if n != endpoint.DefaultAddressBurst {
		t.Fatalf("the flooding client was refused after %d requests, want %d", n, endpoint.DefaultAddressBurst)
	}
	if s := login("someone", "203.0.113.9"); s != 401 {
		t.Fatalf("another client behind the proxy: %d, want 401", s)
	}
}
