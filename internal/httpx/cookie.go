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
	if name == "" {
		return "", 0
	}
	for _, line := range r.Header["Cookie"] {
		// Jump from one occurrence of the name to the next (one fast
		// search) rather than parse every part: a part is the name's
		// when only white space lies between the part's start (the line's
		// or a ";") and the name, and between the name and "=", ";" or
		// the end.
		for len(line) > 0 {
			i := strings.Index(line, name)
			if i < 0 {
				break
			}
			j := i
			for j > 0 && isASCIISpace(line[j-1]) {
				j--
			}
			after := line[i+len(name):]
			k := 0
			for k < len(after) && isASCIISpace(after[k]) {
				k++
			}
			if j > 0 && line[j-1] != ';' || k < len(after) && after[k] != '=' && after[k] != ';' {
				line = line[i+1:] // inside another part, or a longer name
				continue
			}
			var v string
			if k < len(after) && after[k] == '=' {
				v = after[k+1:]
			}
			line = ""
			if e := strings.IndexByte(after[k:], ';'); e >= 0 {
				line = after[k+e+1:]
				if k < len(after) && after[k] == '=' {
					v = after[k+1 : k+e]
				}
			}
			for len(v) > 0 && isASCIISpace(v[len(v)-1]) { // the part's end, as net/http trims it
				v = v[:len(v)-1]
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
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
	part := line
	if i := strings.IndexByte(line, ';'); i >= 0 {
		part, rest = line[:i], line[i+1:]
	}
	part = trimCookieSpace(part)
	k, v := part, ""
	if i := strings.IndexByte(part, '='); i >= 0 {
		k, v = part[:i], part[i+1:]
	}
	if len(k) < len(name) || trimCookieSpace(k) != name {
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
