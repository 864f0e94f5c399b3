package sqlstore_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
)

// TestCutoffRaceTwoInstances: two managers (instances) on one table.
// Instance 1 makes tokens in a loop with credentials issued before the
// cut-off (a stolen access token it does not know as revoked, and an API
// token it made); instance 2 logs the user out everywhere meanwhile.
// Afterwards no token of the user is live, and no creation begun after
// the logout returned succeeded.
func TestCutoffRaceTwoInstances(t *testing.T) {
	schematest.Run(t, func(t *testing.T, b schematest.Backend) {
		for round := range 5 {
			s1, s2, _, _ := pair(t, b)
			m1, err := apitoken.New(apitoken.Config{Store: s1, SubjectIssuer: ownerIssuer})
			if err != nil {
				t.Fatal(err)
			}
			defer m1.Close()
			m2, err := apitoken.New(apitoken.Config{Store: s2, SubjectIssuer: ownerIssuer})
			if err != nil {
				t.Fatal(err)
			}
			defer m2.Close()
			ctx := context.Background()
			stolen := principal("alice", "widgets:read")
			stolen.IssuedAt = time.Now().Add(-time.Minute)
			req := apitoken.CreateRequest{Name: "ci", Scopes: []string{"widgets:read"}}
			raw, _, err := m1.CreateFor(ctx, stolen, req)
			if err != nil {
				t.Fatal(err)
			}
			parent, err := m1.Authenticate(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			var done, loggedOut atomic.Bool
			var attempts, late atomic.Int64
			var unexpected atomic.Value
			var wg sync.WaitGroup
			for i := range 4 {
				creator := stolen
				if i%2 == 1 {
					creator = parent
				}
				wg.Go(func() {
					for !done.Load() {
						after := loggedOut.Load()
						_, _, err := m1.CreateFor(ctx, creator, req)
						attempts.Add(1)
						switch {
						case err == nil && after:
							late.Add(1)
						case err != nil && !errors.Is(err, apitoken.ErrRevoked) && !errors.Is(err, apitoken.ErrInvalid):
							unexpected.Store(err)
						}
					}
				})
			}
			waitFor := func(n int64) {
				for attempts.Load() < n && unexpected.Load() == nil {
					runtime.Gosched()
				}
			}
			waitFor(8) // creations under way
			if _, err := m2.RevokeSubjectBefore(ctx, "alice", time.Now()); err != nil {
				t.Fatal(err)
			}
			loggedOut.Store(true)
			waitFor(attempts.Load() + 8) // and some begun after the logout
			done.Store(true)
			wg.Wait()
			if v := unexpected.Load(); v != nil {
				t.Fatalf("round %d: %v", round, v)
			}
			if n := late.Load(); n != 0 {
				t.Errorf("round %d: %d creations begun after the logout succeeded", round, n)
			}
			ts, err := m2.List(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range ts {
				if tok.RevokedAt.IsZero() {
					t.Errorf("round %d: token %s of %d live after the logout", round, tok.ID, len(ts))
				}
			}
		}
	})
}
