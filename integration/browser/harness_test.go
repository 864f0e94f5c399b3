package browser_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/sessionless/sessionless/internal/testenv/demoproc"
)

var (
	update  = flag.Bool("update", false, "write the screenshots to docs/img (TestScreenshots)")
	shotDir = flag.String("screenshot-dir", "", "with -update: write the screenshots to this directory instead of docs/img")
)

const (
	// password is every seeded user's (DEMO_PASSWORD).
	password = "browser-test-password"
	// timeout bounds each browser action and each wait: generous, the
	// machine may be busy (two cores, the race detector elsewhere).
	timeout = 60 * time.Second
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(demoproc.Main(m))
}

// chromium returns the path of the browser, or skips the test when it is
// not installed, unless CI=true (where scripts/services.sh installs it):
// then it fails.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is not installed (%v): with CI=true the real-browser tests run; scripts/services.sh installs Debian's chromium", err)
		}
		t.Skipf("Chromium not installed at %s: the real-browser tests skip (apt-get install chromium, or set CHROMIUM to a Chromium or Chrome; with CI=true they fail)", path)
	}
	return path
}

// slow skips a test that runs the demo and a browser under -short.
func slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the demo API in a real browser (not with -short)")
	}
}

// demo is a running demo-api process.
type demo struct{ *demoproc.Demo }

// startDemo runs the demo (package demoproc) with the seeded users'
// password set and the access token lifetime accessTTL (zero: the
// default, 15 minutes).
func startDemo(t *testing.T, accessTTL time.Duration) *demo {
	t.Helper()
	var args []string
	if accessTTL > 0 {
		args = []string{"-access-ttl", accessTTL.String()}
	}
	return &demo{demoproc.Start(t, demoproc.Options{Args: args, Env: []string{"DEMO_PASSWORD=" + password}})}
}

// request is one line of the demo's request log.
type request struct {
	method, path string
	status       int
}

var requestLine = regexp.MustCompile(`msg=request method=(\S+) path=(\S+) status=(\d+)`)

var rotatedLine = regexp.MustCompile(`msg="refresh token rotated" sub=\S+ jti=(\S+)`)

// rotatedSince returns the jti of each access token the demo issued with
// a refresh after mark, in order: a refresh within the grace period
// reissues the jti of the rotation it repeats.
func (d *demo) rotatedSince(mark int) []string {
	var out []string
	for _, m := range rotatedLine.FindAllStringSubmatch(d.Log.String()[mark:], -1) {
		out = append(out, m[1])
	}
	return out
}

// mark is a place in the demo's log, for requestsSince.
func (d *demo) mark() int { return d.Log.Len() }

// requestsSince returns the requests the demo logged after mark.
func (d *demo) requestsSince(mark int) []request {
	var out []request
	for _, m := range requestLine.FindAllStringSubmatch(d.Log.String()[mark:], -1) {
		status, _ := strconv.Atoi(m[3])
		out = append(out, request{m[1], m[2], status})
	}
	return out
}

// browser is a Chromium process.
type browser struct {
	ctx  context.Context // its first tab, in the default browser context
	demo *demo
}

// newBrowser starts a headless Chromium with a fresh profile (chromedp
// makes a temporary --user-data-dir and removes it), with the flags that
// keep it off the network, and a 1100x800 window.
func newBrowser(t *testing.T, d *demo) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // root in containers; the sandbox needs user namespaces
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(1100, 800),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
	})
	// The first Do starts the browser, bound to ctx (not to a deadline).
	start := make(chan error, 1)
	go func() { start <- chromedp.Do(ctx) }()
	select {
	case err := <-start:
		if err != nil {
			t.Fatalf("starting Chromium: %v", err)
		}
	case <-time.After(timeout):
		t.Fatalf("Chromium did not start within %v", timeout)
	}
	return &browser{ctx: ctx, demo: d}
}

// browserTab is a page of the browser.
type browserTab struct {
	t       *testing.T
	ctx     context.Context
	base    string // the demo's URL
	console *demoproc.Log
}

// tab opens a tab in the first tab's browser context: it shares its
// cookies, storage and BroadcastChannels.
func (b *browser) tab(t *testing.T) *browserTab {
	return b.open(t)
}

// incognito opens a tab in a new browser context, with cookies of its
// own: another browser, as far as the demo can tell.
func (b *browser) incognito(t *testing.T) *browserTab {
	return b.open(t, chromedp.WithNewBrowserContext())
}

func (b *browser) open(t *testing.T, opts ...chromedp.ContextOption) *browserTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, opts...)
	t.Cleanup(cancel)
	tb := &browserTab{t: t, ctx: ctx, base: b.demo.URL, console: &demoproc.Log{}}
	// The first Do opens the tab, bound to the context it is given: ctx
	// itself, never one with a deadline, which would end the tab's event
	// loop with it. A new tab opens in a window of its own, which headless
	// Chromium keeps hidden until it is brought to the front; chromedp's
	// event loop waits there for DOM.getDocument, which a hidden tab does
	// not answer, and its second navigation never ends. Once in front,
	// the window stays visible while other tabs come forward.
	first := make(chan error, 1)
	go func() {
		first <- chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, page.BringToFront, cdp.Empty{})
			return err
		}))
	}()
	select {
	case err := <-first:
		if err != nil {
			t.Fatalf("opening a tab: %v", err)
		}
	case <-time.After(timeout):
		t.Fatalf("opening a tab: no answer within %v", timeout)
	}
	tb.do(chromedp.EmulateViewport(1100, 800))
	// The console and uncaught exceptions, shown when the test fails.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			fmt.Fprintf(tb.console, "%s %s:%d %s\n", m.Type, m.URL, m.Line+1, m)
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the console of the tab:\n%s", tb.console.String())
		}
	})
	return tb
}

// caller names the test line that called a helper, for its errors.
func caller() string {
	for skip := 2; skip < 8; skip++ {
		_, file, line, ok := runtime.Caller(skip)
		if ok && !strings.HasSuffix(file, "harness_test.go") {
			return fmt.Sprintf("%s:%d", filepath.Base(file), line)
		}
	}
	return "?"
}

// do runs the actions within the timeout, failing the test on an error.
func (tb *browserTab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := tb.try(actions...); err != nil {
		tb.t.Fatalf("%s: %v", caller(), err)
	}
}

func (tb *browserTab) try(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// eval evaluates js in the page, awaiting a promise, and decodes its
// value.
func eval[T any](tb *browserTab, js string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: evaluating %s: %v", caller(), js, err)
	}
	return v
}

// wait polls the JavaScript expression until it is truthy.
func (tb *browserTab) wait(what, js string) {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		ctx, cancel := context.WithDeadline(tb.ctx, deadline.Add(5*time.Second))
		_, err = chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
		cancel()
		// A navigation ends the page's JavaScript context under the poll:
		// poll again in the new one.
		if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "context") || errors.Is(err, context.DeadlineExceeded) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		state, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`JSON.stringify({url: location.href, error: document.getElementById('error')?.textContent, stats: window.demoApp?.stats()})`))
		tb.t.Fatalf("%s: waiting for %s: %v (page: %s)", caller(), what, err, state)
	}
}

func (tb *browserTab) navigate(url string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(url))
}

// open loads the app and waits for it to decide: the login form or the
// logged-in view.
func (tb *browserTab) open() {
	tb.t.Helper()
	tb.navigate(tb.base + "/")
	tb.wait("the app to show the login form or the user", `!document.getElementById('login-view').hidden || !document.getElementById('app').hidden`)
}

// login logs user in through the form and waits for the app.
func (tb *browserTab) login(user string) {
	tb.t.Helper()
	tb.open()
	if !eval[bool](tb, `document.getElementById('app').hidden`) {
		tb.t.Fatalf("%s: already logged in", caller())
	}
	tb.submitLogin(user, password)
	tb.wait("the logged-in app", `!document.getElementById('app').hidden && document.getElementById('whoami').textContent !== '' && document.querySelectorAll('#widgets li').length > 0`)
}

// ensureLoggedIn logs user in unless the tab shows the app logged in
// already: a subtest run alone (-run) starts from a blank tab.
func (tb *browserTab) ensureLoggedIn(user string) {
	tb.t.Helper()
	if !eval[bool](tb, `location.origin === `+strconv.Quote(tb.base)+` && !!window.demoApp && demoApp.stats().loggedIn`) {
		tb.login(user)
	}
}

// submitLogin fills the login form in and submits it.
func (tb *browserTab) submitLogin(user, pw string) {
	tb.t.Helper()
	tb.do(
		chromedp.WaitVisible(chromedp.CSS(`#login input[name=username]`)),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('login').reset()`),
		chromedp.SendKeys(chromedp.CSS(`#login input[name=username]`), user),
		chromedp.SendKeys(chromedp.CSS(`#login input[name=password]`), pw),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
	)
}

// text returns the text of the element of the id.
func (tb *browserTab) text(id string) string {
	tb.t.Helper()
	return eval[string](tb, `document.getElementById(`+strconv.Quote(id)+`).textContent`)
}

// response is what demoApp.call returns: a call through the app's own
// logic (cookies, one refresh on 401).
type response struct {
	Status    int    `json:"status"`
	Body      string `json:"body"`
	Error     string `json:"error"`
	LoggedOut bool   `json:"loggedOut"`
}

// call makes a request through the app (demoApp.call).
func (tb *browserTab) call(method, path string, body string) response {
	tb.t.Helper()
	if body == "" {
		body = "undefined"
	}
	return eval[response](tb, fmt.Sprintf(`demoApp.call(%q, %q, %s)`, method, path, body))
}

// fetchStatus makes a request with fetch alone (no refresh on 401) and
// returns its status.
func (tb *browserTab) fetchStatus(method, path string) int {
	tb.t.Helper()
	return eval[int](tb, fmt.Sprintf(`fetch(%q, {method: %q, credentials: 'same-origin'}).then(r => r.status)`, path, method))
}

// stats are the app's counters (demoApp.stats).
type stats struct {
	LoggedIn   bool    `json:"loggedIn"`
	Generation int     `json:"generation"`
	Refreshes  int     `json:"refreshes"`
	ExpiresAt  float64 `json:"expiresAt"`
}

func (tb *browserTab) stats() stats {
	tb.t.Helper()
	return eval[stats](tb, `demoApp.stats()`)
}

// cookies returns the browser context's cookies for the demo's URLs,
// HttpOnly ones included (through the DevTools protocol, which no page
// has).
func (tb *browserTab) cookies() []*network.Cookie {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{tb.base + "/", tb.base + "/auth/token"}})
	if err != nil {
		tb.t.Fatalf("%s: reading the cookies: %v", caller(), err)
	}
	return res.Cookies
}

// accessCookie returns the cookie of path "/" that holds the access
// token (a JWT), nil when there is none.
func (tb *browserTab) accessCookie() *network.Cookie {
	tb.t.Helper()
	for _, c := range tb.cookies() {
		if isAccessCookie(c) {
			return c
		}
	}
	return nil
}

func isAccessCookie(c *network.Cookie) bool {
	return c.Path == "/" && strings.HasPrefix(c.Name, "__Host-") && jwtShape.MatchString(c.Value)
}

// dropAccessCookie deletes the access token's cookie, as the browser
// does when it expires: the app's next call gets 401.
func (tb *browserTab) dropAccessCookie() {
	tb.t.Helper()
	c := tb.accessCookie()
	if c == nil {
		tb.t.Fatalf("%s: no access token cookie to drop: %v", caller(), cookieNames(tb.cookies()))
	}
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: c.Name, URL: tb.base + "/"}); err != nil {
		tb.t.Fatal(err)
	}
	if tb.accessCookie() != nil {
		tb.t.Fatalf("%s: the access cookie is still there", caller())
	}
}

func cookieNames(cs []*network.Cookie) []string {
	var names []string
	for _, c := range cs {
		names = append(names, fmt.Sprintf("%s (path %s, SameSite %s)", c.Name, c.Path, c.SameSite))
	}
	return names
}
