package metrics

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the instruments and spans:
// the package's import path.
const ScopeName = "github.com/sessionless/sessionless/metrics"

// DefaultSampleEvery is how many requests [Metrics.Middleware] lets go
// by, on average, for each one it times (Config.SampleEvery).
const DefaultSampleEvery = 128

// Config configures [Metrics]. Its zero value is usable: counters and the
// sampled latency histogram, no spans.
type Config struct {
	// TracerProvider, when set, gives a span per authentication timed by
	// [Metrics.Middleware] (every request then, whatever SampleEvery) and
	// per fetch of a provider's documents ([Metrics.KeyFetchTransport]).
	// Nil: no spans.
	TracerProvider trace.TracerProvider
	// SampleEvery: [Metrics.Middleware] times one request in SampleEvery
	// (rounded up to a power of two) for the latency histogram: the one
	// that follows each SampleEvery-th authentication of a method and
	// outcome. Timing a request costs two clock reads, a context value
	// and a copy of the request, about as much as a cached authentication
	// itself, so it is sampled; the counters count every request. Default
	// [DefaultSampleEvery]; 1 times every request; negative times none
	// (Middleware then only makes spans, with a TracerProvider).
	SampleEvery int
	// Now returns the current time, for the ages of the providers' keys
	// and of the revocation list's last sync (durations are measured on
	// the monotonic clock). Nil: time.Now.
	Now func() time.Time
}

// Metrics records what the middleware, the token endpoints, the
// providers and the revocation list report through their hooks, as
// OpenTelemetry instruments of the MeterProvider given to [New]. A nil
// *Metrics records nothing: its methods do nothing and its hooks are nil.
// It is safe for concurrent use.
type Metrics struct {
	now         func() time.Time
	tracer      trace.Tracer                            // nil: no spans
	sampleEvery uint64                                  // a power of two; 0: none
	sampleMask  uint64                                  // sampleEvery - 1
	armed       atomic.Bool                             // the next request Middleware sees is timed
	revocations atomic.Pointer[func() (int, time.Time)] // ObserveRevocations
	reg         metric.Registration

	// Authentications are counted in atomic cells, read by observable
	// counters at collection: an Add of the SDK would cost more than the
	// 50 ns a cached request may pay for its metrics.
	authn   [numMethods][numOutcomes]atomic.Int64 // refusals; the successes are cache's hits and misses
	authz   [numMethods][numOutcomes]atomic.Int64
	cache   [numMethods][numResults]atomic.Int64
	pending atomic.Int64 // requests timed by Middleware whose hook has not run yet

	authnCounter, authzCounter, cacheCounter metric.Int64ObservableCounter
	outcomeSets                              [numMethods][numOutcomes]metric.ObserveOption // of both
	cacheSets                                [numMethods][numResults]metric.ObserveOption
	duration                                 metric.Float64Histogram
	durationSets                             [numMethods][numResults][]metric.RecordOption
	spanSets                                 [numMethods][numOutcomes][]trace.SpanStartOption

	logins     metric.Int64Counter
	loginSets  [numLogins][]metric.AddOption
	events     metric.Int64Counter
	eventSets  map[string][]metric.AddOption // by endpoint.EventKind, and "other"
	apiCreated metric.Int64Counter
	apiRevoked metric.Int64Counter

	keyFetches metric.Int64Counter
	keysAge    metric.Float64ObservableGauge
	mu         sync.Mutex
	issuers    map[string]*issuer

	revEntries metric.Int64ObservableGauge
	revAge     metric.Float64ObservableGauge
}

// New creates the instruments on mp (the SDK's, with the exporter of
// one's choice: package metrics/prometheus makes one for Prometheus) and
// returns the recorder. [Metrics.Close] unregisters its callbacks.
func New(mp metric.MeterProvider, cfg Config) (*Metrics, error) {
	if mp == nil {
		return nil, errors.New("metrics: a MeterProvider is required")
	}
	m := &Metrics{now: cfg.Now, issuers: map[string]*issuer{}}
	if m.now == nil {
		m.now = time.Now
	}
	switch {
	case cfg.SampleEvery == 0:
		m.sampleEvery = DefaultSampleEvery
	case cfg.SampleEvery > 0:
		m.sampleEvery = 1
		for m.sampleEvery < uint64(cfg.SampleEvery) {
			m.sampleEvery <<= 1
		}
	}
	m.sampleMask = max(m.sampleEvery, 1) - 1
	if cfg.TracerProvider != nil {
		m.tracer = cfg.TracerProvider.Tracer(ScopeName)
	}
	meter := mp.Meter(ScopeName)
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	m.authnCounter, err = meter.Int64ObservableCounter("sessionless.authentications", metric.WithUnit("{request}"),
		metric.WithDescription("Requests the middleware authenticated or refused, by method and outcome."))
	check(err)
	m.authzCounter, err = meter.Int64ObservableCounter("sessionless.authorization.refusals", metric.WithUnit("{request}"),
		metric.WithDescription("Authenticated requests refused by a scope, role or resource check, by method and outcome."))
	check(err)
	m.cacheCounter, err = meter.Int64ObservableCounter("sessionless.authentication.cache", metric.WithUnit("{request}"),
		metric.WithDescription("Authenticated requests whose principal came from the cache (hit) or a verification (miss)."))
	check(err)
	m.duration, err = meter.Float64Histogram("sessionless.authentication.duration", metric.WithUnit("s"),
		metric.WithDescription("Time the middleware took to authenticate a sample of the requests, by method and result."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(err)
	m.logins, err = meter.Int64Counter("sessionless.logins", metric.WithUnit("{attempt}"),
		metric.WithDescription("Password attempts at the token endpoints, by outcome."))
	check(err)
	m.events, err = meter.Int64Counter("sessionless.endpoint.events", metric.WithUnit("{event}"),
		metric.WithDescription("Other outcomes of the token endpoints, by event."))
	check(err)
	m.apiCreated, err = meter.Int64Counter("sessionless.apitokens.created", metric.WithUnit("{token}"),
		metric.WithDescription("API tokens created."))
	check(err)
	m.apiRevoked, err = meter.Int64Counter("sessionless.apitokens.revoked", metric.WithUnit("{token}"),
		metric.WithDescription("API tokens revoked."))
	check(err)
	m.keyFetches, err = meter.Int64Counter("sessionless.oidc.key_fetches", metric.WithUnit("{fetch}"),
		metric.WithDescription("Fetches of a provider's keys (discovery included), by issuer and result."))
	check(err)
	m.keysAge, err = meter.Float64ObservableGauge("sessionless.oidc.keys.age", metric.WithUnit("s"),
		metric.WithDescription("Time since the keys held for a provider were last fetched successfully, by issuer."))
	check(err)
	m.revEntries, err = meter.Int64ObservableGauge("sessionless.revocation.entries", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries in the revocation list's mirror."))
	check(err)
	m.revAge, err = meter.Float64ObservableGauge("sessionless.revocation.sync.age", metric.WithUnit("s"),
		metric.WithDescription("Time since the revocation list was last known in sync with its store."))
	check(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m.makeSets()
	if m.reg, err = meter.RegisterCallback(m.observe, m.authnCounter, m.authzCounter, m.cacheCounter, m.keysAge, m.revEntries, m.revAge); err != nil {
		return nil, err
	}
	return m, nil
}

// durationBuckets span a cache hit (a microsecond) to a verification
// that waits for a provider's keys or a database (seconds).
var durationBuckets = []float64{
	2.5e-6, 1e-5, 2.5e-5, 1e-4, 2.5e-4, 1e-3, 2.5e-3, 0.01, 0.025, 0.1, 0.25, 1, 2.5, 10,
}

// makeSets precomputes every attribute set of the bounded attributes, so
// that recording allocates nothing.
func (m *Metrics) makeSets() {
	for i, method := range methods {
		for j, outcome := range outcomes {
			set := attribute.NewSet(attrMethod.String(method), attrOutcome.String(outcome))
			m.outcomeSets[i][j] = metric.WithAttributeSet(set)
			m.spanSets[i][j] = []trace.SpanStartOption{
				trace.WithSpanKind(trace.SpanKindInternal),
				trace.WithAttributes(spanMethod.String(method), spanOutcome.String(outcome)),
			}
		}
		for j, result := range results {
			set := attribute.NewSet(attrMethod.String(method), attrResult.String(result))
			m.cacheSets[i][j] = metric.WithAttributeSet(set)
			m.durationSets[i][j] = []metric.RecordOption{metric.WithAttributeSet(set)}
		}
	}
	for i, outcome := range loginOutcomes {
		m.loginSets[i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrOutcome.String(outcome)))}
	}
	m.eventSets = map[string][]metric.AddOption{}
	for _, event := range events {
		m.eventSets[event] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrEvent.String(event)))}
	}
}

// observe reports the observable instruments at a collection.
func (m *Metrics) observe(_ context.Context, o metric.Observer) error {
	for i := range numMethods {
		for j := range numOutcomes {
			n := m.authn[i][j].Load()
			if j == outcomeOK {
				n = m.cache[i][resultHit].Load() + m.cache[i][resultMiss].Load()
			}
			if n != 0 {
				o.ObserveInt64(m.authnCounter, n, m.outcomeSets[i][j])
			}
			if n := m.authz[i][j].Load(); n != 0 {
				o.ObserveInt64(m.authzCounter, n, m.outcomeSets[i][j])
			}
		}
		for j := range numResults {
			if n := m.cache[i][j].Load(); n != 0 {
				o.ObserveInt64(m.cacheCounter, n, m.cacheSets[i][j])
			}
		}
	}
	now := m.now()
	m.mu.Lock()
	for _, is := range m.issuers {
		if at := is.fetchedAt.Load(); at != 0 {
			o.ObserveFloat64(m.keysAge, age(now, time.Unix(0, at)), is.age)
		}
	}
	m.mu.Unlock()
	if f := m.revocations.Load(); f != nil {
		entries, synced := (*f)()
		o.ObserveInt64(m.revEntries, int64(entries))
		if !synced.IsZero() {
			o.ObserveFloat64(m.revAge, age(now, synced))
		}
	}
	return nil
}

// ObserveRevocations reports the revocation list at each collection:
// f returns its number of entries and the last time it was known in sync
// with its store (revocation.List.Len and .SyncedAt), for the gauges
// sessionless.revocation.entries and sessionless.revocation.sync.age (not
// reported before the first sync). f must be safe for concurrent use and
// must not block. It is a method rather than a field of [Config] because
// sessionless.New opens the list after it needs [Metrics.Hooks]:
//
//	m.ObserveRevocations(func() (int, time.Time) { return auth.Revocations.Len(), auth.Revocations.SyncedAt() })
//
// A later call replaces f; nil stops the gauges.
func (m *Metrics) ObserveRevocations(f func() (entries int, syncedAt time.Time)) {
	if m == nil {
		return
	}
	if f == nil {
		m.revocations.Store(nil)
		return
	}
	m.revocations.Store(&f)
}

// age is now - t in seconds, never negative.
func age(now, t time.Time) float64 { return max(now.Sub(t).Seconds(), 0) }

// Close unregisters the callbacks of the observable instruments: the
// authentication counters and the gauges are no longer reported. The
// MeterProvider is the caller's to shut down.
func (m *Metrics) Close() error {
	if m == nil {
		return nil
	}
	return m.reg.Unregister()
}
