package demo

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"net/http"
	"path"
	"strings"

	"github.com/sessionless/sessionless/internal/httpx"
)

// The demo's browser app (web/): a page that logs in with the tokens in
// HttpOnly cookies ("Token-Delivery: cookie"), so that its JavaScript
// never holds one, and renews them before they expire. Plain HTML, CSS
// and JavaScript, embedded in the binary; no build step.

//go:embed web/index.html web/app.js web/app.css
var webFiles embed.FS

// webCSP is the Content-Security-Policy of the app's files: its own
// script and style only (nothing inline, nothing from elsewhere), calls
// to its own origin only, never framed, forms posted to itself only.
const webCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// webAsset is one file of the app, read once.
type webAsset struct {
	body         []byte
	contentType  string
	cacheControl string // "" is no-store (httpx.Write)
	etag         string
}

// registerWeb serves the app on mux: GET / (the page), /app.js and
// /app.css; HEAD too, and 405 for other methods.
func registerWeb(mux *http.ServeMux) {
	for _, f := range []struct{ route, file, contentType string }{
		// The page is never cached: after a logout, the back button
		// reloads it rather than showing a copy.
		{"/{$}", "index.html", "text/html; charset=utf-8"},
		{"/app.js", "app.js", "text/javascript; charset=utf-8"},
		{"/app.css", "app.css", "text/css; charset=utf-8"},
	} {
		a := loadWebAsset(f.file, f.contentType)
		handle(mux, f.route, route{http.MethodGet, a})
	}
}

// loadWebAsset reads file of web/. The script and the style sheet are
// revalidated on every use (no-cache, with an ETag), so that a new build
// is picked up at once; the page itself is never stored.
func loadWebAsset(file, contentType string) *webAsset {
	b, err := webFiles.ReadFile(path.Join("web", file))
	if err != nil {
		panic("demo: the embedded web app lacks " + file) // a build without it cannot happen
	}
	a := &webAsset{body: b, contentType: contentType}
	if file != "index.html" {
		sum := sha256.Sum256(b)
		a.cacheControl = "no-cache"
		a.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	}
	return a
}

func (a *webAsset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", webCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY") // frame-ancestors, for browsers without it
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if a.etag != "" {
		h.Set("ETag", a.etag)
		if matches(r.Header.Get("If-None-Match"), a.etag) {
			h.Set("Cache-Control", a.cacheControl)
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	httpx.Write(w, r, http.StatusOK, a.contentType, a.cacheControl, a.body)
}

// matches reports whether the If-None-Match header value inm names etag
// (weakly: a W/ prefix is ignored, RFC 9110 §13.1.2), or is "*".
func matches(inm, etag string) bool {
	for tag := range strings.SplitSeq(inm, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}
