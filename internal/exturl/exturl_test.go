package exturl_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/internal/exturl"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.example":          "https://api.example",
		"https://api.example/":         "https://api.example",
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080",
		"https://example.com/base":     "https://example.com/base",
		"https://example.com/base/":    "https://example.com/base",
		"ftp://api.example":            "",
		"api.example":                  "",
		"/relative":                    "",
		"https://":                     "",
		"https://user@api.example":     "",
		"https://api.example/?":        "",
		"https://api.example/x?a=1":    "",
		"https://api.example/#f":       "",
		"https://api.example/a/../b":   "",
		"https:opaque":                 "",
		"https://api.example/%zz":      "",
		"https://api.example/a/./b":    "",
		"https://[::1]:8443/resources": "https://[::1]:8443/resources",
		"http://:80":                   "",
	} {
		got, err := exturl.Parse(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestRequestURL(t *testing.T) {
	const base = "https://example.com/base"
	var got string
	h := http.StripPrefix("/v1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = exturl.RequestURL(base, r) }))
	for target, want := range map[string]string{
		"/v1/api/widgets?x=1":            base + "/v1/api/widgets",
		"/v1/a%2Fb":                      base + "/v1/a%2Fb",
		"/v1/a.b/..c/...":                base + "/v1/a.b/..c/...",
		"http://other.example/v1/api/me": base + "/v1/api/me", // absolute form: only its path counts
		// Dot segments could climb out of base's path: no URL.
		"/v1/../api/me":     "",
		"/v1/%2E%2E/api/me": "",
		"/v1/%2e%2E/api/me": "",
		"/v1/./api":         "",
		"/v1/api/%2e":       "",
		"/v1/api/..":        "",
		// A fragment is no part of a request-target: the router would
		// see it, so the URL is not this one.
		"/v1/api/widgets/1#x":        "",
		"/v1/api/1#/../../../tokens": "",
		"http://h/v1/api/x%2Fy|":     base + "/v1/api/x%2Fy|", // the absolute form's path as written
	} {
		got = "unset"
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil)) // RequestURI: the target as read
		if got != want {
			t.Errorf("RequestURL of %q = %q, want %q", target, got, want)
		}
	}
	// An absolute form without a path: "/".
	req := httptest.NewRequest("GET", "http://h", nil)
	if got := exturl.RequestURL(base, req); got != base+"/" {
		t.Errorf("RequestURL of http://h = %q", got)
	}
	// Built in-process: no request-target; the URL's path.
	req, _ = http.NewRequest("GET", "https://api.example/api/me?x", strings.NewReader(""))
	if got := exturl.RequestURL(base, req); got != base+"/api/me" {
		t.Errorf("RequestURL of a client request = %q", got)
	}
}
