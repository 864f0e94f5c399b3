package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv/demoproc"
)

const (
	// password is every seeded user's (DEMO_PASSWORD).
	password = "node-test-password"
	// scriptTimeout bounds one run of a script: generous, every step of
	// a script is a request to a server on this machine.
	scriptTimeout = 2 * time.Minute
)

func TestMain(m *testing.M) { os.Exit(demoproc.Main(m)) }

// slow skips a test that runs the demo and Node.js under -short.
func slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs npm's OAuth and MCP clients against the demo API (not with -short)")
	}
}

// tool returns the path of node or npm, or skips the test when it is not
// installed, unless CI=true (where scripts/services.sh installs them):
// then it fails.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (%v): with CI=true the Node.js client tests run; scripts/services.sh installs Debian's nodejs and npm", name, err)
		}
		t.Skipf("%s not found on the PATH: the Node.js client tests (integration/node) skip (apt-get install nodejs npm; with CI=true they fail)", name)
	}
	return path
}

var npmInstall struct {
	once sync.Once
	err  error
}

// nodeModules makes sure node_modules holds the packages of
// package-lock.json: `npm ci`, once per test binary, unless a stamp left
// by an earlier run says node_modules is of this lock file and this
// node. It returns the path of node.
func nodeModules(t *testing.T) string {
	t.Helper()
	slow(t)
	node, npm := tool(t, "node"), tool(t, "npm")
	npmInstall.once.Do(func() { npmInstall.err = npmCI(node, npm) })
	if npmInstall.err != nil {
		t.Fatal(npmInstall.err)
	}
	return node
}

// stampFile records in node_modules what npm ci installed it from
// (npm ci removes node_modules first, so a failed install leaves none).
const stampFile = "node_modules/.sessionless-npm-ci"

func npmCI(node, npm string) error {
	lock, err := os.ReadFile("package-lock.json")
	if err != nil {
		return err
	}
	pkg, err := os.ReadFile("package.json")
	if err != nil {
		return err
	}
	version, err := exec.Command(node, "--version").Output()
	if err != nil {
		return fmt.Errorf("node --version: %v", err)
	}
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(version)), "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 18 {
		return fmt.Errorf("node %s is too old: the clients need Node.js 18 or later", strings.TrimSpace(string(version)))
	}
	sum := sha256.Sum256(append(append(lock, pkg...), version...))
	stamp := hex.EncodeToString(sum[:])
	if have, err := os.ReadFile(stampFile); err == nil && string(have) == stamp {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in integration/node: %v\n%s", err, out)
	}
	return os.WriteFile(stampFile, []byte(stamp), 0o644)
}

// demoBinary builds the demo (package demoproc) before a test's
// subtests start it.
func demoBinary(t *testing.T) { demoproc.Binary(t) }

// demo is a running demo-api process.
type demo struct{ *demoproc.Demo }

// demoOptions are what a test changes of the demo's configuration.
type demoOptions struct {
	args []string // more flags
	env  []string // more variables
}

// startDemo runs the demo (package demoproc; its issuer is
// http://127.0.0.1:PORT) with the seeded users' password set.
func startDemo(t *testing.T, o demoOptions) *demo {
	t.Helper()
	return &demo{demoproc.Start(t, demoproc.Options{Args: o.args, Env: append([]string{"DEMO_PASSWORD=" + password}, o.env...)})}
}

// randomKey is 32 random bytes in base64url, for DEMO_DPOP_NONCE_KEY.
func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// request is one line of the demo's request log.
type request struct {
	method, path string
	status       int
}

var requestLine = regexp.MustCompile(`msg=request method=(\S+) path=(\S+) status=(\d+)`)

// requests returns the requests the demo has logged.
func (d *demo) requests() []request {
	var out []request
	for _, m := range requestLine.FindAllStringSubmatch(d.Log.String(), -1) {
		status, _ := strconv.Atoi(m[3])
		out = append(out, request{m[1], m[2], status})
	}
	return out
}

// runNode runs `node script` in this directory with the variables env
// (BASE_URL, PASSWORD and the like), within scriptTimeout, and fails the
// test with the script's output unless it exits with status 0. It
// returns the output.
func runNode(t *testing.T, node, script string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("node %s did not finish within %v:\n%s", script, scriptTimeout, out.String())
	case err != nil:
		t.Fatalf("node %s: %v\n%s", script, err, out.String())
	}
	t.Logf("node %s: ok in %v", script, time.Since(start).Round(time.Millisecond))
	if testing.Verbose() {
		t.Logf("its output:\n%s", out.String())
	}
	return out.String()
}

// loopbackCallback returns a loopback redirect URI on a port free now,
// for a script to listen on.
func loopbackCallback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprintf("http://%s/callback", ln.Addr())
}

// metadataServer serves Client ID Metadata Documents over https on
// 127.0.0.1 (httptest's certificate), and writes its CA certificate to
// a PEM file for the demo's -client-metadata-test-ca.
type metadataServer struct {
	srv    *httptest.Server
	caFile string

	mu   sync.Mutex
	docs map[string]string // by path
	hits []string          // the paths fetched
}

func newMetadataServer(t *testing.T) *metadataServer {
	t.Helper()
	m := &metadataServer{docs: map[string]string{}}
	m.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		doc, ok := m.docs[r.URL.Path]
		m.hits = append(m.hits, r.Method+" "+r.URL.Path)
		m.mu.Unlock()
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, doc)
	}))
	t.Cleanup(m.srv.Close)
	m.caFile = filepath.Join(t.TempDir(), "metadata-ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.srv.Certificate().Raw})
	if err := os.WriteFile(m.caFile, block, 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

// url is the URL of path on the server: a document's client_id.
func (m *metadataServer) url(path string) string { return m.srv.URL + path }

// serve publishes doc at path.
func (m *metadataServer) serve(path, doc string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.docs[path] = doc
}

// fetched returns the requests the server has answered.
func (m *metadataServer) fetched() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.hits...)
}
