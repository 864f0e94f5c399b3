// Package prometheus sets up package metrics for Prometheus in one call:
// the OpenTelemetry SDK's MeterProvider with its Prometheus exporter, on
// a registry of its own, and the handler that serves it.
//
//	exp, err := prometheus.New(metrics.Config{})
//	defer exp.Shutdown(context.Background())
//	cfg.Middleware.Hooks = exp.Metrics.Hooks() // and the other hooks: package metrics
//	mux.Handle("GET /metrics", exp.Handler)
//
// It is the only package of the module that imports the SDK and the
// Prometheus client; package metrics itself uses the OpenTelemetry API
// only, for applications that export otherwise (OTLP).
package prometheus

import (
	"context"
	"errors"
	"net/http"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/sessionless/sessionless/metrics"
)

// Exporter is package metrics' recorder on a MeterProvider exported for
// Prometheus.
type Exporter struct {
	// Metrics records what the hooks report: give its hooks to the
	// middleware, the endpoints and the providers (package metrics).
	Metrics *metrics.Metrics
	// Handler serves the metrics in Prometheus' text format (or
	// OpenMetrics, as the scraper asks): mount it at GET /metrics. It
	// serves the instruments of MeterProvider, and the Go runtime's and
	// the process's metrics (go_*, process_*).
	Handler http.Handler
	// MeterProvider is the SDK's provider the metrics are on: the
	// application may make instruments of its own there, exported with
	// them.
	MeterProvider *sdkmetric.MeterProvider
}

// New returns package metrics' recorder, made with cfg, on a new
// MeterProvider whose only reader is a Prometheus exporter on a registry
// of its own (never the Prometheus client's global one). Names follow
// Prometheus' conventions: sessionless.authentications becomes
// sessionless_authentications_total, a duration in seconds gets
// _seconds. The instrumentation scope is not added as labels.
func New(cfg metrics.Config) (*Exporter, error) {
	reg := promclient.NewRegistry()
	if err := errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	); err != nil {
		return nil, err
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	m, err := metrics.New(mp, cfg)
	if err != nil {
		mp.Shutdown(context.Background())
		return nil, err
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return &Exporter{Metrics: m, Handler: h, MeterProvider: mp}, nil
}

// Shutdown unregisters the metrics' callbacks and shuts the
// MeterProvider down: Handler serves nothing of them after.
func (e *Exporter) Shutdown(ctx context.Context) error {
	return errors.Join(e.Metrics.Close(), e.MeterProvider.Shutdown(ctx))
}
