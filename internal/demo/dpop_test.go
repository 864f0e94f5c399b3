package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
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
	if resp.StatusCode != 401 || !strings.Contains(ch, `DPoP algs="ES256 EdDSA Ed25519", error="invalid_dpop_proof"`) ||
		!strings.Contains(ch, `resource_metadata="http://demo.test/.well-known/oauth-protected-resource/api/me"`) {
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
	// Tokens for one of the demo's resources (RFC 8707): accepted there,
	// refused at the other (strict audiences), 401 with its metadata.
	forResource := func(res string) string {
		resp, b := e.do(t, "POST", "/auth/token", "grant_type=password&username=viewer&password="+testPassword+"&resource="+res, form)
		if resp.StatusCode != 200 {
			t.Fatalf("resource %s: %s %s", res, resp.Status, b)
		}
		return decodeInto[tokenResponse](t, b).AccessToken
	}
	const gqlMe = `{"query":"{ me { subject } }"}`
	for _, tc := range []struct {
		resource     string
		api, graphql int
	}{{base, 200, 200}, {base + "/api", 200, 401}, {base + "/graphql", 401, 200}} {
		tok := forResource(tc.resource)
		me, _ := e.me(t, "Bearer "+tok)
		gql, _ := e.do(t, "POST", "/graphql", gqlMe, http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}})
		if me.StatusCode != tc.api || gql.StatusCode != tc.graphql {
			t.Errorf("a token for %s: /api/me %d, /graphql %d; want %d, %d", tc.resource, me.StatusCode, gql.StatusCode, tc.api, tc.graphql)
		}
		if gql.StatusCode == 401 && !strings.Contains(gql.Header.Get("WWW-Authenticate"), `error="invalid_token"`) ||
			gql.StatusCode == 401 && !strings.Contains(gql.Header.Get("WWW-Authenticate"), `resource_metadata="http://demo.test/.well-known/oauth-protected-resource/graphql"`) {
			t.Errorf("a token for %s refused at /graphql: %v", tc.resource, gql.Header.Values("WWW-Authenticate"))
		}
	}
	if resp, b := e.do(t, "POST", "/auth/token", "grant_type=password&username=viewer&password="+testPassword+"&resource=https://evil.example", form); resp.StatusCode != 400 ||
		!strings.Contains(string(b), "invalid_target") {
		t.Fatalf("another resource: %s %s", resp.Status, b)
	}
	// What acts for the whole server needs a token not narrowed to one
	// resource: minting an API token (good everywhere), logging out
	// everywhere (a token may still log itself out).
	narrowed := func(res string) string {
		resp, b := e.do(t, "POST", "/auth/token", "grant_type=password&username=demo&password="+testPassword+"&resource="+res, form)
		if resp.StatusCode != 200 {
			t.Fatalf("resource %s: %s %s", res, resp.Status, b)
		}
		return decodeInto[tokenResponse](t, b).AccessToken
	}
	const tokenBody = `{"name":"ci","scopes":["widgets:read"]}`
	if resp, b := e.do(t, "POST", "/auth/logout", "", bearer(narrowed(base+"/graphql"))); resp.StatusCode != 204 {
		t.Errorf("a token for /graphql logging itself out: %s %s", resp.Status, b)
	}
	for _, tc := range []struct {
		resource          string
		create, logoutAll int
	}{{base + "/api", 401, 401}, {base + "/graphql", 401, 401}, {base, 201, 204}} { // the last one logs demo out
		tok := narrowed(tc.resource)
		resp, b := e.do(t, "POST", "/api/tokens", tokenBody, bearer(tok))
		if resp.StatusCode != tc.create {
			t.Errorf("POST /api/tokens with a token for %s: %s %s, want %d", tc.resource, resp.Status, b, tc.create)
		}
		// Refused, the challenge points at the document of the URL, a
		// part of the whole server (not of /api), whose token the client
		// can ask for.
		if resp.StatusCode == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `resource_metadata="http://demo.test/.well-known/oauth-protected-resource/api/tokens"`) {
			t.Errorf("POST /api/tokens with a token for %s: challenge %v", tc.resource, resp.Header.Values("WWW-Authenticate"))
		}
		// Listing and revoking API tokens act for the whole server too.
		list, del := 401, 401
		if tc.create == 201 {
			list, del = 200, 404 // no such token
		}
		if resp, b := e.do(t, "GET", "/api/tokens", "", bearer(tok)); resp.StatusCode != list {
			t.Errorf("GET /api/tokens with a token for %s: %s %s, want %d", tc.resource, resp.Status, b, list)
		}
		if resp, b := e.do(t, "DELETE", "/api/tokens/tok_unknown", "", bearer(tok)); resp.StatusCode != del {
			t.Errorf("DELETE /api/tokens/… with a token for %s: %s %s, want %d", tc.resource, resp.Status, b, del)
		}
		if resp, b := e.do(t, "POST", "/auth/logout-all", "", bearer(narrowed(tc.resource))); resp.StatusCode != tc.logoutAll {
			t.Errorf("POST /auth/logout-all with a token for %s: %s %s, want %d", tc.resource, resp.Status, b, tc.logoutAll)
		}
	}

	// RFC 9728 metadata: one document per resource, at the well-known
	// name followed by the resource's path (§3.1); and one for every URL
	// a resource covers, its resource identifier that URL (§3.3), with
	// the resource's scopes. A client that followed a challenge asks for
	// the URL it requested, and gets a token for the resource it lies
	// under.
	for path, resource := range map[string]string{"": base, "/api": base + "/api", "/graphql": base + "/graphql",
		"/api/me": base + "/api/me", "/api/widgets/1": base + "/api/widgets/1", "/api/tokens": base + "/api/tokens"} {
		resp, b = e.do(t, "GET", "/.well-known/oauth-protected-resource"+path, "", nil)
		var m map[string]any
		json.Unmarshal(b, &m)
		if resp.StatusCode != 200 || m["resource"] != resource || !strings.Contains(string(b), `"dpop_signing_alg_values_supported":["ES256","EdDSA","Ed25519"]`) ||
			!strings.Contains(string(b), `"authorization_servers":["http://demo.test"]`) {
			t.Errorf("protected resource metadata %s: %s %s", path, resp.Status, b)
		}
	}
	for res, api := range map[string]int{base + "/api/me": 200, base + "/api/widgets/1": 200, base + "/api/tokens": 200, base + "/graphql/x": 401} {
		if me, _ := e.me(t, "Bearer "+forResource(res)); me.StatusCode != api {
			t.Errorf("a token asked for %s at /api/me: %s, want %d", res, me.Status, api)
		}
	}
	if resp, b := e.do(t, "POST", "/api/tokens", tokenBody, bearer(narrowed(base+"/api/tokens"))); resp.StatusCode != 201 {
		t.Errorf("a token asked for /api/tokens minting an API token: %s %s", resp.Status, b)
	}
	// A challenge at a route of the whole server points at the document
	// of its URL.
	if resp, _ := e.do(t, "POST", "/auth/logout", "", nil); resp.StatusCode != 401 ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `resource_metadata="http://demo.test/.well-known/oauth-protected-resource/auth/logout"`) {
		t.Errorf("/auth/logout without a token: %s %v", resp.Status, resp.Header.Values("WWW-Authenticate"))
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

// TestDPoPIssuerWithPath: behind a proxy that strips a path (issuer
// http://demo.test/base), proofs name the public URLs the metadata
// publishes: the token endpoint under the path.
func TestDPoPIssuerWithPath(t *testing.T) {
	cfg := testConfig(t)
	cfg.Now = time.Now
	cfg.Issuer = "http://demo.test/base"
	e := newTestEnv(t, cfg)
	resp, b := e.do(t, "GET", "/.well-known/oauth-authorization-server", "", nil)
	var meta struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	json.Unmarshal(b, &meta)
	if resp.StatusCode != 200 || meta.TokenEndpoint != "http://demo.test/base/auth/token" {
		t.Fatalf("metadata: %s %s", resp.Status, b)
	}
	// Also where RFC 8414 §3.1 puts it: the well-known name, then the
	// issuer's path.
	if resp, b2 := e.do(t, "GET", "/.well-known/oauth-authorization-server/base", "", nil); resp.StatusCode != 200 || string(b2) != string(b) {
		t.Fatalf("metadata at the RFC 8414 location: %s %s", resp.Status, b2)
	}
	alice := dpoptest.NewClient(t)
	for htu, want := range map[string]int{meta.TokenEndpoint: 200, "http://demo.test/auth/token": 400} {
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "DPoP": {alice.Proof("POST", htu, "", time.Now(), nil)}}
		resp, b := e.do(t, "POST", "/auth/token", "grant_type=password&username=demo&password="+testPassword, h)
		if resp.StatusCode != want {
			t.Errorf("a proof for %s: %s %s, want %d", htu, resp.Status, b, want)
		}
	}
}

// TestResourcesBehindPaths: with an issuer whose path is one of the
// demo's own resource paths (http://demo.test/api: the whole server at
// /api, its REST API at /api/api), the demo starts and serves every
// document; an -oidc-audience that is a resource's URL is no audience
// good everywhere: a token narrowed to /api stays narrowed.
func TestResourcesBehindPaths(t *testing.T) {
	cfg := testConfig(t)
	cfg.Now = time.Now
	cfg.Issuer = "http://demo.test/api"
	e := newTestEnv(t, cfg)
	for path, want := range map[string]string{
		"/.well-known/oauth-protected-resource/api":         "http://demo.test/api",
		"/.well-known/oauth-protected-resource/api/api":     "http://demo.test/api/api",
		"/.well-known/oauth-protected-resource/api/graphql": "http://demo.test/api/graphql",
		"/.well-known/oauth-protected-resource":             "http://demo.test/api", // where an earlier release put it
		"/.well-known/oauth-protected-resource/graphql":     "http://demo.test/api/graphql",
	} {
		resp, b := e.do(t, "GET", path, "", nil)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"resource":"`+want+`"`) {
			t.Errorf("GET %s: %s %s, want %s's document", path, resp.Status, b, want)
		}
	}

	cfg = testConfig(t)
	cfg.Now = time.Now
	cfg.OIDCAudience = cfg.Issuer + "/api"
	e = newTestEnv(t, cfg)
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	resp, b := e.do(t, "POST", "/auth/token", "grant_type=password&username=demo&password="+testPassword+"&resource="+cfg.Issuer+"/api", form)
	if resp.StatusCode != 200 {
		t.Fatalf("a token for /api: %s %s", resp.Status, b)
	}
	tok := http.Header{"Authorization": {"Bearer " + decodeInto[tokenResponse](t, b).AccessToken}, "Content-Type": {"application/json"}}
	if resp, _ := e.do(t, "POST", "/graphql", `{"query":"{ me { subject } }"}`, tok); resp.StatusCode != 401 {
		t.Errorf("a token for /api at /graphql: %s", resp.Status)
	}
	if resp, _ := e.do(t, "POST", "/api/tokens", `{"name":"x"}`, tok); resp.StatusCode != 401 {
		t.Errorf("a token for /api minting an API token: %s", resp.Status)
	}
}

// TestGeneralAudiences: the demo's own audience, and the providers' with
// -oidc-issuer, once; never a resource's URL.
func TestGeneralAudiences(t *testing.T) {
	res := resourcesOf("http://demo.test")
	for _, tc := range []struct {
		audience, oidcAudience string
		issuers                []string
		want                   []string
	}{
		{"demo-api", "demo-api", nil, []string{"demo-api"}},
		{"demo-api", "other", nil, []string{"demo-api"}},
		{"demo-api", "other", []string{"https://idp"}, []string{"demo-api", "other"}},
		{"demo-api", "http://demo.test/api", []string{"https://idp"}, []string{"demo-api"}},
		{"http://demo.test", "http://demo.test/graphql", []string{"https://idp"}, nil},
	} {
		got := generalAudiences(Config{Audience: tc.audience, OIDCAudience: tc.oidcAudience, OIDCIssuers: tc.issuers}, res)
		if !slices.Equal(got, tc.want) {
			t.Errorf("generalAudiences(%q, %q, %v) = %q, want %q", tc.audience, tc.oidcAudience, tc.issuers, got, tc.want)
		}
	}
}
