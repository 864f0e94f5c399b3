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
	case err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("%q: want an absolute http(s) URL such as https://api.example", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return "", fmt.Errorf("%q: want no user info, query or fragment", s)
	case strings.Contains(u.Path, "/."):
		return "", errors.New("want no dot segments in the path")
	}
	return strings.TrimSuffix(s, "/"), nil
}

// RequestPath returns the path of r as the client sent it: the path of
// its request-target, which handlers such as http.StripPrefix leave
// alone; for a request built in-process (no RequestURI), its URL's path.
func RequestPath(r *http.Request) string {
	if t := r.RequestURI; t != "" && t != "*" {
		if t[0] == '/' {
			if i := strings.IndexByte(t, '?'); i >= 0 {
				t = t[:i]
			}
			return t
		}
		if u, err := url.ParseRequestURI(t); err == nil { // absolute form
			return u.EscapedPath()
		}
	}
	return r.URL.EscapedPath()
}
