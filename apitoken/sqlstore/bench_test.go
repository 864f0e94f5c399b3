package sqlstore_test

import (
	"context"
	"testing"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
)

// BenchmarkAuthenticateMiss: Manager.Authenticate of an API token that
// the middleware's cache does not hold: the format check, SHA-256, and
// one lookup through the unique index of the hash.
func BenchmarkAuthenticateMiss(b *testing.B) {
	for _, be := range schematest.Backends {
		b.Run(be.Name, func(b *testing.B) {
			s, _, _, _ := pair(b, be)
			m, err := apitoken.New(apitoken.Config{Store: s, SubjectIssuer: ownerIssuer})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { m.Close() })
			ctx := context.Background()
			// A table that is not empty: 1,000 tokens of 100 subjects.
			var raw string
			for i := range 1000 {
				raw, _, err = m.CreateFor(ctx, principal("subject"+string(rune('A'+i%100))), apitoken.CreateRequest{Name: "bench"})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Authenticate(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
