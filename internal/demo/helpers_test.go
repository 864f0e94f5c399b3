package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/token"
)

const testPassword = "correct horse battery staple"

// newTestClock returns the clock of the demo's tests, at a fixed time.
func newTestClock() *testenv.Clock {
	return testenv.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testConfig is a configuration for tests: defaults, with every file in a
// temporary directory and cheap password hashing.
func testConfig(t testing.TB) Config {
	t.Helper()
	cfg, err := ParseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.DatabaseURL = filepath.Join(dir, "data", "demo.db")
	cfg.KeyFile = filepath.Join(dir, "data", "signing-key.pem")
	cfg.Issuer = "http://demo.test"
	cfg.SeedPassword = testPassword
	cfg.passwords = testenv.CheapPasswords
	return cfg
}

// testEnv is a demo API served by httptest, with its parts.
type testEnv struct {
	cfg   Config
	ts    *httptest.Server
	srv   *server
	store *sqlStore
	keys  *token.KeySet

	passwords *password.Hasher
	clock     *testenv.Clock
	logs      *testenv.SyncBuffer
	audit     *testenv.SyncBuffer // the audit records, JSON lines
	seed      string              // what seeding printed
}

// newTestEnv starts the API for cfg (see testConfig), seeded, with a test
// clock unless cfg.Now is set.
func newTestEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	ctx := context.Background()
	e := &testEnv{cfg: cfg, logs: &testenv.SyncBuffer{}, audit: &testenv.SyncBuffer{}}
	if cfg.Now == nil {
		e.clock = newTestClock()
		e.cfg.Now = e.clock.Now
	}
	log := testLogger(e.logs)
	var err error
	if e.store, err = openStore(ctx, cfg.DatabaseURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	pw, err := password.New(cfg.passwords)
	if err != nil {
		t.Fatal(err)
	}
	e.passwords = pw
	var out bytes.Buffer
	if err := seedUsers(ctx, e.store, pw, cfg.SeedPassword, &out, log); err != nil {
		t.Fatal(err)
	}
	e.seed = out.String()
	if e.keys, err = loadKeys(cfg, log); err != nil {
		t.Fatal(err)
	}
	auditLog := slog.New(slog.NewJSONHandler(e.audit, nil))
	if e.srv, err = newServer(e.cfg, deps{users: e.store, db: e.store.db, keys: e.keys, passwords: pw, log: log, audit: auditLog}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.srv.Shutdown(context.Background()) })
	e.ts = httptest.NewServer(e.srv.routes())
	t.Cleanup(e.ts.Close)
	return e
}

// do sends a request to the test server and returns the response with its
// body read.
func (e *testEnv) do(t *testing.T, method, path, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	return sendRequest(t, e.ts.Client(), method, e.ts.URL+path, body, header)
}

// sendRequest sends one request with a 10 s deadline; a body without a
// Content-Type header is sent as JSON.
func sendRequest(t *testing.T, c *http.Client, method, url, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// login logs in and returns the token response; it fails the test on
// anything but 200.
func (e *testEnv) login(t *testing.T, username, password string) tokenResponse {
	t.Helper()
	body, _ := json.Marshal(loginRequest{Username: username, Password: password})
	resp, b := e.do(t, http.MethodPost, "/auth/login", string(body), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %s %s", username, resp.Status, b)
	}
	var tr tokenResponse
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// me calls /api/me with the given Authorization header values.
func (e *testEnv) me(t *testing.T, authorization ...string) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{}
	for _, a := range authorization {
		h.Add("Authorization", a)
	}
	return e.do(t, http.MethodGet, "/api/me", "", h)
}

// decodeInto unmarshals b into a new T, failing the test on error.
func decodeInto[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// tokenResponse is a successful access token response (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// errorResponse is an OAuth 2.0 error body (RFC 6749 §5.2), or the same
// members of a problem+json body.
type errorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}
