// Package demoproc runs cmd/demo-api as a process of its own for the
// tests of the integration modules that drive it from outside, through
// a real client: integration/browser (Chromium) and integration/node
// (npm's OAuth and MCP clients).
//
// It exists so that those modules start the demo one way: the binary
// built once per test process in the repository's main module (with that
// module's go.mod and go.sum, not the requirements of the module that
// tests it), on a free loopback port with a throwaway SQLite database and
// signing key, in an environment without the variables that configure
// the demo, ended with the test binary (Pdeathsig) and stopped with
// SIGTERM at the end of the test, its stderr log kept for the test and
// shown when the test fails.
//
// A package that uses it runs its tests through [Main]:
//
//	func TestMain(m *testing.M) { os.Exit(demoproc.Main(m)) }
package demoproc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// patience bounds the demo's start (its listening line, then /readyz)
// and its stop on SIGTERM: generous, since the machine may be busy (two
// cores, the race detector elsewhere) and a passing test waits only as
// long as the demo takes.
const patience = 2 * time.Minute

// mainModule is the module of cmd/demo-api.
const mainModule = "github.com/sessionless/sessionless"

var build struct {
	inMain bool // Main runs the tests
	once   sync.Once
	dir    string // removed by Main
	path   string
	err    error
}

// Main runs the tests of m and then removes the binary [Binary] built;
// it returns the exit code for os.Exit. Call it from TestMain.
func Main(m *testing.M) int {
	build.inMain = true
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	return code
}

// Binary builds cmd/demo-api once per test process, `go build` in the
// repository's main module (found above the working directory), and
// returns the path of the binary. Tests call it to build before they
// start demos, in subtests or in parallel.
func Binary(t testing.TB) string {
	t.Helper()
	if !build.inMain {
		t.Fatal("demoproc: the test package's TestMain must run the tests with demoproc.Main, which removes the binary")
	}
	build.once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			build.err = err
			return
		}
		if build.dir, err = os.MkdirTemp("", "sessionless-demo-api-"); err != nil {
			build.err = err
			return
		}
		path := filepath.Join(build.dir, "demo-api")
		cmd := exec.Command("go", "build", "-o", path, "./cmd/demo-api")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/demo-api in %s: %v\n%s", root, err, out)
			return
		}
		build.path = path
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// repoRoot returns the directory of the main module's go.mod: the
// working directory or the nearest above it (the integration modules
// are directories of the repository).
func repoRoot() (string, error) {
	start, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := start; ; dir = filepath.Dir(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modulePath(b) == mainModule {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("demoproc: no go.mod of module %s in %s or above", mainModule, start)
		}
	}
}

// modulePath returns the path of the module directive of a go.mod.
func modulePath(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// Options are what a test sets of the demo's configuration.
type Options struct {
	Args []string // flags, after -addr, -db and -key-file
	Env  []string // variables (NAME=value), after the cleaned environment
}

// Demo is a running demo-api process.
type Demo struct {
	URL string // http://127.0.0.1:PORT, its origin and issuer
	Log *Log   // its stderr: the log (-request-log: one line a request among others) and the audit records
}

// Start runs the demo (see [Binary]) with -addr 127.0.0.1:0, -db and
// -key-file in a directory of the test's and -request-log (tests count
// the requests), then o.Args, in the environment without DEMO_*,
// OIDC_*, DATABASE_URL and REDIS_URL, then o.Env. It returns once the
// demo answers /readyz with 200, and stops it with SIGTERM when the test
// ends, failing the test unless it exits cleanly; a failed test shows
// the end of the demo's log.
func Start(t testing.TB, o Options) *Demo {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	args := append([]string{"-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "demo.db"),
		"-key-file", filepath.Join(dir, "signing-key.pem"), "-request-log"}, o.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), o.Env...)
	// A test binary killed by -timeout runs no Cleanup: the demo ends
	// with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	d := &Demo{Log: &Log{}}
	cmd.Stderr = d.Log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "demo-api listening on "); ok {
				select {
				case addr <- a:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the demo's log:\n%s", d.Log.Tail(200))
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil && !t.Failed() {
				t.Errorf("the demo did not stop cleanly on SIGTERM: %v\n%s", err, d.Log.Tail(50))
			}
		case <-time.After(patience):
			cmd.Process.Kill()
			<-exited
			t.Errorf("the demo did not stop within %v of SIGTERM", patience)
		}
	})
	select {
	case d.URL = <-addr:
	case err := <-exited:
		t.Fatalf("the demo exited before listening: %v\n%s", err, d.Log.String())
	case <-time.After(patience):
		t.Fatalf("the demo did not listen within %v\n%s", patience, d.Log.String())
	}
	deadline := time.Now().Add(patience)
	for {
		resp, err := http.Get(d.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not answer 200 within %v: %v", patience, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

// cleanEnv is the environment without the demo's own variables, which
// would change what the test configures.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "DEMO_") || strings.HasPrefix(name, "OIDC_") || name == "DATABASE_URL" || name == "REDIS_URL" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Log is a bytes.Buffer that a process's output and a test may use at
// once: the demo's stderr, or any other log a test keeps.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns what was written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Len returns how many bytes were written so far: a mark from which to
// read what comes after (String()[mark:]).
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

// Tail returns the last n lines.
func (l *Log) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(l.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
