package sqlstore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
	"github.com/sessionless/sessionless/token/consent"
	"github.com/sessionless/sessionless/token/consent/sqlstore"
	"github.com/sessionless/sessionless/token/consent/storetest"
)

// pair opens two stores on two handles of one fresh table, as two
// instances would have them.
func pair(t *testing.T, be schematest.Backend) (a, b *sqlstore.Store, table string) {
	t.Helper()
	open, table := be.Fresh(t, "consent_test")
	cfg := sqlstore.Config{Dialect: be.Dialect, Table: table}
	return schematest.New(t, sqlstore.New, open(t), cfg), schematest.New(t, sqlstore.New, open(t), cfg), table
}

func TestConformance(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		storetest.Run(t, func(t *testing.T) (consent.Store, consent.Store) {
			a, b, _ := pair(t, be)
			return a, b
		})
	})
}

// TestStoredForm: the scopes are one space-separated, sorted TEXT value,
// and a row another program wrote in that form reads back.
func TestStoredForm(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		open, table := be.Fresh(t, "consent_test")
		db := open(t)
		s := schematest.New(t, sqlstore.New, db, sqlstore.Config{Dialect: be.Dialect, Table: table})
		ctx := context.Background()
		if err := s.Grant(ctx, "usr_1", "app", []string{"b", "a:read", "b"}, storetest.Base); err != nil {
			t.Fatal(err)
		}
		if err := s.Grant(ctx, "usr_1", "bare", nil, storetest.Base); err != nil {
			t.Fatal(err)
		}
		got := be.Strings(t, db, `SELECT scopes || '|' || granted_ns FROM "`+table+`" ORDER BY client_id`)
		ns := storetest.Base.UnixNano()
		want := []string{"a:read b|" + strconv.FormatInt(ns, 10), "|" + strconv.FormatInt(ns, 10)}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("stored %q, want %q", got, want)
		}
		be.Exec(t, db, `INSERT INTO "`+table+`" (subject, client_id, scopes, granted_ns) VALUES (?, ?, ?, ?)`,
			"usr_1", "other", "x y", ns+1)
		c, err := s.Get(ctx, "usr_1", "other")
		want1 := consent.Consent{Subject: "usr_1", ClientID: "other", Scopes: []string{"x", "y"}, GrantedAt: storetest.Base.Add(1)}
		if err != nil || !storetest.Same(c, want1) {
			t.Errorf("Get = %+v, %v; want %+v", c, err, want1)
		}
	})
}

// TestTimeRange: a Grant's time the column cannot hold is refused with
// ErrInvalid, and writes nothing.
func TestTimeRange(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		a, _, _ := pair(t, be)
		ctx := context.Background()
		for _, at := range []time.Time{time.Unix(0, 0), time.Unix(0, 0).Add(-time.Hour), time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)} {
			err := a.Grant(ctx, "usr_1", "app", []string{"a"}, at)
			if !errors.Is(err, consent.ErrInvalid) || !errors.Is(err, sqlschema.ErrTimeRange) ||
				!strings.HasPrefix(err.Error(), "token/consent/sqlstore: ") {
				t.Errorf("Grant at %v = %v, want a refusal of the store wrapping ErrInvalid", at, err)
			}
		}
		if _, err := a.Get(ctx, "usr_1", "app"); !errors.Is(err, consent.ErrNotFound) {
			t.Errorf("Get = %v, want ErrNotFound", err)
		}
	})
}

// TestDefaultTable: a Config without a table uses "oauth_consents".
func TestDefaultTable(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		db := be.Private(t)(t)
		s, err := sqlstore.New(context.Background(), db, sqlstore.Config{Dialect: be.Dialect})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Grant(context.Background(), "usr_1", "app", nil, storetest.Base); err != nil {
			t.Fatal(err)
		}
		if got := be.Strings(t, db, `SELECT COUNT(*) FROM "oauth_consents"`); len(got) != 1 || got[0] != "1" {
			t.Errorf("the default table has %v rows, want 1", got)
		}
		// Again: harmless, and the row stays.
		if _, err := sqlstore.New(context.Background(), db, sqlstore.Config{Dialect: be.Dialect}); err != nil {
			t.Fatal(err)
		}
		if got := be.Strings(t, db, `SELECT COUNT(*) FROM "oauth_consents"`); len(got) != 1 || got[0] != "1" {
			t.Errorf("after New again, the default table has %v rows, want 1", got)
		}
	})
}

// TestListByteOrder: List orders the client IDs of equal times in byte
// order even where the database's collation orders them otherwise, as it
// does for 'B' and 'a' (PostgreSQL with ICU; SQLite's collation is byte
// order).
func TestListByteOrder(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		open, table := be.Fresh(t, "consent_test")
		db := open(t)
		s := schematest.New(t, sqlstore.New, db, sqlstore.Config{Dialect: be.Dialect, Table: table})
		if be.Dialect == sqlstore.Postgres {
			if got := be.Strings(t, db, `SELECT collname FROM pg_collation WHERE collname = 'und-x-icu'`); len(got) == 0 {
				t.Skip("PostgreSQL without ICU: no collation to order 'a' before 'B'")
			}
			be.Exec(t, db, `ALTER TABLE "`+table+`" ALTER COLUMN client_id TYPE TEXT COLLATE "und-x-icu"`)
		}
		ctx := context.Background()
		for _, clientID := range []string{"a", "B", "b", "A"} {
			if err := s.Grant(ctx, "usr_1", clientID, nil, storetest.Base); err != nil {
				t.Fatal(err)
			}
		}
		if be.Dialect == sqlstore.Postgres {
			// The column's collation orders them otherwise: the test
			// means something.
			if got := be.Strings(t, db, `SELECT client_id FROM "`+table+`" ORDER BY client_id`); strings.Join(got, "") == "ABab" {
				t.Fatalf("the collation orders the client IDs %q, in byte order", got)
			}
		}
		list, err := s.List(ctx, "usr_1", 0)
		var got []string
		for _, c := range list {
			got = append(got, c.ClientID)
		}
		if err != nil || strings.Join(got, "") != "ABab" {
			t.Errorf("List = %q, %v; want byte order, A B a b", got, err)
		}
	})
}
