package sqlschema_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
	"github.com/sessionless/sessionless/internal/testenv/testdb"
)

// result is the sql.Result of a statement that changed n rows.
type result int64

func (result) LastInsertId() (int64, error)   { return 0, errors.New("no id") }
func (n result) RowsAffected() (int64, error) { return int64(n), nil }

func TestRowsAffected(t *testing.T) {
	if n, err := sqlschema.RowsAffected(result(3), nil); n != 3 || err != nil {
		t.Errorf("RowsAffected(3 rows) = %d, %v", n, err)
	}
	failed := errors.New("the statement failed")
	if n, err := sqlschema.RowsAffected(nil, failed); n != 0 || !errors.Is(err, failed) {
		t.Errorf("RowsAffected(nil, error) = %d, %v; want the error", n, err)
	}
}

// TestBeginTx: on PostgreSQL a transaction runs at READ COMMITTED even
// where the default is SERIALIZABLE.
func TestBeginTx(t *testing.T) {
	schematest.Run(t, func(t *testing.T, b schematest.Backend) {
		ctx := context.Background()
		db := b.Open(t)(t)
		db.SetMaxOpenConns(1) // one connection: the session below
		if b.Dialect == sqlschema.Postgres {
			b.Exec(t, db, `SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE`)
		}
		tx, err := sqlschema.BeginTx(ctx, db, b.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if b.Dialect == sqlschema.Postgres {
			var level string
			if err := tx.QueryRowContext(ctx, `SHOW transaction_isolation`).Scan(&level); err != nil || level != "read committed" {
				t.Errorf("transaction_isolation %q, %v; want read committed", level, err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAdvisoryLock: the lock is the one schematest.Locks holds, and a
// no-op on SQLite.
func TestAdvisoryLock(t *testing.T) {
	schematest.Run(t, func(t *testing.T, b schematest.Backend) {
		ctx := context.Background()
		open := b.Open(t)
		db := open(t)
		key := testdb.UniqueTable("lock") // a key of this test's own
		schematest.Locks(t, b, open(t), key, func() error {
			tx, err := sqlschema.BeginTx(ctx, db, b.Dialect)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			return sqlschema.AdvisoryLock(ctx, tx, b.Dialect, key)
		})
	})
}
