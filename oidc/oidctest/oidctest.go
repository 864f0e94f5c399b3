// Package oidctest is a local OpenID Connect provider for tests (and, as
// [Server], for trying provider tokens from a main): discovery,
// a JWK Set that rotates, an outage switch and a stall, counters of what
// it was asked, tokens of any shape signed with its keys (and tampered
// variants of them), and an authorization code flow with PKCE that logs a
// fixed user in at once, whose answers (ID token claims, RFC 9207's iss)
// a test can change. It stands in for Keycloak, Auth0, Zitadel or Dex in
// the tests of an application using package oidc.
package oidctest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Provider is a local OpenID Connect provider on an httptest server. Its
// methods are safe for concurrent use.
type Provider struct {
	t   testing.TB
	srv *httptest.Server
	mux *http.ServeMux

	mu    sync.Mutex
	keys  map[string]*rsa.PrivateKey // published, by kid
	cur   string                     // the signing kid
	stall chan struct{}              // closed by Stall's release; nil: no stall

	// Down makes discovery and the JWK Set answer 503.
	Down atomic.Bool
	// Latency delays the answers of discovery and the JWK Set (a slow
	// provider), in nanoseconds.
	Latency atomic.Int64
	// JWKSFetches and DiscoveryHits count the requests for the JWK Set
	// and the discovery document.
	JWKSFetches, DiscoveryHits atomic.Int64
	// IssParameter makes discovery advertise
	// authorization_response_iss_parameter_supported and the
	// authorization endpoint send its issuer as "iss" (RFC 9207), unless
	// CodeFlow.Iss says otherwise. Set it before a client's discovery.
	IssParameter atomic.Bool
}

var rsaKeys struct {
	mu   sync.Mutex
	keys map[int]*rsa.PrivateKey
}

// Key returns the i-th of the RSA keys (2048 bits) of this process,
// generating it on first use: tests rotate among them without paying for
// RSA key generation each time. Providers sign with keys 100 and up, one
// per provider, so Key(0) to Key(99) are never a provider's.
func Key(i int) *rsa.PrivateKey {
	rsaKeys.mu.Lock()
	defer rsaKeys.mu.Unlock()
	if rsaKeys.keys == nil {
		rsaKeys.keys = map[int]*rsa.PrivateKey{}
	}
	k := rsaKeys.keys[i]
	if k == nil {
		var err error
		if k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		rsaKeys.keys[i] = k
	}
	return k
}

// providers counts the providers of this process: each gets its own key.
var providers atomic.Int64

// New starts a provider whose issuer is its URL, publishing and signing
// with a key of its own (Key(100), Key(101), … for the providers of the
// process) as "k1". It stops when the test ends.
func New(t testing.TB) *Provider {
	mux := http.NewServeMux()
	key := Key(100 + int(providers.Add(1)-1))
	f := &Provider{t: t, keys: map[string]*rsa.PrivateKey{"k1": key}, cur: "k1", mux: mux}
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.DiscoveryHits.Add(1)
		f.wait(r)
		if f.Down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		doc := map[string]any{
			"issuer": f.srv.URL, "jwks_uri": f.srv.URL + "/jwks",
			"authorization_endpoint": f.srv.URL + "/auth", "token_endpoint": f.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		}
		if f.IssParameter.Load() {
			doc["authorization_response_iss_parameter_supported"] = true
		}
		json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		f.JWKSFetches.Add(1)
		f.wait(r)
		if f.Down.Load() {
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

// URL is the provider's base URL (its issuer).
func (f *Provider) URL() string { return f.srv.URL }

// Issuer is the provider's issuer identifier: its URL.
func (f *Provider) Issuer() string { return f.srv.URL }

// B64 is unpadded base64url.
func B64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwks is the published JWK Set.
func (f *Provider) jwks() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []map[string]string
	for kid, k := range f.keys {
		keys = append(keys, map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
			"n": B64(k.N.Bytes()), "e": B64(big.NewInt(int64(k.E)).Bytes())})
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// wait waits out Latency and a stall, or until the client gives up.
func (f *Provider) wait(r *http.Request) {
	f.mu.Lock()
	stall := f.stall
	f.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}
	if d := time.Duration(f.Latency.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
}

// Stall makes discovery and the JWK Set hold their requests without
// answering (a provider that accepts connections and never answers) until
// release is called, or the client gives up. The end of the test releases
// them too.
func (f *Provider) Stall() (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.stall = ch
	f.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			f.mu.Lock()
			if f.stall == ch {
				f.stall = nil
			}
			f.mu.Unlock()
			close(ch)
		})
	}
	f.t.Cleanup(release)
	return release
}

// SigningKey returns the key the provider signs with now.
func (f *Provider) SigningKey() *rsa.PrivateKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[f.cur]
}

// Publish adds a key to the JWK Set.
func (f *Provider) Publish(kid string, k *rsa.PrivateKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[kid] = k
}

// SignWith makes a published key the signing key.
func (f *Provider) SignWith(kid string) { f.mu.Lock(); f.cur = kid; f.mu.Unlock() }

// Retire removes a key from the JWK Set.
func (f *Provider) Retire(kid string) { f.mu.Lock(); delete(f.keys, kid); f.mu.Unlock() }

// Mint signs claims with the signing key (RS256), with the header alg,
// kid and typ "JWT" (as Keycloak and Auth0 write it), or the header given.
func (f *Provider) Mint(claims map[string]any, header ...map[string]any) string {
	f.mu.Lock()
	kid := f.cur
	key := f.keys[kid]
	f.mu.Unlock()
	h := map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}
	if len(header) > 0 {
		h = header[0]
	}
	return SignRS256(f.t, key, h, claims)
}

// SignRS256 signs header and claims with key, whatever they say.
func SignRS256(t testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	raw, err := sign(key, header, claims)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// sign is SignRS256 without a test.
func sign(key *rsa.PrivateKey, header, claims map[string]any) (string, error) {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	input := B64(hb) + "." + B64(cb)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + B64(sig), nil
}

// Tampered returns variants of the compact JWS raw that a verifier must
// refuse, by name: a bit of the payload changed, a bit of the signature
// changed, the signature removed. (Bits that base64url carries in full:
// not those of a segment's last character.) Nil when raw is not three
// segments long enough.
func Tampered(raw string) map[string]string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || len(parts[1]) < 8 || len(parts[2]) < 12 {
		return nil
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] ^= 1
		return string(b)
	}
	return map[string]string{
		"payload changed":   parts[0] + "." + flip(parts[1], 5) + "." + parts[2],
		"signature changed": parts[0] + "." + parts[1] + "." + flip(parts[2], 10),
		"no signature":      parts[0] + "." + parts[1] + ".",
	}
}

// CodeFlow is the provider's authorization code flow (see
// [Provider.EnableCodeFlow]). Nonce, ATHash, IDToken and Iss, when set,
// change what the provider answers, to test a client's checks; set them
// between logins.
type CodeFlow struct {
	mu     sync.Mutex
	codes  map[string]codeGrant
	Nonce  func(sent string) string   // the nonce in the ID token; nil: the one sent
	ATHash func(access string) string // the at_hash in the ID token; nil: the right one
	// IDToken edits the ID token's claims last (an azp, several
	// audiences, …).
	IDToken func(claims map[string]any)
	// Iss is the "iss" parameter of the authorization response, "" for
	// none; nil: the issuer when Provider.IssParameter is set, else none.
	Iss func(issuer string) string
}

type codeGrant struct{ challenge, nonce, redirect string }

// EnableCodeFlow adds an authorization endpoint (/auth), which logs the
// user "alice-sub" (preferred_username alice) in at once and redirects back
// with a code bound to the PKCE challenge (S256 required) and the nonce
// (and "iss" when IssParameter or CodeFlow.Iss says so),
// and a token endpoint (/token), which checks the client's id and secret,
// the redirect URI and the code_verifier, and answers an opaque access
// token and an ID token for clientID.
func (f *Provider) EnableCodeFlow(clientID, secret string) *CodeFlow {
	cf := &CodeFlow{codes: map[string]codeGrant{}}
	mux := f.mux
	mux.HandleFunc("GET /auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != clientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
			q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" || !strings.Contains(q.Get("scope"), "openid") {
			http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		code := "code-" + q.Get("state")[:8]
		cf.mu.Lock()
		cf.codes[code] = codeGrant{q.Get("code_challenge"), q.Get("nonce"), q.Get("redirect_uri")}
		iss := ""
		if f.IssParameter.Load() {
			iss = f.Issuer()
		}
		if cf.Iss != nil {
			iss = cf.Iss(f.Issuer())
		}
		cf.mu.Unlock()
		back := url.Values{"code": {code}, "state": {q.Get("state")}}
		if iss != "" {
			back.Set("iss", iss)
		}
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, sec, ok := r.BasicAuth()
		if !ok {
			id, sec = r.FormValue("client_id"), r.FormValue("client_secret")
		}
		cf.mu.Lock()
		g, found := cf.codes[r.FormValue("code")]
		delete(cf.codes, r.FormValue("code"))
		cf.mu.Unlock()
		sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
		if id != clientID || sec != secret || !found || B64(sum[:]) != g.challenge || r.FormValue("redirect_uri") != g.redirect {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		access := "opaque-access-token"
		sumA := sha256.Sum256([]byte(access))
		claims := map[string]any{"iss": f.Issuer(), "sub": "alice-sub", "aud": clientID, "iat": time.Now().Unix(),
			"exp": time.Now().Add(time.Hour).Unix(), "nonce": g.nonce, "preferred_username": "alice",
			"email": "alice@example.com", "email_verified": true, "at_hash": B64(sumA[:16])}
		cf.mu.Lock()
		if cf.Nonce != nil {
			claims["nonce"] = cf.Nonce(g.nonce)
		}
		if cf.ATHash != nil {
			claims["at_hash"] = cf.ATHash(access)
		}
		if cf.IDToken != nil {
			cf.IDToken(claims)
		}
		cf.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600,
			"id_token": f.Mint(claims)})
	})
	return cf
}
