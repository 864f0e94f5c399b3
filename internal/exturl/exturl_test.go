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
	} {
		got, err := exturl.Parse(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestRequestPath(t *testing.T) {
	var got string
	h := http.StripPrefix("/base", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = exturl.RequestPath(r) }))
	for target, want := range map[string]string{
		"/base/api/widgets?x=1":            "/base/api/widgets",
		"/base/a%2Fb":                      "/base/a%2Fb",
		"http://other.example/base/api/me": "/base/api/me", // absolute form: only its path counts
	} {
		got = ""
		req := httptest.NewRequest("GET", target, nil)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if got != want {
			t.Errorf("RequestPath of %q behind StripPrefix = %q, want %q", target, got, want)
		}
	}
	// Built in-process: no request-target; the URL's path.
	req, _ := http.NewRequest("GET", "https://api.example/api/me?x", strings.NewReader(""))
	if got := exturl.RequestPath(req); got != "/api/me" {
		t.Errorf("RequestPath of a client request = %q", got)
	}
}
