package dpop_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// TestMiddleware: DPoP-bound tokens through the middleware over real
// HTTP: a proof on every request, cached token or not; no Bearer bypass.
func TestMiddleware(t *testing.T) {
	cache := &switchableCache{ReplayCache: dpop.NewMemoryCache(nil)}
	iss, auth, srv := dpopServer(t, dpop.Config{Replay: cache})
	alice, mallory := dpoptest.NewClient(t), dpoptest.NewClient(t)
	bound, _, err := iss.Issue(token.Claims{Subject: "alice", JKT: alice.JKT()})
	if err != nil {
		t.Fatal(err)
	}
	plain, _, _ := iss.Issue(token.Claims{Subject: "bob"})
	expired, _, _ := iss.Issue(token.Claims{Subject: "alice", JKT: alice.JKT(), IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)})
	const url = "https://api.example/api/widgets" // the external URL: the proxy's
	send := func(method, path, authz string, proofs ...string) (int, http.Header) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		for _, p := range proofs {
			req.Header.Add("DPoP", p)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	ok := alice.Proof("GET", url, bound, time.Now(), nil)
	if code, _ := send("GET", "/api/widgets", "DPoP "+bound, ok); code != 200 {
		t.Fatalf("a bound token with its proof: %d", code)
	}
	// The token is cached now; the proof is still checked.
	if code, _ := send("GET", "/api/widgets", "DPoP "+bound, alice.Proof("GET", url, bound, time.Now(), nil)); code != 200 {
		t.Fatalf("again, cached, a new proof: %d", code)
	}
	for name, tc := range map[string]struct {
		authz  string
		proofs []string
		status int
		err    string
	}{
		"the same proof again":             {"DPoP " + bound, []string{ok}, 401, "invalid_dpop_proof"},
		"as a bearer token (the bypass)":   {"Bearer " + bound, nil, 401, "invalid_token"},
		"as a bearer token, with a proof":  {"Bearer " + bound, []string{alice.Proof("GET", url, bound, time.Now(), nil)}, 401, "invalid_token"},
		"no proof":                         {"DPoP " + bound, nil, 401, "invalid_dpop_proof"},
		"two proofs":                       {"DPoP " + bound, []string{alice.Proof("GET", url, bound, time.Now(), nil), alice.Proof("GET", url, bound, time.Now(), nil)}, 401, "invalid_dpop_proof"},
		"a proof by another key":           {"DPoP " + bound, []string{mallory.Proof("GET", url, bound, time.Now(), nil)}, 401, "invalid_dpop_proof"},
		"a proof for another method":       {"DPoP " + bound, []string{alice.Proof("POST", url, bound, time.Now(), nil)}, 401, "invalid_dpop_proof"},
		"a proof for the internal URL":     {"DPoP " + bound, []string{alice.Proof("GET", srv.URL+"/api/widgets", bound, time.Now(), nil)}, 401, "invalid_dpop_proof"},
		"a proof for another access token": {"DPoP " + bound, []string{alice.Proof("GET", url, plain, time.Now(), nil)}, 401, "invalid_dpop_proof"},
		"a bearer token under DPoP":        {"DPoP " + plain, []string{alice.Proof("GET", url, plain, time.Now(), nil)}, 401, "invalid_token"},
		"an expired bound token":           {"DPoP " + expired, []string{alice.Proof("GET", url, expired, time.Now(), nil)}, 401, "invalid_token"},
	} {
		code, h := send("GET", "/api/widgets", tc.authz, tc.proofs...)
		challenges := strings.Join(h.Values("WWW-Authenticate"), " | ")
		if code != tc.status || !strings.Contains(challenges, `error="`+tc.err+`"`) || !strings.Contains(challenges, `DPoP algs="ES256 EdDSA Ed25519"`) {
			t.Errorf("%s: %d %s", name, code, challenges)
		}
		// The error is on the challenge of the scheme the client used
		// (RFC 9449 §7.1), a DPoP error always on the DPoP one.
		scheme, _, _ := strings.Cut(tc.authz, " ")
		if tc.err == "invalid_dpop_proof" {
			scheme = "DPoP"
		}
		for _, c := range h.Values("WWW-Authenticate") {
			if strings.HasPrefix(c, scheme+" ") != strings.Contains(c, "error=") {
				t.Errorf("%s: the error is not on the %s challenge alone: %s", name, scheme, challenges)
			}
		}
	}
	if code, _ := send("GET", "/api/widgets", "Bearer "+plain); code != 200 {
		t.Errorf("a bearer token as Bearer: %d", code)
	}
	// The replay cache down: 503, fail closed.
	cache.down = true
	if code, _ := send("GET", "/api/widgets", "DPoP "+bound, alice.Proof("GET", url, bound, time.Now(), nil)); code != 503 {
		t.Errorf("replay cache down: %d, want 503", code)
	}
	// Outside HTTP (Authenticate), a bound token has no proof: refused.
	if _, err := auth.Authenticate(ctx, bound); err == nil {
		t.Error("Authenticate accepted a bound token without a proof")
	}
}

type switchableCache struct {
	dpop.ReplayCache
	down bool
}

func (c *switchableCache) Remember(ctx2 context.Context, key string, expires time.Time) (bool, error) {
	if c.down {
		return false, errors.New("down")
	}
	return c.ReplayCache.Remember(ctx2, key, expires)
}

// TestMiddlewareNonce: a server requiring nonces answers 401
// use_dpop_nonce with a DPoP-Nonce header; the retry with it passes.
func TestMiddlewareNonce(t *testing.T) {
	iss, _, srv := dpopServer(t, dpop.Config{Replay: dpop.NewMemoryCache(nil), NonceKey: []byte(strings.Repeat("n", 32))})
	alice := dpoptest.NewClient(t)
	bound, _, _ := iss.Issue(token.Claims{Subject: "alice", JKT: alice.JKT()})
	get := func(proof string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
		req.Header.Set("Authorization", "DPoP "+bound)
		req.Header.Set("DPoP", proof)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := get(alice.Proof("GET", "https://api.example/x", bound, time.Now(), nil))
	nonce := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != 401 || nonce == "" || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), " "), `error="use_dpop_nonce"`) {
		t.Fatalf("no nonce: %d %v", resp.StatusCode, resp.Header)
	}
	resp = get(alice.Proof("GET", "https://api.example/x", bound, time.Now(), func(_, cl map[string]any) { cl["nonce"] = nonce }))
	if resp.StatusCode != 200 || resp.Header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d %v (a success carries the current nonce: the next proof needs no retry)", resp.StatusCode, resp.Header)
	}
}

// TestMiddlewareURLsAndChallenges: htu is checked against the configured
// public URL, never the client's Host header (a proof captured at a
// sibling service does not pass here), also behind a proxy with a path
// prefix and under http.StripPrefix; the challenges of a DPoP request
// carry its error, also for 403; the resource metadata can be per route.
func TestMiddlewareURLsAndChallenges(t *testing.T) {
	s := tokentest.MustSigner(token.ES256)
	keys := tokentest.KeySet(s)
	iss, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience}})
	verifier, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: tokentest.Issuer, Audience: tokentest.Audience})
	proofs, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := middleware.Config{JWT: map[string]middleware.Verifier{tokentest.Issuer: verifier}, DPoP: proofs}
	if _, err := middleware.New(cfg); err == nil {
		t.Fatal("DPoP without ExternalURL accepted: htu would trust the Host header")
	}
	for _, bad := range []string{"api.example", "https://api.example/?x", "https://u@api.example", "https://api.example/a/../b"} {
		cfg.ExternalURL = bad
		if _, err := middleware.New(cfg); err == nil {
			t.Errorf("ExternalURL %q accepted", bad)
		}
	}
	// The public URL is https://example.com/base: a proxy strips /base;
	// here the app also mounts the API under /v1 with StripPrefix.
	cfg.ExternalURL = "https://example.com/base/"
	// Two resources: the whole server, and /v1 under it; the challenges
	// of /v1/… point at the document of the public URL requested (RFC
	// 9728 §3.3), at its RFC 9728 §3.1 location.
	cfg.Resources = []middleware.Resource{{URL: "https://example.com/base"}, {URL: "https://example.com/base/v1"}}
	auth, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("/v1/", http.StripPrefix("/v1", auth.Middleware(ok)))
	mux.Handle("/admin", auth.Middleware(auth.RequireScopes("admin")(ok)))
	mux.Handle("/mine", auth.Middleware(auth.Require(func(p *identity.Principal) error {
		if p.Subject != "bob" {
			return fmt.Errorf("%w: not bob's", middleware.ErrInvalidToken)
		}
		return nil
	})(ok)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	alice := dpoptest.NewClient(t)
	bound, _, _ := iss.Issue(token.Claims{Subject: "alice", JKT: alice.JKT(), Scope: "read"})
	send := func(path, host, htu string) (int, []string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if host != "" {
			req.Host = host
		}
		req.Header.Set("Authorization", "DPoP "+bound)
		req.Header.Set("DPoP", alice.Proof("GET", htu, bound, time.Now(), nil))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Values("WWW-Authenticate")
	}
	if code, h := send("/v1/widgets", "", "https://example.com/base/v1/widgets"); code != 200 {
		t.Errorf("htu the public URL of the path as sent, behind StripPrefix: %d %v", code, h)
	}
	for name, tc := range map[string]struct{ path, host, htu string }{
		"a proof for a sibling service, its Host sent": {"/v1/widgets", "other.example", "http://other.example/v1/widgets"},
		"a proof for the internal URL":                 {"/v1/widgets", "", srv.URL + "/v1/widgets"},
		"a proof for the path after StripPrefix":       {"/v1/widgets", "", "https://example.com/base/widgets"},
		"a proof without the proxy's prefix":           {"/v1/widgets", "", "https://example.com/v1/widgets"},
	} {
		code, h := send(tc.path, tc.host, tc.htu)
		if code != 401 || len(h) != 2 || !strings.HasPrefix(h[1], "DPoP ") || !strings.Contains(h[1], `error="invalid_dpop_proof"`) {
			t.Errorf("%s: %d %v", name, code, h)
		}
		if len(h) == 2 && !strings.Contains(h[0], `resource_metadata="https://example.com/.well-known/oauth-protected-resource/base/v1/widgets"`) {
			t.Errorf("%s: resource_metadata not chosen per request: %v", name, h)
		}
	}
	// A request-target with dot segments must not climb out of the
	// public URL's path to a sibling's URL (https://example.com/api/me),
	// whatever the router in front does with it.
	direct := auth.Middleware(ok)
	for _, target := range []string{"/../api/me", "/%2E%2E/api/me", "/%2e%2e/api/me", "/./../api/me"} {
		req := httptest.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", "DPoP "+bound)
		req.Header.Set("DPoP", alice.Proof("GET", "https://example.com/api/me", bound, time.Now(), nil))
		rec := httptest.NewRecorder()
		direct.ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Errorf("request-target %s with a proof for the sibling https://example.com/api/me: %d, want 401", target, rec.Code)
		}
	}
	// 403 for a DPoP request: insufficient_scope and the scope on the
	// DPoP challenge, offered beside the Bearer one.
	code, h := send("/admin", "", "https://example.com/base/admin")
	if code != 403 || len(h) != 2 || h[0] != `Bearer realm="api"` ||
		!strings.HasPrefix(h[1], `DPoP algs="ES256 EdDSA Ed25519", error="insufficient_scope"`) || !strings.Contains(h[1], `scope="admin"`) {
		t.Errorf("403 to a DPoP request: %d %q", code, h)
	}
	// Require: the check's refusal, answered as the middleware's own.
	code, h = send("/mine", "", "https://example.com/base/mine")
	if code != 401 || len(h) != 2 || !strings.Contains(h[1], `error="invalid_token"`) {
		t.Errorf("Require refusing: %d %q", code, h)
	}
}

// TestMiddlewareEd25519: a client signing its proofs with alg "Ed25519"
// (RFC 9864, as oauth4webapi does) is served like one that writes EdDSA.
func TestMiddlewareEd25519(t *testing.T) {
	iss, _, srv := dpopServer(t, dpop.Config{Replay: dpop.NewMemoryCache(nil)})
	for _, alg := range []token.Algorithm{token.Ed25519, token.EdDSA} {
		c := dpoptest.NewClientFor(t, alg)
		resp, _ := boundGet(t, iss, srv, c)
		if resp.StatusCode != 200 {
			t.Errorf("a proof with alg %s: %d %v", alg, resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
		}
	}
}

// TestMiddlewareNamesAcceptedAlgs: a proof refused for its alg is 401
// invalid_dpop_proof whose description and challenge name the accepted
// algorithms (issue 18: a client learns which names to use).
func TestMiddlewareNamesAcceptedAlgs(t *testing.T) {
	iss, _, srv := dpopServer(t, dpop.Config{Replay: dpop.NewMemoryCache(nil), Algorithms: []token.Algorithm{token.ES256}})
	resp, body := boundGet(t, iss, srv, dpoptest.NewClientFor(t, token.Ed25519))
	challenge := strings.Join(resp.Header.Values("WWW-Authenticate"), "; ")
	if resp.StatusCode != 401 || !strings.Contains(challenge, `error="invalid_dpop_proof"`) ||
		!strings.Contains(challenge, `accepted algs: ES256"`) || !strings.Contains(string(body), "accepted algs: ES256") {
		t.Fatalf("an Ed25519 proof to an ES256-only server: %d %s %s", resp.StatusCode, challenge, body)
	}
}

// boundGet asks srv for /x with a token iss binds to c's key, and a proof
// by c; it returns the response and its body.
func boundGet(t *testing.T, iss *token.Issuer, srv *httptest.Server, c *dpoptest.Client) (*http.Response, []byte) {
	t.Helper()
	bound, _, err := iss.Issue(token.Claims{Subject: "alice", JKT: c.JKT()})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
	req.Header.Set("Authorization", "DPoP "+bound)
	req.Header.Set("DPoP", c.Proof("GET", "https://api.example/x", bound, time.Now(), nil))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// dpopServer serves "ok" behind the middleware, checking proofs with a
// verifier of cfg against the public URL https://api.example, and
// returns the issuer of the tokens it accepts and the middleware. The
// server is closed when the test ends.
func dpopServer(t *testing.T, cfg dpop.Config) (*token.Issuer, *middleware.Authenticator, *httptest.Server) {
	t.Helper()
	keys := tokentest.KeySet(tokentest.MustSigner(token.ES256))
	iss, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience}})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: tokentest.Issuer, Audience: tokentest.Audience})
	if err != nil {
		t.Fatal(err)
	}
	proofs, err := dpop.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{tokentest.Issuer: verifier}, DPoP: proofs, ExternalURL: "https://api.example"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })))
	t.Cleanup(srv.Close)
	return iss, auth, srv
}
