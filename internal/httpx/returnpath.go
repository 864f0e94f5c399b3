package httpx

import (
	"net/url"
	"strings"
)

// MaxReturnPath bounds the return paths SafeReturnPath accepts.
const MaxReturnPath = 2048

// SafeReturnPath reports whether s is a path of this origin that a login
// may redirect back to: it starts with one "/" and is not "//host" (a
// scheme-relative URL) nor "/\host" (which browsers read as "//host");
// it has no backslash, no white space and no control character anywhere
// (browsers drop tabs and line breaks from URLs, so "/\t/evil.example"
// is "//evil.example"), no scheme, host or user information, and at
// most MaxReturnPath bytes. A query and a fragment may follow the path.
// Anything else would be an open redirect.
func SafeReturnPath(s string) bool {
	if s == "" || len(s) > MaxReturnPath || s[0] != '/' || len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	if strings.ContainsRune(s, '\uFFFD') { // invalid UTF-8 decoded or sent as such
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && !u.IsAbs() && strings.HasPrefix(u.Path, "/") &&
		!strings.HasPrefix(u.Path, "//")
}
