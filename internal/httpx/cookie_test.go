package httpx_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/internal/httpx"
)

// FuzzCookieValue: the middleware reads the token cookie as net/http's
// Request.CookiesNamed does, but counts the parts net/http skips for a
// byte no cookie value may hold: never fewer cookies, and the same first
// value when every part is one net/http keeps.
func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{"xat=1; at=2", "at2=1; at=2", "a=at; at=3", "a=x;at;at=2", " at =;at", "at=x", "at=x; at=y", `at="x"`, "a=1;at = x ;b", "at", "at=x\x00", " at=x\t", "at=\"x", "x=at=1"} {
		f.Add(s, "b=2")
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		r := &http.Request{Header: http.Header{"Cookie": {line1, line2}}}
		cs := r.CookiesNamed("at")
		v, n := httpx.CookieValue(r, "at")
		if n < len(cs) || n == len(cs) && n > 0 && v != cs[0].Value {
			t.Fatalf("%q %q: (%q, %d), net/http %v", line1, line2, v, n, cs)
		}
		// Without a byte net/http skips a value for, the same count (below
		// net/http's limit of cookies per request, past which it reads
		// none: GODEBUG httpcookiemaxnum, 3000).
		plain := func(s string) bool {
			return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r >= 0x7f || r == '"' || r == '\\' })
		}
		if plain(line1) && plain(line2) && strings.Count(line1+line2, ";") < 1000 && n != len(cs) {
			t.Fatalf("%q %q: %d cookies, net/http %d", line1, line2, n, len(cs))
		}
	})
}

// TestCookieValues: every value, in order, counted as CookieValue counts.
func TestCookieValues(t *testing.T) {
	r := &http.Request{Header: http.Header{"Cookie": {`at=1; b=2; at="3"`, " at = 4 ;at"}}}
	if vs := httpx.CookieValues(r, "at"); strings.Join(vs, ",") != "1,3, 4," {
		t.Fatalf("%q", vs)
	}
	if v, n := httpx.CookieValue(r, "at"); v != "1" || n != 4 {
		t.Fatalf("%q %d", v, n)
	}
}
