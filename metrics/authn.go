package metrics

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
)

// The attributes of the instruments. Their values are bounded: the
// lists below, the endpoint events, and the issuers the application
// configures.
const (
	attrMethod  attribute.Key = "method"
	attrOutcome attribute.Key = "outcome"
	attrResult  attribute.Key = "result"
	attrEvent   attribute.Key = "event"
	attrIssuer  attribute.Key = "issuer"
)

// The attributes of the spans.
const (
	spanMethod  attribute.Key = "sessionless.method"
	spanOutcome attribute.Key = "sessionless.outcome"
	spanCached  attribute.Key = "sessionless.cached"
	spanIssuer  attribute.Key = "sessionless.issuer"
)

// The span names.
const (
	spanAuthenticate      = "sessionless.authenticate"
	spanKeyFetch          = "sessionless.oidc.fetch"
	eventAuthorizeRefused = "sessionless.authorization.refused"
)

// methods are the values of the method attribute, by index: how the
// principal authenticated (identity.Method), "none" when the request
// was refused before it named one, "other" for a Method of a verifier of
// one's own.
var methods = [...]string{"jwt", "oidc", "apitoken", "session", "none", "other"}

const (
	methodJWT = iota
	methodOIDC
	methodAPIToken
	methodSession
	methodNone
	methodOther
	numMethods
)

// methodIndex is the index in methods of m.
func methodIndex(m identity.Method) int {
	switch m {
	case identity.JWT:
		return methodJWT
	case identity.OIDC:
		return methodOIDC
	case identity.APIToken:
		return methodAPIToken
	case identity.Session:
		return methodSession
	}
	return methodOther
}

// outcomes are the values of the outcome attribute, by index.
var outcomes = [...]string{
	"ok", "no_credentials", "invalid_request", "malformed", "invalid_signature", "unknown_key",
	"expired", "not_yet_valid", "wrong_audience", "wrong_issuer", "revoked", "invalid_token",
	"invalid_session", "cross_origin", "invalid_proof", "replayed_proof", "dpop_nonce_required",
	"forbidden_scope", "unavailable",
}

const (
	outcomeOK = iota
	outcomeNoCredentials
	outcomeInvalidRequest
	outcomeMalformed
	outcomeInvalidSignature
	outcomeUnknownKey
	outcomeExpired
	outcomeNotYetValid
	outcomeWrongAudience
	outcomeWrongIssuer
	outcomeRevoked
	outcomeInvalidToken
	outcomeInvalidSession
	outcomeCrossOrigin
	outcomeInvalidProof
	outcomeReplayedProof
	outcomeNonceRequired
	outcomeForbiddenScope
	outcomeUnavailable
	numOutcomes
)

// results are the values of the result attribute: of the cache counter
// (hit, miss) and of the latency histogram (hit, miss, refused).
var results = [...]string{"hit", "miss", "refused"}

const (
	resultHit = iota
	resultMiss
	resultRefused
	numResults
)

// outcomeOf classifies a refusal of the middleware: by its sentinel
// (middleware.Status's classes, split further), then, for an invalid
// token, by the verifier's cause.
func outcomeOf(err error) int {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, middleware.ErrUnavailable):
		return outcomeUnavailable // a store, a provider, the DPoP replay cache
	case errors.Is(err, middleware.ErrNoCredentials):
		return outcomeNoCredentials
	case errors.Is(err, middleware.ErrInvalidRequest):
		return outcomeInvalidRequest
	case errors.Is(err, middleware.ErrCrossOrigin):
		return outcomeCrossOrigin
	case errors.Is(err, middleware.ErrInsufficientScope):
		return outcomeForbiddenScope
	case errors.Is(err, middleware.ErrInvalidSession):
		return outcomeInvalidSession
	case errors.Is(err, middleware.ErrUseDPoPNonce):
		return outcomeNonceRequired
	case errors.Is(err, middleware.ErrInvalidDPoPProof) && errors.Is(err, dpop.ErrReplayed):
		return outcomeReplayedProof
	case errors.Is(err, middleware.ErrInvalidDPoPProof):
		return outcomeInvalidProof
	case errors.Is(err, middleware.ErrRevoked), errors.Is(err, apitoken.ErrRevoked):
		return outcomeRevoked
	case errors.Is(err, token.ErrExpired), errors.Is(err, apitoken.ErrExpired):
		return outcomeExpired
	case errors.Is(err, token.ErrNotYetValid):
		return outcomeNotYetValid
	case errors.Is(err, token.ErrSignature), errors.Is(err, token.ErrAlgorithm):
		return outcomeInvalidSignature
	case errors.Is(err, token.ErrUnknownKey):
		return outcomeUnknownKey
	case errors.Is(err, token.ErrMalformed), errors.Is(err, token.ErrUnsupported), errors.Is(err, apitoken.ErrMalformed):
		return outcomeMalformed
	case errors.Is(err, token.ErrAudience):
		return outcomeWrongAudience
	case errors.Is(err, token.ErrIssuer):
		return outcomeWrongIssuer
	}
	// middleware.ErrInvalidToken for another cause (not an access token,
	// a claim missing, an unknown API token or issuer, a token too long),
	// or an error of no sentinel, which middleware.Status answers as
	// invalid_token too.
	return outcomeInvalidToken
}

// Hooks returns the hooks that count the middleware's authentications
// and refusals, for middleware.Config.Hooks (sessionless.Config.Middleware.Hooks);
// nil hooks for a nil *Metrics. To run hooks of one's own too, call these
// from them. [Metrics.Middleware] around the middleware adds the latency
// histogram and the spans.
func (m *Metrics) Hooks() middleware.Hooks {
	if m == nil {
		return middleware.Hooks{}
	}
	return middleware.Hooks{OnAuthenticated: m.OnAuthenticated, OnRejected: m.OnRejected}
}

// OnAuthenticated is the middleware.Hooks.OnAuthenticated of [Metrics.Hooks]:
// it counts an authentication by p's method, outcome "ok", and a cache
// hit or miss.
func (m *Metrics) OnAuthenticated(r *http.Request, p *identity.Principal, cached bool) {
	if m == nil {
		return
	}
	method, result := methodIndex(p.Method), resultMiss
	if cached {
		result = resultHit
	}
	m.sample(m.cache[method][result].Add(1)) // also the authentication: one atomic add
	if m.pending.Load() != 0 {
		m.finish(r, method, outcomeOK, result, cached)
	}
}

// OnRejected is the middleware.Hooks.OnRejected of [Metrics.Hooks]. A
// refusal of an authenticated request (its principal in the context:
// RequireScopes, RequireRoles, Require, Protect's resource check) is an
// authorization refusal, counted apart from authentications so that each
// request is counted once in sessionless.authentications; its
// invalid_token is Protect's "a token for another resource":
// wrong_audience. Other refusals are counted with method "session" for a
// legacy session naming no live session, "none" otherwise.
func (m *Metrics) OnRejected(r *http.Request, err error) {
	if m == nil {
		return
	}
	outcome := outcomeOf(err)
	if p, ok := identity.FromContext(r.Context()); ok {
		if outcome == outcomeInvalidToken {
			outcome = outcomeWrongAudience
		}
		method := methodIndex(p.Method)
		m.authz[method][outcome].Add(1)
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			span.AddEvent(eventAuthorizeRefused, trace.WithAttributes(spanMethod.String(methods[method]), spanOutcome.String(outcomes[outcome])))
		}
		return
	}
	method := methodNone
	if outcome == outcomeInvalidSession {
		method = methodSession
	}
	m.sample(m.authn[method][outcome].Add(1))
	if m.pending.Load() != 0 {
		m.finish(r, method, outcome, resultRefused, false)
	}
}

// sample arms Middleware to time the next request after every
// sampleEvery-th authentication of a method and outcome (n is its count):
// a sample without a random draw per request, which would cost more than
// the counter (a division, or runtime.rand: 15 ns on a busy machine).
func (m *Metrics) sample(n int64) {
	if m.sampleEvery != 0 && uint64(n)&m.sampleMask == 0 && !m.armed.Load() {
		m.armed.Store(true)
	}
}

// timing is what Middleware keeps of a request it times, in its context.
type timing struct {
	start time.Time
	timed bool // sampled for the histogram
	done  bool // a hook has recorded it
}

type timingKey struct{}

// Middleware times the authentication of the requests that go through
// next, the middleware of the authenticator whose Config.Hooks are
// [Metrics.Hooks] (wrap it: m.Middleware(auth.Middleware(handler)), or
// r.Use(m.Middleware) before r.Use(auth.Middleware) with chi): from the
// moment the request reaches Middleware to the moment the middleware
// calls its hook, whether it lets the request through or refuses it. The
// time goes to the histogram sessionless.authentication.duration for one
// request in Config.SampleEvery, and to a span "sessionless.authenticate"
// for every request with Config.TracerProvider (the span is not the
// context's current span: the verifier's and the handler's spans are its
// siblings). A request let through without credentials by
// middleware.Config.Optional calls no hook and is neither timed nor
// traced. For a nil *Metrics, or with neither sampling nor tracing,
// Middleware returns next.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	if m == nil || m.sampleEvery == 0 && m.tracer == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		timed := m.sampleEvery == 1 || m.armed.Load() && m.armed.CompareAndSwap(true, false)
		if !timed && m.tracer == nil {
			next.ServeHTTP(w, r) // the common case: no defer, no allocation
			return
		}
		m.serveTimed(w, r, next, timed)
	})
}

// serveTimed serves r, whose authentication the hook will time.
func (m *Metrics) serveTimed(w http.ResponseWriter, r *http.Request, next http.Handler, timed bool) {
	t := &timing{timed: timed}
	r = r.WithContext(context.WithValue(r.Context(), timingKey{}, t))
	m.pending.Add(1)
	defer func() {
		if !t.done {
			m.pending.Add(-1) // no hook ran: let through anonymously, or a panic
		}
	}()
	t.start = time.Now()
	next.ServeHTTP(w, r)
}

// finish records the time of r's authentication, if Middleware timed it.
func (m *Metrics) finish(r *http.Request, method, outcome, result int, cached bool) {
	t, ok := r.Context().Value(timingKey{}).(*timing)
	if !ok || t.done {
		return
	}
	t.done = true
	m.pending.Add(-1)
	end := time.Now()
	if t.timed {
		m.duration.Record(r.Context(), end.Sub(t.start).Seconds(), m.durationSets[method][result]...)
	}
	if m.tracer == nil {
		return
	}
	opts := append(m.spanSets[method][outcome][:2:2], trace.WithTimestamp(t.start))
	_, span := m.tracer.Start(r.Context(), spanAuthenticate, opts...)
	if outcome == outcomeOK {
		span.SetAttributes(spanCached.Bool(cached))
	}
	if outcome == outcomeUnavailable {
		span.SetStatus(codes.Error, outcomes[outcome])
	}
	span.End(trace.WithTimestamp(end))
}
