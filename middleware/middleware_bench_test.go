package middleware_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// nopWriter discards the response, so the benchmarks measure the
// middleware, not a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// clockAt is the clock every benchmark gives the verifier and the
// middleware: tokens are minted at the fixed date now, so the figures do
// not depend on the day they are measured.
func clockAt() time.Time { return now }

// mustHit fails the benchmark unless every request but the first was
// served from the cache: a benchmark of cache hits that silently misses
// measures the wrong thing.
type hitCounter struct{ hits, misses int }

func (c *hitCounter) hooks() middleware.Hooks {
	return middleware.Hooks{OnAuthenticated: func(_ *http.Request, _ *identity.Principal, cached bool) {
		if cached {
			c.hits++
		} else {
			c.misses++
		}
	}}
}

// BenchmarkMiddleware measures the per-request cost of authentication over
// an unauthenticated handler: "baseline" is the bare handler, "verify" the
// token package's Verify alone, "cache-hit" the middleware with a token it
// has seen, "no-cache" the middleware verifying the signature every time,
// and "hit-floor" the least a hit must do: the request copy WithContext
// makes, a context value and two map lookups.
func BenchmarkMiddleware(b *testing.B) {
	for _, alg := range []token.Algorithm{token.HS256, token.ES256, token.EdDSA} {
		s := tokentest.MustSigner(alg)
		v := tokentest.Verifier(tokentest.KeySet(s), now)
		raw := s.Mint(now, nil)
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
		req, _ := http.NewRequest("GET", "/api/widgets", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		w := &nopWriter{h: http.Header{}}

		b.Run(string(alg)+"/baseline", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				handler.ServeHTTP(w, req)
			}
		})
		b.Run(string(alg)+"/verify", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(alg)+"/hit-floor", func(b *testing.B) {
			p := &identity.Principal{Subject: "user-1"}
			entries := map[[16]byte]*identity.Principal{{1}: p}
			revoked := map[string]bool{"x": true}
			type key struct{}
			b.ReportAllocs()
			for b.Loop() {
				e := entries[[16]byte{1}]
				if revoked[e.TokenID] {
					b.Fatal("revoked")
				}
				handler.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), key{}, e)))
			}
		})
		for _, mode := range []struct {
			name string
			size int
		}{{"cache-hit", 0}, {"no-cache", -1}} {
			var count hitCounter
			a, err := middleware.New(middleware.Config{
				JWT:       map[string]middleware.Verifier{tokentest.Issuer: v},
				CacheSize: mode.size, Revocation: &revoker{}, Now: clockAt, Hooks: count.hooks(),
			})
			if err != nil {
				b.Fatal(err)
			}
			h := a.Middleware(handler)
			b.Run(string(alg)+"/"+mode.name, func(b *testing.B) {
				count = hitCounter{}
				b.ReportAllocs()
				for b.Loop() {
					h.ServeHTTP(w, req)
				}
				if mode.size == 0 && count.misses > 1 || mode.size < 0 && count.hits > 0 {
					b.Fatalf("%d hits, %d misses", count.hits, count.misses)
				}
			})
		}
	}
}

// BenchmarkCacheMiss measures the middleware with its cache on and tokens
// it has not seen (200 tokens cycled through a 100-entry cache, few enough
// to stay in the CPU caches), so every request pays the cache key, the
// verification and the insertion, against Verify of the same tokens and
// the middleware without a cache.
func BenchmarkCacheMiss(b *testing.B) {
	for _, alg := range []token.Algorithm{token.HS256, token.EdDSA} {
		s := tokentest.MustSigner(alg)
		v := tokentest.Verifier(tokentest.KeySet(s), now)
		toks := make([]string, 200)
		reqs := make([]*http.Request, len(toks))
		for i := range toks {
			toks[i] = s.Mint(now, nil) // distinct jti
			reqs[i], _ = http.NewRequest("GET", "/api/widgets", nil)
			reqs[i].Header.Set("Authorization", "Bearer "+toks[i])
		}
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
		w := &nopWriter{h: http.Header{}}
		b.Run(string(alg)+"/verify", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := v.Verify(toks[i%len(toks)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		for _, mode := range []struct {
			name string
			size int
		}{{"cache-miss", len(toks) / 2}, {"no-cache", -1}} {
			var count hitCounter
			a, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{tokentest.Issuer: v},
				Revocation: &revoker{}, CacheSize: mode.size, Now: clockAt, Hooks: count.hooks()})
			if err != nil {
				b.Fatal(err)
			}
			h := a.Middleware(handler)
			i := 0 // runs continue the cycle, so the cache never holds the next token
			b.Run(string(alg)+"/"+mode.name, func(b *testing.B) {
				count = hitCounter{}
				b.ReportAllocs()
				for b.Loop() {
					h.ServeHTTP(w, reqs[i%len(reqs)])
					i++
				}
				if count.hits > 0 {
					b.Fatalf("%d cache hits", count.hits)
				}
			})
		}
	}
}
