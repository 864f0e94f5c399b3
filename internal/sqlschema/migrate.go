package sqlschema

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"
)

// VersionTable is the table in which [Migrate] records, for every schema
// it manages, the number of migrations applied. It lives beside the
// stores' tables (the connection's default schema on PostgreSQL).
const VersionTable = "sessionless_schema_versions"

// ErrNewerSchema is returned by [Migrate] when the database holds a
// schema version newer than the migrations this program knows: a newer
// release has migrated it. The program refuses to run on it rather than
// guess what the later migrations changed.
var ErrNewerSchema = errors.New("sqlschema: the database schema is newer than this program")

// Migrate brings the schema called name (a store and its table, e.g.
// "apitoken/sqlstore:api_tokens") to version len(migrations): it applies,
// in order, the migrations after the version recorded in [VersionTable]
// and records the new version, all in one transaction, so a failing
// migration leaves the database as it was. Each migration is a list of
// statements. Migrations are append-only: a released migration is never
// changed, a change of schema is a new migration at the end.
//
// Instances starting together do not race: on PostgreSQL the transaction
// first takes an advisory lock that every Migrate call shares (CREATE …
// IF NOT EXISTS alone can fail there with a unique violation in the
// catalog when two run at once); on SQLite it begins with BEGIN
// IMMEDIATE, which takes the database's write lock (under the
// connection's busy timeout) before the version is read. The second
// instance then finds the schema up to date and does nothing.
//
// The first migration of a store that existed before versioning uses
// CREATE … IF NOT EXISTS, so that a database created by an earlier
// release adopts version 1 without losing its rows.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, name string, migrations ...[]string) (err error) {
	if d != SQLite && d != Postgres {
		return fmt.Errorf("sqlschema: unknown dialect %v", d)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	begin, lock := "BEGIN IMMEDIATE", ""
	if d == Postgres {
		h := fnv.New64a()
		h.Write([]byte(VersionTable))
		begin, lock = "BEGIN", "SELECT pg_advisory_xact_lock("+strconv.FormatInt(int64(h.Sum64()), 10)+")"
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// A fresh context: the caller's may be what ended.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, rerr := conn.ExecContext(rctx, "ROLLBACK"); rerr != nil {
				conn.Raw(func(any) error { return driver.ErrBadConn }) // drop the connection, mid-transaction
			}
		}
	}()
	stmts := []string{lock, `CREATE TABLE IF NOT EXISTS "` + VersionTable + `" (
	name       TEXT   NOT NULL PRIMARY KEY,
	version    BIGINT NOT NULL,
	updated_ns BIGINT NOT NULL
)`}
	for _, q := range stmts {
		if q == "" {
			continue
		}
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	var version int64
	err = conn.QueryRowContext(ctx, d.Rebind(`SELECT version FROM "`+VersionTable+`" WHERE name = ?`), name).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		version = 0
	case err != nil:
		return err
	case version > int64(len(migrations)):
		return fmt.Errorf("%w: %s is at version %d, this program knows %d", ErrNewerSchema, name, version, len(migrations))
	}
	if version == int64(len(migrations)) {
		_, err = conn.ExecContext(ctx, "COMMIT")
		return err
	}
	for i := version; i < int64(len(migrations)); i++ {
		for _, s := range migrations[i] {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("migration %d of %s: %w", i+1, name, err)
			}
		}
	}
	if _, err := conn.ExecContext(ctx, d.Rebind(`INSERT INTO "`+VersionTable+`" (name, version, updated_ns) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET version = excluded.version, updated_ns = excluded.updated_ns`),
		name, int64(len(migrations)), time.Now().UnixNano()); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}
