package endpoint_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
)

// The flood: floodWorkers clients send wrong passwords for one user
// (alice) from one address while another user (bob), from another
// address, logs in floodLogins times in a row with his password; the
// same logins without the flood are the baseline. In a burst, the
// clients send one request each, all at once, as bob starts; sustained,
// each sends its next as soon as the last is answered, from before bob's
// first login to after his last. Directly: the clients connect from
// 127.0.0.2 (alice's attacker) and 127.0.0.3 (bob), loopback addresses
// of their own. Behind a proxy: both connect from 127.0.0.1, a trusted
// proxy, with X-Forwarded-For 198.51.100.7 and 203.0.113.9. The server
// has the endpoints' defaults (the throttle, and the password hasher's
// 4 slots), on the real clock. The attacker is a process of its own
// (this test binary, running TestFloodAttacker), as an attacker's client
// is never in the server's Go runtime; it shares the machine's cores.
const (
	floodWorkers = 400
	floodLogins  = 10
)

// floodFigures are what one run measured.
type floodFigures struct {
	baseline, loaded []time.Duration // bob's logins, in order
	bobStatuses      map[int]int     // of the loaded logins
	flood            map[int]int     // statuses of the wrong passwords
	floodSent        int64
	floodTime        time.Duration
	hashes           int64 // password checks during the loaded logins, alice's and bob's
}

// floodClient is one client's HTTP client and the X-Forwarded-For it
// sends ("" for none).
type floodClient struct {
	c   *http.Client
	xff string
}

// floodServer starts the endpoints (alice and bob, whose password is
// secret) and returns their URL and password hasher.
func floodServer(tb testing.TB, pc password.Config, viaProxy bool) (string, *password.Hasher) {
	tb.Helper()
	ctx := context.Background()
	pw, err := password.New(pc)
	if err != nil {
		tb.Fatal(err)
	}
	hash, err := pw.Hash(ctx, secret)
	if err != nil {
		tb.Fatal(err)
	}
	key, _ := token.GenerateKey(token.EdDSA)
	keys, _ := token.NewKeySet(key)
	iss, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: issuer, Audience: []string{audience}})
	ver, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: issuer, Audience: audience})
	list, err := revocation.Open(ctx, revocation.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { list.Close() })
	u := &users{byName: map[string]endpoint.User{
		"alice": {Subject: "usr_alice", PasswordHash: hash}, "bob": {Subject: "usr_bob", PasswordHash: hash},
	}}
	var th endpoint.ThrottleConfig
	if viaProxy {
		th.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	srv, err := endpoint.New(endpoint.Config{Issuer: iss, Verifier: ver, Users: u, Revocation: list, ClientID: client,
		Passwords: pw, Throttle: th})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux, "/auth", func(h http.Handler) http.Handler { return h })
	ts := httptest.NewServer(mux)
	tb.Cleanup(ts.Close)
	return ts.URL, pw
}

// floodClients returns where the attacker connects from and the
// X-Forwarded-For it sends, and bob's client.
func floodClients(tb testing.TB, viaProxy bool) (attacker attackSpec, bob floodClient) {
	tb.Helper()
	if viaProxy {
		return attackSpec{Local: "127.0.0.1", XFF: "198.51.100.7"}, floodClient{clientFrom(tb, "127.0.0.1", 1), "203.0.113.9"}
	}
	if l, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		tb.Skipf("this system has no loopback address 127.0.0.2 to be a second client from: %v", err)
	} else {
		l.Close()
	}
	return attackSpec{Local: "127.0.0.2"}, floodClient{clientFrom(tb, "127.0.0.3", 1), ""}
}

// clientFrom is an HTTP client whose connections come from local.
func clientFrom(tb testing.TB, local string, conns int) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: conns}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// login sends a login and returns the status and how long it took.
func (fc floodClient) login(tb testing.TB, url, name, pw string) (int, time.Duration) {
	req, err := http.NewRequest("POST", url+"/auth/login", strings.NewReader(`{"username":"`+name+`","password":"`+pw+`"}`))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if fc.xff != "" {
		req.Header.Set("X-Forwarded-For", fc.xff)
	}
	start := time.Now()
	resp, err := fc.c.Do(req)
	if err != nil {
		tb.Errorf("login of %s: %v", name, err)
		return 0, 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// runFlood measures the baseline and the flood, each on a fresh server.
func runFlood(tb testing.TB, pc password.Config, viaProxy, sustained bool) floodFigures {
	tb.Helper()
	var f floodFigures
	spec, bob := floodClients(tb, viaProxy)

	url, _ := floodServer(tb, pc, viaProxy)
	bob.login(tb, url, "nobody", "warm-up") // the connection, and the hasher's first run
	for range floodLogins {
		status, d := bob.login(tb, url, "bob", secret)
		if status != 200 {
			tb.Fatalf("bob without a flood: %d", status)
		}
		f.baseline = append(f.baseline, d)
	}

	url, pw := floodServer(tb, pc, viaProxy)
	bob.login(tb, url, "nobody", "warm-up")
	spec.URL, spec.Sustained = url, sustained
	a := startAttacker(tb, spec)
	hashes := pw.Verifications()
	floodStart := time.Now()
	a.release()
	if sustained {
		a.expect("on") // every client had an answer: the flood is on
	} // a burst: all at once, as bob starts
	f.bobStatuses = map[int]int{}
	for range floodLogins {
		status, d := bob.login(tb, url, "bob", secret)
		f.bobStatuses[status]++
		f.loaded = append(f.loaded, d)
	}
	f.hashes = pw.Verifications() - hashes
	result := a.stop()
	f.floodTime = time.Since(floodStart)
	f.floodSent = result.Sent
	f.flood = result.Statuses
	return f
}

// attackSpec is what the attacker process does: send wrong passwords for
// alice to URL from Local (with X-Forwarded-For XFF when set), from
// floodWorkers clients at once, once each or, Sustained, until told to
// stop.
type attackSpec struct {
	URL, Local, XFF string
	Sustained       bool
}

// attackResult is what the attacker process reports.
type attackResult struct {
	Statuses map[int]int
	Sent     int64
}

// floodHelperEnv holds the attackSpec of the attacker process.
const floodHelperEnv = "SESSIONLESS_FLOOD_ATTACK"

// attacker is the attacker process: it reads "go" on its stdin, then
// attacks, and reports when its stdin closes.
type attacker struct {
	tb     testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Scanner
}

// startAttacker starts the attacker process and waits until its clients
// are ready.
func startAttacker(tb testing.TB, spec attackSpec) *attacker {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(spec)
	cmd := exec.Command(exe, "-test.run=^TestFloodAttacker$", "-test.count=1")
	cmd.Env = append(os.Environ(), floodHelperEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	a := &attacker{tb: tb, cmd: cmd}
	if a.stdin, err = cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	a.stdout = bufio.NewScanner(out)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.stdin.Close(); cmd.Wait() })
	a.expect("ready")
	return a
}

// expect reads the attacker's output up to a line starting with prefix
// and returns the rest of it.
func (a *attacker) expect(prefix string) string {
	a.tb.Helper()
	for a.stdout.Scan() {
		if rest, ok := strings.CutPrefix(a.stdout.Text(), "flood: "+prefix); ok {
			return rest
		}
	}
	a.tb.Fatalf("the attacker process ended without %q: %v", prefix, a.stdout.Err())
	return ""
}

func (a *attacker) release() {
	if _, err := io.WriteString(a.stdin, "go\n"); err != nil {
		a.tb.Fatal(err)
	}
}

// stop stops the attacker and returns its report.
func (a *attacker) stop() attackResult {
	a.tb.Helper()
	a.stdin.Close()
	var r attackResult
	if err := json.Unmarshal([]byte(a.expect("result ")), &r); err != nil {
		a.tb.Fatal(err)
	}
	if err := a.cmd.Wait(); err != nil {
		a.tb.Fatalf("the attacker process: %v", err)
	}
	return r
}

// TestFloodAttacker is the attacker process of the flood (see
// startAttacker); it skips in every other run.
func TestFloodAttacker(t *testing.T) {
	raw := os.Getenv(floodHelperEnv)
	if raw == "" {
		t.Skip("the attacker of TestLoginFlood and BenchmarkLoginFlood, run in a process of its own")
	}
	var spec attackSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	c := floodClient{clientFrom(t, spec.Local, floodWorkers), spec.XFF}
	in := bufio.NewScanner(os.Stdin)
	var stop atomic.Bool
	var sent atomic.Int64
	statuses := make([]map[int]int, floodWorkers)
	release := make(chan struct{})
	var wg, answered sync.WaitGroup
	answered.Add(floodWorkers)
	for i := range floodWorkers {
		statuses[i] = map[int]int{}
		wg.Go(func() {
			<-release
			for first := true; first || spec.Sustained && !stop.Load(); first = false {
				status, _ := c.login(t, spec.URL, "alice", "wrong")
				statuses[i][status]++
				sent.Add(1)
				if first {
					answered.Done()
				}
			}
		})
	}
	fmt.Println("flood: ready")
	if !in.Scan() || in.Text() != "go" {
		t.Fatal("no go")
	}
	close(release)
	if spec.Sustained {
		answered.Wait()
		fmt.Println("flood: on")
	}
	for in.Scan() { // until stdin closes
	}
	stop.Store(true)
	wg.Wait()
	r := attackResult{Statuses: map[int]int{}, Sent: sent.Load()}
	for _, m := range statuses {
		for s, n := range m {
			r.Statuses[s] += n
		}
	}
	b, _ := json.Marshal(r)
	fmt.Printf("flood: result %s\n", b)
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	return s[max(0, (p*len(s)+99)/100-1)]
}

func (f floodFigures) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("bob's logins: baseline p50 %s, p99 %s; under the flood p50 %s, p99 %s (%.2fx), statuses %v, in order %v; "+
		"the flood: %d wrong passwords in %v (%.0f/s), statuses %v; %d password checks during bob's logins",
		ms(percentile(f.baseline, 50)), ms(percentile(f.baseline, 99)), ms(percentile(f.loaded, 50)), ms(percentile(f.loaded, 99)),
		f.ratio(), f.bobStatuses, roundAll(f.loaded), f.floodSent, f.floodTime.Round(time.Millisecond), float64(f.floodSent)/f.floodTime.Seconds(), f.flood, f.hashes)
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

func (f floodFigures) ratio() float64 {
	return float64(percentile(f.loaded, 99)) / float64(percentile(f.baseline, 99))
}

// check fails tb unless what holds on any machine, however busy: every
// one of bob's logins got 200, and the flood got only 401 and 429, at
// most the username's burst (and what refilled meanwhile) being 401.
func (f floodFigures) check(tb testing.TB) {
	tb.Helper()
	if f.bobStatuses[200] != floodLogins {
		tb.Errorf("bob's logins under the flood: %v, want %d 200", f.bobStatuses, floodLogins)
	}
	if f.flood[401]+f.flood[429] != int(f.floodSent) {
		tb.Errorf("the flood got %v, want only 401 and 429", f.flood)
	}
	if most := endpoint.DefaultUsernameBurst + int(f.floodTime/endpoint.DefaultUsernameEvery) + 1; f.flood[401] > most {
		tb.Errorf("%d wrong passwords checked, want at most %d", f.flood[401], most)
	}
}

// floodModes are the flood's shapes, named for the test and benchmark.
var floodModes = []struct {
	name                string
	viaProxy, sustained bool
}{
	{"direct/burst", false, false},
	{"direct/sustained", false, true},
	{"proxy/burst", true, false},
	{"proxy/sustained", true, true},
}

// TestLoginFlood runs the flood with cheap password hashing and checks
// only what holds on any machine (see floodFigures.check); go test -v
// shows the figures. BenchmarkLoginFlood measures with the default
// argon2id cost.
func TestLoginFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("the flood takes seconds")
	}
	for _, m := range floodModes {
		t.Run(m.name, func(t *testing.T) {
			f := runFlood(t, testenv.CheapPasswords, m.viaProxy, m.sustained)
			t.Log(f)
			f.check(t)
		})
	}
}

// BenchmarkLoginFlood measures the flood with the default argon2id cost
// (RFC 9106, 64 MiB, 4 lanes): one run per b.N; run it with
// -benchtime 1x. Its figures are in docs/benchmarks.md.
func BenchmarkLoginFlood(b *testing.B) {
	for _, m := range floodModes {
		b.Run(m.name, func(b *testing.B) {
			var f floodFigures
			for range b.N {
				f = runFlood(b, password.Config{}, m.viaProxy, m.sustained)
				f.check(b)
			}
			b.Log(f)
			b.ReportMetric(float64(percentile(f.baseline, 99))/1e6, "baseline-p99-ms")
			b.ReportMetric(float64(percentile(f.loaded, 99))/1e6, "flood-p99-ms")
			b.ReportMetric(f.ratio(), "p99-ratio")
			b.ReportMetric(float64(f.floodSent)/f.floodTime.Seconds(), "flood-req/s")
			b.ReportMetric(float64(f.flood[401]), "flood-401")
			b.ReportMetric(float64(f.flood[429]), "flood-429")
		})
	}
}
