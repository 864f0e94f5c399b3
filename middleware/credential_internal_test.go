package middleware

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var b64tokenRE = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

// FuzzIsB64Token checks the unrolled check against the grammar of RFC 6750
// §2.1 written as a regular expression.
func FuzzIsB64Token(f *testing.F) {
	for _, s := range []string{"", "=", "a", "a=", "a==b", "abc.def_ghi~+/", "eyJ.eyJ.sig", "a b", "a\x00", "ä", strings.Repeat("a", 17) + "!", "12345678=", "1234567=8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isB64Token(s), b64tokenRE.MatchString(s); got != want {
			t.Fatalf("isB64Token(%q) = %v, want %v", s, got, want)
		}
	})
}

func BenchmarkIsB64Token(b *testing.B) {
	s := strings.Repeat("abcdefghij", 36) // a 360-byte token
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if !isB64Token(s) {
			b.Fatal("refused")
		}
	}
}

// FuzzCookieValue: the middleware reads the token cookie as net/http's
// Request.CookiesNamed does, but counts the parts net/http skips for a
// byte no cookie value may hold: never fewer cookies, and the same first
// value when every part is one net/http keeps.
func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{"at=x", "at=x; at=y", `at="x"`, "a=1;at = x ;b", "at", "at=x\x00", " at=x\t", "at=\"x", "x=at=1"} {
		f.Add(s, "b=2")
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		r := &http.Request{Header: http.Header{"Cookie": {line1, line2}}}
		cs := r.CookiesNamed("at")
		v, n := cookieValue(r, "at")
		if n < len(cs) || n == len(cs) && n > 0 && v != cs[0].Value {
			t.Fatalf("%q %q: (%q, %d), net/http %v", line1, line2, v, n, cs)
		}
	})
}
