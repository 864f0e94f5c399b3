package metrics_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sessionless/sessionless/metrics"
	"github.com/sessionless/sessionless/token/endpoint"
)

// now is the time of the tests' tokens and clocks, fixed at the start
// (the revocation list and the API tokens read the real clock).
var now = time.Now().Truncate(time.Second)

func clock() time.Time { return now }

// point is one data point collected: a sum's or a gauge's value, or a
// histogram's count.
type point struct {
	name  string
	attrs attribute.Set
	value float64
}

// key is the point's attributes as "k=v k=v", sorted by key.
func (p point) key() string {
	var parts []string
	for _, kv := range p.attrs.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, " ")
}

// newMetrics returns metrics on a real SDK MeterProvider with a manual
// reader.
func newMetrics(t testing.TB, cfg metrics.Config) (*metrics.Metrics, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	m, err := metrics.New(mp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, reader
}

// collect returns every data point the reader collects now.
func collect(t testing.TB, r *sdkmetric.ManualReader) []point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var ps []point
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != metrics.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if !d.IsMonotonic || d.Temporality != metricdata.CumulativeTemporality {
					t.Errorf("%s: not a cumulative counter", m.Name)
				}
				for _, dp := range d.DataPoints {
					ps = append(ps, point{m.Name, dp.Attributes, float64(dp.Value)})
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					ps = append(ps, point{m.Name, dp.Attributes, float64(dp.Value)})
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					ps = append(ps, point{m.Name, dp.Attributes, dp.Value})
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					ps = append(ps, point{m.Name, dp.Attributes, float64(dp.Count)})
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return ps
}

// values returns the points of the instrument name by their key.
func values(ps []point, name string) map[string]float64 {
	vs := map[string]float64{}
	for _, p := range ps {
		if p.name == name {
			vs[p.key()] = p.value
		}
	}
	return vs
}

// wantValues fails unless the points of name are exactly want.
func wantValues(t testing.TB, ps []point, name string, want map[string]float64) {
	t.Helper()
	got := values(ps, name)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s{%s} = %v, want %v", name, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s{%s} = %v, not expected", name, k, v)
		}
	}
}

// counterValue returns the value of a counter's point with exactly attrs.
func counterValue(t testing.TB, r *sdkmetric.ManualReader, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	want := point{attrs: attribute.NewSet(attrs...)}.key()
	return int64(values(collect(t, r), name)[want])
}

func TestNew(t *testing.T) {
	if _, err := metrics.New(nil, metrics.Config{}); err == nil {
		t.Fatal("New without a MeterProvider")
	}
}

// TestNil: a nil *Metrics records nothing and its hooks are nil, so an
// application leaves metrics off without a branch.
func TestNil(t *testing.T) {
	var m *metrics.Metrics
	if h := m.Hooks(); h.OnAuthenticated != nil || h.OnRejected != nil {
		t.Fatal("hooks of a nil *Metrics")
	}
	if m.KeysRefreshed("https://issuer.test") != nil {
		t.Fatal("KeysRefreshed of a nil *Metrics")
	}
	next := &struct{ http.Handler }{}
	if m.Middleware(next) != http.Handler(next) {
		t.Fatal("Middleware of a nil *Metrics wraps")
	}
	if m.KeyFetchTransport("https://issuer.test", nil) != http.DefaultTransport {
		t.Fatal("KeyFetchTransport of a nil *Metrics wraps")
	}
	req, _ := http.NewRequest("GET", "/", nil)
	m.OnAuthenticated(req, nil, false)
	m.OnRejected(req, nil)
	m.EndpointAudit(req, endpoint.Event{Kind: endpoint.LoginSucceeded})
	m.APITokenCreated(context.Background())
	m.APITokenRevoked(context.Background())
	m.ObserveRevocations(func() (int, time.Time) { return 0, time.Time{} })
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestClose: after Close, the observable instruments are not reported.
func TestClose(t *testing.T) {
	m, reader := newMetrics(t, metrics.Config{})
	m.ObserveRevocations(func() (int, time.Time) { return 3, now })
	if len(values(collect(t, reader), "sessionless.revocation.entries")) != 1 {
		t.Fatal("no revocation entries before Close")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if ps := collect(t, reader); len(ps) != 0 {
		t.Fatalf("after Close: %v", ps)
	}
}
