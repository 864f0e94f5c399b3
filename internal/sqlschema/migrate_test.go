package sqlschema_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
	"github.com/sessionless/sessionless/internal/testenv/testdb"
)

func TestMigrate(t *testing.T) {
	schematest.Run(t, func(t *testing.T, b schematest.Backend) {
		open := b.Open(t)
		t.Run("Steps", func(t *testing.T) { testMigrateSteps(t, open(t), b.Dialect) })
		t.Run("Concurrent", func(t *testing.T) { testMigrateConcurrent(t, open, b.Dialect) })
	})
}

// schema returns migrations for a table of its own: none of them is
// idempotent, so applying one twice fails.
func schema(t testing.TB, db *sql.DB) (name, table string, migrations [][]string) {
	table = testdb.UniqueTable("migrate")
	testdb.DropTableAtEnd(t, db, table)
	t.Cleanup(func() {
		db.Exec(`DELETE FROM ` + sqlschema.VersionTable + ` WHERE name = 'test:` + table + `'`)
	})
	return "test:" + table, table, [][]string{
		{`CREATE TABLE ` + table + ` (id INTEGER PRIMARY KEY)`, `INSERT INTO ` + table + ` (id) VALUES (1)`},
		{`ALTER TABLE ` + table + ` ADD COLUMN note TEXT`, `INSERT INTO ` + table + ` (id, note) VALUES (2, 'two')`},
	}
}

func version(t testing.TB, db *sql.DB, d sqlschema.Dialect, name string) int {
	t.Helper()
	q := d.Rebind(`SELECT version FROM ` + sqlschema.VersionTable + ` WHERE name = ?`)
	var v int
	if err := db.QueryRow(q, name).Scan(&v); errors.Is(err, sql.ErrNoRows) {
		return 0
	} else if err != nil {
		t.Fatal(err)
	}
	return v
}

func rows(t testing.TB, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testMigrateSteps(t *testing.T, db *sql.DB, d sqlschema.Dialect) {
	ctx := context.Background()
	name, table, m := schema(t, db)

	if err := sqlschema.Migrate(ctx, db, d, name, m[0]); err != nil {
		t.Fatalf("first migration: %v", err)
	}
	if v, n := version(t, db, d, name), rows(t, db, table); v != 1 || n != 1 {
		t.Fatalf("after migration 1: version %d, %d rows; want 1, 1", v, n)
	}
	for range 2 { // again: nothing to do, not even on the second call
		if err := sqlschema.Migrate(ctx, db, d, name, m[0]); err != nil {
			t.Fatalf("migrating an up-to-date schema: %v", err)
		}
	}
	// A failing migration changes nothing: neither its first statement
	// nor the version.
	broken := append([][]string{m[0]}, []string{m[1][0], `INSERT INTO no_such_table VALUES (1)`})
	if err := sqlschema.Migrate(ctx, db, d, name, broken...); err == nil {
		t.Fatal("a failing migration reported success")
	}
	if v := version(t, db, d, name); v != 1 {
		t.Fatalf("after a failed migration 2: version %d, want 1", v)
	}
	if err := sqlschema.Migrate(ctx, db, d, name, m...); err != nil {
		t.Fatalf("migration 2 after a failed attempt (was its ALTER TABLE rolled back?): %v", err)
	}
	if v, n := version(t, db, d, name), rows(t, db, table); v != 2 || n != 2 {
		t.Fatalf("after migration 2: version %d, %d rows; want 2, 2", v, n)
	}
	// An older program refuses the newer schema.
	if err := sqlschema.Migrate(ctx, db, d, name, m[0]); !errors.Is(err, sqlschema.ErrNewerSchema) {
		t.Fatalf("version 2 database, program knowing 1: err %v, want ErrNewerSchema", err)
	}
	// A canceled context fails cleanly and leaves the pool usable.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := sqlschema.Migrate(cctx, db, d, name, m...); err == nil {
		t.Fatal("Migrate with a canceled context reported success")
	}
	if err := sqlschema.Migrate(ctx, db, d, name, m...); err != nil {
		t.Fatalf("after a canceled call: %v", err)
	}
	if err := sqlschema.Migrate(ctx, db, 0, name, m...); err == nil {
		t.Fatal("Migrate accepted no dialect")
	}
}

// testMigrateConcurrent starts 8 instances at once on one database, each
// with a pool of its own: every one succeeds and every migration runs once.
func testMigrateConcurrent(t *testing.T, open testdb.DBOpener, d sqlschema.Dialect) {
	ctx := context.Background()
	name, table, m := schema(t, open(t))
	dbs := make([]*sql.DB, 8)
	for i := range dbs {
		dbs[i] = open(t)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(dbs))
	for i, db := range dbs {
		wg.Go(func() { errs[i] = sqlschema.Migrate(ctx, db, d, name, m...) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	if v, n := version(t, dbs[0], d, name), rows(t, dbs[0], table); v != 2 || n != 2 {
		t.Fatalf("after concurrent starts: version %d, %d rows; want 2, 2", v, n)
	}
}
