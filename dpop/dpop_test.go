package dpop_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/dpop/replaytest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/token"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
)

func TestMemoryCache(t *testing.T) {
	replaytest.Run(t, func(t *testing.T) (a, b dpop.ReplayCache, clock replaytest.Clock) {
		c := testenv.NewClock(t0)
		m := dpop.NewMemoryCache(c.Now)
		return m, m, c
	})
}

// TestReplayWindowEdges: a proof is accepted while its iat is less than
// the window old, and its jti is remembered past that, also by a cache
// shared with an instance whose clock is behind (within the leeway).
func TestReplayWindowEdges(t *testing.T) {
	alice := dpoptest.NewClient(t)
	req := request{Method: "GET", URL: apiURL}
	a := testenv.NewClock(t0)
	cache := dpop.NewMemoryCache(a.Now) // the shared cache counts on A's clock
	va := newVerifier(t, a, cache)

	p := alice.Proof("GET", apiURL, "", t0, nil)
	a.Advance(dpop.DefaultWindow - time.Nanosecond)
	if _, err := verify(va, ctx, p, req); err != nil {
		t.Fatalf("at iat + window - 1 ns: %v, want accepted", err)
	}
	a.Advance(time.Nanosecond)
	if _, err := verify(va, ctx, alice.Proof("GET", apiURL, "", t0, nil), req); !errors.Is(err, dpop.ErrInvalidProof) {
		t.Errorf("a fresh proof at iat + window exactly: %v, want too old", err)
	}
	// B's clock runs 4 s behind A's: at A's iat + window + 3 s, B still
	// accepts the iat, and must find the jti.
	b := testenv.NewClock(t0.Add(dpop.DefaultWindow - time.Second))
	vb := newVerifier(t, b, cache)
	a.Advance(3 * time.Second)
	if _, err := verify(vb, ctx, p, req); !errors.Is(err, dpop.ErrReplayed) {
		t.Errorf("replayed on an instance 4 s behind: %v, want ErrReplayed", err)
	}
}

func newVerifier(t testing.TB, c *testenv.Clock, cache dpop.ReplayCache) *dpop.Verifier {
	if cache == nil {
		cache = dpop.NewMemoryCache(c.Now)
	}
	v, err := dpop.New(dpop.Config{Replay: cache, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const (
	apiURL = "https://api.example/api/widgets"
	at     = "eyJ.access.token"
)

func TestVerify(t *testing.T) {
	c := testenv.NewClock(t0)
	v := newVerifier(t, c, nil)
	alice, mallory := dpoptest.NewClient(t), dpoptest.NewClient(t)
	req := request{Method: "GET", URL: apiURL, AccessToken: at}

	p, err := verify(v, ctx, alice.Proof("GET", apiURL, at, t0, nil), req)
	want := alice.JKT()
	if err != nil || p != want {
		t.Fatalf("a good proof: %v, %+v (want jkt %s)", err, p, want)
	}
	replayed := alice.Proof("GET", apiURL, at, t0, nil)
	if _, err := verify(v, ctx, replayed, req); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(v, ctx, replayed, req); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("a replayed proof: %v, want ErrReplayed", err)
	}
	// The same jti from another key is another proof.
	sameJTI := func(h, cl map[string]any) { cl["jti"] = "fixed-jti" }
	if _, err := verify(v, ctx, alice.Proof("GET", apiURL, at, t0, sameJTI), req); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(v, ctx, mallory.Proof("GET", apiURL, at, t0, sameJTI), req); err != nil {
		t.Fatalf("another key's proof with the same jti: %v", err)
	}

	for name, tc := range map[string]struct {
		proof string
		req   request
	}{
		"typ JWT":               {alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["typ"] = "JWT" }), req},
		"no typ":                {alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["typ"] = nil }), req},
		"alg none":              {alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["alg"] = "none" }), req},
		"alg HS256":             {alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["alg"] = "HS256" }), req},
		"alg ES384 for a P-256": {alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["alg"] = "ES384" }), req},
		"no jwk":                {alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["jwk"] = nil }), req},
		"another key's jwk":     {alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["jwk"] = mallory.JWK }), req},
		"a kid beside the jwk":  {alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["kid"] = "k" }), req},
		"a jku":                 {alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["jku"] = "https://evil.example" }), req},
		"POST for GET":          {alice.Proof("POST", apiURL, at, t0, nil), req},
		"get in lower case":     {alice.Proof("get", apiURL, at, t0, nil), req},
		"another path":          {alice.Proof("GET", "https://api.example/api/me", at, t0, nil), req},
		"another host":          {alice.Proof("GET", "https://evil.example/api/widgets", at, t0, nil), req},
		"http for https":        {alice.Proof("GET", "http://api.example/api/widgets", at, t0, nil), req},
		"iat 61 s old":          {alice.Proof("GET", apiURL, at, t0.Add(-61*time.Second), nil), req},
		"iat 6 s ahead":         {alice.Proof("GET", apiURL, at, t0.Add(6*time.Second), nil), req},
		"no iat":                {alice.Proof("GET", apiURL, at, t0, func(_, cl map[string]any) { cl["iat"] = nil }), req},
		"iat a string":          {alice.Proof("GET", apiURL, at, t0, func(_, cl map[string]any) { cl["iat"] = "1" }), req},
		"no jti":                {alice.Proof("GET", apiURL, at, t0, func(_, cl map[string]any) { cl["jti"] = nil }), req},
		"a jti of 257 bytes":    {alice.Proof("GET", apiURL, at, t0, func(_, cl map[string]any) { cl["jti"] = strings.Repeat("j", 257) }), req},
		"ath of another token":  {alice.Proof("GET", apiURL, "other", t0, nil), req},
		"no ath with a token":   {alice.Proof("GET", apiURL, "", t0, nil), req},
		"ath without a token":   {alice.Proof("GET", apiURL, at, t0, nil), request{Method: "GET", URL: apiURL}},
		"htm twice": {alice.Sign(header(alice), []byte(`{"jti":"j1","htm":"POST","htm":"GET","htu":"`+apiURL+`","iat":`+
			strconv.FormatInt(t0.Unix(), 10)+`,"ath":"`+ath(at)+`"}`)), req},
		"alg twice": {alice.Sign([]byte(`{"typ":"dpop+jwt","alg":"none","alg":"ES256","jwk":`+string(must(json.Marshal(alice.JWK)))+`}`),
			[]byte(`{"jti":"j2","htm":"GET","htu":"`+apiURL+`","iat":`+strconv.FormatInt(t0.Unix(), 10)+`,"ath":"`+ath(at)+`"}`)), req},
		"an empty d in the jwk":             {alice.Proof("GET", apiURL, at, t0, withJWK(alice, "d", "")), req},
		"RSA primes in an EC jwk":           {alice.Proof("GET", apiURL, at, t0, withJWK(alice, "p", "AQAB")), req},
		"a k in the jwk":                    {alice.Proof("GET", apiURL, at, t0, withJWK(alice, "k", "AQAB")), req},
		"the jwk's alg is not the header's": {alice.Proof("GET", apiURL, at, t0, withJWK(alice, "alg", "RS256")), req},
		"bad signature":                     {alice.Proof("GET", apiURL, at, t0, nil)[:200] + "AAAA", req},
		"not a JWS":                         {"a.b", req},
		"a private key in jwk":              {alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { j := clone(alice.JWK); j["d"] = "AAAA"; h["jwk"] = j }), req},
		"an oct key in the jwk": {alice.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) {
			h["jwk"] = map[string]any{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
		}), req},
		"longer than 8 KiB": {alice.Proof("GET", apiURL, at, t0, func(_, cl map[string]any) { cl["pad"] = strings.Repeat("p", 9000) }), req},
	} {
		if _, err := verify(v, ctx, tc.proof, tc.req); !errors.Is(err, dpop.ErrInvalidProof) {
			t.Errorf("%s: %v, want ErrInvalidProof", name, err)
		}
	}
}

// withJWK edits the proof's jwk: name set to value.
func withJWK(c *dpoptest.Client, name string, value any) func(h, _ map[string]any) {
	return func(h, _ map[string]any) {
		j := clone(c.JWK)
		j[name] = value
		h["jwk"] = j
	}
}

// header is the JSON header of c's proofs.
func header(c *dpoptest.Client) []byte {
	return must(json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": c.JWK}))
}

func ath(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func clone(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestHTU: RFC 3986 normalisation of htu; query and fragment ignored.
func TestHTU(t *testing.T) {
	c := testenv.NewClock(t0)
	v := newVerifier(t, c, nil)
	alice := dpoptest.NewClient(t)
	for _, tc := range []struct {
		htu, url string
		ok       bool
	}{
		{"https://API.example:443/api/widgets", "https://api.example/api/widgets", true},
		{"HTTPS://api.example/api/widgets", "https://api.example/api/widgets?x=1", true},
		{"https://api.example/api/widgets", "https://api.example/api/widgets#f", true},
		{"https://api.example/api/%77idgets", "https://api.example/api/widgets", true},
		{"http://api.example:80", "http://api.example/", true},
		{"https://api.example:8443/api/widgets", "https://api.example/api/widgets", false},
		{"https://api.example/api/widgets/", "https://api.example/api/widgets", false},
		{"https://user@api.example/api/widgets", "https://api.example/api/widgets", false},
		{"/api/widgets", "https://api.example/api/widgets", false},
		// Only unreserved characters are decoded (RFC 3986 §6.2.2.2):
		// an encoded slash is not a slash.
		{"https://api.example/a%2Fb", "https://api.example/a/b", false},
		{"https://api.example/a%2fb", "https://api.example/a%2Fb", true},
		{"https://api.example/%7Euser", "https://api.example/~user", true},
		// Dot segments removed (§6.2.2.3), empty segments kept.
		{"https://api.example/a/./b/../c", "https://api.example/a/c", true},
		{"https://api.example/a/%2E%2E/c", "https://api.example/c", true},
		{"https://api.example/a/..", "https://api.example/", true},
		{"https://api.example/a//b", "https://api.example/a/b", false},
		// Compared as written, whatever else the path holds: a character
		// url.URL would escape does not turn %2F into /.
		{"https://api.example/files/a/b|c", "https://api.example/files/a%2Fb|c", false},
		{"https://api.example/x;y|", "https://api.example/x%3By|", false},
		{"https://api.example/files/a|b", "https://api.example/files/a%7Cb", true},
		{"https://api.example/caf%C3%A9", "https://api.example/café", true},
	} {
		_, err := verify(v, ctx, alice.Proof("GET", tc.htu, "", t0, nil), request{Method: "GET", URL: tc.url})
		if (err == nil) != tc.ok {
			t.Errorf("htu %s for %s: %v, want ok %v", tc.htu, tc.url, err, tc.ok)
		}
	}
}

// TestReplayWindow: a proof's entry lives until its iat plus the window:
// replayed just before, refused; a proof that old is refused anyway.
func TestReplayWindow(t *testing.T) {
	c := testenv.NewClock(t0)
	cache := dpop.NewMemoryCache(c.Now)
	v := newVerifier(t, c, cache)
	alice := dpoptest.NewClient(t)
	req := request{Method: "GET", URL: apiURL}
	p := alice.Proof("GET", apiURL, "", t0.Add(-30*time.Second), nil) // iat 30 s ago
	if _, err := verify(v, ctx, p, req); err != nil {
		t.Fatal(err)
	}
	c.Advance(29 * time.Second)
	if _, err := verify(v, ctx, p, req); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("replayed 1 s before iat + window: %v", err)
	}
	c.Advance(2 * time.Second)
	if _, err := verify(v, ctx, p, req); !errors.Is(err, dpop.ErrInvalidProof) {
		t.Fatalf("replayed after iat + window: %v, want ErrInvalidProof (too old)", err)
	}
}

// failingCache cannot answer.
type failingCache struct{}

func (failingCache) Remember(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("down")
}

func TestReplayCacheDown(t *testing.T) {
	c := testenv.NewClock(t0)
	v := newVerifier(t, c, failingCache{})
	alice := dpoptest.NewClient(t)
	_, err := verify(v, ctx, alice.Proof("GET", apiURL, "", t0, nil), request{Method: "GET", URL: apiURL})
	if !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("cache down: %v, want identity.ErrUnavailable (fail closed)", err)
	}
	if _, err := dpop.New(dpop.Config{}); err == nil {
		t.Error("New without a replay cache")
	}
	if _, err := dpop.New(dpop.Config{Replay: failingCache{}, Algorithms: []token.Algorithm{token.HS256}}); err == nil {
		t.Error("New with HS256")
	}
}

// TestMemoryCacheBounded: expired entries are swept as new ones arrive.
func TestMemoryCacheBounded(t *testing.T) {
	c := testenv.NewClock(t0)
	m := dpop.NewMemoryCache(c.Now)
	for i := range 100000 {
		m.Remember(ctx, string(rune(i))+rand.Text(), c.Now().Add(time.Second))
		c.Advance(time.Millisecond)
	}
	if n := m.Len(); n > 20000 {
		t.Fatalf("%d entries held, of which about 1,000 are live", n)
	}
}

// TestNonce: with a nonce key, a proof must carry the server's fresh
// nonce (RFC 9449 §8): the current or the previous interval's.
func TestNonce(t *testing.T) {
	c := testenv.NewClock(t0)
	v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(c.Now), Now: c.Now, NonceKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	alice := dpoptest.NewClient(t)
	req := request{Method: "GET", URL: apiURL}
	withNonce := func(n string) func(h, cl map[string]any) { return func(_, cl map[string]any) { cl["nonce"] = n } }
	if _, err := verify(v, ctx, alice.Proof("GET", apiURL, "", c.Now(), nil), req); !errors.Is(err, dpop.ErrUseNonce) {
		t.Fatalf("no nonce: %v, want ErrUseNonce", err)
	}
	n := v.Nonce()
	if _, err := verify(v, ctx, alice.Proof("GET", apiURL, "", c.Now(), withNonce(n)), req); err != nil {
		t.Fatalf("the fresh nonce: %v", err)
	}
	c.Advance(time.Minute) // the previous interval's nonce still works
	if _, err := verify(v, ctx, alice.Proof("GET", apiURL, "", c.Now(), withNonce(n)), req); err != nil {
		t.Fatalf("the previous interval's nonce: %v", err)
	}
	c.Advance(time.Minute)
	if _, err := verify(v, ctx, alice.Proof("GET", apiURL, "", c.Now(), withNonce(n)), req); !errors.Is(err, dpop.ErrUseNonce) {
		t.Fatalf("a nonce two intervals old: %v, want ErrUseNonce", err)
	}
	if _, err := verify(v, ctx, alice.Proof("GET", apiURL, "", c.Now(), withNonce("forged")), req); !errors.Is(err, dpop.ErrUseNonce) {
		t.Fatalf("a forged nonce: %v", err)
	}
	if _, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil), NonceKey: []byte("short")}); err == nil {
		t.Error("a short nonce key accepted")
	}
}

// TestFailOpen: configured to, a proof is accepted while the replay cache
// is down.
func TestFailOpen(t *testing.T) {
	c := testenv.NewClock(t0)
	v, err := dpop.New(dpop.Config{Replay: failingCache{}, Now: c.Now, FailOpen: true})
	if err != nil {
		t.Fatal(err)
	}
	alice := dpoptest.NewClient(t)
	if _, err := verify(v, ctx, alice.Proof("GET", apiURL, "", t0, nil), request{Method: "GET", URL: apiURL}); err != nil {
		t.Fatalf("fail open, cache down: %v", err)
	}
}

// request is the request a proof is checked for.
type request struct{ Method, URL, AccessToken string }

// verify checks proof for req with v.CheckProof.
func verify(v *dpop.Verifier, ctx context.Context, proof string, req request) (string, error) {
	return v.CheckProof(ctx, proof, req.Method, req.URL, req.AccessToken)
}

// TestEd25519: RFC 9864 names EdDSA on Ed25519 "Ed25519" (oauth4webapi
// signs its proofs so). A proof that says Ed25519 or EdDSA is accepted
// with an Ed25519 jwk, wherever either name is configured; Ed25519 never
// makes another key type verify.
func TestEd25519(t *testing.T) {
	c := testenv.NewClock(t0)
	v := newVerifier(t, c, nil)
	req := request{Method: "GET", URL: apiURL, AccessToken: at}
	named, plain := dpoptest.NewClientFor(t, token.Ed25519), dpoptest.NewClientFor(t, token.EdDSA)
	alg := func(a string) func(h, _ map[string]any) { return func(h, _ map[string]any) { h["alg"] = a } }
	for name, proof := range map[string]string{
		"alg Ed25519":                        named.Proof("GET", apiURL, at, t0, nil),
		"alg EdDSA":                          plain.Proof("GET", apiURL, at, t0, nil),
		"alg Ed25519, by the EdDSA client":   plain.Proof("GET", apiURL, at, t0, alg("Ed25519")),
		"alg Ed25519, the jwk's alg EdDSA":   named.Proof("GET", apiURL, at, t0, withJWK(named, "alg", "EdDSA")),
		"alg EdDSA, the jwk's alg Ed25519":   plain.Proof("GET", apiURL, at, t0, withJWK(plain, "alg", "Ed25519")),
		"alg Ed25519, the jwk's alg Ed25519": named.Proof("GET", apiURL, at, t0, withJWK(named, "alg", "Ed25519")),
	} {
		jkt, err := verify(v, ctx, proof, req)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if jkt != named.JKT() && jkt != plain.JKT() {
			t.Errorf("%s: jkt %s", name, jkt)
		}
	}
	// The thumbprint does not depend on the alg's name: one key, one jkt.
	a := named.Proof("GET", apiURL, at, t0, nil)
	b := named.Proof("GET", apiURL, at, t0, alg("EdDSA"))
	ja, _ := verify(v, ctx, a, req)
	jb, _ := verify(v, ctx, b, req)
	if ja != named.JKT() || jb != ja {
		t.Errorf("jkt %q under Ed25519, %q under EdDSA, want %q", ja, jb, named.JKT())
	}

	es := dpoptest.NewClient(t)
	for name, proof := range map[string]string{
		"alg Ed25519 with a P-256 jwk, ES256-signed":   es.Proof("GET", apiURL, at, t0, alg("Ed25519")),
		"alg Ed25519 with a P-256 jwk, Ed25519-signed": named.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["jwk"] = es.JWK }),
		"alg Ed25519 with an oct jwk": named.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) {
			h["jwk"] = map[string]any{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
		}),
		"alg Ed25519 with an Ed448 jwk": named.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) {
			h["jwk"] = map[string]any{"kty": "OKP", "crv": "Ed448", "x": strings.Repeat("A", 76)}
		}),
		"alg ES256 with an Ed25519 jwk":        named.Proof("GET", apiURL, at, t0, alg("ES256")),
		"alg ed25519 in lower case":            named.Proof("GET", apiURL, at, t0, alg("ed25519")),
		"alg Ed448":                            named.Proof("GET", apiURL, at, t0, alg("Ed448")),
		"alg Ed25519, the jwk's alg ES256":     named.Proof("GET", apiURL, at, t0, withJWK(named, "alg", "ES256")),
		"alg Ed25519, another key's signature": plain.Proof("GET", apiURL, at, t0, func(h, _ map[string]any) { h["alg"] = "Ed25519"; h["jwk"] = named.JWK }),
	} {
		if _, err := verify(v, ctx, proof, req); !errors.Is(err, dpop.ErrInvalidProof) {
			t.Errorf("%s: %v, want ErrInvalidProof", name, err)
		}
	}

	// Configured by either name, both are accepted.
	for _, cfg := range [][]token.Algorithm{{token.Ed25519}, {token.EdDSA}} {
		v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(c.Now), Now: c.Now, Algorithms: cfg})
		if err != nil {
			t.Fatalf("Algorithms %v: %v", cfg, err)
		}
		for _, cl := range []*dpoptest.Client{named, plain} {
			if _, err := verify(v, ctx, cl.Proof("GET", apiURL, at, t0, nil), req); err != nil {
				t.Errorf("Algorithms %v, a proof by the %s client: %v", cfg, cl.JWK["kty"], err)
			}
		}
		if _, err := verify(v, ctx, es.Proof("GET", apiURL, at, t0, nil), req); !errors.Is(err, dpop.ErrInvalidProof) {
			t.Errorf("Algorithms %v, an ES256 proof: %v", cfg, err)
		}
	}
}

// TestAlgNames: what the challenge (algs="…") and the metadata
// (dpop_signing_alg_values_supported) list: EdDSA and Ed25519 side by
// side, however EdDSA was configured.
func TestAlgNames(t *testing.T) {
	for _, tc := range []struct {
		cfg  []token.Algorithm
		want string
	}{
		{nil, "ES256 EdDSA Ed25519"},
		{[]token.Algorithm{token.ES256}, "ES256"},
		{[]token.Algorithm{token.EdDSA}, "EdDSA Ed25519"},
		{[]token.Algorithm{token.Ed25519}, "Ed25519 EdDSA"},
		{[]token.Algorithm{token.Ed25519, token.ES256, token.EdDSA}, "Ed25519 EdDSA ES256"},
		{[]token.Algorithm{token.PS256, token.ES384}, "PS256 ES384"},
	} {
		v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil), Algorithms: tc.cfg})
		if err != nil {
			t.Fatalf("%v: %v", tc.cfg, err)
		}
		names := v.AlgNames()
		if got := strings.Join(names, " "); got != tc.want {
			t.Errorf("Algorithms %v: AlgNames() = %q, want %q", tc.cfg, got, tc.want)
		}
		names[0] = "none" // a copy: the verifier's list stays
		if v.AlgNames()[0] == "none" {
			t.Error("AlgNames returned the verifier's own slice")
		}
	}
	for _, bad := range []token.Algorithm{token.HS256, "none", "Ed448", "ed25519", ""} {
		if _, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil), Algorithms: []token.Algorithm{bad}}); err == nil {
			t.Errorf("Algorithms [%q] accepted", bad)
		}
	}
}

// TestRefusedAlgorithm: a proof whose alg is not accepted is refused with
// an *AlgorithmError naming the accepted algorithms, which the middleware
// and the token endpoint can read through AcceptedAlgorithms.
func TestRefusedAlgorithm(t *testing.T) {
	c := testenv.NewClock(t0)
	v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(c.Now), Now: c.Now, Algorithms: []token.Algorithm{token.ES256}})
	if err != nil {
		t.Fatal(err)
	}
	req := request{Method: "GET", URL: apiURL}
	for _, alg := range []string{"Ed25519", "EdDSA", "HS256", "none", `"quoted"`} {
		cl := dpoptest.NewClient(t)
		_, err := verify(v, ctx, cl.Proof("GET", apiURL, "", t0, func(h, _ map[string]any) { h["alg"] = alg }), req)
		var ae *dpop.AlgorithmError
		if !errors.Is(err, dpop.ErrInvalidProof) || !errors.As(err, &ae) || ae.Alg != alg || strings.Join(ae.Accepted, " ") != "ES256" {
			t.Fatalf("alg %s: %v, want an *AlgorithmError wrapping ErrInvalidProof", alg, err)
		}
		if !strings.Contains(err.Error(), "accepted: ES256") || !strings.Contains(err.Error(), strconv.Quote(alg)) {
			t.Errorf("alg %s: the message %q does not name the accepted algorithms", alg, err)
		}
		var accepted interface{ AcceptedAlgorithms() []string }
		if !errors.As(fmt.Errorf("wrapped: %w", err), &accepted) || strings.Join(accepted.AcceptedAlgorithms(), " ") != "ES256" {
			t.Errorf("alg %s: AcceptedAlgorithms not found through wrapping", alg)
		}
	}
	// Other refusals are no AlgorithmError.
	_, err = verify(v, ctx, dpoptest.NewClient(t).Proof("POST", apiURL, "", t0, nil), req)
	var ae *dpop.AlgorithmError
	if !errors.Is(err, dpop.ErrInvalidProof) || errors.As(err, &ae) {
		t.Errorf("a proof for another method: %v", err)
	}
}
