package metrics

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// issuer is what Metrics keeps of a provider.
type issuer struct {
	ok, failed []metric.AddOption
	age        metric.ObserveOption
	fetchedAt  atomic.Int64 // unix nanoseconds of the last successful fetch; 0: none yet
}

// issuer returns the state of iss, made on first use.
func (m *Metrics) issuer(iss string) *issuer {
	m.mu.Lock()
	defer m.mu.Unlock()
	is := m.issuers[iss]
	if is == nil {
		is = &issuer{
			ok:     []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrIssuer.String(iss), attrResult.String("ok")))},
			failed: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrIssuer.String(iss), attrResult.String("error")))},
			age:    metric.WithAttributeSet(attribute.NewSet(attrIssuer.String(iss))),
		}
		m.issuers[iss] = is
	}
	return is
}

// KeysRefreshed returns the oidc.Hooks.OnKeysRefreshed of the provider of
// issuer: it counts each fetch of the provider's keys (its discovery
// document included) in sessionless.oidc.key_fetches, by issuer and
// result ("ok", "error"), and reports the time since the last successful
// one in the gauge sessionless.oidc.keys.age, from the first success on
// (the keys held are those of that fetch: a failed fetch keeps them). The
// issuer is an attribute: give the configured issuer (oidc.Config.Issuer),
// never one read from a token. Nil for a nil *Metrics, which the provider
// skips. The hook does not time the fetch: [Metrics.KeyFetchTransport]
// makes its spans.
func (m *Metrics) KeysRefreshed(issuer string) func(err error) {
	if m == nil {
		return nil
	}
	is := m.issuer(issuer)
	return func(err error) {
		if err != nil {
			m.keyFetches.Add(context.Background(), 1, is.failed...)
			return
		}
		is.fetchedAt.Store(m.now().UnixNano())
		m.keyFetches.Add(context.Background(), 1, is.ok...)
	}
}

// KeyFetchTransport returns the transport of the HTTP client of the
// provider of issuer (oidc.Config.HTTPClient), which makes a client span
// "sessionless.oidc.fetch" of each request it sends (the discovery
// document, the JWK Set), from the request until its body is closed, with
// its URL, its status and an error status when it fails. The fetches of
// a provider run in the background or on behalf of several requests, so
// the span starts a trace of its own unless the request's context holds
// one. base carries the requests; nil means http.DefaultTransport. Without
// Config.TracerProvider, or for a nil *Metrics, it returns base.
func (m *Metrics) KeyFetchTransport(issuer string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if m == nil || m.tracer == nil {
		return base
	}
	return &fetchTransport{base: base, tracer: m.tracer, issuer: spanIssuer.String(issuer)}
}

type fetchTransport struct {
	base   http.RoundTripper
	tracer trace.Tracer
	issuer attribute.KeyValue
}

func (t *fetchTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	u := *req.URL
	u.User = nil // never a password in a span
	ctx, span := t.tracer.Start(req.Context(), spanKeyFetch, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(t.issuer, attribute.String("http.request.method", req.Method), attribute.String("url.full", u.String())))
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
	}
	resp.Body = &spanBody{ReadCloser: resp.Body, span: span}
	return resp, nil
}

// spanBody ends its span when it is closed.
type spanBody struct {
	io.ReadCloser
	span trace.Span
	once sync.Once
}

func (b *spanBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.span.End() })
	return err
}
