package sqlschema

import (
	"context"
	"database/sql"
)

// BeginTx starts a transaction of a store. On PostgreSQL it runs at READ
// COMMITTED whatever the server's default: the stores' transactions rely
// on an UPDATE re-checking its WHERE clause against the row a concurrent
// transaction committed, and on reading, after an advisory lock, what the
// lock's previous holder committed; under REPEATABLE READ the snapshot
// would predate the lock, and under SERIALIZABLE such writes would fail.
// SQLite serializes writers and has no levels to choose.
func BeginTx(ctx context.Context, db *sql.DB, d Dialect) (*sql.Tx, error) {
	var opts *sql.TxOptions
	if d == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return db.BeginTx(ctx, opts)
}

// AdvisoryLock takes, on PostgreSQL, a transaction-scoped advisory lock on
// key (pg_advisory_xact_lock of hashtextextended(key, 0)), which tx holds
// until it ends: the transactions of every instance that lock the same
// key take turns. The keys are part of the stores' protocol: instances of
// different releases running together exclude each other only while a key
// and this statement stay the same. On SQLite it does nothing: the
// database's write lock already serializes writers.
func AdvisoryLock(ctx context.Context, tx *sql.Tx, d Dialect, key string) error {
	if d != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key)
	return err
}

// RowsAffected returns how many rows the statement whose ExecContext
// returned res and err changed, or the first error.
func RowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
