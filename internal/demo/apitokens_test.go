package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/internal/testenv"
)

// createdToken is the answer to POST /api/tokens.
type createdToken = apitoken.TokenJSON

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func (e *testEnv) createToken(t *testing.T, as, body string) createdToken {
	t.Helper()
	resp, b := e.do(t, http.MethodPost, "/api/tokens", body, bearer(as))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/tokens %s: %s %s", body, resp.Status, b)
	}
	return decodeInto[createdToken](t, b)
}

// TestAPITokens is the story of an API token on the demo: created by a
// logged-in user, used on the same /api routes, listed, revoked, refused.
func TestAPITokens(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	demo := e.login(t, "demo", testPassword).AccessToken
	u := e.user(t, "demo")

	tok := e.createToken(t, demo, `{"name": "CI deploy", "scopes": ["widgets:read"], "expires_in": 3600}`)
	if !regexp.MustCompile(`^sl_[0-9A-Za-z]{36}$`).MatchString(tok.Token) || tok.Name != "CI deploy" ||
		strings.Join(tok.Scopes, " ") != "widgets:read" || !tok.CreatedAt.Equal(e.clock.Now()) ||
		tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) || tok.ID == "" {
		t.Fatalf("created %+v", tok)
	}
	resp, b := e.me(t, "Bearer "+tok.Token)
	me := decodeInto[meResponse](t, b)
	if resp.StatusCode != 200 || me.AuthMethod != "apitoken" || me.Subject != u.ID || strings.Join(me.Scopes, " ") != "widgets:read" ||
		me.ID != tok.ID || me.ExpiresAt != tok.ExpiresAt.Unix() {
		t.Fatalf("/api/me with the API token: %s %s", resp.Status, b)
	}
	if resp, b := e.do(t, "GET", "/api/widgets", "", bearer(tok.Token)); resp.StatusCode != 200 {
		t.Errorf("GET /api/widgets with widgets:read: %s %s", resp.Status, b)
	}
	if resp, _ := e.do(t, "POST", "/api/widgets", `{"name":"x"}`, bearer(tok.Token)); resp.StatusCode != 403 {
		t.Errorf("POST /api/widgets without widgets:write: %s", resp.Status)
	}
	// This token cannot mint tokens: it lacks tokens:manage.
	if resp, _ := e.do(t, "POST", "/api/tokens", `{"name":"x"}`, bearer(tok.Token)); resp.StatusCode != 403 {
		t.Errorf("an API token without tokens:manage minting: %s, want 403", resp.Status)
	}
	// Nor can a user ask for a scope the user lacks.
	if resp, _ := e.do(t, "POST", "/api/tokens", `{"name":"x","scopes":["admin"]}`, bearer(demo)); resp.StatusCode != 403 {
		t.Errorf("a scope demo lacks: %s, want 403", resp.Status)
	}
	viewer := e.login(t, "viewer", testPassword).AccessToken
	if resp, _ := e.do(t, "POST", "/api/tokens", `{"name":"x"}`, bearer(viewer)); resp.StatusCode != 403 {
		t.Errorf("viewer (no tokens:manage): %s, want 403", resp.Status)
	}
	// A managing API token mints narrower ones.
	manager := e.createToken(t, demo, `{"name": "automation", "scopes": ["widgets:read", "tokens:manage"]}`)
	e.createToken(t, manager.Token, `{"name": "child", "scopes": ["widgets:read"]}`)

	resp, b = e.do(t, "GET", "/api/tokens", "", bearer(demo))
	var list struct {
		Tokens []map[string]any `json:"tokens"`
	}
	json.Unmarshal(b, &list)
	if resp.StatusCode != 200 || len(list.Tokens) != 3 || bytes.Contains(b, []byte(tok.Token[3:])) || bytes.Contains(b, []byte(`"token"`)) ||
		bytes.Contains(b, []byte("hash")) {
		t.Fatalf("GET /api/tokens: %s %s", resp.Status, b)
	}

	// An API token is no login: it cannot log out (not even "everywhere",
	// which would end its subject's other tokens outside their database).
	for _, path := range []string{"/auth/logout", "/auth/logout-all"} {
		if resp, b := e.do(t, "POST", path, "", bearer(tok.Token)); resp.StatusCode != 400 {
			t.Errorf("POST %s with an API token: %s %s, want 400", path, resp.Status, b)
		}
	}
	if resp, _ := e.me(t, "Bearer "+manager.Token); resp.StatusCode != 200 {
		t.Fatal("an API token's logout ended its subject's other API token")
	}
	// Refusals of /api/tokens have the shape and challenge of every /api
	// route.
	resp, b = e.do(t, "GET", "/api/tokens", "", bearer(viewer))
	checkProblem(t, resp, b, 403, "insufficient_scope")
	if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="tokens:manage"`) {
		t.Errorf("403 challenge: %q", resp.Header.Get("WWW-Authenticate"))
	}

	// Another user's token id: 404.
	other := User{ID: newUserID(), Username: "other", Scopes: []string{"tokens:manage"}, PasswordHash: e.user(t, "viewer").PasswordHash}
	if err := e.store.CreateUsers(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	otherTok := e.login(t, "other", testPassword).AccessToken
	if resp, b := e.do(t, "DELETE", "/api/tokens/"+tok.ID, "", bearer(otherTok)); resp.StatusCode != 404 {
		t.Fatalf("DELETE of demo's token by other: %s %s, want 404", resp.Status, b)
	}
	if resp, _ := e.me(t, "Bearer "+tok.Token); resp.StatusCode != 200 {
		t.Fatal("the token stopped working after a refused DELETE")
	}
	// Revoked: refused at once, though the middleware has it cached.
	if resp, b := e.do(t, "DELETE", "/api/tokens/"+tok.ID, "", bearer(demo)); resp.StatusCode != 204 {
		t.Fatalf("DELETE: %s %s", resp.Status, b)
	}
	resp, _ = e.me(t, "Bearer "+tok.Token)
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("a revoked API token: %s %q, want 401 invalid_token", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	// Expired: refused.
	short := e.createToken(t, demo, `{"name": "short", "expires_in": 60}`)
	if resp, _ := e.me(t, "Bearer "+short.Token); resp.StatusCode != 200 {
		t.Fatal("a fresh short token refused")
	}
	e.clock.Advance(time.Minute)
	if resp, _ := e.me(t, "Bearer "+short.Token); resp.StatusCode != 401 {
		t.Fatalf("an expired API token: %s, want 401", resp.Status)
	}
	// Malformed tokens of the prefix: 401, never a 5xx.
	for _, bad := range []string{"sl_", "sl_" + strings.Repeat("A", 36), short.Token[:len(short.Token)-1] + "!"} {
		if resp, _ := e.me(t, "Bearer "+bad); resp.StatusCode != 401 && resp.StatusCode != 400 {
			t.Errorf("malformed %q: %s", bad, resp.Status)
		}
	}
	// Other methods: a JSON 405.
	if resp, b := e.do(t, "PUT", "/api/tokens", "{}", bearer(demo)); resp.StatusCode != 405 || resp.Header.Get("Allow") == "" || !json.Valid(b) {
		t.Errorf("PUT /api/tokens: %s %s", resp.Status, b)
	}
}

// TestTokensCommand: the operator's create, list and revoke, on the
// database of a running server, which refuses the revoked token within a
// second.
func TestTokensCommand(t *testing.T) {
	cfg := testConfig(t)
	cfg.Now = time.Now // the command runs on the real clock
	e := newTestEnv(t, cfg)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := Run(context.Background(), append([]string{"tokens"}, args...), func(string) string { return "" }, &out, &out)
		return out.String(), err
	}
	db := []string{"-db", cfg.DatabaseURL}
	// By default a token gets the user's scopes but tokens:manage.
	out, err := run(append(append([]string{"create"}, db...), "demo")...)
	if err != nil || !strings.Contains(out, `scopes "widgets:read widgets:write"`) {
		t.Fatalf("tokens create with the default scopes: %v\n%s", err, out)
	}
	if out, err := run("list", "-h", "demo"); err != nil || !strings.Contains(out, "usage:") {
		t.Errorf("tokens list -h: %v\n%s", err, out)
	}
	out, err = run(append(append([]string{"create", "-name", "nightly", "-scopes", "widgets:read", "-expires-in", "48h"}, db...), "demo")...)
	if err != nil {
		t.Fatalf("tokens create: %v\n%s", err, out)
	}
	raw := regexp.MustCompile(`sl_[0-9A-Za-z]{36}`).FindString(out)
	if raw == "" {
		t.Fatalf("tokens create printed no token:\n%s", out)
	}
	resp, b := e.me(t, "Bearer "+raw)
	me := decodeInto[meResponse](t, b)
	if resp.StatusCode != 200 || me.AuthMethod != "apitoken" || strings.Join(me.Scopes, " ") != "widgets:read" {
		t.Fatalf("the operator's token on the server: %s %s", resp.Status, b)
	}
	out, err = run(append(append([]string{"list"}, db...), "demo")...)
	if err != nil || !strings.Contains(out, me.ID) || !strings.Contains(out, `"nightly"`) || strings.Contains(out, raw[3:]) {
		t.Fatalf("tokens list: %v\n%s", err, out)
	}
	for _, bad := range [][]string{
		{"create", "-scopes", "admin", "-db", cfg.DatabaseURL, "demo"},
		{"create", "-db", cfg.DatabaseURL, "nobody"},
		{"create", "-expires-in", "soon", "-db", cfg.DatabaseURL, "demo"},
		{"revoke", "-db", cfg.DatabaseURL, "no-such-id"},
		{"list", "-name", "x", "-db", cfg.DatabaseURL, "demo"},
		{"rotate", "-db", cfg.DatabaseURL, "demo"},
		{"list", "-db", cfg.DatabaseURL + ".missing.db", "demo"},
		{"list"},
	} {
		if out, err := run(bad...); err == nil {
			t.Errorf("tokens %v succeeded:\n%s", bad, out)
		}
	}
	out, err = run(append(append([]string{"revoke"}, db...), me.ID)...)
	if err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("tokens revoke: %v\n%s", err, out)
	}
	// The server's revocation list polls the database.
	testenv.Eventually(t, "the server to refuse the revoked API token", func() bool {
		resp, _ := e.me(t, "Bearer "+raw)
		return resp.StatusCode == 401
	})
}
