package browser_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionless/sessionless/internal/testenv/demoproc"
)

// TestScreenshots takes the README's screenshots of the app, 1100x800:
// the login form, the widgets, the devices (this browser, another one,
// and a script that logged in with curl). With -update it writes them to
// docs/img (or -screenshot-dir):
//
//	cd integration/browser && go test -run TestScreenshots -update
func TestScreenshots(t *testing.T) {
	slow(t)
	chromium(t)
	d := startDemo(t, 0)
	b := newBrowser(t, d)
	tab := b.tab(t)

	tab.open()
	tab.do(chromedp.SendKeys(chromedp.CSS(`#login input[name=username]`), "demo"))
	shot(t, tab, "browser-login.png")

	tab.login("demo")
	for _, name := range []string{"flux capacitor", "warp coil", "sonic screwdriver"} {
		tab.do(chromedp.SendKeys(chromedp.ID("widget-name"), name), chromedp.Click(chromedp.ID("widget-create")))
		tab.wait(name, fmt.Sprintf(`[...document.querySelectorAll('#widgets .name')].some(e => e.textContent === %q)`, name))
	}
	shot(t, tab, "browser-widgets.png")

	other := b.incognito(t)
	other.do(userAgent(firefox))
	other.login("demo")
	curlLogin(t, d.URL)
	tab.do(chromedp.Click(chromedp.ID("nav-devices")))
	tab.wait("three devices", `document.querySelectorAll('#devices li').length >= 3`)
	shot(t, tab, "browser-devices.png")
}

// curlLogin logs demo in as a script would (tokens in the body), with
// curl's user agent.
func curlLogin(t *testing.T, base string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/auth/login", strings.NewReader(`{"username":"demo","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "curl/8.5.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK {
		t.Fatalf("login as curl: %d %s", resp.StatusCode, b)
	}
}

// shot captures the tab's viewport, checks it is a 1100x800 PNG, and
// with -update writes it.
func shot(t *testing.T, tb *browserTab, name string) {
	t.Helper()
	// No caret, no focus ring: the same picture every time.
	eval[bool](tb, `document.activeElement && document.activeElement.blur(); true`)
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", name, err)
	}
	if got := img.Bounds().Size(); got.X != 1100 || got.Y != 800 {
		t.Errorf("%s: %v, want 1100x800", name, got)
	}
	if len(buf) < 10<<10 {
		t.Errorf("%s: %d bytes, an empty page?", name, len(buf))
	}
	if !*update {
		return
	}
	dir := *shotDir
	if dir == "" {
		dir = filepath.Join("..", "..", "docs", "img")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(buf))
}

// TestHostCookieOnLoopback: what cookie mode relies on in Chromium. On
// http://127.0.0.1 (a potentially trustworthy origin, like localhost), a
// Secure "__Host-" cookie of path "/" is kept and sent, and so is a
// "__Secure-" one of path /auth/token; a "__Host-" cookie of another path
// is refused (the prefix demands Path=/), so the refresh cookie cannot
// be one. And no script reads an HttpOnly cookie.
func TestHostCookieOnLoopback(t *testing.T) {
	chromium(t)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			for _, c := range []*http.Cookie{
				{Name: "__Host-access", Value: "a", Path: "/"},
				{Name: "__Host-refresh", Value: "b", Path: "/auth/token"},
				{Name: "__Secure-refresh", Value: "c", Path: "/auth/token"},
			} {
				c.Secure, c.HttpOnly, c.SameSite = true, true, http.SameSiteStrictMode
				http.SetCookie(w, c)
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, r.Header.Get("Cookie"))
	}))
	t.Cleanup(ts.Close)
	tab := newBrowser(t, &demo{&demoproc.Demo{URL: ts.URL}}).tab(t)
	tab.navigate(ts.URL + "/set")
	tab.navigate(ts.URL + "/")
	if got := eval[string](tab, `document.body.textContent`); got != "__Host-access=a" {
		t.Errorf("sent to /: %q, want __Host-access=a", got)
	}
	tab.navigate(ts.URL + "/auth/token")
	if got := eval[string](tab, `document.body.textContent`); got != "__Secure-refresh=c; __Host-access=a" {
		t.Errorf("sent to /auth/token: %q, want __Secure-refresh=c; __Host-access=a", got)
	}
	if got := eval[string](tab, `document.cookie`); got != "" {
		t.Errorf("document.cookie %q", got)
	}
}
