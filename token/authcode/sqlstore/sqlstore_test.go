package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
	"github.com/sessionless/sessionless/token/authcode"
	"github.com/sessionless/sessionless/token/authcode/sqlstore"
	"github.com/sessionless/sessionless/token/authcode/storetest"
)

// pair opens two stores on two handles of one fresh table, as two
// instances would have them.
func pair(t *testing.T, be schematest.Backend) (a, b *sqlstore.Store) {
	t.Helper()
	open, table := be.Fresh(t, "authcode_test")
	cfg := sqlstore.Config{Dialect: be.Dialect, Table: table}
	return schematest.New(t, sqlstore.New, open(t), cfg), schematest.New(t, sqlstore.New, open(t), cfg)
}

func TestConformance(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		storetest.Run(t, func(t *testing.T) (authcode.Store, authcode.Store) { return pair(t, be) })
	})
}

// TestManager runs a Manager on the store: a code redeemed once, then
// replayed from another instance, which revokes what was issued.
func TestManager(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		a, b := pair(t, be)
		ctx := context.Background()
		var revoked []authcode.Issued
		revoker := authcode.RevokerFunc(func(_ context.Context, i authcode.Issued) error {
			revoked = append(revoked, i)
			return nil
		})
		now := func() time.Time { return storetest.Base }
		m1, err := authcode.New(authcode.Config{Store: a, Revoker: revoker, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		m2, err := authcode.New(authcode.Config{Store: b, Revoker: revoker, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		verifier := strings.Repeat("v", 43)
		g := authcode.Grant{ClientID: "app", RedirectURI: "https://app.example/cb", Subject: "usr_1",
			CodeChallenge: authcode.Challenge(verifier), AuthTime: storetest.Base.Add(-time.Second)}
		code, err := m1.Issue(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		issued := storetest.NewIssued(storetest.Base)
		issue := func(context.Context, authcode.Grant) (authcode.Issued, error) { return issued, nil }
		got, _, err := m2.Redeem(ctx, code, "app", g.RedirectURI, verifier, issue)
		if err != nil || got != g {
			t.Fatalf("Redeem = %+v, %v; want %+v", got, err, g)
		}
		if _, _, err := m1.Redeem(ctx, code, "app", g.RedirectURI, verifier, issue); !errors.Is(err, authcode.ErrReused) {
			t.Fatalf("replay = %v, want ErrReused", err)
		}
		if len(revoked) != 1 || revoked[0] != issued {
			t.Errorf("revoked %+v, want %+v", revoked, issued)
		}
	})
}

// TestRefusals: what the table cannot hold is refused before any SQL, on
// both dialects alike.
func TestRefusals(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		a, _ := pair(t, be)
		ctx := context.Background()
		nul := storetest.NewRecord(storetest.Base)
		nul.Grant.Scope = "a\x00b"
		bad := storetest.NewRecord(storetest.Base)
		bad.Grant.RedirectURI = "https://app.example/\xff"
		early := storetest.NewRecord(storetest.Base)
		early.IssuedAt = time.Unix(0, 0).Add(-time.Hour)
		for _, r := range []authcode.Record{nul, bad, early} {
			err := a.Create(ctx, r)
			if err == nil || !strings.HasPrefix(err.Error(), "token/authcode/sqlstore: ") {
				t.Errorf("Create of %+v = %v, want a refusal of the store", r, err)
			}
		}
		r := storetest.NewRecord(storetest.Base)
		if err := a.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := a.SetIssued(ctx, r.Hash, authcode.Issued{AccessID: "\x00"}); err == nil {
			t.Error("SetIssued of a NUL access ID succeeded")
		}
		if _, err := a.Reuse(ctx, r.Hash, time.Time{}); err == nil {
			t.Error("Reuse at the zero time succeeded")
		}
	})
}

// TestDefaultTable: a Config without a table uses "oauth_codes".
func TestDefaultTable(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		db := be.Private(t)(t)
		if _, err := sqlstore.New(context.Background(), db, sqlstore.Config{Dialect: be.Dialect}); err != nil {
			t.Fatal(err)
		}
		if got := be.Strings(t, db, `SELECT COUNT(*) FROM "oauth_codes"`); len(got) != 1 || got[0] != "0" {
			t.Errorf("the default table has %v rows", got)
		}
		// Again: harmless.
		if _, err := sqlstore.New(context.Background(), db, sqlstore.Config{Dialect: be.Dialect}); err != nil {
			t.Fatal(err)
		}
	})
}
