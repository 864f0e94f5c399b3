package consent_test

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sessionless/sessionless/token/consent"
)

// scopeRE is RFC 6749 §3.3's scope-token, at most MaxScopeLen bytes.
var scopeRE = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]{1,128}$`)

// encodeScopes encodes scopes for FuzzCheck: each a byte of its length,
// then its bytes, so that a scope may hold any byte, NUL and separators
// included, and be empty.
func encodeScopes(scopes []string) []byte {
	var b []byte
	for _, s := range scopes {
		b = append(append(b, byte(min(len(s), 255))), s[:min(len(s), 255)]...)
	}
	return b
}

// decodeScopes is the inverse of encodeScopes, for any bytes: a length
// past the end takes what is left.
func decodeScopes(b []byte) []string {
	var scopes []string
	for len(b) > 0 {
		n := min(int(b[0]), len(b)-1)
		scopes = append(scopes, string(b[1:1+n]))
		b = b[1+n:]
	}
	return scopes
}

// FuzzCheck: Check never panics, accepts exactly a subject and a client
// ID of UTF-8 without NUL within their bounds and at most MaxScopes RFC
// 6749 scope-tokens, and refuses anything else with ErrInvalid. What it
// accepts, Union merges and Covers then covers.
func FuzzCheck(f *testing.F) {
	for _, tt := range checkTests {
		f.Add(tt.subject, tt.clientID, encodeScopes(tt.scopes))
	}
	f.Fuzz(func(t *testing.T, subject, clientID string, encoded []byte) {
		scopes := decodeScopes(encoded)
		err := consent.Check(subject, clientID, scopes)
		text := func(s string, max int) bool {
			return s != "" && len(s) <= max && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
		}
		want := text(subject, consent.MaxSubjectLen) && text(clientID, consent.MaxClientIDLen) &&
			len(scopes) <= consent.MaxScopes
		for _, s := range scopes {
			want = want && scopeRE.MatchString(s)
		}
		if (err == nil) != want {
			t.Fatalf("Check(%q, %q, %q) = %v, want accepted %v", subject, clientID, scopes, err, want)
		}
		if err != nil {
			if !errors.Is(err, consent.ErrInvalid) {
				t.Fatalf("Check(%q, %q, %q) = %v, want ErrInvalid", subject, clientID, scopes, err)
			}
			return
		}
		u, err := consent.Union(nil, scopes)
		if err != nil || !slices.IsSorted(u) || len(slices.Compact(slices.Clone(u))) != len(u) {
			t.Fatalf("Union(nil, %q) = %q, %v; want them sorted, without duplicates", scopes, u, err)
		}
		if c := (consent.Consent{Subject: subject, ClientID: clientID, Scopes: u}); !consent.Covers(c, scopes) {
			t.Fatalf("Covers(%+v, %q) = false", c, scopes)
		}
	})
}
