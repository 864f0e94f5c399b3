package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/revocation/sqlstore"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Two instances of a service share the table in the application's
// database: what one revokes, the other's subscription delivers.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dsn := filepath.Join(dir, "app.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"

	// Each instance has its pool and its Store; the store adds its table
	// next to the application's own. The caller owns and closes the pools.
	var instances [2]*sqlstore.Store
	for i := range instances {
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			log.Fatal(err)
		}
		defer db.Close()
		if instances[i], err = sqlstore.New(ctx, db, sqlstore.Config{Dialect: sqlstore.SQLite}); err != nil {
			log.Fatal(err)
		}
	}

	// Usually a revocation.List on each instance does the following.
	sub, err := instances[1].Subscribe(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	now := time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC)
	err = instances[0].Create(ctx, revocation.Entry{
		Kind: revocation.KindSubject, Issuer: "https://issuer.example", Key: "usr_42",
		Before: now, Expires: now.Add(24 * time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}
	e, ok, err := sub.Next(ctx, time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ok, e.Kind, e.Key, e.Before.Format(time.RFC3339Nano))

	entries, err := instances[1].Snapshot(ctx, now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(entries), "entry in force")
	// Output:
	// true subject usr_42 2026-01-02T15:04:05.123456789Z
	// 1 entry in force
}
