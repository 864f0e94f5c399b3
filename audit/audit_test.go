package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/audit"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// newLogger returns a Logger writing JSON to a buffer, at t0, at level.
func newLogger(level slog.Level, cfg audit.Config) (*audit.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	cfg.Now = func() time.Time { return t0 }
	return audit.New(slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{Level: level})), cfg), &b
}

// lines returns the records written to b, the time, level and message
// checked and left out, the attributes in order as "key=value".
func lines(t *testing.T, b *bytes.Buffer) []string {
	t.Helper()
	var out []string
	dec := json.NewDecoder(b)
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		// The keys in the order written: decode token by token.
		kd := json.NewDecoder(bytes.NewReader(raw))
		kd.Token() // {
		var attrs []string
		for kd.More() {
			k, _ := kd.Token()
			v, _ := kd.Token()
			switch k {
			case slog.TimeKey:
				if v != t0.Format(time.RFC3339) {
					t.Errorf("time %v", v)
				}
			case slog.MessageKey:
				if v != audit.Message {
					t.Errorf("message %v", v)
				}
			default:
				attrs = append(attrs, k.(string)+"="+v.(string))
			}
		}
		out = append(out, strings.Join(attrs, " "))
	}
	return out
}

// TestRecord: the attributes in the schema's order, empty ones left out,
// the outcome and level by event.
func TestRecord(t *testing.T) {
	ip := netip.MustParseAddr("203.0.113.7")
	tests := []struct {
		name string
		rec  audit.Record
		want string
	}{
		{"every key", audit.Record{Event: audit.Login, Outcome: audit.Failure, Reason: audit.ReasonLocked, Username: "u", Subject: "s",
			ClientID: "c", TokenID: "j", Actor: "a", ClientIP: ip, Issuer: "i", KeyID: "k"},
			"level=INFO event=login outcome=failure reason=locked username=u subject=s client_id=c token_id=j actor=a client_ip=203.0.113.7 issuer=i key_id=k"},
		{"empty ones left out", audit.Record{Event: audit.Logout, Subject: "s"}, "level=INFO event=logout outcome=success subject=s"},

		// Outcomes and levels by event.
		{"throttled fails", audit.Record{Event: audit.Throttled, Reason: "address"}, "level=INFO event=throttled outcome=failure reason=address"},
		{"refresh reuse warns", audit.Record{Event: audit.RefreshReuse}, "level=WARN event=refresh_reuse outcome=failure"},
		{"code reuse warns", audit.Record{Event: audit.CodeReuse}, "level=WARN event=code_reuse outcome=failure"},
		{"an outcome given is kept", audit.Record{Event: audit.Throttled, Outcome: audit.Success}, "level=INFO event=throttled outcome=success"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, b := newLogger(slog.LevelInfo, audit.Config{})
			l.Log(context.Background(), tt.rec)
			if got := lines(t, b); len(got) != 1 || got[0] != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestLevel: a handler above INFO keeps only the reuse detections.
func TestLevel(t *testing.T) {
	l, b := newLogger(slog.LevelWarn, audit.Config{})
	l.Log(context.Background(), audit.Record{Event: audit.Login})
	l.Log(context.Background(), audit.Record{Event: audit.RefreshReuse})
	if got := lines(t, b); len(got) != 1 || !strings.Contains(got[0], "event=refresh_reuse") {
		t.Errorf("%q", got)
	}
}

// TestNil: a nil Logger and its adapters write nothing and do not panic.
func TestNil(t *testing.T) {
	var l *audit.Logger
	if audit.New(nil, audit.Config{}) != nil {
		t.Error("New(nil) is not nil")
	}
	r := httptest.NewRequest("GET", "/", nil)
	l.Log(context.Background(), audit.Record{Event: audit.Login})
	l.LogRequest(r, audit.Record{Event: audit.Login})
	l.LogKeys(context.Background(), "i", nil)
	if audit.EndpointHook(l) != nil || audit.ProviderKeysHook(l, "i") != nil {
		t.Error("a hook of a nil Logger")
	}
	if h := audit.APITokenHooks(l); h.OnCreated != nil || h.OnRevoked != nil {
		t.Error("API token hooks of a nil Logger")
	}
}

// TestLogRequest: the client address is Config.ClientAddr's, the
// connection's without it, and a ClientIP given is kept.
func TestLogRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[::ffff:192.0.2.1]:4242"
	l, b := newLogger(slog.LevelInfo, audit.Config{})
	l.LogRequest(r, audit.Record{Event: audit.Logout})
	l.LogRequest(r, audit.Record{Event: audit.Logout, ClientIP: netip.MustParseAddr("2001:db8::1")})
	r.RemoteAddr = "@"
	l.LogRequest(r, audit.Record{Event: audit.Logout})
	proxied, pb := newLogger(slog.LevelInfo, audit.Config{ClientAddr: func(*http.Request) netip.Addr { return netip.MustParseAddr("203.0.113.9") }})
	proxied.LogRequest(r, audit.Record{Event: audit.Logout})
	got := append(lines(t, b), lines(t, pb)...)
	want := []string{
		"level=INFO event=logout outcome=success client_ip=192.0.2.1",
		"level=INFO event=logout outcome=success client_ip=2001:db8::1",
		"level=INFO event=logout outcome=success",
		"level=INFO event=logout outcome=success client_ip=203.0.113.9",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestEndpointHook: each endpoint event and its record; a rotation, and a
// kind the schema does not know, write none.
func TestEndpointHook(t *testing.T) {
	ip := netip.MustParseAddr("203.0.113.7")
	base := endpoint.Event{Subject: "s", ClientID: "c", TokenID: "j", Issuer: "i", ClientAddr: ip}
	with := func(k endpoint.EventKind, edit func(*endpoint.Event)) endpoint.Event {
		e := base
		e.Kind = k
		if edit != nil {
			edit(&e)
		}
		return e
	}
	tail := " subject=s client_id=c token_id=j client_ip=203.0.113.7 issuer=i"
	tests := []struct {
		name string
		ev   endpoint.Event
		want string // "": no record
	}{
		{"login", with(endpoint.LoginSucceeded, func(e *endpoint.Event) { e.Username = "u" }), "level=INFO event=login outcome=success username=u" + tail},
		{"login failed", endpoint.Event{Kind: endpoint.LoginFailed, Username: "u", Reason: audit.ReasonBadCredentials, Issuer: "i", ClientAddr: ip},
			"level=INFO event=login outcome=failure reason=unknown_user_or_bad_password username=u client_ip=203.0.113.7 issuer=i"},
		{"password attempt throttled", endpoint.Event{Kind: endpoint.Throttled, Username: "u", Reason: string(endpoint.BudgetUsername)},
			"level=INFO event=login outcome=failure reason=throttled username=u"},
		{"throttled", endpoint.Event{Kind: endpoint.Throttled, Reason: string(endpoint.BudgetAddress)},
			"level=INFO event=throttled outcome=failure reason=address"},
		{"refresh reuse", with(endpoint.RefreshReused, nil), "level=WARN event=refresh_reuse outcome=failure" + tail},
		{"logout", with(endpoint.LoggedOut, nil), "level=INFO event=logout outcome=success" + tail},
		{"logout all", with(endpoint.LoggedOutAll, nil), "level=INFO event=logout_all outcome=success" + tail},
		{"revoke", with(endpoint.Revoked, nil), "level=INFO event=token_revoke outcome=success" + tail},
		{"device end", with(endpoint.DeviceEnded, nil), "level=INFO event=device_end outcome=success" + tail},
		{"code issue", with(endpoint.CodeIssued, nil), "level=INFO event=code_issue outcome=success" + tail},
		{"code reuse", with(endpoint.CodeReused, nil), "level=WARN event=code_reuse outcome=failure" + tail},
		{"consent", with(endpoint.ConsentGranted, nil), "level=INFO event=consent_grant outcome=success" + tail},
		{"consent denied", with(endpoint.ConsentDenied, nil), "level=INFO event=consent_deny outcome=success" + tail},
		{"consent revoked", with(endpoint.ConsentRevoked, nil), "level=INFO event=consent_revoke outcome=success" + tail},
		{"refresh", with(endpoint.Refreshed, nil), ""},
		{"unknown kind", with("something_new", nil), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, b := newLogger(slog.LevelInfo, audit.Config{})
			audit.EndpointHook(l)(httptest.NewRequest("POST", "/auth/login", nil), tt.ev)
			got := lines(t, b)
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("a record: %q", got)
				}
				return
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestAPITokenHooks: the token's subject and id, the caller as the actor.
func TestAPITokenHooks(t *testing.T) {
	l, b := newLogger(slog.LevelInfo, audit.Config{})
	h := audit.APITokenHooks(l)
	r := httptest.NewRequest("POST", "/api-tokens", nil)
	tok := apitoken.Token{ID: "tok_1", Subject: "usr_1", Name: "ci"}
	h.OnCreated(r, &identity.Principal{Subject: "usr_1", Method: identity.JWT}, tok)
	h.OnRevoked(r, &identity.Principal{Subject: "usr_1", Method: identity.APIToken, TokenID: "tok_0"}, tok)
	h.OnRevoked(r, nil, tok)
	want := []string{
		"level=INFO event=apitoken_create outcome=success subject=usr_1 token_id=tok_1 actor=usr_1 client_ip=192.0.2.1",
		"level=INFO event=apitoken_revoke outcome=success subject=usr_1 token_id=tok_1 actor=usr_1 client_ip=192.0.2.1",
		"level=INFO event=apitoken_revoke outcome=success subject=usr_1 token_id=tok_1 client_ip=192.0.2.1",
	}
	if got := lines(t, b); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestKeys: the signing key and each verification-only key; a provider's
// keys added and removed, one record each.
func TestKeys(t *testing.T) {
	l, b := newLogger(slog.LevelInfo, audit.Config{})
	set, err := token.NewKeySet(fixedKey(t, 1, "new"), fixedKey(t, 2, "old").Public(), fixedKey(t, 3, "next").Public())
	if err != nil {
		t.Fatal(err)
	}
	l.LogKeys(context.Background(), "https://api.example", set)
	audit.ProviderKeysHook(l, "https://idp.example")([]string{"k2", "k3"}, []string{"k1"})
	want := []string{
		"level=INFO event=signing_key outcome=success issuer=https://api.example key_id=new",
		"level=INFO event=verification_key outcome=success issuer=https://api.example key_id=old",
		"level=INFO event=verification_key outcome=success issuer=https://api.example key_id=next",
		"level=INFO event=provider_keys_change outcome=success reason=added issuer=https://idp.example key_id=k2",
		"level=INFO event=provider_keys_change outcome=success reason=added issuer=https://idp.example key_id=k3",
		"level=INFO event=provider_keys_change outcome=success reason=removed issuer=https://idp.example key_id=k1",
	}
	if got := lines(t, b); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
