package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/audit"
)

// auditRecords returns the JSON records of out, each checked to be an
// audit record.
func auditRecords(t *testing.T, out string) []map[string]string {
	t.Helper()
	var recs []map[string]string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] != audit.Message {
			t.Fatalf("not an audit record: %s (%v)", line, err)
		}
		recs = append(recs, m)
	}
	return recs
}

// findRecord returns the first record of event with the attributes of
// want, or fails.
func findRecord(t *testing.T, recs []map[string]string, want map[string]string) map[string]string {
	t.Helper()
next:
	for _, r := range recs {
		for k, v := range want {
			if r[k] != v {
				continue next
			}
		}
		return r
	}
	t.Fatalf("no record %v among\n%v", want, recs)
	return nil
}

// TestAuditLogApart: the demo writes its audit records to the audit log
// alone, as JSON, and no request lines by default (-request-log).
func TestAuditLogApart(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	tok := e.login(t, "demo", testPassword).AccessToken
	e.do(t, "POST", "/auth/login", `{"username":"demo","password":"wrong-password-123"}`, nil)
	e.me(t, "Bearer "+tok)
	resp, b := e.do(t, "POST", "/api/tokens", `{"name":"ci","scopes":["widgets:read"]}`, bearer(tok))
	if resp.StatusCode != 201 {
		t.Fatalf("create an API token: %s %s", resp.Status, b)
	}
	var made struct{ ID, Token string }
	json.Unmarshal(b, &made)
	if resp, b := e.do(t, "DELETE", "/api/tokens/"+made.ID, "", bearer(tok)); resp.StatusCode != 204 {
		t.Fatalf("revoke it: %s %s", resp.Status, b)
	}
	e.ts.Close() // waits for the handlers, and their records

	logs := e.logs.String()
	for _, unwanted := range []string{"msg=request", "path=/auth/login", "msg=audit"} {
		if strings.Contains(logs, unwanted) {
			t.Errorf("the text log holds %q:\n%s", unwanted, logs)
		}
	}
	out := e.audit.String()
	recs := auditRecords(t, out)
	demo, err := e.store.UserByUsername(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	findRecord(t, recs, map[string]string{"event": "signing_key", "key_id": e.keys.SigningKey().ID(), "issuer": e.cfg.Issuer})
	findRecord(t, recs, map[string]string{"event": "login", "outcome": "success", "username": "demo", "subject": demo.ID,
		"client_id": clientID, "client_ip": "127.0.0.1"})
	findRecord(t, recs, map[string]string{"event": "login", "outcome": "failure", "reason": audit.ReasonBadCredentials, "username": "demo"})
	for _, ev := range []string{"apitoken_create", "apitoken_revoke"} {
		findRecord(t, recs, map[string]string{"event": ev, "subject": demo.ID, "token_id": made.ID, "actor": demo.ID, "client_ip": "127.0.0.1"})
	}
	for _, secret := range []string{testPassword, "wrong-password-123", tok, tok[strings.LastIndexByte(tok, '.')+1:], made.Token} {
		if strings.Contains(out, secret) {
			t.Errorf("an audit record holds %q:\n%s", secret, out)
		}
	}
}

// TestRequestLogFlag: -request-log turns the request lines on.
func TestRequestLogFlag(t *testing.T) {
	cfg := testConfig(t)
	cfg.RequestLog = true
	e := newTestEnv(t, cfg)
	e.do(t, "GET", "/healthz", "", nil)
	e.ts.Close()
	if !strings.Contains(e.logs.String(), "msg=request method=GET path=/healthz status=200") {
		t.Errorf("no request line:\n%s", e.logs)
	}
}

// TestOperatorAudit: the operator's commands append what they did to the
// servers' -audit-log, with actor "operator"; the server appends there
// too.
func TestOperatorAudit(t *testing.T) {
	cfg := testConfig(t)
	cfg.Now = time.Now // the commands run on the real clock
	e := newTestEnv(t, cfg)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	base := []string{"-db", cfg.DatabaseURL, "-key-file", cfg.KeyFile, "-issuer", cfg.Issuer, "-audit-log", path}
	var out, stderr bytes.Buffer
	if err := Run(t.Context(), append(append([]string{"users", "set-password"}, base...), "demo"),
		env(map[string]string{envPassword: "a new password 123"}), &out, &stderr); err != nil {
		t.Fatalf("set-password: %v\n%s", err, out.String())
	}
	if err := Run(t.Context(), append(append([]string{"tokens", "create"}, base...), "viewer"), env(nil), &out, &stderr); err != nil {
		t.Fatalf("tokens create: %v\n%s", err, out.String())
	}
	id := regexp.MustCompile(`token (\S+) of viewer`).FindStringSubmatch(out.String())
	if id == nil {
		t.Fatalf("no token id printed:\n%s", out.String())
	}
	if err := Run(t.Context(), append(append([]string{"tokens", "revoke"}, base...), id[1]), env(nil), &out, &stderr); err != nil {
		t.Fatalf("tokens revoke: %v\n%s", err, out.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("records on stderr with -audit-log: %s", stderr.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm() != 0o600 {
		t.Errorf("the audit log's mode %v, want 0600", info.Mode().Perm())
	}
	recs := auditRecords(t, string(b))
	demo, _ := e.store.UserByUsername(context.Background(), "demo")
	viewer, _ := e.store.UserByUsername(context.Background(), "viewer")
	findRecord(t, recs, map[string]string{"event": "password_change", "outcome": "success", "subject": demo.ID, "username": "demo",
		"actor": audit.ActorOperator, "issuer": cfg.Issuer})
	for _, ev := range []string{"apitoken_create", "apitoken_revoke"} {
		findRecord(t, recs, map[string]string{"event": ev, "subject": viewer.ID, "token_id": id[1], "actor": audit.ActorOperator})
	}
	if strings.Contains(string(b), "a new password 123") || strings.Contains(string(b), "sl_") {
		t.Errorf("the audit log holds a secret:\n%s", b)
	}

	// A server started with the same -audit-log appends its keys.
	cfg.AuditLog, cfg.Addr = path, "127.0.0.1:0"
	r := startRun(t, cfg)
	r.stop(t)
	b, _ = os.ReadFile(path)
	recs = auditRecords(t, string(b))
	findRecord(t, recs, map[string]string{"event": "signing_key", "key_id": e.keys.SigningKey().ID()})
	findRecord(t, recs, map[string]string{"event": "password_change"}) // kept: appended, not truncated
	if strings.Contains(r.stderr.String(), `"msg":"audit"`) {
		t.Errorf("records on stderr with -audit-log:\n%s", r.stderr)
	}
}
