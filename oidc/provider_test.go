package oidc_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeIdP is a local OpenID Connect provider: discovery, a JWK Set it can
// rotate, an outage switch, and counters.
type fakeIdP struct {
	t   testing.TB
	srv *httptest.Server

	mu   sync.Mutex
	keys map[string]*rsa.PrivateKey // published, by kid
	cur  string                     // the signing kid

	down          atomic.Bool
	jwksFetches   atomic.Int64
	discoveryHits atomic.Int64
}

var rsaKeys = struct {
	once sync.Once
	keys []*rsa.PrivateKey
}{}

// testKey returns the i-th of a few RSA keys generated once per run.
func testKey(t testing.TB, i int) *rsa.PrivateKey {
	rsaKeys.once.Do(func() {
		for range 4 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys.keys = append(rsaKeys.keys, k)
		}
	})
	return rsaKeys.keys[i]
}

func newFakeIdP(t testing.TB) *fakeIdP {
	f := &fakeIdP{t: t, keys: map[string]*rsa.PrivateKey{"k1": testKey(t, 0)}, cur: "k1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.discoveryHits.Add(1)
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": f.srv.URL, "jwks_uri": f.srv.URL + "/jwks",
			"authorization_endpoint": f.srv.URL + "/auth", "token_endpoint": f.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		f.jwksFetches.Add(1)
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.jwks())
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdP) Issuer() string { return f.srv.URL }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwks is the published JWK Set; keys have alg unless noAlg.
func (f *fakeIdP) jwks() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []map[string]string
	for kid, k := range f.keys {
		keys = append(keys, map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())})
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// publish adds a key; sign makes it the signing key; retire removes one.
func (f *fakeIdP) publish(kid string, k *rsa.PrivateKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[kid] = k
}

func (f *fakeIdP) signWith(kid string) { f.mu.Lock(); f.cur = kid; f.mu.Unlock() }

func (f *fakeIdP) retire(kid string) { f.mu.Lock(); delete(f.keys, kid); f.mu.Unlock() }

// mint signs claims with the current key, header typ "JWT" (as Keycloak
// and Auth0 write it), or with the header given.
func (f *fakeIdP) mint(claims map[string]any, header ...map[string]any) string {
	f.mu.Lock()
	kid := f.cur
	key := f.keys[kid]
	f.mu.Unlock()
	h := map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}
	if len(header) > 0 {
		h = header[0]
	}
	return signRS256(f.t, key, h, claims)
}

func signRS256(t testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	input := b64(hb) + "." + b64(cb)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var ctx = context.Background()
