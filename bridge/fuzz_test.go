package bridge_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/bridge"
)

// FuzzExchange sends arbitrary bodies, media types, cookies and
// Sec-Fetch-Site values to the exchange: it never panics, answers only
// with the statuses it documents, issues tokens only for the one live
// session and a request no other site can make, and destroys nothing
// else.
func FuzzExchange(f *testing.F) {
	for _, seed := range []struct{ body, contentType, cookie, site string }{
		{`{}`, "application/json", "PHPSESSID=" + sid, ""},
		{`{"destroy_session": true}`, "application/json", "PHPSESSID=" + sid, "same-origin"},
		{`{"scope": "widgets:read"}`, "application/json; charset=utf-8", "PHPSESSID=" + sid, "none"},
		{`{"scope": "x"}`, "application/json", "PHPSESSID=" + sid + "; PHPSESSID=a", "cross-site"},
		{`destroy_session=true`, "application/x-www-form-urlencoded", "PHPSESSID=" + sid, "cross-site"},
		{`{"destroy_session": 1}`, "application/json", "PHPSESSID=nope", ""},
		{``, "", "", ""},
	} {
		f.Add(seed.body, seed.contentType, seed.cookie, seed.site)
	}
	e := newEnv(f, nil)
	live := e.src.m[sid]
	f.Fuzz(func(t *testing.T, body, contentType, cookie, site string) {
		req := httptest.NewRequest("POST", "http://api.example/auth/session/exchange", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Sec-Fetch-Site", site)
		w := httptest.NewRecorder()
		e.Exchange.ServeHTTP(w, req)
		switch w.Code {
		case 200:
			var ev bridge.Event
			select {
			case ev = <-e.Events:
			default:
				t.Fatal("200 without an event")
			}
			cs := req.CookiesNamed("PHPSESSID")
			if ev.Subject != "42" || len(cs) != 1 || cs[0].Value != sid || site != "" && site != "same-origin" && site != "none" {
				t.Fatalf("tokens for %q with Sec-Fetch-Site %q: %+v", cookie, site, ev)
			}
			if ev.Destroyed { // live again, for the next input
				e.src.mu.Lock()
				e.src.m[sid] = live
				e.src.mu.Unlock()
			}
		case 400, 401, 403, 413, 415:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}
