package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/metrics"
	"github.com/sessionless/sessionless/revocation"
)

// TestRevocations: the revocation list's gauges, from the callback.
func TestRevocations(t *testing.T) {
	clk := testenv.NewClock(now)
	m, reader := newMetrics(t, metrics.Config{Now: clk.Now})
	wantValues(t, collect(t, reader), "sessionless.revocation.entries", nil) // no callback yet

	entries, synced := 0, time.Time{}
	m.ObserveRevocations(func() (int, time.Time) { return entries, synced })
	ps := collect(t, reader)
	wantValues(t, ps, "sessionless.revocation.entries", map[string]float64{"": 0})
	wantValues(t, ps, "sessionless.revocation.sync.age", nil) // never synced

	entries, synced = 42, now.Add(-1500*time.Millisecond)
	ps = collect(t, reader)
	wantValues(t, ps, "sessionless.revocation.entries", map[string]float64{"": 42})
	wantValues(t, ps, "sessionless.revocation.sync.age", map[string]float64{"": 1.5})
	clk.Advance(10 * time.Second) // the list stops syncing: the age grows
	wantValues(t, collect(t, reader), "sessionless.revocation.sync.age", map[string]float64{"": 11.5})
	synced = now.Add(time.Hour) // a clock behind the list's
	wantValues(t, collect(t, reader), "sessionless.revocation.sync.age", map[string]float64{"": 0})

	m.ObserveRevocations(nil)
	wantValues(t, collect(t, reader), "sessionless.revocation.entries", nil)
}

// TestRevocationList: the gauges of a real list.
func TestRevocationList(t *testing.T) {
	m, reader := newMetrics(t, metrics.Config{})
	ctx := context.Background()
	list, err := revocation.Open(ctx, revocation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer list.Close()
	m.ObserveRevocations(func() (int, time.Time) { return list.Len(), list.SyncedAt() })
	for _, jti := range []string{"a", "b", "c"} {
		if err := list.RevokeToken(ctx, "https://api.test", jti, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	ps := collect(t, reader)
	wantValues(t, ps, "sessionless.revocation.entries", map[string]float64{"": 3})
	if age, ok := values(ps, "sessionless.revocation.sync.age")[""]; !ok || age > 60 {
		t.Errorf("sync age %v, %v", age, ok)
	}
}
