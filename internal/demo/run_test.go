package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/password"
)

// running is a demo API started by run in the background.
type running struct {
	url    string   // http://127.0.0.1:PORT
	before []string // stdout lines before the listening line
	stderr *testenv.SyncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startRun runs the API of cfg and waits for its listening line.
func startRun(t *testing.T, cfg Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stderr: &testenv.SyncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	go func() {
		err := run(ctx, cfg, pw, r.stderr)
		pw.Close()
		r.done <- err
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { r.stop(t) })

	wait, cancelWait := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelWait()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("stdout closed before the listening line; stdout %q; stderr:\n%s", r.before, r.stderr)
			}
			if addr, found := strings.CutPrefix(line, "demo-api listening on "); found {
				r.url = addr
				go func() { // keep draining
					for range lines {
					}
				}()
				return r
			}
			r.before = append(r.before, line)
		case <-wait.Done():
			t.Fatalf("no listening line within the deadline; stdout %q; stderr:\n%s", r.before, r.stderr)
		}
	}
}

// stop cancels the context of run and waits for it to return nil.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	wait, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("run returned %v; stderr:\n%s", err, r.stderr)
		}
		if ok {
			close(r.done)
		}
	case <-wait.Done():
		t.Errorf("run did not return after cancellation")
	}
}

func (r *running) post(t *testing.T, path, body string) (*http.Response, []byte) {
	t.Helper()
	return r.send(t, http.MethodPost, path, body, "")
}

func (r *running) send(t *testing.T, method, path, body, bearer string) (*http.Response, []byte) {
	t.Helper()
	header := http.Header{}
	if bearer != "" {
		header.Set("Authorization", "Bearer "+bearer)
	}
	return sendRequest(t, http.DefaultClient, method, r.url+path, body, header)
}

func (r *running) login(t *testing.T, username, password string) string {
	t.Helper()
	body, _ := json.Marshal(loginRequest{Username: username, Password: password})
	resp, b := r.post(t, "/auth/login", string(body))
	if resp.StatusCode != 200 {
		t.Fatalf("login %s: %s %s", username, resp.Status, b)
	}
	return decodeInto[tokenResponse](t, b).AccessToken
}

func (r *running) kids(t *testing.T) []string {
	t.Helper()
	_, b := r.send(t, http.MethodGet, "/.well-known/jwks.json", "", "")
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestRunFirstAndSecondStart runs the whole server twice on the same data:
// the first start seeds the users, prints their random password and
// creates the key; the second does neither, and reuses the key.
func TestRunFirstAndSecondStart(t *testing.T) {
	cfg := testConfig(t)
	cfg.Addr = "127.0.0.1:0"
	cfg.SeedPassword = ""
	cfg.Issuer = ""
	cfg.Now = nil

	first := startRun(t, cfg)
	if len(first.before) != 1 || !strings.HasPrefix(first.before[0], "seeded users demo and viewer with password: ") {
		t.Fatalf("first start printed %q", first.before)
	}
	password := strings.TrimPrefix(first.before[0], "seeded users demo and viewer with password: ")
	if len(password) < 20 {
		t.Errorf("random password %q is short", password)
	}
	tok := first.login(t, "viewer", password)
	if resp, b := first.send(t, http.MethodGet, "/api/me", "", tok); resp.StatusCode != 200 ||
		!strings.Contains(string(b), `"iss":"`+first.url+`"`) {
		t.Errorf("/api/me: %s %s; want the issuer %s", resp.Status, b, first.url)
	}
	kids := first.kids(t)
	first.stop(t)
	if strings.Contains(first.stderr.String(), password) {
		t.Errorf("the password is in the logs:\n%s", first.stderr)
	}
	if !strings.Contains(first.stderr.String(), "generated a signing key") {
		t.Errorf("no key generation logged:\n%s", first.stderr)
	}
	if runtime.GOOS != "windows" {
		if info, err := os.Stat(cfg.KeyFile); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("key file: %v, %v", info, err)
		}
	}

	second := startRun(t, cfg)
	if len(second.before) != 0 {
		t.Errorf("second start printed %q", second.before)
	}
	if got := second.kids(t); len(got) != 1 || got[0] != kids[0] {
		t.Errorf("second start has keys %v, want %v", got, kids)
	}
	second.login(t, "demo", password)
	if strings.Contains(second.stderr.String(), "generated") || strings.Contains(second.stderr.String(), "seeded") {
		t.Errorf("second start generated or seeded again:\n%s", second.stderr)
	}
}

func TestRunSeedsWithDemoPassword(t *testing.T) {
	cfg := testConfig(t)
	cfg.Addr = "127.0.0.1:0"
	cfg.SeedPassword = "password-from-the-environment"
	r := startRun(t, cfg)
	if len(r.before) != 1 || r.before[0] != "seeded users demo and viewer with the password from DEMO_PASSWORD" {
		t.Errorf("printed %q", r.before)
	}
	r.login(t, "demo", cfg.SeedPassword)
	r.stop(t)
	if strings.Contains(r.stderr.String(), cfg.SeedPassword) {
		t.Errorf("the password is in the logs:\n%s", r.stderr)
	}

	// Later starts keep the first password, and say so in the log.
	cfg.SeedPassword = "another-password"
	again := startRun(t, cfg)
	if len(again.before) != 0 {
		t.Errorf("printed %q", again.before)
	}
	again.login(t, "demo", "password-from-the-environment")
	if resp, _ := again.post(t, "/auth/login", `{"username":"demo","password":"another-password"}`); resp.StatusCode != 401 {
		t.Errorf("the new DEMO_PASSWORD works: %s", resp.Status)
	}
	again.stop(t)
	if !strings.Contains(again.stderr.String(), "DEMO_PASSWORD is ignored") {
		t.Errorf("no notice that DEMO_PASSWORD is ignored:\n%s", again.stderr)
	}
}

func TestSeedUsersOnce(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	pw, _ := password.New(testenv.CheapPasswords)
	var out strings.Builder
	if err := seedUsers(ctx, store, pw, "", &out, testLogger(io.Discard)); err != nil {
		t.Fatal(err)
	}
	password, ok := strings.CutPrefix(strings.TrimSuffix(out.String(), "\n"), "seeded users demo and viewer with password: ")
	if !ok || strings.Contains(password, "\n") {
		t.Fatalf("printed %q", out.String())
	}
	demo, err := store.UserByUsername(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := store.UserByUsername(ctx, "viewer")
	if err != nil {
		t.Fatal(err)
	}
	if demo.ID == viewer.ID || !strings.HasPrefix(demo.ID, "usr_") || len(demo.ID) != len("usr_")+26 {
		t.Errorf("IDs %q, %q", demo.ID, viewer.ID)
	}
	if strings.Join(demo.Scopes, " ") != "widgets:read widgets:write tokens:manage" || strings.Join(viewer.Scopes, " ") != "widgets:read" {
		t.Errorf("scopes %v, %v", demo.Scopes, viewer.Scopes)
	}
	for _, u := range []User{demo, viewer} {
		if ok, err := pw.Verify(ctx, u.PasswordHash, password); !ok || err != nil {
			t.Errorf("%s: the printed password does not match: %v", u.Username, err)
		}
	}

	out.Reset()
	if err := seedUsers(ctx, store, pw, "", &out, testLogger(io.Discard)); err != nil || out.Len() != 0 {
		t.Errorf("second seeding: printed %q, err %v", out.String(), err)
	}
	if n, _ := store.CountUsers(ctx); n != 2 {
		t.Errorf("%d users after seeding twice", n)
	}
}

func TestRunFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tt := range []struct {
		name    string
		edit    func(*Config)
		mention string
	}{
		{"postgres unreachable", func(c *Config) { c.DatabaseURL = "postgres://demo:pw@127.0.0.1:1/demo?connect_timeout=2" }, "connecting to PostgreSQL"},
		{"address in use", func(c *Config) { c.Addr = busy.Addr().String() }, "address already in use"},
		{"public signing key", func(c *Config) {
			os.WriteFile(c.KeyFile+".pub", []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"), 0o600)
			c.KeyFile += ".pub"
		}, "public key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Addr = "127.0.0.1:0"
			os.MkdirAll(strings.TrimSuffix(cfg.KeyFile, "signing-key.pem"), 0o700)
			tt.edit(&cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			err := run(ctx, cfg, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("run err = %v, want one mentioning %q", err, tt.mention)
			}
		})
	}
}

// TestFailedFirstStartSeedsNothing: when the first start fails (here: the
// port is taken) nothing is seeded and no password printed, so the next
// start seeds and prints it.
func TestFailedFirstStartSeedsNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t)
	cfg.Addr, cfg.SeedPassword = busy.Addr().String(), ""
	var out strings.Builder
	if err := run(t.Context(), cfg, &out, io.Discard); err == nil {
		t.Fatal("run succeeded on a busy port")
	}
	if out.Len() != 0 {
		t.Fatalf("a failed start printed %q", out.String())
	}
	cfg.Addr = "127.0.0.1:0"
	r := startRun(t, cfg)
	if len(r.before) != 1 || !strings.HasPrefix(r.before[0], "seeded users demo and viewer with password: ") {
		t.Fatalf("the next start printed %q", r.before)
	}
}

// TestSetPassword: "demo-api users set-password" recovers access: the new
// password logs in, the old one does not, and the user's refresh, API and
// access tokens are revoked.
func TestSetPassword(t *testing.T) {
	cfg := testConfig(t)
	cfg.Now = time.Now // the command revokes access tokens issued before its own now
	e := newTestEnv(t, cfg)
	old := e.login(t, "demo", testPassword)
	apiTok := e.createToken(t, old.AccessToken, `{"name": "made with the stolen password"}`)
	args := []string{"users", "set-password", "-db", cfg.DatabaseURL, "-key-file", cfg.KeyFile, "-issuer", cfg.Issuer, "demo"}
	for i, tt := range []struct {
		password string // DEMO_PASSWORD; empty: a random one is printed
		printed  string
	}{
		{"a new password from the environment", "password of demo set from DEMO_PASSWORD\n"},
		{"", "password of demo set to: "},
	} {
		var out strings.Builder
		if err := Run(t.Context(), args, env(map[string]string{envPassword: tt.password}), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		revoked := []string{"1", "0"}[i]
		if !strings.HasPrefix(out.String(), tt.printed) ||
			!strings.HasSuffix(out.String(), "its access tokens of "+cfg.Issuer+" are revoked\nits refresh tokens and its "+revoked+" API tokens are revoked\n") {
			t.Fatalf("printed %q", out.String())
		}
		pw := tt.password
		if pw == "" {
			pw, _, _ = strings.Cut(strings.TrimPrefix(out.String(), tt.printed), "\n")
		}
		e.login(t, "demo", pw)
	}
	if resp, _ := e.do(t, "POST", "/auth/login", `{"username":"demo","password":"`+testPassword+`"}`, nil); resp.StatusCode != 401 {
		t.Fatalf("the old password works: %s", resp.Status)
	}
	if _, oerr := e.refresh(t, old.RefreshToken, 400); oerr.Error != "invalid_grant" {
		t.Fatalf("the old refresh token works: %+v", oerr)
	}
	if resp, _ := e.me(t, "Bearer "+apiTok.Token); resp.StatusCode != 401 {
		t.Fatalf("the API token made before the password was reset: %s, want 401", resp.Status)
	}
	// The running server learns of the access tokens' revocation from the
	// shared store.
	testenv.Eventually(t, "the server to refuse the access token issued before the reset", func() bool {
		resp, _ := e.me(t, "Bearer "+old.AccessToken)
		return resp.StatusCode == 401
	})
	// The operator can make the user a new API token after the reset (its
	// cut-off ends the credentials issued before it, not the operator's).
	var made strings.Builder
	if err := Run(t.Context(), []string{"tokens", "create", "-db", cfg.DatabaseURL, "-key-file", cfg.KeyFile, "demo"}, env(nil), &made, io.Discard); err != nil {
		t.Errorf("tokens create after set-password: %v %s", err, made.String())
	}
	// Without an issuer that can be known, the command says how long the
	// access tokens live on.
	var out strings.Builder
	if err := Run(t.Context(), []string{"users", "set-password", "-db", cfg.DatabaseURL, "-key-file", cfg.KeyFile, "-addr", "127.0.0.1:0", "demo"},
		env(map[string]string{envPassword: "yet another password"}), &out, io.Discard); err != nil || !strings.Contains(out.String(), "expire within -access-ttl") {
		t.Errorf("set-password without an issuer: %v %q", err, out.String())
	}
	// Without -addr or -issuer, the default -addr's issuer is a guess, and
	// the command says so.
	out.Reset()
	if err := Run(t.Context(), []string{"users", "set-password", "-db", cfg.DatabaseURL, "-key-file", cfg.KeyFile, "demo"},
		env(map[string]string{envPassword: "and another"}), &out, io.Discard); err != nil ||
		!strings.Contains(out.String(), "its access tokens of http://127.0.0.1:8080 (the issuer of the default -addr) are revoked; if the servers run with another -addr or -issuer") {
		t.Errorf("set-password with the default -addr: %v %q", err, out.String())
	}
	out.Reset()
	if err := Run(t.Context(), []string{"users", "set-password", "-db", cfg.DatabaseURL, "-key-file", cfg.KeyFile, "demo"},
		env(map[string]string{envPassword: "and yet another", "DEMO_ADDR": "127.0.0.1:18080"}), &out, io.Discard); err != nil ||
		!strings.Contains(out.String(), "its access tokens of http://127.0.0.1:18080 are revoked\n") {
		t.Errorf("set-password with DEMO_ADDR: %v %q", err, out.String())
	}
	for _, bad := range [][]string{{"users"}, {"users", "set-password"}, {"users", "delete", "demo"}, {"users", "set-password", "-db"}} {
		if err := Run(t.Context(), bad, env(nil), io.Discard, io.Discard); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
	if err := Run(t.Context(), append(args[:len(args)-1:len(args)-1], "nobody"), env(nil), io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), `no user "nobody"`) {
		t.Errorf("unknown user: %v", err)
	}
	// A database that does not exist is not created.
	missing := filepath.Join(t.TempDir(), "missing.db")
	if err := Run(t.Context(), []string{"users", "set-password", "-db", missing, "-key-file", cfg.KeyFile, "demo"}, env(nil), io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "no database") {
		t.Errorf("missing database: %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("set-password created a database")
	}
}

func TestDefaultIssuer(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"0.0.0.0:80":     "http://localhost:80",
		"[::]:8080":      "http://localhost:8080",
		"[::1]:8080":     "http://[::1]:8080",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := defaultIssuer(a); got != want {
			t.Errorf("defaultIssuer(%s) = %q, want %q", addr, got, want)
		}
	}
}

// TestStopWhileStarting: a stop (SIGTERM, the context cancelled) that
// comes while the demo starts is a stop, not a failure.
func TestStopWhileStarting(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cfg := testConfig(t)
	cfg.Addr = "127.0.0.1:0"
	if err := run(ctx, cfg, io.Discard, io.Discard); err != nil {
		t.Fatalf("stopped while starting: %v", err)
	}
}
