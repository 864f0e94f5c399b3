package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

var (
	jwtShape     = regexp.MustCompile(`[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)
	refreshShape = regexp.MustCompile(`rt_[A-Za-z0-9_-]{20,}`)
)

// firefox is the user agent of a second browser, for the devices list.
const firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"

// TestLogin: the login form, the tokens no script can read, parallel
// calls with one cookie, two tabs refreshing at once, API tokens made in
// the page, the login throttle.
func TestLogin(t *testing.T) {
	slow(t)
	chromium(t)
	d := startDemo(t, 0)
	b := newBrowser(t, d)
	tab := b.tab(t)

	// 1. Login through the form; the widgets appear; a reload keeps the
	// user logged in.
	if !t.Run("form", func(t *testing.T) {
		tab.t = t
		tab.open()
		if !eval[bool](tab, `document.getElementById('app').hidden && !document.getElementById('login-view').hidden`) {
			t.Fatal("a first visit does not show the login form alone")
		}
		tab.submitLogin("demo", "not-the-password")
		tab.wait("the wrong password's error", `/wrong username or password/i.test(document.getElementById('error').textContent)`)
		tab.login("demo")
		tab.wait("the seeded widgets", `['sprocket', 'gear'].every(n => [...document.querySelectorAll('#widgets .name')].some(e => e.textContent === n))`)
		sub := tab.text("whoami")
		if !strings.HasPrefix(sub, "usr_") {
			t.Errorf("#whoami %q, want the user's sub", sub)
		}
		if got := tab.text("scopes"); got != "widgets:read widgets:write tokens:manage" {
			t.Errorf("#scopes %q", got)
		}
		cred := eval[string](tab, `document.getElementById('credential').dataset.credential`)
		if cred != "cookie" || !strings.Contains(tab.text("credential"), "jwt") {
			t.Errorf("#credential %q (data-credential %q), want the cookie and jwt", tab.text("credential"), cred)
		}
		if !regexp.MustCompile(`^expires in 1[45]:\d\d$`).MatchString(tab.text("countdown")) {
			t.Errorf("#countdown %q", tab.text("countdown"))
		}
		tab.do(chromedp.Reload())
		tab.wait("the app after a reload", `!document.getElementById('app').hidden && document.getElementById('whoami').textContent !== ''`)
		if got := tab.text("whoami"); got != sub {
			t.Errorf("after a reload #whoami %q, want %q", got, sub)
		}
		if c := tab.console.String(); strings.Contains(c, "Content Security Policy") || strings.Contains(c, "exception ") {
			t.Errorf("the console shows a CSP violation or an exception:\n%s", c)
		}
	}) {
		return
	}

	// 2. No script of the page can read a token: the cookies are
	// HttpOnly, and nothing else holds one.
	t.Run("tokens unreadable", func(t *testing.T) {
		tab.t = t
		tab.ensureLoggedIn("demo")
		var access, refresh *network.Cookie
		cookies := tab.cookies()
		for _, c := range cookies {
			switch {
			case isAccessCookie(c):
				access = c
			case c.Path == "/auth/token":
				refresh = c
			default: // the refresh cookie's binding to this host
				if strings.Contains(strings.ToLower(c.Name), "token") || jwtShape.MatchString(c.Value) || refreshShape.MatchString(c.Value) {
					t.Errorf("an unexpected cookie %s (path %s) holds a token", c.Name, c.Path)
				}
			}
			if !c.HTTPOnly || !c.Secure || c.Domain != "127.0.0.1" || c.Session {
				t.Errorf("cookie %s: HttpOnly %v, Secure %v, domain %q, session %v", c.Name, c.HTTPOnly, c.Secure, c.Domain, c.Session)
			}
		}
		if access == nil || refresh == nil {
			t.Fatalf("cookies %v, want the access token's (path /) and the refresh token's (path /auth/token)", cookieNames(cookies))
		}
		t.Logf("cookies: %v", cookieNames(cookies))
		if access.SameSite != network.CookieSameSiteLax && access.SameSite != network.CookieSameSiteStrict {
			t.Errorf("access cookie SameSite %q", access.SameSite)
		}
		if refresh.SameSite != network.CookieSameSiteStrict || !strings.HasPrefix(refresh.Name, "__Secure-") {
			t.Errorf("refresh cookie %s SameSite %q", refresh.Name, refresh.SameSite)
		}
		if !jwtShape.MatchString(access.Value) || !refreshShape.MatchString(refresh.Value) {
			t.Errorf("the cookies do not hold a JWT and an rt_ token: %.20s…, %.10s…", access.Value, refresh.Value)
		}
		// An injected script: all it can find.
		var found map[string]string
		raw := eval[string](tab, `JSON.stringify({
			cookie: document.cookie,
			localStorage: JSON.stringify(Object.entries(localStorage)),
			sessionStorage: JSON.stringify(Object.entries(sessionStorage)),
			dom: document.documentElement.outerHTML,
			text: document.body.innerText,
			url: location.href,
			names: Object.keys(window).join(' '),
			globals: Object.keys(window).map(k => { try { const v = window[k]; return typeof v === 'string' ? v : ''; } catch { return ''; } }).join(' '),
			stats: JSON.stringify(demoApp.stats()),
		})`)
		if err := json.Unmarshal([]byte(raw), &found); err != nil {
			t.Fatal(err)
		}
		if found["cookie"] != "" {
			t.Errorf("document.cookie %q, want empty", found["cookie"])
		}
		for place, v := range found {
			for _, c := range cookies {
				if len(c.Value) >= 8 && strings.Contains(v, c.Value) {
					t.Errorf("cookie %s's value in %s", c.Name, place)
				}
			}
			if jwtShape.MatchString(v) || refreshShape.MatchString(v) {
				t.Errorf("a token in %s: %.200s", place, v)
			}
		}
		// The answers of a cookie-mode login and refresh carry no token
		// (another browser context, not to disturb this one's).
		other := b.incognito(t)
		other.navigate(d.URL + "/healthz")
		for _, js := range []string{
			`fetch('/auth/login', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json', 'Token-Delivery': 'cookie'}, body: JSON.stringify({username: 'demo', password: '` + password + `'})})`,
			`fetch('/auth/token', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'grant_type=refresh_token'})`,
		} {
			res := eval[response](other, js+`.then(async r => ({status: r.status, body: await r.text()}))`)
			var body map[string]any
			if res.Status != 200 || json.Unmarshal([]byte(res.Body), &body) != nil || body["token_type"] != "cookie" {
				t.Errorf("%.40s…: %d %s", js, res.Status, res.Body)
			}
			for _, k := range []string{"access_token", "refresh_token", "id_token"} {
				if _, ok := body[k]; ok {
					t.Errorf("%.40s… answers %s", js, k)
				}
			}
			if jwtShape.MatchString(res.Body) || refreshShape.MatchString(res.Body) {
				t.Errorf("%.40s… answers a token: %s", js, res.Body)
			}
		}
	})

	// 3. One cookie, ten calls at once: no session lock serialises them.
	// With the access cookie gone, the ten 401s share one refresh.
	t.Run("parallel", func(t *testing.T) {
		tab.t = t
		tab.ensureLoggedIn("demo")
		type timed struct {
			Statuses []int   `json:"statuses"`
			Elapsed  float64 `json:"elapsed"`
		}
		res := eval[timed](tab, `(async () => {
			const start = performance.now();
			// cache: 'no-store', or Chromium's cache queues identical GETs
			// one behind the other (its cache lock), whatever the server.
			const rs = await Promise.all(Array.from({length: 10}, () => fetch('/api/widgets?delay_ms=500', {credentials: 'same-origin', cache: 'no-store'})));
			return {statuses: rs.map(r => r.status), elapsed: performance.now() - start};
		})()`)
		if len(res.Statuses) != 10 || strings.Count(fmt.Sprint(res.Statuses), "200") != 10 {
			t.Errorf("statuses %v", res.Statuses)
		}
		// Ten 500 ms calls one after another take 5 s; the browser opens
		// six connections to a host, so two rounds: about 1 s.
		if res.Elapsed > 4000 {
			t.Errorf("ten parallel calls took %.0f ms: serialised?", res.Elapsed)
		}
		t.Logf("ten parallel 500 ms calls: %.0f ms", res.Elapsed)

		tab.dropAccessCookie()
		before := tab.stats()
		statuses := eval[[]int](tab, `Promise.all(Array.from({length: 10}, () => demoApp.call('GET', '/api/widgets'))).then(rs => rs.map(r => r.status))`)
		after := tab.stats()
		if strings.Count(fmt.Sprint(statuses), "200") != 10 {
			t.Errorf("after the access cookie went: statuses %v", statuses)
		}
		if after.Refreshes != before.Refreshes+1 || !after.LoggedIn {
			t.Errorf("ten 401s made %d refreshes, want 1 (logged in %v)", after.Refreshes-before.Refreshes, after.LoggedIn)
		}
		if tab.accessCookie() == nil {
			t.Error("no access cookie after the refresh")
		}
	})

	// 5. Two tabs sharing the cookies refresh at the same moment: both
	// stay logged in, and the family is not revoked as a reuse.
	t.Run("two tabs refresh at once", func(t *testing.T) {
		tab.t = t
		tab.ensureLoggedIn("demo")
		second := b.tab(t)
		second.open()
		if got := second.text("whoami"); got == "" || got != tab.text("whoami") {
			t.Fatalf("the second tab shows %q, the first %q", got, tab.text("whoami"))
		}
		device := tab.currentDevice()
		at := eval[float64](tab, `Date.now() + 1500`)
		refreshAt := fmt.Sprintf(`(async () => {
			await new Promise(r => setTimeout(r, Math.max(0, %f - Date.now())));
			const r = await fetch('/auth/token', {method: 'POST', credentials: 'same-origin',
				headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'grant_type=refresh_token'});
			return {status: r.status, body: await r.text()};
		})()`, at)
		mark := d.mark()
		var wg sync.WaitGroup
		results := make([]response, 2)
		errs := make([]error, 2)
		for i, tb := range []*browserTab{tab, second} {
			wg.Go(func() {
				results[i], errs[i] = evalErr[response](tb, refreshAt)
			})
		}
		wg.Wait()
		for i := range results {
			if errs[i] != nil || results[i].Status != 200 {
				t.Errorf("tab %d's refresh: %v %d %s", i+1, errs[i], results[i].Status, results[i].Body)
			}
		}
		n := 0
		for _, r := range d.requestsSince(mark) {
			if r.path == "/auth/token" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("the demo logged %d refreshes, want 2", n)
		}
		for i, tb := range []*browserTab{tab, second} {
			if s := tb.fetchStatus("GET", "/api/me"); s != 200 {
				t.Errorf("tab %d: /api/me %d after the refreshes", i+1, s)
			}
		}
		// The race itself, made certain: two refreshes sent together
		// carry the same refresh cookie (what two tabs whose timers fire
		// in the same instant send). Both succeed, and the demo logs one
		// rotation twice (the grace period reissues its jti), not two.
		mark = d.mark()
		both := eval[[]int](tab, `Promise.all([1, 2].map(() => fetch('/auth/token', {method: 'POST', credentials: 'same-origin',
			headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'grant_type=refresh_token'}).then(r => r.status)))`)
		if len(both) != 2 || both[0] != 200 || both[1] != 200 {
			t.Errorf("two refreshes sent together: %v", both)
		}
		if jtis := d.rotatedSince(mark); len(jtis) != 2 || jtis[0] != jtis[1] {
			t.Errorf("the demo's rotations of two refreshes sent together: %q, want one jti twice (the same rotation)", jtis)
		}
		// The family lives on: a later refresh works, in both tabs' apps.
		if s := eval[int](second, `fetch('/auth/token', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'grant_type=refresh_token'}).then(r => r.status)`); s != 200 {
			t.Errorf("a refresh after the race: %d", s)
		}
		for i, tb := range []*browserTab{tab, second} {
			if r := tb.call("GET", "/api/widgets", ""); r.Status != 200 {
				t.Errorf("tab %d's app: /api/widgets %d %s", i+1, r.Status, r.Error)
			}
		}
		for i, tb := range []*browserTab{tab, second} {
			if got := tb.currentDevice(); got != device {
				t.Errorf("tab %d's device %q after the race, want %q still", i+1, got, device)
			}
		}
	})

	// API tokens: made in the page, shown once, listed, revoked.
	t.Run("api tokens", func(t *testing.T) {
		tab.t = t
		tab.ensureLoggedIn("demo")
		tab.do(chromedp.Click(chromedp.ID("nav-tokens")))
		tab.wait("the tokens view", `!document.getElementById('tokens-view').hidden && document.querySelectorAll('#tokens li').length > 0 && document.querySelectorAll('#token-scopes input').length === 3`)
		tab.do(chromedp.SendKeys(chromedp.ID("token-name"), "ci-deploy"), chromedp.Click(chromedp.ID("token-create")))
		tab.wait("the new token", `!document.getElementById('token-created').hidden && document.getElementById('token-secret').textContent.startsWith('sl_')`)
		secret := tab.text("token-secret")
		tab.wait("the token in the list", `[...document.querySelectorAll('#tokens .name')].some(e => e.textContent === 'ci-deploy')`)
		if got := eval[string](tab, `[...document.querySelectorAll('#tokens li')].find(li => li.querySelector('.name').textContent === 'ci-deploy').querySelector('.scopes').textContent`); got != "widgets:read" {
			t.Errorf("the new token's scopes %q, want widgets:read (the default)", got)
		}
		if s := bearerStatus(t, d.URL+"/api/widgets", secret); s != 200 {
			t.Errorf("the new token on /api/widgets: %d", s)
		}
		tab.do(chromedp.Click(chromedp.ID("token-done")))
		if tab.text("token-secret") != "" || !eval[bool](tab, `document.getElementById('token-created').hidden`) {
			t.Error("the secret is still in the page after Done")
		}
		tab.do(chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('#tokens li')].find(li => li.querySelector('.name').textContent === 'ci-deploy').querySelector('button.revoke')`)))
		tab.wait("the token revoked", `[...document.querySelectorAll('#tokens li.revoked .name')].some(e => e.textContent === 'ci-deploy')`)
		if s := bearerStatus(t, d.URL+"/api/widgets", secret); s != 401 {
			t.Errorf("the revoked token on /api/widgets: %d", s)
		}
		tab.do(chromedp.Click(chromedp.ID("nav-widgets")))
	})

	// The throttle: the error line gives the wait.
	t.Run("too many attempts", func(t *testing.T) {
		tab.t = t
		other := b.incognito(t)
		other.open()
		for i := 0; ; i++ {
			if i > 15 {
				t.Fatalf("no 429 after %d wrong passwords; the error line says %q", i, other.text("error"))
			}
			eval[bool](other, `document.getElementById('error').textContent = ''; true`)
			other.submitLogin("ghost", "wrong")
			other.wait("an error", `document.getElementById('error').textContent !== '' && !document.querySelector('#login button').disabled`)
			if msg := other.text("error"); strings.Contains(msg, "many attempts") {
				if !regexp.MustCompile(`try again in \d+ s`).MatchString(msg) {
					t.Errorf("the error line %q does not give the wait", msg)
				}
				break
			}
		}
	})
}

// currentDevice returns the id of the tab's device (refresh family), as
// GET /auth/devices marks it.
func (tb *browserTab) currentDevice() string {
	tb.t.Helper()
	r := tb.call("GET", "/auth/devices", "")
	var body struct {
		Devices []struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		} `json:"devices"`
	}
	if r.Status != 200 || json.Unmarshal([]byte(r.Body), &body) != nil {
		tb.t.Fatalf("%s: /auth/devices: %d %s", caller(), r.Status, r.Body)
	}
	id := ""
	for _, d := range body.Devices {
		if d.Current {
			if id != "" {
				tb.t.Errorf("%s: two devices are current: %s", caller(), r.Body)
			}
			id = d.ID
		}
	}
	if id == "" {
		tb.t.Errorf("%s: no device is current: %s", caller(), r.Body)
	}
	return id
}

// bearerStatus calls url with the Authorization header, as a script
// would, and returns the status.
func bearerStatus(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// evalErr is eval that returns its error, for goroutines.
func evalErr[T any](tb *browserTab, js string) (T, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// TestExpiry: with 5-second access tokens, the page keeps working across
// expiries; an expired access cookie is gone, and the refresh cookie
// brings it back.
func TestExpiry(t *testing.T) {
	slow(t)
	chromium(t)
	const ttl = 5 * time.Second
	d := startDemo(t, ttl)
	b := newBrowser(t, d)

	t.Run("keeps working", func(t *testing.T) {
		tab := b.tab(t)
		tab.login("demo")
		start := time.Now()
		seen := []string{tab.text("jti")}
		for i := 0; len(seen) < 4 || time.Since(start) < 3*ttl+time.Second; i++ {
			list, _ := json.Marshal(seen)
			tab.wait("a new access token", fmt.Sprintf(`(j => j !== '' && !%s.includes(j))(document.getElementById('jti').textContent)`, list))
			seen = append(seen, tab.text("jti"))
			name := fmt.Sprintf("expiry-%d", i)
			tab.do(chromedp.SendKeys(chromedp.ID("widget-name"), name), chromedp.Click(chromedp.ID("widget-create")))
			tab.wait("widget "+name, fmt.Sprintf(`[...document.querySelectorAll('#widgets .name')].some(e => e.textContent === %q)`, name))
			if e := tab.text("error"); e != "" {
				t.Errorf("error line %q", e)
			}
		}
		t.Logf("%d access tokens in %v", len(seen), time.Since(start).Round(time.Second))

		// The cookie expires while the timer is late (a sleeping laptop):
		// the next call gets 401, refreshes and is retried.
		gen := tab.stats().Generation
		tab.wait("a timed refresh", fmt.Sprintf(`demoApp.stats().generation > %d`, gen))
		mark := d.mark()
		tab.dropAccessCookie()
		tab.do(chromedp.SendKeys(chromedp.ID("widget-name"), "after-401"), chromedp.Click(chromedp.ID("widget-create")))
		tab.wait("widget after-401", `[...document.querySelectorAll('#widgets .name')].some(e => e.textContent === 'after-401')`)
		var seq []string
		for _, r := range d.requestsSince(mark) {
			seq = append(seq, fmt.Sprintf("%s %s %d", r.method, r.path, r.status))
		}
		if !regexp.MustCompile(`POST /api/widgets 401 .*POST /auth/token 200 .*POST /api/widgets 201`).MatchString(strings.Join(seq, " ") + " ") {
			t.Errorf("requests %q, want the 401, the refresh and the retry", seq)
		}
	})

	// A refresh answered 503 is not a logout: the page says so and tries
	// again after Retry-After.
	t.Run("refresh unavailable", func(t *testing.T) {
		tab := b.incognito(t)
		tab.login("viewer")
		// The browser answers the next two refreshes 503 itself (the
		// DevTools protocol's Fetch domain), then lets them through.
		paused := chromedp.Events(tab.ctx, fetch.RequestPaused)
		if _, err := chromedp.Call(tab.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/auth/token"}}}); err != nil {
			t.Fatal(err)
		}
		go func() {
			n := 0
			for ev, err := range paused {
				if err != nil {
					return
				}
				if n++; n <= 2 {
					chromedp.Call(tab.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: ev.RequestID, ResponseCode: 503,
						ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}, {Name: "Retry-After", Value: "1"}},
						Body:            []byte(`{"error":"temporarily_unavailable","error_description":"the token store cannot answer"}`)})
				} else {
					chromedp.Call(tab.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				}
			}
		}()
		gen := tab.stats().Generation
		tab.wait("the error line", `/could not be renewed \(the token store cannot answer\): trying again in 1 s/.test(document.getElementById('error').textContent)`)
		if !tab.stats().LoggedIn || eval[bool](tab, `document.getElementById('app').hidden`) {
			t.Error("a 503 on refresh logged the page out")
		}
		tab.wait("a refresh that works", fmt.Sprintf(`demoApp.stats().generation > %d && document.getElementById('error').hidden`, gen))
		if r := tab.call("GET", "/api/me", ""); r.Status != 200 {
			t.Errorf("/api/me after the 503s: %d", r.Status)
		}
		chromedp.Call(tab.ctx, fetch.Disable, cdp.Empty{})
	})

	t.Run("expired cookie", func(t *testing.T) {
		tab := b.incognito(t)
		tab.navigate(d.URL + "/healthz") // a page of the origin without the app
		if s := eval[int](tab, `fetch('/auth/login', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json', 'Token-Delivery': 'cookie'}, body: JSON.stringify({username: 'viewer', password: '`+password+`'})}).then(r => r.status)`); s != 200 {
			t.Fatalf("login: %d", s)
		}
		var me struct {
			Exp        float64 `json:"exp"`
			JTI        string  `json:"jti"`
			Credential string  `json:"credential"`
		}
		getMe := `fetch('/api/me', {credentials: 'same-origin'}).then(r => r.json())`
		raw := eval[string](tab, getMe+`.then(JSON.stringify)`)
		if err := json.Unmarshal([]byte(raw), &me); err != nil || me.Credential != "cookie" {
			t.Fatalf("/api/me: %s", raw)
		}
		// The cookie lives as long as the token.
		c := tab.accessCookie()
		if c == nil || c.Expires < me.Exp-2 || c.Expires > me.Exp+2 {
			t.Errorf("the access cookie expires at %v, the token at %v", c, me.Exp)
		}
		first := me.JTI
		// Wait, in the page, until the browser stops sending it.
		waited := eval[float64](tab, `(async () => {
			const start = Date.now();
			while ((await fetch('/api/me', {credentials: 'same-origin'})).status !== 401) {
				await new Promise(r => setTimeout(r, 250));
			}
			return Date.now() - start;
		})()`)
		if tab.accessCookie() != nil {
			t.Error("an access cookie is left after its expiry")
		}
		t.Logf("the access cookie went after %.1f s", waited/1000)
		if s := eval[int](tab, `fetch('/auth/token', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'grant_type=refresh_token'}).then(r => r.status)`); s != 200 {
			t.Fatalf("refresh by cookie: %d", s)
		}
		raw = eval[string](tab, getMe+`.then(JSON.stringify)`)
		if err := json.Unmarshal([]byte(raw), &me); err != nil || me.JTI == "" || me.JTI == first {
			t.Errorf("/api/me after the refresh: %s", raw)
		}
	})
}

// TestLogout: logging out empties the page, and the back button shows
// nothing private; a page left in the history checks again; logging out
// everywhere and revoking a device reach the other browsers.
func TestLogout(t *testing.T) {
	slow(t)
	chromium(t)
	d := startDemo(t, 0)
	b := newBrowser(t, d)

	// 6. Logout, then back.
	t.Run("back button", func(t *testing.T) {
		tab := b.tab(t)
		tab.login("demo")
		sub := tab.text("whoami")
		secret := "private-widget-" + fmt.Sprint(time.Now().UnixNano())
		tab.do(chromedp.SendKeys(chromedp.ID("widget-name"), secret), chromedp.Click(chromedp.ID("widget-create")))
		tab.wait("the private widget", fmt.Sprintf(`document.getElementById('widgets').textContent.includes(%q)`, secret))
		tab.do(chromedp.Click(chromedp.ID("nav-devices")))
		tab.wait("the devices", `document.querySelectorAll('#devices li.current').length === 1`)
		tab.do(chromedp.Click(chromedp.ID("nav-widgets")))
		tab.wait("the widgets", fmt.Sprintf(`document.getElementById('widgets').textContent.includes(%q)`, secret))

		tab.do(chromedp.Click(chromedp.ID("logout")))
		tab.wait("the login form", `!document.getElementById('login-view').hidden`)
		tab.noPrivate(sub, secret)
		// Back through the app's own history (#/devices), then out of the
		// page and back into it.
		eval[bool](tab, `history.back(); true`)
		tab.wait("#/devices", `location.hash === '#/devices'`)
		tab.noPrivate(sub, secret)
		tab.navigate(d.URL + "/healthz")
		tab.do(chromedp.NavigateBack())
		tab.wait("the login form", `location.pathname === '/' && !document.getElementById('login-view').hidden`)
		tab.noPrivate(sub, secret)
		if s := tab.fetchStatus("GET", "/api/me"); s != 401 {
			t.Errorf("/api/me after logout: %d", s)
		}
		if s := eval[int](tab, `fetch('/auth/token', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'grant_type=refresh_token'}).then(r => r.status)`); s != 400 && s != 401 {
			t.Errorf("a refresh after logout: %d", s)
		}
		if cs := tab.cookies(); len(cs) != 0 {
			t.Errorf("cookies left after logout: %v", cookieNames(cs))
		}
	})

	// A page left for another one while its session ends elsewhere: back
	// to it, it shows nothing private.
	t.Run("back after a logout elsewhere", func(t *testing.T) {
		tab := b.incognito(t)
		tab.login("demo")
		sub := tab.text("whoami")
		tab.navigate(d.URL + "/healthz")
		if s := eval[int](tab, `fetch('/auth/logout', {method: 'POST', credentials: 'same-origin'}).then(r => r.status)`); s != 204 {
			t.Fatalf("logout from another page of the origin: %d", s)
		}
		tab.do(chromedp.NavigateBack())
		tab.wait("the login form", `location.pathname === '/' && !document.getElementById('login-view').hidden`)
		tab.noPrivate(sub)
	})

	// Revoke a device: that browser is logged out on its next request.
	t.Run("revoke a device", func(t *testing.T) {
		mine, theirs := b.incognito(t), b.incognito(t)
		theirs.do(userAgent(firefox))
		mine.login("demo")
		theirs.login("demo")
		mine.do(chromedp.Click(chromedp.ID("nav-devices")))
		mine.wait("both devices", `[...document.querySelectorAll('#devices .name')].some(e => e.textContent.startsWith('Firefox'))`)
		if n := eval[int](mine, `document.querySelectorAll('#devices li.current').length`); n != 1 {
			t.Errorf("%d devices marked current", n)
		}
		mine.do(chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('#devices li')].find(li => li.querySelector('.name').textContent.startsWith('Firefox')).querySelector('button.revoke')`)))
		mine.wait("the device gone", `![...document.querySelectorAll('#devices .name')].some(e => e.textContent.startsWith('Firefox'))`)
		theirs.do(chromedp.Click(chromedp.ID("nav-devices")))
		theirs.wait("the revoked browser's login form", `!document.getElementById('login-view').hidden`)
		if s := theirs.fetchStatus("GET", "/api/me"); s != 401 {
			t.Errorf("the revoked browser: /api/me %d", s)
		}
		if r := mine.call("GET", "/api/me", ""); r.Status != 200 {
			t.Errorf("the revoking browser: /api/me %d", r.Status)
		}
	})

	// 7. Logout everywhere in one browser logs out another.
	t.Run("everywhere", func(t *testing.T) {
		one, other := b.incognito(t), b.incognito(t)
		one.login("demo")
		other.login("demo")
		sub := other.text("whoami")
		one.do(chromedp.Click(chromedp.ID("logout-all")))
		one.wait("the login form", `!document.getElementById('login-view').hidden`)
		other.do(chromedp.Click(chromedp.ID("nav-devices")))
		other.wait("the other browser's login form", `!document.getElementById('login-view').hidden`)
		other.noPrivate(sub)
		if s := other.fetchStatus("GET", "/api/me"); s != 401 {
			t.Errorf("the other browser: /api/me %d", s)
		}
		if s := eval[int](other, `fetch('/auth/token', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'grant_type=refresh_token'}).then(r => r.status)`); s != 400 && s != 401 {
			t.Errorf("the other browser's refresh: %d", s)
		}
	})
}

// noPrivate fails the test if the page holds any of secrets, or any
// private element is visible or filled.
func (tb *browserTab) noPrivate(secrets ...string) {
	tb.t.Helper()
	html := eval[string](tb, `document.documentElement.outerHTML`)
	for _, s := range secrets {
		if strings.Contains(html, s) {
			tb.t.Errorf("%s: the page still holds %q", caller(), s)
		}
	}
	// Device and user ids, API and refresh tokens, JWTs.
	for _, bad := range []*regexp.Regexp{regexp.MustCompile(`fam_|usr_|sl_[A-Za-z0-9]{8}`), refreshShape, jwtShape} {
		if loc := bad.FindStringIndex(html); loc != nil {
			tb.t.Errorf("%s: the page still holds %s: …%s…", caller(), bad, html[max(0, loc[0]-40):min(len(html), loc[1]+40)])
		}
	}
	left := eval[string](tb, `['widgets', 'devices', 'tokens'].filter(id => document.getElementById(id).children.length > 0)
		.concat(['whoami', 'roles', 'scopes', 'credential', 'jti', 'countdown', 'token-secret'].filter(id => document.getElementById(id).textContent !== ''))
		.concat(document.getElementById('app').hidden ? [] : ['#app visible']).join(' ')`)
	if left != "" {
		tb.t.Errorf("%s: private elements left: %s", caller(), left)
	}
}

// userAgent makes the tab send ua (the devices list shows it).
func userAgent(ua string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua})
		return err
	})
}
