package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/clients/sqlstore"
	"github.com/sessionless/sessionless/token/clients/storetest"
)

// pair opens two stores on two handles of one fresh table, as two
// instances would have them.
func pair(t *testing.T, be schematest.Backend) (a, b *sqlstore.Store) {
	t.Helper()
	open, table := be.Fresh(t, "clients_test")
	cfg := sqlstore.Config{Dialect: be.Dialect, Table: table}
	return schematest.New(t, sqlstore.New, open(t), cfg), schematest.New(t, sqlstore.New, open(t), cfg)
}

func TestConformance(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		storetest.Run(t, func(t *testing.T) (clients.Store, clients.Store) { return pair(t, be) })
	})
}

// TestRegistry: registrations in the store, found through a Registry on
// another instance, expire unused and last once used.
func TestRegistry(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		a, b := pair(t, be)
		ctx := context.Background()
		now := storetest.Base
		reg := &clients.Registry{Registered: b, Now: func() time.Time { return now }}
		unused, used := storetest.NewPublic(now, time.Hour), storetest.NewPublic(now, time.Hour)
		for _, c := range []clients.Client{unused, used} {
			if err := a.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		c, err := reg.Client(ctx, used.ID)
		if err != nil || !storetest.SameClient(c, used) {
			t.Fatalf("Registry.Client = %+v, %v", c, err)
		}
		if err := reg.MarkUsed(ctx, c); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Hour)
		if _, err := reg.Client(ctx, unused.ID); !errors.Is(err, clients.ErrUnknownClient) {
			t.Errorf("an expired registration: %v, want ErrUnknownClient", err)
		}
		if _, err := reg.Client(ctx, used.ID); err != nil {
			t.Errorf("a used registration: %v", err)
		}
		if n, err := a.Purge(ctx, now); n != 1 || err != nil {
			t.Errorf("Purge = %d, %v; want 1", n, err)
		}
	})
}

// TestRefusals: what the table cannot hold is refused before any SQL, on
// both dialects alike, and a lookup by such an ID finds nothing.
func TestRefusals(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		a, _ := pair(t, be)
		ctx := context.Background()
		nulName := storetest.NewClient(storetest.Base)
		nulName.Name = "a\x00b"
		badURI := storetest.NewClient(storetest.Base)
		badURI.RedirectURIs = []string{"https://app.example/\xff"}
		nulScope := storetest.NewClient(storetest.Base)
		nulScope.Scopes = []string{"a\x00"}
		badID := storetest.NewClient(storetest.Base)
		badID.ID = "rc_\xff"
		early := storetest.NewClient(storetest.Base)
		early.CreatedAt = time.Unix(0, 0).Add(-time.Hour)
		late := storetest.NewClient(storetest.Base)
		late.ExpiresAt = time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, c := range []clients.Client{nulName, badURI, nulScope, badID, early, late} {
			err := a.Create(ctx, c)
			if err == nil || !strings.HasPrefix(err.Error(), "token/clients/sqlstore: ") {
				t.Errorf("Create of %+v = %v, want a refusal of the store", c, err)
			}
		}
		for _, id := range []string{"rc_\x00", "rc_\xff"} {
			if _, err := a.Get(ctx, id); !errors.Is(err, clients.ErrUnknownClient) {
				t.Errorf("Get(%q) = %v, want ErrUnknownClient", id, err)
			}
			if err := a.MarkUsed(ctx, id); !errors.Is(err, clients.ErrUnknownClient) {
				t.Errorf("MarkUsed(%q) = %v, want ErrUnknownClient", id, err)
			}
			if ok, err := a.Delete(ctx, id); ok || err != nil {
				t.Errorf("Delete(%q) = %v, %v; want false", id, ok, err)
			}
		}
	})
}

// TestDefaultTable: a Config without a table uses "oauth_clients".
func TestDefaultTable(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		db := be.Private(t)(t)
		s, err := sqlstore.New(context.Background(), db, sqlstore.Config{Dialect: be.Dialect})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Create(context.Background(), storetest.NewClient(storetest.Base)); err != nil {
			t.Fatal(err)
		}
		if got := be.Strings(t, db, `SELECT COUNT(*) FROM "oauth_clients"`); len(got) != 1 || got[0] != "1" {
			t.Errorf("the default table has %v rows, want 1", got)
		}
		// Again: harmless, and the row stays.
		if _, err := sqlstore.New(context.Background(), db, sqlstore.Config{Dialect: be.Dialect}); err != nil {
			t.Fatal(err)
		}
		if got := be.Strings(t, db, `SELECT COUNT(*) FROM "oauth_clients"`); len(got) != 1 || got[0] != "1" {
			t.Errorf("after a second New the default table has %v rows, want 1", got)
		}
	})
}

// TestNoSecret: the table holds the hash of a secret, never the secret.
func TestNoSecret(t *testing.T) {
	be := schematest.SQLite
	open, table := be.Fresh(t, "clients_test")
	db := open(t)
	s := schematest.New(t, sqlstore.New, db, sqlstore.Config{Dialect: be.Dialect, Table: table})
	secret, h := clients.NewSecret()
	c := storetest.NewClient(storetest.Base)
	c.SecretHashes = []clients.SecretHash{h}
	if err := s.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	row := strings.Join(be.Strings(t, db, `SELECT id || name || kind || auth_method || hex(secret_hashes) || redirect_uris
|| scopes || grant_types FROM "`+table+`"`), "")
	if strings.Contains(row, secret) || strings.Contains(row, strings.TrimPrefix(secret, clients.SecretPrefix)) {
		t.Errorf("the row holds the secret: %s", row)
	}
	got, err := s.Get(context.Background(), c.ID)
	if err != nil || !got.VerifySecret(secret) {
		t.Errorf("Get = %+v, %v; want a client the secret verifies", got, err)
	}
}
