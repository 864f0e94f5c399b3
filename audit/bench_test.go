package audit_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/sessionless/sessionless/audit"
	"github.com/sessionless/sessionless/token/endpoint"
)

// BenchmarkEndpointHook is the cost of one record, to JSON, for each
// request of a flood the throttle refuses (one record each) and each
// login.
func BenchmarkEndpointHook(b *testing.B) {
	hook := audit.EndpointHook(audit.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), audit.Config{}))
	r := httptest.NewRequest("POST", "/auth/login", nil)
	ev := endpoint.Event{Kind: endpoint.Throttled, Reason: string(endpoint.BudgetAddress), Issuer: "https://api.example",
		ClientAddr: netip.MustParseAddr("203.0.113.7")}
	b.ReportAllocs()
	for b.Loop() {
		hook(r, ev)
	}
}
