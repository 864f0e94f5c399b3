package storetest

import (
	"context"
	"crypto/rand"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/revocation"
)

// OpenB is Open for benchmarks.
type OpenB func(b *testing.B) (a, c revocation.Store)

// BenchmarkPropagation measures how long a revocation made through one
// instance's List takes to reach another instance's List over the store:
// each iteration revokes a new token on the first and waits until the
// second rejects it. It reports the median and the 99th percentile.
func BenchmarkPropagation(b *testing.B, open OpenB) {
	sa, sb := open(b)
	ctx := context.Background()
	la, err := revocation.Open(ctx, revocation.Config{Store: sa})
	if err != nil {
		b.Fatal(err)
	}
	defer la.Close()
	lb, err := revocation.Open(ctx, revocation.Config{Store: sb})
	if err != nil {
		b.Fatal(err)
	}
	defer lb.Close()
	var lat []time.Duration
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		p := &identity.Principal{Issuer: "https://issuer.example", Subject: "usr", TokenID: rand.Text()}
		start := time.Now()
		if err := la.RevokeToken(ctx, p.Issuer, p.TokenID, exp); err != nil {
			b.Fatal(err)
		}
		for {
			revoked, err := lb.Revoked(ctx, p)
			if err != nil {
				b.Fatal(err)
			}
			if revoked {
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatal("a revocation did not propagate within 10s")
			}
			runtime.Gosched() // no sleep: its granularity would be what is measured
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
