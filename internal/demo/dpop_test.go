package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/dpop/dpoptest"
)

// TestDPoP: the demo binds tokens to a DPoP key at /auth/token, checks a
// proof on every /api request with a bound token, refuses the Bearer
// bypass, and announces it all in its metadata.
func TestDPoP(t *testing.T) {
	cfg := testConfig(t)
	cfg.Now = time.Now // proofs carry the real time
	e := newTestEnv(t, cfg)
	alice := dpoptest.NewClient(t)
	const base = "http://demo.test" // the issuer: the public URL proofs name
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	withProof := func(h http.Header, p string) http.Header {
		h = h.Clone()
		h.Set("DPoP", p)
		return h
	}
	resp, b := e.do(t, "POST", "/auth/token", "grant_type=password&username=demo&password="+testPassword,
		withProof(form, alice.Proof("POST", base+"/auth/token", "", time.Now(), nil)))
	tr := decodeInto[tokenResponse](t, b)
	if resp.StatusCode != 200 || tr.TokenType != "DPoP" {
		t.Fatalf("token request with a proof: %s %s", resp.Status, b)
	}
	call := func(scheme string, proof string) *http.Response {
		h := http.Header{"Authorization": {scheme + " " + tr.AccessToken}}
		if proof != "" {
			h.Set("DPoP", proof)
		}
		resp, _ := e.do(t, "GET", "/api/me", "", h)
		return resp
	}
	if resp := call("DPoP", alice.Proof("GET", base+"/api/me", tr.AccessToken, time.Now(), nil)); resp.StatusCode != 200 {
		t.Fatalf("/api/me with the bound token and a proof: %s", resp.Status)
	}
	if resp := call("Bearer", ""); resp.StatusCode != 401 {
		t.Fatalf("the bound token as a bearer token: %s, want 401", resp.Status)
	}
	resp = call("DPoP", "")
	ch := strings.Join(resp.Header.Values("WWW-Authenticate"), " | ")
	if resp.StatusCode != 401 || !strings.Contains(ch, `DPoP algs="ES256 EdDSA", error="invalid_dpop_proof"`) ||
		!strings.Contains(ch, `resource_metadata="http://demo.test/.well-known/oauth-protected-resource"`) {
		t.Fatalf("no proof: %s %s", resp.Status, ch)
	}
	// The bound refresh family needs the key.
	if resp, b := e.do(t, "POST", "/auth/token", "grant_type=refresh_token&refresh_token="+tr.RefreshToken, form); resp.StatusCode != 400 ||
		!strings.Contains(string(b), "invalid_dpop_proof") {
		t.Fatalf("refresh without a proof: %s %s", resp.Status, b)
	}
	if resp, b := e.do(t, "POST", "/auth/token", "grant_type=refresh_token&refresh_token="+tr.RefreshToken,
		withProof(form, alice.Proof("POST", base+"/auth/token", "", time.Now(), nil))); resp.StatusCode != 200 {
		t.Fatalf("refresh with the key: %s %s", resp.Status, b)
	}
	// A token for this API as a resource (RFC 8707).
	if resp, b := e.do(t, "POST", "/auth/token", "grant_type=password&username=viewer&password="+testPassword+"&resource="+base, form); resp.StatusCode != 200 {
		t.Fatalf("resource %s: %s %s", base, resp.Status, b)
	} else if me, _ := e.me(t, "Bearer "+decodeInto[tokenResponse](t, b).AccessToken); me.StatusCode != 200 {
		t.Fatalf("a token whose audience is the resource: %s", me.Status)
	}
	if resp, b := e.do(t, "POST", "/auth/token", "grant_type=password&username=viewer&password="+testPassword+"&resource=https://evil.example", form); resp.StatusCode != 400 ||
		!strings.Contains(string(b), "invalid_target") {
		t.Fatalf("another resource: %s %s", resp.Status, b)
	}
	// RFC 9728 metadata.
	resp, b = e.do(t, "GET", "/.well-known/oauth-protected-resource", "", nil)
	var m map[string]any
	json.Unmarshal(b, &m)
	if resp.StatusCode != 200 || m["resource"] != base || !strings.Contains(string(b), `"dpop_signing_alg_values_supported":["ES256","EdDSA"]`) ||
		!strings.Contains(string(b), `"authorization_servers":["http://demo.test"]`) {
		t.Fatalf("protected resource metadata: %s %s", resp.Status, b)
	}
}

// TestDPoPNonces: with DEMO_DPOP_NONCE_KEY the demo requires nonces.
func TestDPoPNonces(t *testing.T) {
	cfg, err := ParseConfig(nil, env(map[string]string{"DEMO_DPOP_NONCE_KEY": strings.Repeat("A", 43)}), io.Discard)
	if err != nil || len(cfg.DPoPNonceKey) != 32 {
		t.Fatalf("DEMO_DPOP_NONCE_KEY: %v", err)
	}
	if _, err := ParseConfig(nil, env(map[string]string{"DEMO_DPOP_NONCE_KEY": "short"}), io.Discard); err == nil {
		t.Error("a short DEMO_DPOP_NONCE_KEY accepted")
	}
	tc := testConfig(t)
	tc.Now, tc.DPoPNonceKey = time.Now, cfg.DPoPNonceKey
	e := newTestEnv(t, tc)
	alice := dpoptest.NewClient(t)
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "DPoP": {alice.Proof("POST", "http://demo.test/auth/token", "", time.Now(), nil)}}
	resp, b := e.do(t, "POST", "/auth/token", "grant_type=password&username=demo&password="+testPassword, h)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "use_dpop_nonce") || resp.Header.Get("DPoP-Nonce") == "" {
		t.Fatalf("a proof without the nonce: %s %s", resp.Status, b)
	}
}
