package endpoint_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/refresh"
)

// external is the public URL of the endpoints in these tests: the proofs'
// htu name it, not the test server's address.
const external = "https://api.example"

// TestDPoPBinding: a token request with a DPoP proof gets tokens bound to
// the proof's key (RFC 9449 §5); a bound refresh family refreshes only
// with a proof by that key; without a proof, nothing changes.
func TestDPoPBinding(t *testing.T) {
	proofs, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.DPoP, c.ExternalURL = proofs, external })
	alice, mallory := dpoptest.NewClient(t), dpoptest.NewClient(t)
	tokenURL := external + "/auth/token"
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
		"a proof for another URL": withProof(alice.Proof("POST", external+"/auth/login", "", time.Now(), nil)),
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
	// htu is the configured public URL, never the Host header the
	// client chose: a proof captured at a sibling service does not pass.
	sibling := func(r *http.Request) {
		r.Host = "other.example"
		r.Header.Set("DPoP", alice.Proof("POST", "http://other.example/auth/token", "", time.Now(), nil))
	}
	if r := e.form(t, "/auth/token", password, sibling); r.status != 400 || r.json["error"] != "invalid_dpop_proof" {
		t.Errorf("a proof for another host, its Host header sent: %d %s", r.status, r.body)
	}
}

// TestDPoPAtLogin: the JSON login endpoint binds tokens as the token
// endpoint does; a DPoP header that is not a valid proof is 400, never
// ignored.
func TestDPoPAtLogin(t *testing.T) {
	proofs, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.DPoP, c.ExternalURL = proofs, external })
	alice := dpoptest.NewClient(t)
	body := `{"username":"alice","password":"` + secret + `"}`
	login := func(proof string) reply {
		return e.do(t, "POST", "/auth/login", "application/json", body, func(r *http.Request) {
			if proof != "" {
				r.Header.Set("DPoP", proof)
			}
		})
	}
	r := login(alice.Proof("POST", external+"/auth/login", "", time.Now(), nil))
	if r.status != 200 || r.json["token_type"] != "DPoP" {
		t.Fatalf("login with a proof: %d %s", r.status, r.body)
	}
	if c, _ := e.verifier.Verify(r.json["access_token"].(string)); c == nil || c.JKT != alice.JKT() {
		t.Fatal("the access token of a login with a proof is not bound")
	}
	refresh := vals("grant_type", "refresh_token", "refresh_token", r.json["refresh_token"].(string))
	if r := e.form(t, "/auth/token", refresh, nil); r.status != 400 || r.json["error"] != "invalid_dpop_proof" {
		t.Errorf("the family of a login with a proof refreshed without one: %d %s", r.status, r.body)
	}
	for name, proof := range map[string]string{
		"garbage":                  "garbage",
		"a proof for another path": alice.Proof("POST", external+"/auth/token", "", time.Now(), nil),
	} {
		if r := login(proof); r.status != 400 || r.json["error"] != "invalid_dpop_proof" {
			t.Errorf("login with %s: %d %s", name, r.status, r.body)
		}
	}
	if r := login(""); r.status != 200 || r.json["token_type"] != "Bearer" {
		t.Errorf("login without a proof: %d %s", r.status, r.body)
	}
	// DPoP without the public URL: refused at configuration.
	cfg := endpoint.Config{DPoP: proofs}
	if _, err := endpoint.New(cfg); err == nil {
		t.Error("endpoint.New accepted DPoP without ExternalURL")
	}
}

// TestResourceIndicators: the resource parameter (RFC 8707) narrows the
// access token's audience to a configured resource; another is
// invalid_target.
func TestResourceIndicators(t *testing.T) {
	const mcp, files = issuer + "/mcp", issuer + "/files"
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.Resources = []middleware.Resource{{URL: mcp}, {URL: files}, {URL: issuer}} })
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
	// The family remembers its resource (RFC 8707 §2.2): a refresh cannot
	// widen it back to the general audience, nor move it to another.
	rt = r.json["refresh_token"].(string)
	if r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt, "resource", files), nil); r.status != 400 || r.json["error"] != "invalid_target" {
		t.Fatalf("refresh of a family for %s asking for %s: %d %s, want invalid_target", mcp, files, r.status, r.body)
	}
	r = e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil) // the refusal spent nothing
	if r.status != 200 || aud(r.json["access_token"].(string)) != mcp {
		t.Fatalf("refresh without resource of a family for %s: %d %s", mcp, r.status, r.body)
	}
	// A token for one resource cannot log out everywhere (it acts for that
	// resource alone); one for the issuer itself, the whole server, can.
	narrowed := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret, "resource", files), nil)
	if r := e.do(t, "POST", "/auth/logout-all", "", "", bearer(narrowed.json["access_token"].(string))); r.status != 401 {
		t.Errorf("logout-all with a token for %s: %d %s, want 401", files, r.status, r.body)
	}
	// A family whose resource is no longer served refreshes no more.
	gone, err := e.refresh.Issue(t.Context(), refresh.Grant{Subject: "usr_alice", ClientID: "app", Scope: "read", Resource: issuer + "/gone"}, refresh.AccessToken{})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", gone), nil); r.status != 400 || r.json["error"] != "invalid_target" {
		t.Errorf("refresh of a family for a resource no longer served: %d %s, want invalid_target", r.status, r.body)
	}
	// A family for no resource in particular may ask for one at a refresh.
	r = e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret), nil)
	r = e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", r.json["refresh_token"].(string), "resource", files), nil)
	if r.status != 200 || aud(r.json["access_token"].(string)) != files {
		t.Fatalf("refresh of a general family asking for %s: %d %s", files, r.status, r.body)
	}
	for _, res := range []string{"https://evil.example", audience, "https://api.test/mcp?x=1", "https://api.test/mcp#f",
		"https://api.test/mcp/../files", "https://api.test/mcp/%2e%2e/files", "https://api.test//mcp", "/mcp", "https://api.testx/mcp",
		"https://x@api.test/mcp", "https://x:y@api.test/mcp"} {
		if r := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret, "resource", res), nil); r.status != 400 || r.json["error"] != "invalid_target" {
			t.Errorf("resource %s: %d %s, want invalid_target", res, r.status, r.body)
		}
	}
	// RFC 7009: a token issued for a resource is revoked like any other.
	r = e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret, "resource", mcp), nil)
	narrow := r.json["access_token"].(string)
	if e.me(t, narrow) != 200 {
		t.Fatal("the token for a resource does not work")
	}
	if r := e.form(t, "/auth/revoke", vals("token", narrow), nil); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	testenv.Eventually(t, "the revoked token for a resource to be refused", func() bool { return e.me(t, narrow) == 401 })
	// A verifier that would not take the resources' tokens back (nor
	// revoke them) is a wiring mistake, refused at New.
	if _, err := endpoint.New(endpoint.Config{Issuer: e.issuer, Verifier: e.verifier, Users: e.users, Revocation: e.list, ClientID: client,
		Resources: []middleware.Resource{{URL: issuer + "/not-verified"}}, Passwords: e.passwords}); err == nil {
		t.Error("endpoint.New accepted a resource its Verifier refuses")
	}
	// A URL under a resource (the one a client followed a challenge to,
	// RFC 9728 §3.3) gets a token for that resource, the most specific.
	for res, want := range map[string]string{mcp + "/": mcp, mcp + "/tools/call": mcp, "https://API.test/mcp/x": mcp,
		issuer + "/other": issuer, issuer + "/files/a": files} {
		if r := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret, "resource", res), nil); r.status != 200 ||
			aud(r.json["access_token"].(string)) != want {
			t.Errorf("resource %s: %d %s, want a token for %s", res, r.status, r.body, want)
		}
	}
	// Two resources, even a known one beside an unknown one: refused
	// (every parameter appears once), never one chosen silently.
	for _, two := range [][2]string{{mcp, "https://evil.example"}, {mcp, mcp}} {
		if r := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret, "resource", two[0], "resource", two[1]), nil); r.status != 400 || r.json["error"] != "invalid_request" {
			t.Errorf("resources %v: %d %s, want invalid_request", two, r.status, r.body)
		}
	}
	if r := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret), nil); r.status != 200 || aud(r.json["access_token"].(string)) != audience {
		t.Errorf("no resource: %d %s", r.status, r.body)
	}
	whole := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret, "resource", issuer), nil)
	if r := e.do(t, "POST", "/auth/logout-all", "", "", bearer(whole.json["access_token"].(string))); r.status != 204 {
		t.Errorf("logout-all with a token for the issuer itself: %d %s, want 204", r.status, r.body)
	}
}

// TestDPoPAlgorithmNames: the token endpoint takes a proof whose alg is
// Ed25519, EdDSA's RFC 9864 name, as one saying EdDSA, and a proof whose
// alg it does not accept is 400 invalid_dpop_proof naming the accepted
// ones.
func TestDPoPAlgorithmNames(t *testing.T) {
	tokenURL := external + "/auth/token"
	password := vals("grant_type", "password", "username", "alice", "password", secret)
	for _, tc := range []struct {
		accepted []token.Algorithm
		alg      token.Algorithm
		status   int
		desc     string
	}{
		{nil, token.Ed25519, 200, ""},
		{nil, token.EdDSA, 200, ""},
		{[]token.Algorithm{token.EdDSA}, token.Ed25519, 200, ""},
		{[]token.Algorithm{token.Ed25519}, token.EdDSA, 200, ""},
		{[]token.Algorithm{token.ES256}, token.Ed25519, 400, "the DPoP proof's alg is not accepted; accepted algs: ES256"},
		{[]token.Algorithm{token.EdDSA}, token.ES256, 400, "the DPoP proof's alg is not accepted; accepted algs: EdDSA Ed25519"},
	} {
		proofs, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil), Algorithms: tc.accepted})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, backends[0], func(c *endpoint.Config) { c.DPoP, c.ExternalURL = proofs, external })
		c := dpoptest.NewClientFor(t, tc.alg)
		r := e.form(t, "/auth/token", password, func(r *http.Request) { r.Header.Set("DPoP", c.Proof("POST", tokenURL, "", time.Now(), nil)) })
		if r.status != tc.status || tc.status == 200 && r.json["token_type"] != "DPoP" ||
			tc.status == 400 && (r.json["error"] != "invalid_dpop_proof" || r.json["error_description"] != tc.desc) {
			t.Errorf("accepting %v, a proof with alg %s: %d %s", tc.accepted, tc.alg, r.status, r.body)
		}
	}
}

// TestDPoPNonceAtTheTokenEndpoint: a server requiring nonces answers 400
// use_dpop_nonce with a DPoP-Nonce header; the retry with it passes.
func TestDPoPNonceAtTheTokenEndpoint(t *testing.T) {
	proofs, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil), NonceKey: []byte(strings.Repeat("n", 32))})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.DPoP, c.ExternalURL = proofs, external })
	alice := dpoptest.NewClient(t)
	tokenURL := external + "/auth/token"
	password := vals("grant_type", "password", "username", "alice", "password", secret)
	r := e.form(t, "/auth/token", password, func(r *http.Request) { r.Header.Set("DPoP", alice.Proof("POST", tokenURL, "", time.Now(), nil)) })
	nonce := r.header.Get("DPoP-Nonce")
	if r.status != 400 || r.json["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("no nonce: %d %s %v", r.status, r.body, r.header)
	}
	r = e.form(t, "/auth/token", password, func(r *http.Request) {
		r.Header.Set("DPoP", alice.Proof("POST", tokenURL, "", time.Now(), func(_, cl map[string]any) { cl["nonce"] = nonce }))
	})
	if r.status != 200 || r.json["token_type"] != "DPoP" || r.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d %s %v (a success carries the current nonce too)", r.status, r.body, r.header)
	}
}

// TestMetadata: the authorization server metadata (RFC 8414) names the
// endpoints under the public URL (or the issuer), the scopes of the
// resources once each, the DPoP algorithms, and no response type.
func TestMetadata(t *testing.T) {
	proofs, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, backends[0], func(c *endpoint.Config) {
		c.DPoP, c.ExternalURL = proofs, "https://example.com/base/"
		c.Resources = []middleware.Resource{{URL: issuer, Scopes: []string{"read", "write"}}, {URL: issuer + "/mcp", Scopes: []string{"write", "mcp"}}}
	})
	m := e.srv.Metadata("/auth/")
	want := &endpoint.Metadata{
		Issuer: issuer, TokenEndpoint: "https://example.com/base/auth/token", JWKSURI: "https://example.com/base/.well-known/jwks.json",
		RevocationEndpoint: "https://example.com/base/auth/revoke", ScopesSupported: []string{"read", "write", "mcp"},
		ResponseTypesSupported: []string{}, GrantTypesSupported: []string{"password", "refresh_token"},
		TokenEndpointAuthMethodsSupported: []string{"none"}, RevocationEndpointAuthMethodsSupported: []string{"none"},
		DPoPSigningAlgValuesSupported: []string{"ES256", "EdDSA", "Ed25519"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("Metadata = %+v\nwant %+v", m, want)
	}
	w := httptest.NewRecorder()
	m.ServeHTTP(w, httptest.NewRequest("GET", endpoint.WellKnownMetadata, nil))
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 || got["issuer"] != issuer ||
		fmt.Sprint(got["response_types_supported"]) != "[]" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("GET: %d %s", w.Code, w.Body)
	}
	// Without ExternalURL, the endpoints are under the issuer; without
	// DPoP there are no proof algorithms.
	plain := newEnv(t, backends[0], nil).srv.Metadata("/oauth")
	if plain.TokenEndpoint != issuer+"/oauth/token" || plain.DPoPSigningAlgValuesSupported != nil || plain.ScopesSupported != nil {
		t.Fatalf("Metadata without ExternalURL or DPoP: %+v", plain)
	}
}

// TestMetadataPaths: the RFC 8414 §3.1 location puts the issuer's path
// after the well-known name; behind a proxy that strips it, the location
// under the issuer that earlier releases served is kept.
func TestMetadataPaths(t *testing.T) {
	key, _ := token.GenerateKey(token.EdDSA)
	keys, _ := token.NewKeySet(key)
	list, err := revocation.Open(t.Context(), revocation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { list.Close() })
	for _, tc := range []struct {
		issuer, external string
		want             []string
	}{
		{"https://host", "", []string{"/.well-known/oauth-authorization-server"}},
		{"https://host/", "", []string{"/.well-known/oauth-authorization-server"}},
		{"https://host/tenant", "", []string{"/.well-known/oauth-authorization-server/tenant", "/.well-known/oauth-authorization-server"}},
		{"https://host/tenant", "https://host/tenant", []string{"/.well-known/oauth-authorization-server/tenant", "/.well-known/oauth-authorization-server"}},
		{"https://host/a/b", "https://host/a", []string{"/.well-known/oauth-authorization-server/a/b", "/.well-known/oauth-authorization-server/b"}},
		{"https://host/tenant", "https://host", []string{"/.well-known/oauth-authorization-server/tenant"}},
		{"https://host/tenant", "https://host/ten", []string{"/.well-known/oauth-authorization-server/tenant"}},
	} {
		iss, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: tc.issuer, Audience: []string{"api"}})
		if err != nil {
			t.Fatal(err)
		}
		ver, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: tc.issuer, Audience: "api"})
		srv, err := endpoint.New(endpoint.Config{Issuer: iss, Verifier: ver, Users: &users{}, Revocation: list, ClientID: client,
			ExternalURL: tc.external, Passwords: cheapHasher(t)})
		if err != nil {
			t.Fatal(err)
		}
		if got := srv.MetadataPaths(); !slices.Equal(got, tc.want) {
			t.Errorf("issuer %s, ExternalURL %q: MetadataPaths = %q, want %q", tc.issuer, tc.external, got, tc.want)
		}
	}
}

func cheapHasher(t *testing.T) *password.Hasher {
	pw, err := password.New(testenv.CheapPasswords)
	if err != nil {
		t.Fatal(err)
	}
	return pw
}
