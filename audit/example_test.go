package audit_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"os"
	"time"

	"github.com/sessionless/sessionless/audit"
	"github.com/sessionless/sessionless/token/endpoint"
)

// The endpoints' events through EndpointHook, and a record of the
// application's own, as JSON lines on a handler of their own.
func Example() {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	l := audit.New(slog.New(slog.NewJSONHandler(os.Stdout, nil)), audit.Config{Now: func() time.Time { return at }})

	// endpoint.Config{Hooks: endpoint.Hooks{Audit: audit.EndpointHook(l)}}
	hook := audit.EndpointHook(l)
	r := httptest.NewRequest("POST", "/auth/login", nil)
	hook(r, endpoint.Event{Kind: endpoint.LoginFailed, Username: "alice", Reason: audit.ReasonBadCredentials,
		Issuer: "https://api.example", ClientAddr: netip.MustParseAddr("203.0.113.7")})

	l.Log(context.Background(), audit.Record{Event: audit.PasswordChange, Username: "alice", Subject: "usr_01",
		Actor: audit.ActorOperator})
	// Output:
	// {"time":"2030-01-02T03:04:05Z","level":"INFO","msg":"audit","event":"login","outcome":"failure","reason":"unknown_user_or_bad_password","username":"alice","client_ip":"203.0.113.7","issuer":"https://api.example"}
	// {"time":"2030-01-02T03:04:05Z","level":"INFO","msg":"audit","event":"password_change","outcome":"success","username":"alice","subject":"usr_01","actor":"operator"}
}
