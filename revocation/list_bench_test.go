package revocation_test

import (
	"context"
	"crypto/rand"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/revocation"
)

// fill revokes n tokens (22-character jtis, like token.NewID's) and n/100
// subjects, straight into the store before the list opens, and returns
// the list with one revoked principal.
func fill(b *testing.B, n int) (*revocation.List, *identity.Principal) {
	b.Helper()
	store := revocation.NewMemoryStore()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	var hit *identity.Principal
	for i := range n {
		jti := rand.Text()[:22]
		if err := store.Create(ctx, revocation.Entry{Kind: revocation.KindToken, Issuer: iss, Key: jti, Expires: exp}); err != nil {
			b.Fatal(err)
		}
		if i%100 == 0 {
			if err := store.Create(ctx, revocation.Entry{Kind: revocation.KindSubject, Issuer: iss, Key: "usr_" + jti,
				Before: time.Now(), Expires: exp}); err != nil {
				b.Fatal(err)
			}
		}
		if i == n/2 {
			hit = &identity.Principal{Issuer: iss, Subject: "usr_x", TokenID: jti, IssuedAt: time.Now()}
		}
	}
	l, err := revocation.Open(ctx, revocation.Config{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	if l.Len() != n+n/100 {
		b.Fatalf("Len = %d", l.Len())
	}
	return l, hit
}

// BenchmarkRevoked is the per-request check with 1,000,000 revoked
// tokens and 10,000 revoked subjects in the mirror.
func BenchmarkRevoked(b *testing.B) {
	l, hit := fill(b, 1_000_000)
	miss := &identity.Principal{Issuer: iss, Subject: "usr_not_revoked", TokenID: rand.Text()[:22], IssuedAt: time.Now()}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		p    *identity.Principal
		want bool
	}{{"NotRevoked", miss, false}, {"Revoked", hit, true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got, err := l.Revoked(ctx, bc.p); got != bc.want || err != nil {
					b.Fatal(got, err)
				}
			}
		})
		b.Run(bc.name+"Parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if got, err := l.Revoked(ctx, bc.p); got != bc.want || err != nil {
						b.Fatal(got, err)
					}
				}
			})
		})
	}
	// Many different tokens, so the lookups miss the CPU caches as real
	// traffic would.
	many := make([]*identity.Principal, 1<<16)
	for i := range many {
		many[i] = &identity.Principal{Issuer: iss, Subject: "usr_" + rand.Text(), TokenID: rand.Text()[:22], IssuedAt: time.Now()}
	}
	b.Run("NotRevokedManyTokens", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if got, err := l.Revoked(ctx, many[i&(len(many)-1)]); got || err != nil {
				b.Fatal(got, err)
			}
			i++
		}
	})
}

// BenchmarkMemoryPerEntry reports the heap the mirror holds per revoked
// token, with 1,000,000 of them.
func BenchmarkMemoryPerEntry(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := memoryList(b, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/entry")
		runtime.KeepAlive(l)
		l.Close()
	}
}

// memoryList is a list holding n revoked tokens, revoked through the list
// over a store that keeps nothing, so only the mirror is measured.
func memoryList(b *testing.B, n int) *revocation.List {
	l, err := revocation.Open(context.Background(), revocation.Config{Store: nopStore{}})
	if err != nil {
		b.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	for range n {
		if err := l.RevokeToken(context.Background(), iss, rand.Text()[:22], exp); err != nil {
			b.Fatal(err)
		}
	}
	return l
}

// nopStore keeps nothing and delivers nothing.
type nopStore struct{}

func (nopStore) Create(context.Context, revocation.Entry) error { return nil }
func (nopStore) Snapshot(context.Context, time.Time) ([]revocation.Entry, error) {
	return nil, nil
}
func (nopStore) Purge(context.Context, time.Time) (int64, error) { return 0, nil }
func (nopStore) Subscribe(context.Context) (revocation.Subscription, error) {
	return nopSub{}, nil
}

type nopSub struct{}

func (nopSub) Next(ctx context.Context, wait time.Duration) (revocation.Entry, bool, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return revocation.Entry{}, false, ctx.Err()
	case <-t.C:
		return revocation.Entry{}, false, nil
	}
}
func (nopSub) Close() error { return nil }

// BenchmarkBaseline is what the mirror is measured against, in the same
// run and with the same 1,000,000 entries: a plain map lookup (the floor;
// not safe with concurrent writers), and a map behind a sync.RWMutex
// (the obvious safe design, whose readers all write the lock's counter).
func BenchmarkBaseline(b *testing.B) {
	type k struct{ iss, jti string }
	m := make(map[k]int64, 1_000_000)
	for range 1_000_000 {
		m[k{iss, rand.Text()[:22]}] = 1
	}
	var mu sync.RWMutex
	miss := k{iss, rand.Text()[:22]}
	b.Run("MapFloor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := m[miss]; ok {
				b.Fatal()
			}
		}
	})
	// The floor of lookups that miss the CPU caches (compare
	// Revoked/NotRevokedManyTokens): 65,536 different keys in turn.
	many := make([]k, 1<<16)
	for i := range many {
		many[i] = k{iss, rand.Text()[:22]}
	}
	b.Run("MapFloorManyTokens", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := m[many[i&(len(many)-1)]]; ok {
				b.Fatal()
			}
			i++
		}
	})
	b.Run("RWMutexMap", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mu.RLock()
			_, ok := m[miss]
			mu.RUnlock()
			if ok {
				b.Fatal()
			}
		}
	})
	b.Run("RWMutexMapParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.RLock()
				_, ok := m[miss]
				mu.RUnlock()
				if ok {
					b.Fatal()
				}
			}
		})
	})
}
