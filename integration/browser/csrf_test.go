package browser_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// attackPage is the attacker's page. With the victim's browser on it, it
// tries, against the demo at ?target=, to create a widget, to delete
// widget ?widget=, to log the browser in as viewer (login CSRF), to log
// the victim out and to refresh the victim's tokens: through
// auto-submitted HTML forms (into frames, so the page stays) and through
// fetch with the browser's credentials. It sets its title to "done"
// once every form's answer has arrived and every fetch has settled.
const attackPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>attacker</title></head><body>
<h1>Win a prize</h1>
<script>
(async () => {
  const q = new URLSearchParams(location.search);
  const target = q.get('target'), widget = q.get('widget'), tag = q.get('tag'), pw = q.get('pw');
  const frames = [];
  // form posts a form to target+path in a frame of its own. A text/plain
  // form can forge a JSON body: the field's name and value around "=".
  function form(path, enctype, fields) {
    const frame = document.createElement('iframe');
    frame.name = 'f' + frames.length;
    document.body.append(frame);
    frames.push(frame);
    const f = document.createElement('form');
    f.method = 'POST';
    f.action = target + path;
    f.enctype = enctype;
    f.target = frame.name;
    for (const [name, value] of fields) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      input.value = value;
      f.append(input);
    }
    document.body.append(f);
    f.submit();
  }
  const json = 'text/plain', urlencoded = 'application/x-www-form-urlencoded';
  form('/api/widgets', json, [['{"name":"csrf-form-' + tag, '"}']]);
  form('/api/widgets', urlencoded, [['name', 'csrf-urlencoded-' + tag]]);
  form('/api/widgets/' + widget, json, [['{"name":"csrf', '"}']]);
  form('/api/widgets/' + widget + '?_method=DELETE', urlencoded, [['_method', 'DELETE']]);
  form('/auth/login', json, [['{"username":"viewer","password":"' + pw + '","x":"', '"}']]);
  form('/auth/login', urlencoded, [['username', 'viewer'], ['password', pw]]);
  form('/auth/logout', urlencoded, [['x', '1']]);
  form('/auth/logout-all', urlencoded, [['x', '1']]);
  form('/auth/token', urlencoded, [['grant_type', 'refresh_token']]);

  const opts = (method, body, headers) => ({method, body, headers, credentials: 'include', mode: 'no-cors'});
  const login = JSON.stringify({username: 'viewer', password: pw});
  await Promise.allSettled([
    fetch(target + '/api/widgets', opts('POST', JSON.stringify({name: 'csrf-fetch-' + tag}), {'Content-Type': 'application/json'})),
    fetch(target + '/api/widgets', {method: 'POST', body: JSON.stringify({name: 'csrf-cors-' + tag}), credentials: 'include'}),
    fetch(target + '/api/widgets/' + widget, opts('POST', '')),
    fetch(target + '/api/widgets/' + widget, {method: 'DELETE', credentials: 'include'}),
    fetch(target + '/auth/login', opts('POST', login, {'Content-Type': 'application/json', 'Token-Delivery': 'cookie'})),
    fetch(target + '/auth/login', {method: 'POST', body: login, credentials: 'include', headers: {'Content-Type': 'application/json', 'Token-Delivery': 'cookie'}}),
    fetch(target + '/auth/logout', opts('POST', '')),
    fetch(target + '/auth/logout-all', opts('POST', '')),
    fetch(target + '/auth/token', opts('POST', new URLSearchParams({grant_type: 'refresh_token'}))),
  ]);
  // A frame whose location this page cannot read has the demo's answer.
  const answered = () => frames.every(f => { try { f.contentWindow.location.href; return false; } catch { return true; } });
  while (!answered()) {
    await new Promise(r => setTimeout(r, 50));
  }
  document.title = 'done';
})();
</script>
</body></html>`

// TestCrossOrigin: pages of another origin, on the same site
// (http://127.0.0.1:OTHER, which gets the cookies: SameSite does not
// tell ports apart) and on another site (http://localhost:OTHER), act
// in the victim's browser through forms and fetch; the demo refuses them
// all, and the victim's own page does the same things.
func TestCrossOrigin(t *testing.T) {
	slow(t)
	chromium(t)
	d := startDemo(t, 0)
	b := newBrowser(t, d)
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, attackPage)
	}))
	t.Cleanup(attacker.Close)
	port := attacker.URL[strings.LastIndex(attacker.URL, ":")+1:]

	victim := b.tab(t)
	victim.login("demo")
	sub := victim.text("whoami")
	victim.do(chromedp.SendKeys(chromedp.ID("widget-name"), "victim-widget"), chromedp.Click(chromedp.ID("widget-create")))
	victim.wait("the victim's widget", `[...document.querySelectorAll('#widgets .name')].some(e => e.textContent === 'victim-widget')`)
	widget := eval[string](victim, `[...document.querySelectorAll('#widgets li')].find(li => li.querySelector('.name').textContent === 'victim-widget').dataset.id`)

	for _, origin := range []struct{ name, url string }{
		{"same site", "http://127.0.0.1:" + port},
		{"other site", "http://localhost:" + port},
	} {
		t.Run(origin.name, func(t *testing.T) {
			victim.t = t
			page := b.tab(t) // the victim's browser, its cookies
			mark := d.mark()
			q := url.Values{"target": {d.URL}, "widget": {widget}, "tag": {strings.ReplaceAll(origin.name, " ", "-")}, "pw": {password}}
			page.navigate(origin.url + "/?" + q.Encode())
			page.wait("the attacks", `document.title === 'done'`)
			// The victim is still themselves, logged in, with their widget
			// and no other.
			me := victim.call("GET", "/api/me", "")
			if me.Status != 200 || !strings.Contains(me.Body, `"sub":"`+sub+`"`) || !strings.Contains(me.Body, "widgets:write") {
				t.Errorf("the victim's /api/me: %d %s", me.Status, me.Body)
			}
			end := d.mark()
			widgets := victim.call("GET", "/api/widgets", "")
			if widgets.Status != 200 || !strings.Contains(widgets.Body, `"id":"`+widget+`","name":"victim-widget"`) || strings.Contains(widgets.Body, "csrf") {
				t.Errorf("the victim's widgets: %d %s", widgets.Status, widgets.Body)
			}
			if s := victim.stats(); !s.LoggedIn {
				t.Error("the victim's page logged out")
			}
			// What the demo answered the attacker: never a success that
			// changes anything.
			var log []string
			refused := 0
			for _, r := range d.requestsSince(mark)[:len(d.requestsSince(mark))-len(d.requestsSince(end))] {
				log = append(log, fmt.Sprintf("%s %s %d", r.method, r.path, r.status))
				if r.status < 300 && r.path != "/api/me" {
					t.Errorf("the demo answered %s %s with %d", r.method, r.path, r.status)
				}
				if r.status == http.StatusForbidden {
					refused++
				}
			}
			t.Logf("the attacker's requests: %s", strings.Join(log, ", "))
			if len(log) < 9 { // the nine form posts at least reached the demo
				t.Errorf("only %d of the attacker's requests reached the demo", len(log))
			}
			if origin.name == "same site" && refused == 0 {
				t.Error("no 403: the cookies went with the same-site requests, the cross-origin check must refuse them")
			}
			if origin.name == "same site" {
				// The browser sent the cookies (SameSite does not tell
				// ports apart): every unsafe request that would act with
				// them is the origin check's 403, whatever its body.
				for _, r := range d.requestsSince(mark)[:len(d.requestsSince(mark))-len(d.requestsSince(end))] {
					acts := r.path == "/auth/logout" || r.path == "/auth/logout-all" || r.path == "/auth/token" || strings.HasPrefix(r.path, "/api/widgets")
					// 405: no such route for the method, nothing to act on.
					if acts && (r.method == "POST" || r.method == "DELETE") && r.status != http.StatusForbidden && r.status != http.StatusMethodNotAllowed {
						t.Errorf("the same-site page's %s %s: %d, want 403", r.method, r.path, r.status)
					}
				}
			}
		})
	}

	// The demo's own page does the same: create and delete a widget, log
	// out, log in as another user.
	t.Run("own page", func(t *testing.T) {
		victim.t = t
		victim.do(chromedp.SendKeys(chromedp.ID("widget-name"), "own-widget"), chromedp.Click(chromedp.ID("widget-create")))
		victim.wait("own-widget", `[...document.querySelectorAll('#widgets .name')].some(e => e.textContent === 'own-widget')`)
		victim.do(chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('#widgets li')].find(li => li.querySelector('.name').textContent === 'own-widget').querySelector('button.delete')`)))
		victim.wait("own-widget gone", `![...document.querySelectorAll('#widgets .name')].some(e => e.textContent === 'own-widget')`)
		victim.do(chromedp.Click(chromedp.ID("logout")))
		victim.wait("the login form", `!document.getElementById('login-view').hidden`)
		victim.submitLogin("viewer", password)
		victim.wait("viewer", `!document.getElementById('app').hidden && document.getElementById('scopes').textContent === 'widgets:read'`)
		if got := victim.text("whoami"); got == sub || !strings.HasPrefix(got, "usr_") {
			t.Errorf("logged in as viewer, #whoami %q (demo's was %q)", got, sub)
		}
		if eval[bool](victim, `document.getElementById('widget-form').hidden === false`) {
			t.Error("viewer is offered the widget form")
		}
	})
}
