// Package metrics records what the middleware, the token endpoints, the
// OpenID Connect providers and the revocation list report through their
// hooks as OpenTelemetry metrics and spans. It depends on the
// OpenTelemetry API only: the application picks the SDK and the exporter
// (package metrics/prometheus sets up the Prometheus one in a call), and
// the core packages know nothing of it.
//
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)) // any exporter
//	m, err := metrics.New(mp, metrics.Config{})
//
//	auth, err := middleware.New(middleware.Config{JWT: jwt, Revocation: list, Hooks: m.Hooks()})
//	mux.Handle("/api/", m.Middleware(auth.Middleware(api))) // the latency histogram
//	m.ObserveRevocations(func() (int, time.Time) { return list.Len(), list.SyncedAt() })
//
//	ec.Hooks.Audit = m.EndpointAudit                      // endpoint.Config
//	pc.Hooks.OnKeysRefreshed = m.KeysRefreshed(pc.Issuer) // oidc.Config
//	// and from the API token handlers' hooks:
//	m.APITokenCreated(r.Context())
//	m.APITokenRevoked(r.Context())
//
// [Metrics.Hooks] counts every authentication and refusal by method and
// outcome, and the cache's hits and misses, in atomic cells that
// observable counters read at collection: a cached request pays about
// 15 ns for them (docs/benchmarks.md). [Metrics.Middleware] around
// the middleware times a sample of the authentications for a histogram,
// and with [Config.TracerProvider] makes a span of each. Every attribute
// value comes from a fixed list, or is an issuer the application
// configured: never a subject, a token ID, a client or a path.
// docs/metrics.md lists the instruments.
//
// A nil *Metrics records nothing, so an application can leave metrics off
// without a branch at each hook.
package metrics
