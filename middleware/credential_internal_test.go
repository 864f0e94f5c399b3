package middleware

import (
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
