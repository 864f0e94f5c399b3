// Package sqlschema holds what the SQL stores of sessionless (users of
// the demo, revocation/sqlstore, token/refresh/sqlstore) share about
// their schemas on SQLite and PostgreSQL: table and index names,
// placeholders, and creating a schema safely when instances start
// together.
package sqlschema

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Dialect is a SQL database the stores run on; revocation/sqlstore and
// token/refresh/sqlstore export it as their own Dialect.
type Dialect int

// Dialects. The zero value is no dialect: the stores refuse it.
const (
	SQLite Dialect = iota + 1
	Postgres
)

// String returns the name of the database.
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "SQLite"
	case Postgres:
		return "PostgreSQL"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// MaxNameLen is PostgreSQL's limit on identifiers.
const MaxNameLen = 63

// CheckTable reports whether name is a table name the stores accept:
// [a-z_][a-z0-9_]*, at most MaxNameLen characters, so that it can be
// interpolated into SQL (quoted) without escaping.
func CheckTable(name string) error {
	ok := name != "" && len(name) <= MaxNameLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c == '_' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9'
	}
	if !ok {
		return fmt.Errorf("invalid table name %q: want [a-z_][a-z0-9_]*, at most %d characters", name, MaxNameLen)
	}
	return nil
}

// IndexName is the name of the index of table on column. PostgreSQL would
// truncate a name longer than MaxNameLen, possibly onto the name of
// another relation (CREATE INDEX IF NOT EXISTS would then do nothing), so
// a long table name is shortened and made unique with a hash.
func IndexName(table, column string) string {
	suffix := "_" + column + "_idx"
	if len(table)+len(suffix) <= MaxNameLen {
		return table + suffix
	}
	h := fnv.New32a()
	h.Write([]byte(table))
	tag := fmt.Sprintf("_%08x", h.Sum32())
	return table[:MaxNameLen-len(suffix)-len(tag)] + tag + suffix
}

// Numbered rewrites the ? placeholders of q as $1, $2, … for PostgreSQL.
// The queries must have no '?' elsewhere (in string literals).
func Numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Create runs the idempotent DDL statements stmts (CREATE … IF NOT
// EXISTS). On PostgreSQL it runs them in one transaction holding an
// advisory lock on lockKey: two instances starting together would
// otherwise race on CREATE … IF NOT EXISTS, which can fail there with a
// unique violation in the catalog. SQLite serializes them by itself.
func Create(ctx context.Context, db *sql.DB, d Dialect, lockKey string, stmts ...string) error {
	if d != Postgres {
		for _, q := range stmts {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	h := fnv.New64a()
	h.Write([]byte(lockKey))
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64())); err != nil {
		return err
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}
