// Package exturl builds the URL a client used for a request, for the htu
// of DPoP proofs (RFC 9449 §4.3): the server's configured public URL and
// the request's own path. The Host header is not used: the client chooses
// it, so it would prove nothing.
package exturl

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Parse checks a public URL, scheme://host[:port][/path] (http or https,
// no user info, query or fragment), and returns it without a trailing
// slash.
func Parse(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Hostname() == "" || u.Opaque != "":
		return "", fmt.Errorf("%q: want an absolute http(s) URL such as https://api.example", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return "", fmt.Errorf("%q: want no user info, query or fragment", s)
	case strings.Contains(u.Path, "/."):
		return "", errors.New("want no dot segments in the path")
	}
	return strings.TrimSuffix(s, "/"), nil
}

// RequestURL returns the public URL of r: base (a URL Parse accepted)
// followed by the path of r as the client sent it, the path of its
// request-target, which handlers such as http.StripPrefix leave alone
// (for a request built in-process, without RequestURI, its URL's path).
// A path with a dot segment ("." or "..", also percent-encoded) could
// climb out of base's path: the result is "", which names no URL.
func RequestURL(base string, r *http.Request) string {
	p := r.URL.EscapedPath()
	if t := r.RequestURI; t != "" {
		if strings.IndexByte(t, '#') >= 0 {
			return "" // no request-target holds a fragment (RFC 9112 §3.2); the router would see it
		}
		if i := strings.IndexByte(t, '?'); i >= 0 {
			t = t[:i]
		}
		if t != "" && t[0] != '/' { // absolute form: the path as written, after the authority
			i := strings.Index(t, "://")
			if i < 0 {
				return ""
			}
			j := strings.IndexByte(t[i+3:], '/')
			if j < 0 {
				t = "/"
			} else {
				t = t[i+3+j:]
			}
		}
		p = t
	}
	if !strings.HasPrefix(p, "/") || HasDotSegment(p) {
		return ""
	}
	return base + p
}

// HasDotSegment reports whether the escaped path p has a "." or ".."
// segment, its dots plain or percent-encoded.
func HasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if len(seg) > 6 || !strings.Contains(seg, ".") && !strings.Contains(seg, "%") {
			continue
		}
		d := strings.ReplaceAll(strings.ReplaceAll(seg, "%2E", "."), "%2e", ".")
		if d == "." || d == ".." {
			return true
		}
	}
	return false
}
