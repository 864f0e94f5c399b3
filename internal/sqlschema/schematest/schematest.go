// Package schematest gives the tests of the SQL stores their databases:
// the [Backends] a store runs on and [Run] over them, a fresh table of a
// test's own ([Backend.Fresh]), queries in the backend's placeholders
// ([Backend.Exec], [Backend.Strings]), a store opened or the test stopped
// ([New]), and [Locks], which checks that an operation takes an advisory
// lock on the very key earlier releases took. The opener that every store
// shares, [sqlschema.Open], is tested once for all of them in package
// sqlschema's own tests.
//
// A store's tests run on each backend:
//
//	schematest.Run(t, func(t *testing.T, b schematest.Backend) {
//		open, table := b.Fresh(t, "refresh_test")
//		s := schematest.New(t, sqlstore.New, open(t), sqlstore.Config{Dialect: b.Dialect, Table: table})
//		…
//	})
package schematest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/internal/testenv/testdb"
)

// Backend is a database the SQL stores run on in tests.
type Backend struct {
	// Name names the backend's subtests.
	Name string
	// Dialect is the backend's dialect.
	Dialect sqlschema.Dialect
	// Open prepares a database for one test (a SQLite file of its own, or
	// the shared PostgreSQL database, where the test skips without
	// TEST_POSTGRES_URL) and returns a function opening handles on it.
	Open func(testing.TB) testdb.DBOpener
	// Private is Open for a test that uses fixed table names (a store's
	// default one) and so needs a database of its own: a SQLite file, or
	// a PostgreSQL database created for the test (testdb.PostgresDB).
	Private func(testing.TB) testdb.DBOpener
}

// Backends are the backends every SQL store's tests run on: SQLite
// always, PostgreSQL when TEST_POSTGRES_URL names one.
var Backends = []Backend{
	{"SQLite", sqlschema.SQLite, testdb.SQLiteDB, testdb.SQLiteDB},
	{"Postgres", sqlschema.Postgres, testdb.SharedPostgres, privatePostgres},
}

// SQLite is the backend of [Backends] that every machine has, for the
// tests that need only one.
var SQLite = Backends[0]

// Run runs f on each of [Backends], as a subtest named after it.
func Run(t *testing.T, f func(t *testing.T, b Backend)) {
	for _, b := range Backends {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

// privatePostgres opens handles on a PostgreSQL database of the test's
// own, dropped when the test ends.
func privatePostgres(t testing.TB) testdb.DBOpener {
	url := testdb.PostgresDB(t)
	return func(t testing.TB) *sql.DB { return testdb.Open(t, "pgx", url) }
}

// Fresh prepares b's database for one test and returns a function opening
// handles on it and the name of a table no other test uses (prefix, an
// underscore and 16 hex digits). When the test ends, after every handle
// opened later is closed, the table is dropped and its versions are
// deleted from [sqlschema.VersionTable].
func (b Backend) Fresh(t testing.TB, prefix string) (open testdb.DBOpener, table string) {
	t.Helper()
	open = b.Open(t)
	table = testdb.UniqueTable(prefix)
	db := open(t)
	t.Cleanup(func() {
		// Whichever store used the table recorded its version as
		// "<package>:<table>". The error is ignored: the test may have
		// opened no store, and the version table may not exist.
		db.Exec(`DELETE FROM ` + sqlschema.VersionTable + ` WHERE name LIKE '%:` + table + `'`)
	})
	testdb.DropTableAtEnd(t, db, table)
	// And the relations a store keeps beside its table (apitoken/sqlstore's
	// cut-offs), under the names sqlschema.RelatedName gives them.
	testdb.DropTableAtEnd(t, db, sqlschema.RelatedName(table, "_cutoffs"))
	return open, table
}

// Exec runs q, written with ? placeholders, on db in the dialect of b, and
// stops the test if it fails.
func (b Backend) Exec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(b.Dialect.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// Strings returns the first column of the rows of q, written with ?
// placeholders and run on db in the dialect of b, or stops the test.
func (b Backend) Strings(t testing.TB, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(b.Dialect.Rebind(q), args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var ss []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		ss = append(ss, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return ss
}

// New returns the store that newStore (a store package's New) opens on db
// with cfg, or stops the test.
func New[S, C any](t testing.TB, newStore func(context.Context, *sql.DB, C) (S, error), db *sql.DB, cfg C) S {
	t.Helper()
	s, err := newStore(context.Background(), db, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// Locks checks that op takes, on PostgreSQL, the advisory lock on key:
// it holds that lock in a transaction of its own on db, runs op, waits
// until op waits for the lock, releases it, and checks that op then
// succeeds. The lock is written here as every release has taken it
// (pg_advisory_xact_lock of hashtextextended(key, 0)): the keys are part
// of the protocol between instances of different releases, and are
// tested to the letter. On SQLite, which takes no advisory locks, Locks
// only runs op.
func Locks(t testing.TB, b Backend, db *sql.DB, key string, op func() error) {
	t.Helper()
	if b.Dialect != sqlschema.Postgres {
		if err := op(); err != nil {
			t.Fatal(err)
		}
		return
	}
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- op() }()
	// pg_locks shows an advisory lock on one bigint with its high and low
	// halves in classid and objid, and objsubid 1.
	for waiting := false; !waiting; {
		select {
		case err := <-done:
			t.Fatalf("the operation ended (%v) while the lock on %q was held: it takes another one", err, key)
		default:
		}
		err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
AND NOT granted AND objsubid = 1 AND (classid::bigint << 32 | objid::bigint) = hashtextextended($1, 0))`, key).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the operation, once the lock on %q was released: %v", key, err)
	}
}
