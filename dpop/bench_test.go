package dpop_test

import (
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// BenchmarkProof: what DPoP adds to a request whose access token the
// middleware has cached: a proof verified (ES256) and its jti checked in
// the memory replay cache, against one ES256 access token Verify, the
// cost of a request without the cache. ReplayOnly is the cache alone.
func BenchmarkProof(b *testing.B) {
	alice := dpoptest.NewClient(b)
	now := time.Now()
	proofs := make([]string, 4096) // fresh jtis: a replayed proof does less work
	v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil)})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ProofES256", func(b *testing.B) {
		for j := range proofs {
			proofs[j] = alice.Proof("GET", apiURL, at, time.Now(), nil)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == len(proofs) { // past the set: new proofs, outside the timing
				b.StopTimer()
				for j := range proofs {
					proofs[j] = alice.Proof("GET", apiURL, at, time.Now(), nil)
				}
				i = 0
				b.StartTimer()
			}
			if _, err := verify(v, ctx, proofs[i], request{Method: "GET", URL: apiURL, AccessToken: at}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	s := tokentest.MustSigner(token.ES256)
	tv := tokentest.Verifier(tokentest.KeySet(s), now)
	raw := s.Mint(now, nil)
	b.Run("AccessTokenVerifyES256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tv.Verify(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	cache := dpop.NewMemoryCache(nil)
	b.Run("ReplayOnlyMemory", func(b *testing.B) {
		keys := make([]string, 1<<16)
		fill := func() { // new jtis: a key seen already takes the shorter path
			for i := range keys {
				keys[i] = alice.JKT() + " " + rand.Text()
			}
		}
		fill()
		until := time.Now().Add(time.Minute)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == len(keys) {
				b.StopTimer()
				fill()
				i = 0
				b.StartTimer()
			}
			if fresh, _ := cache.Remember(ctx, keys[i], until); !fresh {
				b.Fatal("a new jti was not fresh")
			}
			i++
		}
	})
}

// BenchmarkMiddlewareDPoP: a whole DPoP request through the middleware,
// its bound access token served from the verified-token cache, a fresh
// proof verified and remembered each time ("dpop-cached"), against one
// ES256 Verify of the access token and the same middleware serving a plain
// bearer token from its cache ("bearer-cached"). The request is built
// once, as a server would have read it: only its DPoP header changes.
func BenchmarkMiddlewareDPoP(b *testing.B) {
	s := tokentest.MustSigner(token.ES256)
	keys := tokentest.KeySet(s)
	now := time.Now()
	clock := func() time.Time { return now }
	v := tokentest.Verifier(keys, now)
	alice := dpoptest.NewClient(b)
	bound := s.Mint(now, func(_, claims map[string]any) { claims["cnf"] = map[string]any{"jkt": alice.JKT()} })
	plain := s.Mint(now, nil)
	proofs, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil)})
	if err != nil {
		b.Fatal(err)
	}
	var hits, misses int
	auth, err := middleware.New(middleware.Config{
		JWT: map[string]middleware.Verifier{tokentest.Issuer: v}, DPoP: proofs, Now: clock,
		ExternalURL: "https://api.example",
		Hooks: middleware.Hooks{OnAuthenticated: func(_ *http.Request, _ *identity.Principal, cached bool) {
			if cached {
				hits++
			} else {
				misses++
			}
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	const url = "https://api.example/api/widgets"
	w := &recorder{h: http.Header{}}
	// One request each, as a server reads it; only the proof changes.
	bearerReq, _ := http.NewRequest("GET", "/api/widgets", nil)
	bearerReq.Header.Set("Authorization", "Bearer "+plain)
	dpopReq, _ := http.NewRequest("GET", "/api/widgets", nil)
	dpopReq.Header.Set("Authorization", "DPoP "+bound)
	serve := func(b *testing.B, req *http.Request, proof string) {
		if proof != "" {
			req.Header["Dpop"] = []string{proof}
		}
		w.code = 0
		h.ServeHTTP(w, req)
		if w.code != 200 {
			b.Fatalf("status %d: %v", w.code, w.h)
		}
	}
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(bound); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bearer-cached", func(b *testing.B) {
		hits, misses = 0, 0
		b.ReportAllocs()
		for b.Loop() {
			serve(b, bearerReq, "")
		}
		if misses > 1 {
			b.Fatalf("%d hits, %d misses", hits, misses)
		}
	})
	b.Run("dpop-cached", func(b *testing.B) {
		hits, misses = 0, 0
		batch := make([]string, 4096) // fresh jtis: a replayed proof is refused
		fill := func() {
			for j := range batch {
				batch[j] = alice.Proof("GET", url, bound, now, nil)
			}
		}
		fill()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == len(batch) { // new proofs, outside the timing
				b.StopTimer()
				fill()
				i = 0
				b.StartTimer()
			}
			serve(b, dpopReq, batch[i])
			i++
		}
		if misses > 1 {
			b.Fatalf("%d hits, %d misses", hits, misses)
		}
	})
}

// recorder keeps the status, so the benchmark fails on a refusal.
type recorder struct {
	h    http.Header
	code int
}

func (w *recorder) Header() http.Header         { return w.h }
func (w *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (w *recorder) WriteHeader(code int)        { w.code = code }
