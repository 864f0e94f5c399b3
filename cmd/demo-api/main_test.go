package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
)

// TestEndToEnd builds demo-api, runs it in an empty directory, logs in over
// HTTP, calls /api/me, and stops it with SIGTERM.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("stops the process with SIGTERM")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "demo-api")
	build := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	workDir := t.TempDir()
	const password = "end-to-end-password"
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
	cmd.Dir = workDir // the default data directory, ./demo-data, lands here
	cmd.Env = append(os.Environ(), "DEMO_PASSWORD="+password)
	for _, kv := range os.Environ() { // no stray configuration from the caller
		if name, _, _ := strings.Cut(kv, "="); (strings.HasPrefix(name, "DEMO_") && name != "DEMO_PASSWORD") || name == "DATABASE_URL" {
			cmd.Env = append(cmd.Env, name+"=")
		}
	}
	var stderr testenv.SyncBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait() // after stdout is read to the end
	}()
	defer func() {
		if t.Failed() {
			cmd.Process.Kill()
			t.Logf("stderr:\n%s", stderr.String())
		}
	}()

	// Read stdout up to the listening line.
	var baseURL string
	var printed []string
	waitLine, cancelWait := context.WithTimeout(ctx, 30*time.Second)
	defer cancelWait()
	for baseURL == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("demo-api exited before listening; stdout %q", printed)
			}
			if u, found := strings.CutPrefix(line, "demo-api listening on "); found {
				baseURL = u
			} else {
				printed = append(printed, line)
			}
		case <-waitLine.Done():
			t.Fatalf("no listening line in time; stdout %q", printed)
		}
	}
	go func() { // drain
		for range lines {
		}
	}()
	if want := "seeded users demo and viewer with the password from DEMO_PASSWORD"; len(printed) != 1 || printed[0] != want {
		t.Errorf("stdout before the listening line = %q, want %q", printed, want)
	}

	send := func(method, path, body, bearer string) (int, []byte) {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, method, baseURL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}

	if status, b := send("GET", "/healthz", "", ""); status != 200 || string(b) != `{"status":"ok"}`+"\n" {
		t.Errorf("/healthz: %d %s", status, b)
	}
	status, b := send("POST", "/auth/login", `{"username":"demo","password":"`+password+`"}`, "")
	if status != 200 {
		t.Fatalf("login: %d %s", status, b)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 900 {
		t.Fatalf("login response %s: %v", b, err)
	}
	status, b = send("GET", "/api/me", "", tok.AccessToken)
	var me struct {
		Sub        string   `json:"sub"`
		Iss        string   `json:"iss"`
		Scopes     []string `json:"scopes"`
		Roles      []string `json:"roles"`
		AuthMethod string   `json:"auth_method"`
	}
	if err := json.Unmarshal(b, &me); status != 200 || err != nil || me.Sub == "" || me.Iss != baseURL ||
		me.AuthMethod != "jwt" || strings.Join(me.Scopes, " ") != "widgets:read widgets:write tokens:manage" ||
		strings.Join(me.Roles, " ") != "admin" {
		t.Errorf("/api/me: %d %s (%v)", status, b, err)
	}
	if status, _ := send("GET", "/api/me", "", ""); status != 401 {
		t.Errorf("/api/me without a token: %d", status)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("demo-api did not exit cleanly after SIGTERM: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("demo-api did not exit after SIGTERM")
	}
	if logs := stderr.String(); !strings.Contains(logs, "shutting down") || strings.Contains(logs, password) ||
		strings.Contains(logs, tok.AccessToken[strings.LastIndexByte(tok.AccessToken, '.')+1:]) {
		t.Errorf("logs lack the shutdown, or hold a secret:\n%s", logs)
	}

	for name, want := range map[string]os.FileMode{"demo-data": 0o700, "demo-data/signing-key.pem": 0o600, "demo-data/demo.db": 0o600} {
		info, err := os.Stat(filepath.Join(workDir, name))
		if err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %#o", name, info, err, want)
		}
	}
}
