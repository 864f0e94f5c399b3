package metrics_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/metrics"
)

// The attribute values docs/metrics.md lists.
var (
	methodValues  = []string{"jwt", "oidc", "apitoken", "session", "none", "other"}
	outcomeValues = []string{
		"ok", "no_credentials", "invalid_request", "malformed", "invalid_signature", "unknown_key",
		"expired", "not_yet_valid", "wrong_audience", "wrong_issuer", "revoked", "invalid_token",
		"invalid_session", "cross_origin", "invalid_proof", "replayed_proof", "dpop_nonce_required",
		"forbidden_scope", "unavailable",
	}
	eventValues = []string{
		"refresh", "refresh_reuse", "logout", "logout_all", "revoke", "throttled", "device_end",
		"authorize", "code_reuse", "consent", "consent_deny", "consent_revoke", "other",
	}
)

// documented is every instrument, with the values each of its attributes
// may take; nil values: the issuers configured.
var documented = map[string]map[string][]string{
	"sessionless.authentications":         {"method": methodValues, "outcome": outcomeValues},
	"sessionless.authorization.refusals":  {"method": methodValues, "outcome": outcomeValues},
	"sessionless.authentication.cache":    {"method": methodValues, "result": {"hit", "miss"}},
	"sessionless.authentication.duration": {"method": methodValues, "result": {"hit", "miss", "refused"}},
	"sessionless.logins":                  {"outcome": {"ok", "failed", "throttled"}},
	"sessionless.endpoint.events":         {"event": eventValues},
	"sessionless.apitokens.created":       {},
	"sessionless.apitokens.revoked":       {},
	"sessionless.oidc.key_fetches":        {"issuer": nil, "result": {"ok", "error"}},
	"sessionless.oidc.keys.age":           {"issuer": nil},
	"sessionless.revocation.entries":      {},
	"sessionless.revocation.sync.age":     {},
}

// TestBoundedAttributes: after requests of every kind (the API's, DPoP's,
// the endpoints', a provider's), every data point of every instrument
// has only documented attributes, with documented values: no subject,
// token ID, username, client or path, whatever the requests carried.
func TestBoundedAttributes(t *testing.T) {
	clk := testenv.NewClock(now)
	m, reader := newMetrics(t, metrics.Config{Now: clk.Now, SampleEvery: 1,
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))})
	apiRequests(t, newAPI(t, m, nil))
	dpopRequests(t, m)
	endpointRequests(t, m)
	f := providerRequests(t, m, clk)
	m.ObserveRevocations(func() (int, time.Time) { return 1, now })
	m.APITokenCreated(t.Context())
	m.APITokenRevoked(t.Context())

	seen := map[string]bool{}
	for _, p := range collect(t, reader) {
		seen[p.name] = true
		attrs, ok := documented[p.name]
		if !ok {
			t.Errorf("undocumented instrument %s", p.name)
			continue
		}
		if p.attrs.Len() != len(attrs) {
			t.Errorf("%s{%s}: want attributes %v", p.name, p.key(), attrs)
		}
		for _, kv := range p.attrs.ToSlice() {
			values, ok := attrs[string(kv.Key)]
			switch v := kv.Value.String(); {
			case !ok:
				t.Errorf("%s: undocumented attribute %s", p.name, kv.Key)
			case values == nil && v != f.Issuer():
				t.Errorf("%s: issuer %q, not the configured one", p.name, v)
			case values != nil && !slices.Contains(values, v):
				t.Errorf("%s: %s=%q, not a documented value", p.name, kv.Key, v)
			}
		}
	}
	for name := range documented {
		if !seen[name] {
			t.Errorf("%s recorded nothing: the requests do not cover it", name)
		}
	}
}

// TestDocumented: docs/metrics.md names every instrument and every value
// of its attributes.
func TestDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, c := range []struct {
		code, documented []string
	}{
		{metrics.Methods, methodValues},
		{metrics.Outcomes, outcomeValues},
		{metrics.Results, documented["sessionless.authentication.duration"]["result"]},
		{metrics.LoginOutcomes, documented["sessionless.logins"]["outcome"]},
		{metrics.Events, eventValues},
	} {
		if !slices.Equal(c.code, c.documented) {
			t.Errorf("the code's values %v, the documented ones %v", c.code, c.documented)
		}
	}
	for name, attrs := range documented {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/metrics.md does not name %s", name)
		}
		for attr, values := range attrs {
			if !strings.Contains(doc, "`"+attr+"`") {
				t.Errorf("docs/metrics.md does not name the attribute %s", attr)
			}
			for _, v := range values {
				if !strings.Contains(doc, "`"+v+"`") {
					t.Errorf("docs/metrics.md does not name the value %s of %s", v, attr)
				}
			}
		}
	}
}
