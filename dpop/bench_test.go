package dpop_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
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
			if _, err := v.Verify(ctx, proofs[i], dpop.Request{Method: "GET", URL: apiURL, AccessToken: at}); err != nil {
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
		for i := range keys {
			keys[i] = alice.JKT() + " " + rand.Text()
		}
		until := time.Now().Add(time.Minute)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			cache.Remember(ctx, keys[i&(len(keys)-1)], until)
			i++
		}
	})
}
