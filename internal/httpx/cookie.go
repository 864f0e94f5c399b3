package httpx

import (
	"net/http"
	"strings"
)

// CookieValue returns the value of the first cookie named name in r's
// Cookie headers and how many there are, read as r.CookiesNamed reads
// them (parts split at ";" and trimmed, a value in double quotes
// unquoted), without allocating, and stricter: a part whose value holds
// a byte no cookie may hold counts too (net/http skips it), so that
// "at=<token>; at=<junk>" is two cookies (400), and a lone junk value is
// a token that fails the b64token check (400), not no token.
func CookieValue(r *http.Request, name string) (value string, n int) {
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var v string
			var ok bool
			if v, line, ok = nextCookie(line, name); !ok {
				continue
			}
			if n == 0 {
				value = v
			}
			n++
		}
	}
	return value, n
}

// nextCookie reads the first part of line: its value if it is a cookie
// named name (ok), and the rest of line.
func nextCookie(line, name string) (value, rest string, ok bool) {
	part, rest, _ := strings.Cut(line, ";")
	k, v, _ := strings.Cut(trimCookieSpace(part), "=")
	if trimCookieSpace(k) != name {
		return "", rest, false
	}
	if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return v, rest, true
}

// forEachCookie calls f with the value of every cookie named name.
func forEachCookie(r *http.Request, name string, f func(string)) {
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var v string
			var ok bool
			if v, line, ok = nextCookie(line, name); ok {
				f(v)
			}
		}
	}
}

// trimCookieSpace trims ASCII white space, as textproto.TrimString.
func trimCookieSpace(s string) string {
	for len(s) > 0 && isASCIISpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isASCIISpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isASCIISpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// CookieValues returns the values of every cookie named name in r's
// Cookie headers, read as [CookieValue] reads them, in their order.
func CookieValues(r *http.Request, name string) []string {
	var vs []string
	forEachCookie(r, name, func(v string) { vs = append(vs, v) })
	return vs
}
