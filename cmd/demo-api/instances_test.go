package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/internal/testenv/testdb"
)

// The tests in this file run the built demo-api as separate processes,
// the way an operator runs several instances.

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// demoBinary builds demo-api once per test run.
func demoBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("stops processes with signals")
	}
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "demo-api-build"); buildErr != nil {
			return
		}
		binary = filepath.Join(buildDir, "demo-api")
		out, err := exec.Command(goTool, "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// instance is one running demo-api process.
type instance struct {
	t      *testing.T
	name   string
	url    string
	cmd    *exec.Cmd
	stderr *testenv.SyncBuffer
	exited chan error
}

const e2ePassword = "e2e-password-not-secret"

// startInstance runs demo-api in dir with args and the environment vars
// (and nothing from the caller's DEMO_*, DATABASE_URL, REDIS_URL), and
// waits for its listening line.
func startInstance(t *testing.T, name, dir string, env []string, args ...string) *instance {
	t.Helper()
	cmd := exec.Command(demoBinary(t), append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DEMO_PASSWORD=" + e2ePassword}
	cmd.Env = append(cmd.Env, env...)
	in := &instance{t: t, name: name, cmd: cmd, stderr: &testenv.SyncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = in.stderr
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		in.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		in.stop()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, in.stderr)
		}
	})
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before listening; stderr:\n%s", name, in.stderr)
			}
			if u, found := strings.CutPrefix(line, "demo-api listening on "); found {
				in.url = u
				go func() {
					for range lines {
					}
				}()
				return in
			}
		case <-deadline:
			t.Fatalf("%s: no listening line in time; stderr:\n%s", name, in.stderr)
		}
	}
}

// stop sends SIGINT and waits for a clean exit.
func (in *instance) stop() {
	if in.cmd.ProcessState != nil || in.exited == nil {
		return
	}
	in.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-in.exited:
		if err != nil {
			in.t.Errorf("%s exited with %v", in.name, err)
		}
	case <-time.After(20 * time.Second):
		in.cmd.Process.Kill()
		in.t.Errorf("%s did not stop on SIGINT", in.name)
	}
	in.exited = nil
}

// sendAuth sends a request with an Authorization header and, when
// proof is not empty, a DPoP header.
func (in *instance) sendAuth(method, path, authorization, proof string) (int, http.Header, []byte) {
	in.t.Helper()
	req, err := http.NewRequest(method, in.url+path, nil)
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s %s: %v", in.name, method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (in *instance) send(method, path, contentType, body, bearer string, header ...string) (int, http.Header, []byte) {
	in.t.Helper()
	code, h, b := in.sendOnce(method, path, contentType, body, bearer, header...)
	if secs, err := strconv.Atoi(h.Get("Retry-After")); code == http.StatusTooManyRequests && err == nil && secs <= 10 {
		// Instances on one Redis share the login budgets: a test that
		// runs fast may spend one. Wait as told, once, as a client would.
		time.Sleep(time.Duration(secs) * time.Second)
		code, h, b = in.sendOnce(method, path, contentType, body, bearer, header...)
	}
	return code, h, b
}

func (in *instance) sendOnce(method, path, contentType, body, bearer string, header ...string) (int, http.Header, []byte) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, in.url+path, strings.NewReader(body))
	if err != nil {
		in.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s %s: %v", in.name, method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (in *instance) login(user string) tokens {
	in.t.Helper()
	code, _, b := in.send("POST", "/auth/login", "application/json", `{"username":"`+user+`","password":"`+e2ePassword+`"}`, "")
	var tk tokens
	if code != 200 || json.Unmarshal(b, &tk) != nil || tk.RefreshToken == "" {
		in.t.Fatalf("%s login: %d %s", in.name, code, b)
	}
	return tk
}

func (in *instance) me(tok string) int {
	in.t.Helper()
	code, _, _ := in.send("GET", "/api/me", "", "", tok)
	return code
}

func (in *instance) refresh(rt string) (int, tokens) {
	in.t.Helper()
	code, _, b := in.send("POST", "/auth/token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token="+rt, "")
	var tk tokens
	json.Unmarshal(b, &tk)
	return code, tk
}

// waitStatus polls GET /api/me with tok until it answers want, and
// returns how long that took; it fails after limit.
func (in *instance) waitStatus(tok string, want int, limit time.Duration) time.Duration {
	in.t.Helper()
	start := time.Now()
	for {
		if in.me(tok) == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			in.t.Fatalf("%s: /api/me did not answer %d within %v", in.name, want, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestTwoInstancesSharePostgresAndRedis runs two demo-api processes on one
// PostgreSQL database and one Redis: a logout on either is honoured by
// the other within a second, and a refresh token is one token whichever
// instance sees it.
func TestTwoInstancesSharePostgresAndRedis(t *testing.T) {
	twoInstances(t, "DATABASE_URL="+testdb.PostgresDB(t), "REDIS_URL="+testenv.RedisURL(t))
}

// TestTwoInstancesSharePostgres is the same without Redis: the
// revocations are in PostgreSQL, polled every 200ms.
func TestTwoInstancesSharePostgres(t *testing.T) {
	twoInstances(t, "DATABASE_URL="+testdb.PostgresDB(t))
}

func twoInstances(t *testing.T, shared ...string) {
	keyDir := t.TempDir()
	env := append(shared, "DEMO_ISSUER=http://demo.test", "DEMO_KEY_FILE="+filepath.Join(keyDir, "signing-key.pem"))
	a := startInstance(t, "A", t.TempDir(), env)
	b := startInstance(t, "B", t.TempDir(), env)

	// With Redis the instances share the login budgets too (10 attempts
	// per username at once): the test spreads its logins over both users.
	var delays []time.Duration
	for i := range 10 {
		// Logout on one instance, rejected by the other.
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		tk := from.login([]string{"demo", "viewer"}[i/5])
		if to.me(tk.AccessToken) != 200 {
			t.Fatalf("%s does not accept %s's token", to.name, from.name)
		}
		if code, _, body := from.send("POST", "/auth/logout", "application/json", `{"refresh_token":"`+tk.RefreshToken+`"}`, tk.AccessToken); code != 204 {
			t.Fatalf("logout on %s: %d %s", from.name, code, body)
		}
		delays = append(delays, to.waitStatus(tk.AccessToken, 401, time.Second))
		if code, _ := to.refresh(tk.RefreshToken); code != 400 {
			t.Errorf("the logged-out refresh token on %s: %d", to.name, code)
		}
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	var names []string
	for _, kv := range shared {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	t.Logf("logout propagation A<->B sharing %v: median %v, max %v", names, delays[len(delays)/2], delays[len(delays)-1])

	// API tokens: created on one instance and cached by the other (which
	// then answers without the database), revoked on the first: the other
	// refuses it within a second, through the shared revocation list.
	delays = delays[:0]
	users := map[*instance]tokens{a: a.login("demo"), b: b.login("demo")}
	for i := range 6 {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		user := users[from]
		code, _, body := from.send("POST", "/api/tokens", "application/json", `{"name":"ci","scopes":["widgets:read"]}`, user.AccessToken)
		var created struct{ ID, Token string }
		if code != 201 || json.Unmarshal(body, &created) != nil || created.Token == "" {
			t.Fatalf("POST /api/tokens on %s: %d %s", from.name, code, body)
		}
		for range 2 {
			if got := to.me(created.Token); got != 200 {
				t.Fatalf("%s refuses %s's API token: %d", to.name, from.name, got)
			}
		}
		if code, _, body := from.send("DELETE", "/api/tokens/"+created.ID, "", "", user.AccessToken); code != 204 {
			t.Fatalf("DELETE /api/tokens on %s: %d %s", from.name, code, body)
		}
		if got := from.me(created.Token); got != 401 {
			t.Fatalf("the revoking instance %s still accepts the API token: %d", from.name, got)
		}
		delays = append(delays, to.waitStatus(created.Token, 401, time.Second))
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("API token revocation A<->B sharing %v: median %v, max %v", names, delays[len(delays)/2], delays[len(delays)-1])

	// DPoP: a proof used on one instance is refused on the other when they
	// share Redis (the replay cache); with the database alone each keeps
	// its own, in memory.
	if strings.Contains(strings.Join(shared, " "), "REDIS_URL=") {
		alice := dpoptest.NewClient(t)
		code, _, body := a.send("POST", "/auth/token", "application/x-www-form-urlencoded",
			"grant_type=password&username=demo&password="+e2ePassword, "", "DPoP", alice.Proof("POST", "http://demo.test/auth/token", "", time.Now(), nil))
		var tk struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}
		if code != 200 || json.Unmarshal(body, &tk) != nil || tk.TokenType != "DPoP" {
			t.Fatalf("DPoP token on A: %d %s", code, body)
		}
		proof := alice.Proof("GET", "http://demo.test/api/me", tk.AccessToken, time.Now(), nil)
		if code, _, _ := a.sendAuth("GET", "/api/me", "DPoP "+tk.AccessToken, proof); code != 200 {
			t.Fatalf("DPoP request on A: %d", code)
		}
		if code, _, _ := b.sendAuth("GET", "/api/me", "DPoP "+tk.AccessToken, proof); code != 401 {
			t.Fatalf("the same proof replayed on B: %d, want 401", code)
		}
		if code, _, _ := b.sendAuth("GET", "/api/me", "DPoP "+tk.AccessToken, alice.Proof("GET", "http://demo.test/api/me", tk.AccessToken, time.Now(), nil)); code != 200 {
			t.Fatalf("a fresh proof on B: %d", code)
		}
	}

	// Logout everywhere on B: A rejects every earlier token of the user.
	t1, t2 := a.login("demo"), b.login("demo")
	viewer := a.login("viewer")
	if code, _, body := b.send("POST", "/auth/logout-all", "", "", t2.AccessToken); code != 204 {
		t.Fatalf("logout-all: %d %s", code, body)
	}
	a.waitStatus(t1.AccessToken, 401, time.Second)
	a.waitStatus(t2.AccessToken, 401, time.Second)
	if code, _ := a.refresh(t1.RefreshToken); code != 400 {
		t.Errorf("refresh after logout-all: %d", code)
	}
	if a.me(viewer.AccessToken) != 200 {
		t.Error("logout-all of demo logged out viewer")
	}

	// Rotation on A, the same token on B at once (two tabs, two
	// instances): the same successor, within the grace period. Once the
	// successor is rotated too, replaying the first token is reuse: the
	// family dies on both.
	tk := a.login("viewer")
	code, next := a.refresh(tk.RefreshToken)
	if code != 200 {
		t.Fatalf("refresh on A: %d", code)
	}
	if code, same := b.refresh(tk.RefreshToken); code != 200 || same.RefreshToken != next.RefreshToken {
		t.Fatalf("the same token on B at once: %d, same successor %v", code, same.RefreshToken == next.RefreshToken)
	}
	code, newest := b.refresh(next.RefreshToken)
	if code != 200 {
		t.Fatalf("refresh on B: %d", code)
	}
	if code, _ := a.refresh(tk.RefreshToken); code != 400 {
		t.Fatalf("replay on A: %d, want 400", code)
	}
	if code, _ := a.refresh(newest.RefreshToken); code != 400 {
		t.Errorf("the family's newest refresh token after reuse: %d", code)
	}
	a.waitStatus(newest.AccessToken, 401, time.Second)
	b.waitStatus(next.AccessToken, 401, time.Second)
}

// TestRedisOutageFailsClosedAndRecovers stops the Redis that shares the
// revocations: once the staleness bound has passed, authenticated requests
// get 503, and they work again when Redis is back, with the revocations
// made before the outage still in force.
func TestRedisOutageFailsClosedAndRecovers(t *testing.T) {
	redis := testenv.StartRedis(t)
	in := startInstance(t, "demo", t.TempDir(), []string{"REDIS_URL=" + redis.URL(), "DEMO_ISSUER=http://demo.test"},
		"-revocation-staleness", "1s")
	revoked, live := in.login("demo"), in.login("demo")
	if code, _, _ := in.send("POST", "/auth/logout", "", "", revoked.AccessToken); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if in.me(live.AccessToken) != 200 || in.me(revoked.AccessToken) != 401 {
		t.Fatal("before the outage")
	}

	redis.Stop()
	stopped := time.Now()
	took := in.waitStatus(live.AccessToken, 503, 10*time.Second)
	if took < 500*time.Millisecond {
		t.Errorf("503 after %v, before the 1s staleness bound could pass", took)
	}
	t.Logf("Redis stopped: 503 after %v (staleness bound 1s)", took)
	code, h, body := in.send("GET", "/api/me", "", "", live.AccessToken)
	if code != 503 || h.Get("Retry-After") == "" || !strings.Contains(string(body), "temporarily") && !strings.Contains(string(body), "unavailable") {
		t.Errorf("during the outage: %d %v %s", code, h, body)
	}
	if code, _, body := in.send("GET", "/readyz", "", "", ""); code != 503 || !strings.Contains(string(body), `"redis":"unreachable"`) {
		t.Errorf("readyz during the outage: %d %s", code, body)
	}
	if code, _, _ := in.send("GET", "/healthz", "", "", ""); code != 200 {
		t.Errorf("healthz (liveness) during the outage: %d", code)
	}
	if code, _, _ := in.send("POST", "/auth/logout", "", "", live.AccessToken); code != 503 {
		t.Errorf("logout during the outage: %d, want 503", code)
	}
	if time.Since(stopped) > 8*time.Second {
		t.Logf("outage checks took %v", time.Since(stopped))
	}

	redis.Start()
	took = in.waitStatus(live.AccessToken, 200, 15*time.Second)
	t.Logf("Redis back: 200 again after %v", took)
	if in.me(revoked.AccessToken) != 401 {
		t.Error("a token revoked before the outage works after it")
	}
	if code, _, body := in.send("GET", "/readyz", "", "", ""); code != 200 {
		t.Errorf("readyz after recovery: %d %s", code, body)
	}
}

// TestRevokedStaysRevokedAcrossRestart: the default SQLite database holds
// the revocations, so a logout survives a restart of demo-api.
func TestRevokedStaysRevokedAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	env := []string{"DEMO_ISSUER=http://demo.test"}
	first := startInstance(t, "first", dir, env)
	revoked, live := first.login("demo"), first.login("demo")
	body := `{"refresh_token":"` + revoked.RefreshToken + `"}`
	if code, _, b := first.send("POST", "/auth/logout", "application/json", body, revoked.AccessToken); code != 204 {
		t.Fatalf("logout: %d %s", code, b)
	}
	first.stop()

	second := startInstance(t, "second", dir, env)
	if got := second.me(revoked.AccessToken); got != 401 {
		t.Errorf("the logged-out access token after a restart: %d, want 401", got)
	}
	if code, _ := second.refresh(revoked.RefreshToken); code != 400 {
		t.Errorf("the logged-out refresh token after a restart: %d, want 400", code)
	}
	if got := second.me(live.AccessToken); got != 200 {
		t.Errorf("a live token after a restart: %d, want 200", got)
	}
	if code, next := second.refresh(live.RefreshToken); code != 200 || next.AccessToken == "" {
		t.Errorf("a live refresh token after a restart: %d", code)
	}
}

// TestAPITokenLastUseWrittenOnShutdown: the last use of an API token,
// kept in memory between flushes, is written when demo-api stops, and an
// operator's "demo-api tokens list" on the same database shows it.
func TestAPITokenLastUseWrittenOnShutdown(t *testing.T) {
	dir := t.TempDir()
	in := startInstance(t, "demo", dir, []string{"DEMO_ISSUER=http://demo.test"})
	user := in.login("demo")
	code, _, body := in.send("POST", "/api/tokens", "application/json", `{"name":"nightly"}`, user.AccessToken)
	var created struct{ ID, Token string }
	if code != 201 || json.Unmarshal(body, &created) != nil {
		t.Fatalf("POST /api/tokens: %d %s", code, body)
	}
	list := func() string {
		t.Helper()
		cmd := exec.Command(demoBinary(t), "tokens", "list", "demo")
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo-api tokens list: %v\n%s", err, out)
		}
		return string(out)
	}
	row := func(out string) []string {
		for line := range strings.SplitSeq(out, "\n") {
			if strings.HasPrefix(line, created.ID) {
				return strings.Fields(line)
			}
		}
		t.Fatalf("token %s not listed:\n%s", created.ID, out)
		return nil
	}
	if f := row(list()); f[3] != "-" {
		t.Fatalf("last used before any use: %v", f)
	}
	if in.me(created.Token) != 200 {
		t.Fatal("the API token is refused")
	}
	in.stop()
	f := row(list())
	used, err := time.Parse(time.RFC3339, f[3])
	if err != nil || time.Since(used) > time.Minute || f[4] != "active" {
		t.Fatalf("after shutdown: last used %q (%v), state %q; want the use just made", f[3], err, f[4])
	}
}
