package revocation_test

import (
	"context"
	"crypto/elliptic"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

var mwNow = time.Now().Truncate(time.Second)

// server is an API behind the middleware with list as its revocation
// checker; get returns the status of GET / with tok.
func server(t testing.TB, signer *tokentest.Signer, list *revocation.List) func(tok string) int {
	verifier := tokentest.Verifier(tokentest.KeySet(signer), mwNow)
	auth, err := middleware.New(middleware.Config{
		JWT:        map[string]middleware.Verifier{tokentest.Issuer: verifier},
		Revocation: list,
		Now:        func() time.Time { return mwNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	t.Cleanup(srv.Close)
	return func(tok string) int {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
}

// TestRevocationSurvivesReencoding: a revoked token stays refused in any
// encoding an attacker can make of it, because the list keys on (iss,
// jti), never on the token string. ECDSA signatures have a second valid
// form (r, n-s); base64 has non-canonical last characters.
func TestRevocationSurvivesReencoding(t *testing.T) {
	signer := tokentest.MustSigner(token.ES256)
	list := open(t, revocation.Config{})
	get := server(t, signer, list)
	tok := signer.Mint(mwNow, nil)

	i := strings.LastIndexByte(tok, '.')
	sig, err := tokentest.Decode(tok[i+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %v", err)
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	high := append(append([]byte{}, sig[:32]...), new(big.Int).Sub(n, s).FillBytes(make([]byte, 32))...)
	variants := map[string]string{
		"original":                       tok,
		"(r, n-s)":                       tok[:i+1] + tokentest.Encode(high),
		"non-canonical base64 signature": tok[:len(tok)-1] + flipUnusedBits(tok[len(tok)-1:]),
	}
	accepted := map[string]bool{}
	for name, v := range variants {
		accepted[name] = get(v) == http.StatusOK
	}
	if !accepted["original"] {
		t.Fatal("the original token is refused before any revocation")
	}
	t.Logf("accepted before revocation: %v", accepted)

	// Revoke what the middleware saw for the original token.
	claims, err := tokentest.Verifier(tokentest.KeySet(signer), mwNow).Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := list.RevokePrincipal(context.Background(), claims.Principal()); err != nil {
		t.Fatal(err)
	}
	for name, v := range variants {
		if got := get(v); got == http.StatusOK {
			t.Errorf("%s encoding after revocation: %d, want a refusal", name, got)
		}
	}
	if !accepted["(r, n-s)"] {
		t.Log("(r, n-s) is refused by the verifier itself")
	}
}

// flipUnusedBits returns the last base64url character of a 64-byte
// value with its two unused low bits set: the same bytes for a lenient
// decoder.
func flipUnusedBits(c string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.Index(alphabet, c)
	return string(alphabet[i|3])
}

// Example: a revocation list behind the middleware. Logout revokes the
// token's jti until it expires; every later request with it gets 401.
func Example() {
	list, _ := revocation.Open(context.Background(), revocation.Config{}) // memory store: one instance
	defer list.Close()

	signer := tokentest.MustSigner(token.EdDSA)
	verifier := tokentest.Verifier(tokentest.KeySet(signer), mwNow)
	auth, _ := middleware.New(middleware.Config{
		JWT:        map[string]middleware.Verifier{tokentest.Issuer: verifier},
		Revocation: list,
		Now:        func() time.Time { return mwNow },
	})
	logout := func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		if err := list.RevokePrincipal(r.Context(), p); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /logout", auth.Middleware(http.HandlerFunc(logout)))
	mux.Handle("GET /me", auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tok := signer.Mint(mwNow, nil)
	for _, step := range []struct{ method, path string }{{"GET", "/me"}, {"POST", "/logout"}, {"GET", "/me"}} {
		req, _ := http.NewRequest(step.method, srv.URL+step.path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, _ := http.DefaultClient.Do(req)
		resp.Body.Close()
		fmt.Println(step.method, step.path, resp.StatusCode)
	}
	// Output:
	// GET /me 200
	// POST /logout 204
	// GET /me 401
}

// nopWriter is a ResponseWriter that keeps nothing.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkMiddlewareWithRevocation is a whole authenticated request
// through the middleware (verified-token cache hit, EdDSA) without a
// revocation list, and with one holding 1,000,000 revoked tokens: the
// difference is what revocation adds per request.
func BenchmarkMiddlewareWithRevocation(b *testing.B) {
	signer := tokentest.MustSigner(token.EdDSA)
	verifier := tokentest.Verifier(tokentest.KeySet(signer), mwNow)
	list, _ := fill(b, 1_000_000)
	req, _ := http.NewRequest("GET", "/api/widgets", nil)
	req.Header.Set("Authorization", "Bearer "+signer.Mint(mwNow, nil))
	w := &nopWriter{h: http.Header{}}
	for _, bc := range []struct {
		name string
		rc   middleware.RevocationChecker
	}{{"none", nil}, {"list-1M", list}} {
		auth, err := middleware.New(middleware.Config{
			JWT:        map[string]middleware.Verifier{tokentest.Issuer: verifier},
			Revocation: bc.rc,
			Now:        func() time.Time { return mwNow },
		})
		if err != nil {
			b.Fatal(err)
		}
		h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// TestEveryVerifiedTokenIsRevocable: the token package accepts no iss, sub
// or jti an entry could not name.
func TestEveryVerifiedTokenIsRevocable(t *testing.T) {
	if token.MaxIDLength > revocation.MaxKeyLen || token.MaxIDLength > revocation.MaxIssuerLen {
		t.Fatalf("token.MaxIDLength %d exceeds revocation's %d / %d", token.MaxIDLength, revocation.MaxKeyLen, revocation.MaxIssuerLen)
	}
	long := strings.Repeat("x", token.MaxIDLength)
	for _, e := range []revocation.Entry{
		{Kind: revocation.KindToken, Issuer: long, Key: long, Expires: time.Now().Add(time.Hour)},
		{Kind: revocation.KindSubject, Issuer: long, Key: long, Before: time.Now(), Expires: time.Now().Add(time.Hour)},
	} {
		if err := e.Validate(); err != nil {
			t.Fatalf("an entry naming the longest ids: %v", err)
		}
	}
}
