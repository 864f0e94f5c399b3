package consent_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token/consent"
)

// BenchmarkCheck: every Store method checks its arguments first, and an
// authorization request's are the client's to choose, up to the bounds.
func BenchmarkCheck(b *testing.B) {
	for _, bb := range []struct {
		name, subject, clientID string
		scopes                  []string
	}{
		{"usual", "usr_1", "app", []string{"openid", "photos:read", "photos:write"}},
		{"largest", strings.Repeat("s", consent.MaxSubjectLen), "https://app.example/" + strings.Repeat("c", consent.MaxClientIDLen-20),
			slices.Repeat([]string{strings.Repeat("x", consent.MaxScopeLen)}, consent.MaxScopes)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := consent.Check(bb.subject, bb.clientID, bb.scopes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCovers: the authorization endpoint's question, at the largest
// consent and request.
func BenchmarkCovers(b *testing.B) {
	scopes := make([]string, consent.MaxScopes)
	for i := range scopes {
		scopes[i] = strings.Repeat("x", consent.MaxScopeLen-3) + string(rune('A'+i/26)) + string(rune('a'+i%26)) + "!"
	}
	c := consent.Consent{Subject: "usr_1", ClientID: "app", Scopes: scopes, GrantedAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if !consent.Covers(c, scopes) {
			b.Fatal("not covered")
		}
	}
}
