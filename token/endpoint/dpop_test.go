package endpoint_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/token/endpoint"
)

// TestDPoPBinding: a token request with a DPoP proof gets tokens bound to
// the proof's key (RFC 9449 §5); a bound refresh family refreshes only
// with a proof by that key; without a proof, nothing changes.
func TestDPoPBinding(t *testing.T) {
	proofs, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.DPoP = proofs })
	alice, mallory := dpoptest.NewClient(t), dpoptest.NewClient(t)
	tokenURL := e.ts.URL + "/auth/token"
	withProof := func(p string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("DPoP", p) } }
	proof := func(c *dpoptest.Client) func(*http.Request) {
		return withProof(c.Proof("POST", tokenURL, "", time.Now(), nil))
	}
	password := vals("grant_type", "password", "username", "alice", "password", secret)

	r := e.form(t, "/auth/token", password, proof(alice))
	if r.status != 200 || r.json["token_type"] != "DPoP" {
		t.Fatalf("password grant with a proof: %d %s", r.status, r.body)
	}
	access, rt := r.json["access_token"].(string), r.json["refresh_token"].(string)
	c, err := e.verifier.Verify(access)
	if err != nil || c.JKT != alice.JKT() {
		t.Fatalf("the access token's cnf.jkt: %v %q, want %q", err, c.JKT, alice.JKT())
	}
	refresh := vals("grant_type", "refresh_token", "refresh_token", rt)
	for name, edit := range map[string]func(*http.Request){
		"no proof":                nil,
		"another key's proof":     proof(mallory),
		"a proof for another URL": withProof(alice.Proof("POST", e.ts.URL+"/auth/login", "", time.Now(), nil)),
	} {
		if r := e.form(t, "/auth/token", refresh, edit); r.status != 400 || r.json["error"] != "invalid_dpop_proof" {
			t.Errorf("refreshing a bound family, %s: %d %s", name, r.status, r.body)
		}
	}
	// Those refusals spent nothing: the right proof refreshes.
	r = e.form(t, "/auth/token", refresh, proof(alice))
	if r.status != 200 || r.json["token_type"] != "DPoP" {
		t.Fatalf("refresh with the family's key: %d %s", r.status, r.body)
	}
	if c, _ := e.verifier.Verify(r.json["access_token"].(string)); c == nil || c.JKT != alice.JKT() {
		t.Fatal("the refreshed access token is not bound to the family's key")
	}
	// A proof replayed at the token endpoint is refused.
	replayed := alice.Proof("POST", tokenURL, "", time.Now(), nil)
	e.form(t, "/auth/token", password, withProof(replayed))
	if r := e.form(t, "/auth/token", password, withProof(replayed)); r.status != 400 || r.json["error"] != "invalid_dpop_proof" {
		t.Errorf("a replayed proof: %d %s", r.status, r.body)
	}
	// Without a proof: bearer tokens, an unbound family.
	r = e.form(t, "/auth/token", password, nil)
	if r.status != 200 || r.json["token_type"] != "Bearer" {
		t.Fatalf("without a proof: %d %s", r.status, r.body)
	}
	if c, _ := e.verifier.Verify(r.json["access_token"].(string)); c == nil || c.JKT != "" {
		t.Fatal("a bearer token with cnf")
	}
	r = e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", r.json["refresh_token"].(string)), nil)
	if r.status != 200 || r.json["token_type"] != "Bearer" {
		t.Fatalf("refreshing an unbound family without a proof: %d %s", r.status, r.body)
	}
	// A proof on the refresh of an unbound family binds the family from
	// then on (RFC 9449 §5), not only the new access token.
	r = e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", r.json["refresh_token"].(string)), proof(alice))
	if r.status != 200 || r.json["token_type"] != "DPoP" {
		t.Fatalf("refreshing an unbound family with a proof: %d %s", r.status, r.body)
	}
	refresh = vals("grant_type", "refresh_token", "refresh_token", r.json["refresh_token"].(string))
	for name, edit := range map[string]func(*http.Request){"no proof": nil, "another key's proof": proof(mallory)} {
		if r := e.form(t, "/auth/token", refresh, edit); r.status != 400 || r.json["error"] != "invalid_dpop_proof" {
			t.Errorf("refreshing a family bound on refresh, %s: %d %s", name, r.status, r.body)
		}
	}
	if r := e.form(t, "/auth/token", refresh, proof(alice)); r.status != 200 || r.json["token_type"] != "DPoP" {
		t.Errorf("refreshing a family bound on refresh, with its key: %d %s", r.status, r.body)
	}
	// Two proofs: refused.
	two := func(r *http.Request) {
		r.Header.Add("DPoP", alice.Proof("POST", tokenURL, "", time.Now(), nil))
		r.Header.Add("DPoP", alice.Proof("POST", tokenURL, "", time.Now(), nil))
	}
	if r := e.form(t, "/auth/token", password, two); r.status != 400 || r.json["error"] != "invalid_dpop_proof" {
		t.Errorf("two proofs: %d %s", r.status, r.body)
	}
}

// TestResourceIndicators: the resource parameter (RFC 8707) narrows the
// access token's audience to a configured resource; another is
// invalid_target.
func TestResourceIndicators(t *testing.T) {
	const mcp = "https://api.test/mcp"
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.Resources = []string{mcp} })
	aud := func(access string) string {
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(access, ".")[1])
		var c struct{ Aud any }
		json.Unmarshal(payload, &c)
		return fmt.Sprint(c.Aud)
	}
	r := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret, "resource", mcp), nil)
	if r.status != 200 || aud(r.json["access_token"].(string)) != mcp {
		t.Fatalf("resource %s: %d %s", mcp, r.status, r.body)
	}
	rt := r.json["refresh_token"].(string)
	r = e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt, "resource", mcp), nil)
	if r.status != 200 || aud(r.json["access_token"].(string)) != mcp {
		t.Fatalf("refresh with resource: %d %s", r.status, r.body)
	}
	for _, res := range []string{"https://evil.example", "https://api.test/mcp/", audience} {
		if r := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret, "resource", res), nil); r.status != 400 || r.json["error"] != "invalid_target" {
			t.Errorf("resource %s: %d %s, want invalid_target", res, r.status, r.body)
		}
	}
	if r := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret), nil); r.status != 200 || aud(r.json["access_token"].(string)) != audience {
		t.Errorf("no resource: %d %s", r.status, r.body)
	}
}

// TestDPoPNonceAtTheTokenEndpoint: a server requiring nonces answers 400
// use_dpop_nonce with a DPoP-Nonce header; the retry with it passes.
func TestDPoPNonceAtTheTokenEndpoint(t *testing.T) {
	proofs, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil), NonceKey: []byte(strings.Repeat("n", 32))})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.DPoP = proofs })
	alice := dpoptest.NewClient(t)
	tokenURL := e.ts.URL + "/auth/token"
	password := vals("grant_type", "password", "username", "alice", "password", secret)
	r := e.form(t, "/auth/token", password, func(r *http.Request) { r.Header.Set("DPoP", alice.Proof("POST", tokenURL, "", time.Now(), nil)) })
	nonce := r.header.Get("DPoP-Nonce")
	if r.status != 400 || r.json["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("no nonce: %d %s %v", r.status, r.body, r.header)
	}
	r = e.form(t, "/auth/token", password, func(r *http.Request) {
		r.Header.Set("DPoP", alice.Proof("POST", tokenURL, "", time.Now(), func(_, cl map[string]any) { cl["nonce"] = nonce }))
	})
	if r.status != 200 || r.json["token_type"] != "DPoP" {
		t.Fatalf("with the nonce: %d %s", r.status, r.body)
	}
}
