package apitoken_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/revocation"
)

// benchAPI is a middleware with API tokens on store, checking a
// revocation list on every request as the demo does, on a clock the
// benchmark moves.
func benchAPI(b *testing.B, store apitoken.Store) (*middleware.Authenticator, *apitoken.Manager, *testenv.Clock, string) {
	b.Helper()
	c := newClock()
	list, err := revocation.Open(context.Background(), revocation.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { list.Close() })
	m := newManager(b, apitoken.Config{Store: store, Revoker: list, Now: c.Now})
	auth, err := middleware.New(middleware.Config{
		Prefixes:   map[string]middleware.Verifier{"sl_": m},
		Revocation: list,
		Now:        c.Now,
	})
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := mustCreate(b, m, user("alice", "widgets:read"), apitoken.CreateRequest{Scopes: []string{"widgets:read"}})
	return auth, m, c, raw
}

// BenchmarkAuthenticate: an API token through the middleware's
// Authenticate on a cache hit (the revocation list checked), against the
// format check and the SHA-256 every miss starts with.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	auth, m, _, raw := benchAPI(b, apitoken.NewMemoryStore())
	b.Run("CacheHit", func(b *testing.B) {
		if _, err := auth.Authenticate(ctx, raw); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := auth.Authenticate(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MissMemoryStore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Authenticate(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("FloorCheck", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := apitoken.Check("sl_", raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("FloorSHA256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sha256.Sum256([]byte(raw))
		}
	})
}

// BenchmarkWritesPer10kRequests sends 10,000 requests with one API token
// through the middleware over one minute of the clock, then closes the
// manager (its last flush), and reports the store's writes (Touch calls)
// and lookups per 10,000 requests.
func BenchmarkWritesPer10kRequests(b *testing.B) {
	var writes, lookups int64
	for b.Loop() {
		b.StopTimer()
		store := &countingStore{Store: apitoken.NewMemoryStore()}
		auth, m, c, raw := benchAPI(b, store)
		h := auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		req := httptest.NewRequest("GET", "/api/widgets", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		b.StartTimer()
		for range 10000 {
			c.Advance(6 * time.Millisecond) // 10,000 requests in 60 s
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
		writes += store.touches.Load()
		lookups += store.lookups.Load()
	}
	b.ReportMetric(float64(writes)/float64(b.N), "writes/10k-req")
	b.ReportMetric(float64(lookups)/float64(b.N), "lookups/10k-req")
	b.ReportMetric(0, "ns/op")
}
