package dpop_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// TestMiddleware: DPoP-bound tokens through the middleware over real
// HTTP: a proof on every request, cached token or not; no Bearer bypass.
func TestMiddleware(t *testing.T) {
	s := tokentest.MustSigner(token.ES256)
	keys := tokentest.KeySet(s)
	iss, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience}})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: tokentest.Issuer, Audience: tokentest.Audience})
	if err != nil {
		t.Fatal(err)
	}
	cache := &switchableCache{ReplayCache: dpop.NewMemoryCache(nil)}
	proofs, err := dpop.New(dpop.Config{Replay: cache})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{tokentest.Issuer: verifier}, DPoP: proofs,
		ExternalURL: "https://api.example"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })))
	defer srv.Close()
	alice, mallory := dpoptest.NewClient(t), dpoptest.NewClient(t)
	bound, _, err := iss.Issue(token.Claims{Subject: "alice", JKT: alice.JKT()})
	if err != nil {
		t.Fatal(err)
	}
	plain, _, _ := iss.Issue(token.Claims{Subject: "bob"})
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
	} {
		code, h := send("GET", "/api/widgets", tc.authz, tc.proofs...)
		challenges := strings.Join(h.Values("WWW-Authenticate"), " | ")
		if code != tc.status || !strings.Contains(challenges, `error="`+tc.err+`"`) || !strings.Contains(challenges, `DPoP algs="ES256 EdDSA"`) {
			t.Errorf("%s: %d %s", name, code, challenges)
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
	s := tokentest.MustSigner(token.ES256)
	keys := tokentest.KeySet(s)
	iss, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience}})
	verifier, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: tokentest.Issuer, Audience: tokentest.Audience})
	proofs, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil), NonceKey: []byte(strings.Repeat("n", 32))})
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{tokentest.Issuer: verifier}, DPoP: proofs})
	srv := httptest.NewServer(auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()
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
	resp := get(alice.Proof("GET", srv.URL+"/x", bound, time.Now(), nil))
	nonce := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != 401 || nonce == "" || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), " "), `error="use_dpop_nonce"`) {
		t.Fatalf("no nonce: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := get(alice.Proof("GET", srv.URL+"/x", bound, time.Now(), func(_, cl map[string]any) { cl["nonce"] = nonce })); resp.StatusCode != 200 {
		t.Fatalf("with the nonce: %d", resp.StatusCode)
	}
}
