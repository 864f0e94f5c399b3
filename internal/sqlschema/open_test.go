package sqlschema_test

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	apitokensql "github.com/sessionless/sessionless/apitoken/sqlstore"
	apitokentest "github.com/sessionless/sessionless/apitoken/storetest"
	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
	"github.com/sessionless/sessionless/revocation"
	revocationsql "github.com/sessionless/sessionless/revocation/sqlstore"
	revocationtest "github.com/sessionless/sessionless/revocation/storetest"
	authcodesql "github.com/sessionless/sessionless/token/authcode/sqlstore"
	authcodetest "github.com/sessionless/sessionless/token/authcode/storetest"
	clientssql "github.com/sessionless/sessionless/token/clients/sqlstore"
	clientstest "github.com/sessionless/sessionless/token/clients/storetest"
	consentsql "github.com/sessionless/sessionless/token/consent/sqlstore"
	consenttest "github.com/sessionless/sessionless/token/consent/storetest"
	refreshsql "github.com/sessionless/sessionless/token/refresh/sqlstore"
	refreshtest "github.com/sessionless/sessionless/token/refresh/storetest"
)

// store is a SQL store as the tests of its opener see it.
type store struct {
	name         string // of its subtests
	pkg          string // its import path under the module, which begins its errors
	defaultTable string
	// open calls the store's New, and returns a function that writes one
	// row through the store.
	open func(ctx context.Context, db *sql.DB, d sqlschema.Dialect, table string) (write func() error, err error)
}

// stores are every store that opens its table with sqlschema.Open.
var stores = []store{
	{"apitoken", "apitoken/sqlstore", apitokensql.DefaultTable,
		func(ctx context.Context, db *sql.DB, d sqlschema.Dialect, table string) (func() error, error) {
			s, err := apitokensql.New(ctx, db, apitokensql.Config{Dialect: d, Table: table})
			return func() error { return s.Create(ctx, apitokentest.NewRecord("usr", apitokentest.Base), 10) }, err
		}},
	{"refresh", "token/refresh/sqlstore", refreshsql.DefaultTable,
		func(ctx context.Context, db *sql.DB, d sqlschema.Dialect, table string) (func() error, error) {
			s, err := refreshsql.New(ctx, db, refreshsql.Config{Dialect: d, Table: table})
			return func() error { return s.Create(ctx, refreshtest.NewRecord("usr", refreshtest.Base)) }, err
		}},
	{"authcode", "token/authcode/sqlstore", authcodesql.DefaultTable,
		func(ctx context.Context, db *sql.DB, d sqlschema.Dialect, table string) (func() error, error) {
			s, err := authcodesql.New(ctx, db, authcodesql.Config{Dialect: d, Table: table})
			return func() error { return s.Create(ctx, authcodetest.NewRecord(authcodetest.Base)) }, err
		}},
	{"consent", "token/consent/sqlstore", consentsql.DefaultTable,
		func(ctx context.Context, db *sql.DB, d sqlschema.Dialect, table string) (func() error, error) {
			s, err := consentsql.New(ctx, db, consentsql.Config{Dialect: d, Table: table})
			return func() error { return s.Grant(ctx, consenttest.NewSubject(), "app", []string{"a"}, consenttest.Base) }, err
		}},
	{"clients", "token/clients/sqlstore", clientssql.DefaultTable,
		func(ctx context.Context, db *sql.DB, d sqlschema.Dialect, table string) (func() error, error) {
			s, err := clientssql.New(ctx, db, clientssql.Config{Dialect: d, Table: table})
			return func() error { return s.Create(ctx, clientstest.NewClient(clientstest.Base)) }, err
		}},
	{"revocation", "revocation/sqlstore", revocationsql.DefaultTable,
		func(ctx context.Context, db *sql.DB, d sqlschema.Dialect, table string) (func() error, error) {
			s, err := revocationsql.New(ctx, db, revocationsql.Config{Dialect: d, Table: table})
			e := revocation.Entry{Kind: revocation.KindToken, Issuer: "iss", Key: "k", Expires: revocationtest.Base}
			return func() error { return s.Create(ctx, e) }, err
		}},
}

// TestOpen runs the tests of the opener against every store, on every
// backend.
func TestOpen(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			schematest.Run(t, func(t *testing.T, b schematest.Backend) {
				t.Run("Refusals", func(t *testing.T) { testRefusals(t, s, b) })
				t.Run("DefaultTable", func(t *testing.T) { testDefaultTable(t, s, b) })
				t.Run("Reopen", func(t *testing.T) { testReopen(t, s, b) })
				t.Run("OtherShape", func(t *testing.T) { testOtherShape(t, s, b) })
				t.Run("NewerSchema", func(t *testing.T) { testNewerSchema(t, s, b) })
				t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, s, b) })
			})
		})
	}
}

// mustOpen opens s on table, or stops the test.
func mustOpen(t *testing.T, s store, db *sql.DB, d sqlschema.Dialect, table string) (write func() error) {
	t.Helper()
	write, err := s.open(context.Background(), db, d, table)
	if err != nil {
		t.Fatalf("New(%q): %v", table, err)
	}
	return write
}

// refused checks that err is a refusal of s saying want.
func refused(t *testing.T, s store, what string, err error, want string) {
	t.Helper()
	if err == nil || !strings.HasPrefix(err.Error(), s.pkg+": ") || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: err %v, want one starting with %q and saying %q", what, err, s.pkg+": ", want)
	}
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM "` + table + `"`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// testRefusals: configurations that cannot work are refused before any
// SQL runs, as the closed handle they are tried on shows (any query on it
// would fail with another error).
func testRefusals(t *testing.T, s store, b schematest.Backend) {
	ctx := context.Background()
	closed := b.Open(t)(t)
	closed.Close()
	_, err := s.open(ctx, nil, b.Dialect, "")
	refused(t, s, "a nil db", err, "nil *sql.DB")
	for _, d := range []sqlschema.Dialect{0, 3, -1} {
		_, err := s.open(ctx, closed, d, "")
		refused(t, s, d.String(), err, "use SQLite or Postgres")
	}
	for _, name := range []string{
		"Tokens", "1st", "a-b", "a b", "a;drop table users", `x"; DROP TABLE users; --`, `a"b`, "a.b", "ré",
		"tokens\x00", strings.Repeat("a", 64),
	} {
		_, err := s.open(ctx, closed, b.Dialect, name)
		refused(t, s, "table "+strconv.Quote(name), err, "invalid table name")
	}
	_, err = s.open(ctx, closed, b.Dialect, "")
	refused(t, s, "a closed database", err, "")
}

// testDefaultTable: no table name means the store's default, in a
// database of the test's own (the shared one may hold a real one).
func testDefaultTable(t *testing.T, s store, b schematest.Backend) {
	db := b.Private(t)(t)
	if err := mustOpen(t, s, db, b.Dialect, "")(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, s.defaultTable); n != 1 {
		t.Errorf("the default table %s has %d rows, want 1", s.defaultTable, n)
	}
}

// testReopen: opening the table again, through another pool, keeps its
// rows and works.
func testReopen(t *testing.T, s store, b schematest.Backend) {
	open, table := b.Fresh(t, "open_test")
	if err := mustOpen(t, s, open(t), b.Dialect, table)(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := mustOpen(t, s, open(t), b.Dialect, table)(); err != nil {
			t.Fatalf("writing after reopening: %v", err)
		}
	}
	if n := count(t, open(t), table); n != 3 {
		t.Errorf("after three opens and writes: %d rows, want 3", n)
	}
}

// testOtherShape: a table of the same name and another shape is refused,
// whether it was there first or replaced the store's behind the version
// table's back.
func testOtherShape(t *testing.T, s store, b schematest.Backend) {
	open, table := b.Fresh(t, "open_test")
	db := open(t)
	b.Exec(t, db, `CREATE TABLE "`+table+`" (id TEXT)`)
	_, err := s.open(context.Background(), db, b.Dialect, table)
	refused(t, s, "a table there first", err, "")

	// The refusal recorded no version: the store's own table is created.
	b.Exec(t, db, `DROP TABLE "`+table+`"`)
	mustOpen(t, s, db, b.Dialect, table)
	b.Exec(t, db, `DROP TABLE "`+table+`"`)
	b.Exec(t, db, `CREATE TABLE "`+table+`" (id TEXT)`)
	_, err = s.open(context.Background(), db, b.Dialect, table)
	refused(t, s, "a table replaced", err, "lacks the expected columns")
}

// testNewerSchema: a table a newer release migrated is refused.
func testNewerSchema(t *testing.T, s store, b schematest.Backend) {
	open, table := b.Fresh(t, "open_test")
	db := open(t)
	mustOpen(t, s, db, b.Dialect, table)
	b.Exec(t, db, `UPDATE `+sqlschema.VersionTable+` SET version = version + 1 WHERE name = ?`, s.pkg+":"+table)
	_, err := s.open(context.Background(), db, b.Dialect, table)
	refused(t, s, "a newer schema", err, "")
	if !errors.Is(err, sqlschema.ErrNewerSchema) {
		t.Errorf("a newer schema: err %v, want ErrNewerSchema", err)
	}
}

// testConcurrent opens the store 8 times at once on two pools, on a table
// named after a keyword and on one of 63 characters: every open succeeds,
// and a later one keeps the rows.
func testConcurrent(t *testing.T, s store, b schematest.Backend) {
	for _, prefix := range []string{"order", "t" + strings.Repeat("x", sqlschema.MaxNameLen-len("t_0123456789abcdef"))} {
		open, table := b.Fresh(t, prefix)
		dbs := []*sql.DB{open(t), open(t)}
		errs := make([]error, 8)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = s.open(context.Background(), dbs[i%2], b.Dialect, table) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("instance %d opening %s: %v", i, table, err)
			}
		}
		if err := mustOpen(t, s, dbs[0], b.Dialect, table)(); err != nil {
			t.Fatal(err)
		}
		mustOpen(t, s, dbs[1], b.Dialect, table)
		if n := count(t, dbs[1], table); n != 1 {
			t.Errorf("%s: %d rows after a later open, want 1", table, n)
		}
	}
}
