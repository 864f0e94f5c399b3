package demo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// webServer serves the browser app alone, as registerWeb registers it.
func webServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	registerWeb(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func webGet(t *testing.T, method, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
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
	return resp, string(b)
}

// TestWebHeaders: every file of the app with its type and the headers
// that keep it to itself: the exact CSP, nosniff, no referrer; the page
// never stored.
func TestWebHeaders(t *testing.T) {
	ts := webServer(t)
	const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	for _, tt := range []struct {
		path, contentType, cacheControl, contains string
	}{
		{"/", "text/html; charset=utf-8", "no-store", `<form id="login"`},
		{"/app.js", "text/javascript; charset=utf-8", "no-cache", "credentials: 'same-origin'"},
		{"/app.css", "text/css; charset=utf-8", "no-cache", ".layout"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				resp, body := webGet(t, method, ts.URL+tt.path, nil)
				h := resp.Header
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s %s: %d", method, tt.path, resp.StatusCode)
				}
				for k, want := range map[string]string{
					"Content-Type":            tt.contentType,
					"Content-Security-Policy": csp,
					"X-Content-Type-Options":  "nosniff",
					"Referrer-Policy":         "no-referrer",
					"Cache-Control":           tt.cacheControl,
					"X-Frame-Options":         "DENY",
				} {
					if got := h.Values(k); len(got) != 1 || got[0] != want {
						t.Errorf("%s %s: %s %q, want %q", method, tt.path, k, got, want)
					}
				}
				if method == http.MethodHead {
					if body != "" || resp.ContentLength <= 0 {
						t.Errorf("HEAD %s: body %q, Content-Length %d", tt.path, body, resp.ContentLength)
					}
				} else if !strings.Contains(body, tt.contains) {
					t.Errorf("GET %s: no %q in the body", tt.path, tt.contains)
				}
			}
		})
	}
}

// TestWebRevalidation: the script and the style sheet carry an ETag and
// answer 304 to it; the page has none (it is never stored).
func TestWebRevalidation(t *testing.T) {
	ts := webServer(t)
	resp, _ := webGet(t, http.MethodGet, ts.URL+"/app.js", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("/app.js without an ETag")
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		resp, body := webGet(t, http.MethodGet, ts.URL+"/app.js", http.Header{"If-None-Match": {inm}})
		if resp.StatusCode != http.StatusNotModified || body != "" || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d %q, ETag %q", inm, resp.StatusCode, body, resp.Header.Get("ETag"))
		}
	}
	resp, _ = webGet(t, http.MethodGet, ts.URL+"/app.js", http.Header{"If-None-Match": {`"stale"`}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a stale ETag: %d", resp.StatusCode)
	}
	if resp, _ := webGet(t, http.MethodGet, ts.URL+"/", nil); resp.Header.Get("ETag") != "" {
		t.Errorf("the page has an ETag %q", resp.Header.Get("ETag"))
	}
}

// TestWebMethods: other methods are 405 with Allow; other paths are not
// the app's (the server's catch-all answers them).
func TestWebMethods(t *testing.T) {
	ts := webServer(t)
	for _, path := range []string{"/", "/app.js", "/app.css"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			resp, _ := webGet(t, method, ts.URL+path, nil)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, Allow %q", method, path, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
	for _, path := range []string{"/index.html", "/web/app.js", "/app.js/", "/x"} {
		if resp, _ := webGet(t, http.MethodGet, ts.URL+path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// TestWebNoInlineCode: the page works under its CSP: no inline script,
// no event handler attribute, no inline style; and the script writes
// server data as text, never as HTML.
func TestWebNoInlineCode(t *testing.T) {
	html := readWeb(t, "index.html")
	// Comments may say anything; the markup is what runs.
	markup := regexp.MustCompile(`(?s)<!--.*?-->`).ReplaceAllString(html, "")
	for _, tag := range regexp.MustCompile(`(?is)<script\b[^>]*>`).FindAllString(markup, -1) {
		if !regexp.MustCompile(`(?i)\ssrc="/[^"]+"`).MatchString(tag) {
			t.Errorf("a script without src: %s", tag)
		}
	}
	if m := regexp.MustCompile(`(?is)<script\b[^>]*>[^<]+</script>`).FindString(markup); m != "" {
		t.Errorf("a script with content: %s", m)
	}
	for _, bad := range []struct{ what, re string }{
		{"an event handler attribute", `(?i)<[^>]*\son[a-z]+\s*=`},
		{"a style attribute", `(?i)<[^>]*\sstyle\s*=`},
		{"a style element", `(?i)<style\b`},
		{"a javascript: URL", `(?i)javascript:`},
		{"a resource of another origin", `(?i)(src|href)="(https?:)?//`},
	} {
		if m := regexp.MustCompile(bad.re).FindString(markup); m != "" {
			t.Errorf("%s: %s", bad.what, m)
		}
	}
	js := readWeb(t, "app.js")
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
		"localStorage", "sessionStorage", "document.cookie", "setAttribute('on", "setTimeout('", "setInterval('"} {
		if strings.Contains(js, sink) {
			t.Errorf("app.js uses %s", sink)
		}
	}
	if strings.Contains(js, "credentials: 'include'") || strings.Count(js, "credentials: 'same-origin'") < 3 {
		t.Error("app.js must send its cookies to its own origin only (credentials: 'same-origin')")
	}
}

// TestWebIDs: every element app.js looks up by id is in the page, and
// the ids the browser tests rely on are documented at the top of it.
func TestWebIDs(t *testing.T) {
	html, js := readWeb(t, "index.html"), readWeb(t, "app.js")
	var ids []string
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		if slices.Contains(ids, m[1]) {
			t.Errorf("id %q twice", m[1])
		}
		ids = append(ids, m[1])
	}
	for _, m := range regexp.MustCompile(`\$\('([a-z-]+)'\)`).FindAllStringSubmatch(js, -1) {
		if !slices.Contains(ids, m[1]) {
			t.Errorf("app.js looks up #%s, which the page lacks", m[1])
		}
	}
	// Ids built from a view's name: nav-NAME and NAME-view.
	for _, view := range []string{"widgets", "devices", "tokens"} {
		for _, id := range []string{"nav-" + view, view + "-view", view} {
			if !slices.Contains(ids, id) {
				t.Errorf("no #%s", id)
			}
		}
	}
	head, _, _ := strings.Cut(html, "-->")
	for _, id := range []string{"login", "error", "app", "whoami", "credential", "countdown", "widgets", "widget-name",
		"widget-create", "devices", "tokens", "logout", "logout-all"} {
		if !slices.Contains(ids, id) || !strings.Contains(head, "#"+id) {
			t.Errorf("#%s: in the page %v, documented %v", id, slices.Contains(ids, id), strings.Contains(head, "#"+id))
		}
	}
	for _, name := range []string{`name="username"`, `name="password"`} {
		if !strings.Contains(html, name) {
			t.Errorf("the login form lacks %s", name)
		}
	}
}

func readWeb(t *testing.T, file string) string {
	t.Helper()
	b, err := webFiles.ReadFile("web/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
