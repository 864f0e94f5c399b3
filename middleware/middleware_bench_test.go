package middleware_test

import (
	"net/http"
	"testing"

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

// BenchmarkMiddleware measures the per-request cost of authentication over
// an unauthenticated handler: "baseline" is the bare handler, "verify" the
// token package's Verify alone, "cache-hit" the middleware with a token it
// has seen, "no-cache" the middleware verifying the signature every time.
// The overhead is the difference to the baseline (and, for no-cache, to
// verify).
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
		for _, mode := range []struct {
			name string
			size int
		}{{"cache-hit", 0}, {"no-cache", -1}} {
			a, err := middleware.New(middleware.Config{
				JWT:       map[string]middleware.Verifier{tokentest.Issuer: v},
				CacheSize: mode.size, Revocation: &revoker{},
			})
			if err != nil {
				b.Fatal(err)
			}
			h := a.Middleware(handler)
			b.Run(string(alg)+"/"+mode.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					h.ServeHTTP(w, req)
				}
			})
		}
	}
}

// BenchmarkCacheMiss measures the middleware with its cache on and a token
// it has not seen (2,000 tokens cycled through a 1,000-entry cache), so
// every request pays the hash, the verification and the insertion.
func BenchmarkCacheMiss(b *testing.B) {
	s := tokentest.MustSigner(token.HS256)
	v := tokentest.Verifier(tokentest.KeySet(s), now)
	toks := make([]string, 2000)
	for i := range toks {
		toks[i] = s.Mint(now, nil) // distinct jti
	}
	a, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{tokentest.Issuer: v}, Revocation: &revoker{}, CacheSize: 1000})
	if err != nil {
		b.Fatal(err)
	}
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	reqs := make([]*http.Request, len(toks))
	for i, t := range toks {
		reqs[i], _ = http.NewRequest("GET", "/api/widgets", nil)
		reqs[i].Header.Set("Authorization", "Bearer "+t)
	}
	w := &nopWriter{h: http.Header{}}
	b.Run("HS256/verify", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := v.Verify(toks[i%len(toks)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("HS256/cache-miss", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			h.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
	})
}
