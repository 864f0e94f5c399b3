package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/internal/testenv/testdb"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/revocation/sqlstore"
	"github.com/sessionless/sessionless/revocation/storetest"
)

// BenchmarkPropagation: a revocation on one instance until another
// instance rejects the token, through the database (polled every 200ms).
func BenchmarkPropagation(b *testing.B) {
	b.Run("SQLite", func(b *testing.B) {
		dsn := filepath.Join(b.TempDir(), "r.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
		benchPropagation(b, "sqlite", dsn, sqlstore.SQLite)
	})
	b.Run("Postgres", func(b *testing.B) {
		benchPropagation(b, "pgx", testenv.PostgresURL(b), sqlstore.Postgres)
	})
}

func benchPropagation(b *testing.B, driver, dsn string, d sqlstore.Dialect) {
	table := testdb.UniqueTable("revocations_bench")
	var stores []revocation.Store
	for range 2 {
		db, err := sql.Open(driver, dsn)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		s, err := sqlstore.New(context.Background(), db, sqlstore.Config{Dialect: d, Table: table})
		if err != nil {
			b.Fatal(err)
		}
		stores = append(stores, s)
	}
	b.Cleanup(func() {
		db, err := sql.Open(driver, dsn)
		if err == nil {
			db.Exec(`DROP TABLE IF EXISTS "` + table + `"`)
			db.Close()
		}
	})
	storetest.BenchmarkPropagation(b, func(*testing.B) (revocation.Store, revocation.Store) { return stores[0], stores[1] })
}
