// Package testdb opens the test databases of the module's SQL stores: a
// SQLite file of a test's own, and the PostgreSQL server scripts/test.sh
// starts (see package testenv), with the drivers only these tests link:
// modernc.org/sqlite ("sqlite") and pgx ("pgx").
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/sessionless/sessionless/internal/testenv"
)

// PostgresDB creates a fresh database on the test PostgreSQL server and
// returns its URL; it is dropped when the test ends. Tests that own a
// whole schema (fixed table names) use it to stay independent.
func PostgresDB(t testing.TB) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_POSTGRES_URL: %v", err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [8]byte
	rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating a test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// DBOpener opens handles on one test database; each handle is closed when
// the test that opened it ends.
type DBOpener func(t testing.TB) *sql.DB

// SQLiteDB is a SQLite file of its own in a temporary directory, opened
// with a busy timeout and in WAL mode. The file is switched to WAL once,
// here: connections that open a new file at the same moment and each ask
// for WAL can fail with SQLITE_BUSY, which the busy timeout does not cover.
func SQLiteDB(t testing.TB) DBOpener {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "test.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	if err := Open(t, "sqlite", dsn).Ping(); err != nil {
		t.Fatalf("creating the SQLite file: %v", err)
	}
	return func(t testing.TB) *sql.DB { return Open(t, "sqlite", dsn) }
}

// SharedPostgres is the shared test PostgreSQL database (it skips without
// one, see PostgresURL): tests isolate themselves with tables of their own
// (UniqueTable, DropTableAtEnd).
func SharedPostgres(t testing.TB) DBOpener {
	url := testenv.PostgresURL(t)
	return func(t testing.TB) *sql.DB { return Open(t, "pgx", url) }
}

// Open opens the database dsn with driver, for the test: at most 8
// connections (the PostgreSQL server is shared), closed when the test
// ends.
func Open(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	// The PostgreSQL server is shared; stay well below max_connections.
	db.SetMaxOpenConns(8)
	t.Cleanup(func() { db.Close() })
	return db
}

// UniqueTable returns a table name starting with prefix that no other test
// uses.
func UniqueTable(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// DropTableAtEnd drops table through db when the test ends (before db
// closes, if db was opened earlier in the test: cleanups run last
// registered first).
func DropTableAtEnd(t testing.TB, db *sql.DB, table string) {
	t.Cleanup(func() {
		if _, err := db.Exec(`DROP TABLE IF EXISTS "` + table + `"`); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
	})
}
