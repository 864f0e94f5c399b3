package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/sessionless/sessionless/token/refresh"
	"github.com/sessionless/sessionless/token/refresh/sqlstore"
)

func Example() {
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The application's database: the store adds its table next to the
	// application's own. The caller owns and closes db.
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	store, err := sqlstore.New(ctx, db, sqlstore.Config{Dialect: sqlstore.SQLite})
	if err != nil {
		log.Fatal(err)
	}

	// Usually a refresh.Manager does the following.
	now := time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC)
	first := refresh.Record{
		Hash:          refresh.HashToken("rt_first"),
		Family:        "fam_1",
		Grant:         refresh.Grant{Subject: "usr_42", ClientID: "app", Scope: "profile"},
		FamilyCreated: now,
		IssuedAt:      now,
	}
	if err := store.Create(ctx, first); err != nil {
		log.Fatal(err)
	}
	later := now.Add(time.Hour)
	second := first
	second.Hash, second.IssuedAt = refresh.HashToken("rt_second"), later
	if err := store.Rotate(ctx, first.Hash, later, second); err != nil {
		log.Fatal(err)
	}
	err = store.Rotate(ctx, first.Hash, later, second)
	fmt.Println("reuse detected:", errors.Is(err, refresh.ErrSpent))

	rec, err := store.Get(ctx, first.Hash)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("spent at", rec.SpentAt.Format(time.RFC3339Nano))
	// Output:
	// reuse detected: true
	// spent at 2026-01-02T16:04:05.123456789Z
}
