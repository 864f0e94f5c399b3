package sqlschema

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Schema describes the table of one store: how [Open] names, migrates and
// checks it, and how the store's errors begin.
type Schema struct {
	// Package is the import path of the store under the module, such as
	// "apitoken/sqlstore". Every error of Open and of [Schema.Errorf]
	// starts with it, and [Migrate] records the table's version under
	// Package+":"+table.
	Package string
	// DefaultTable is the table of a store whose configuration names none.
	DefaultTable string
	// Columns are the comma-separated columns the store's queries read.
	// Open checks, after migrating, that the table has them.
	Columns string
	// Migrations returns the store's migrations (see [Migrate]) in dialect
	// d for the table, given quoted (as the statements name it) and bare
	// (as [IndexName] takes it). They are append-only: the statements of a
	// released migration never change, so a recorded version always means
	// the same schema.
	Migrations func(d Dialect, quoted, table string) [][]string
}

// Errorf formats an error of the store: fmt.Errorf of format and args,
// prefixed with the store's Package and a colon. It is the one rule for
// the beginning of the stores' errors.
func (s Schema) Errorf(format string, args ...any) error {
	return fmt.Errorf(s.Package+": "+format, args...)
}

// Table is the table of a store, migrated and checked by [Open].
type Table struct {
	// DB is the database the table lives in. The store's caller owns it.
	DB *sql.DB
	// Dialect is the database's SQL dialect.
	Dialect Dialect
	// Name is the table's name: the configured one, or the default.
	Name string
	// Quoted is Name in double quotes, for the store's queries: checked by
	// [CheckTable] it needs no escaping, and quoted it is never a keyword
	// (a table may be called "order").
	Quoted string
}

// Open opens the table of the store s in db: it refuses a nil db, a
// dialect other than [SQLite] and [Postgres] and a table name that
// [CheckTable] refuses, all before any SQL runs; an empty table name
// means s.DefaultTable. It then migrates the table to the version s knows
// (see [Migrate]: instances opening together take turns, a database of a
// newer release is refused with [ErrNewerSchema]), and checks that the
// table has s.Columns. Every error starts with s.Package. Opening a table
// again, from this process or another, is harmless and keeps its rows.
func Open(ctx context.Context, db *sql.DB, d Dialect, table string, s Schema) (*Table, error) {
	switch {
	case db == nil:
		return nil, s.Errorf("nil *sql.DB")
	case d != SQLite && d != Postgres:
		return nil, s.Errorf("unknown dialect %v: use SQLite or Postgres", d)
	}
	if table == "" {
		table = s.DefaultTable
	}
	if err := CheckTable(table); err != nil {
		return nil, s.Errorf("%w", err)
	}
	t := &Table{DB: db, Dialect: d, Name: table, Quoted: `"` + table + `"`}
	if err := Migrate(ctx, db, d, s.Package+":"+table, s.Migrations(d, t.Quoted, table)...); err != nil {
		return nil, s.Errorf("migrating the %v schema: %w", d, err)
	}
	// A table dropped or replaced by hand behind the version table's
	// back, or one of the same name and another shape that a first
	// migration of CREATE TABLE IF NOT EXISTS adopted, would fail every
	// later query: say so now.
	if _, err := db.ExecContext(ctx, `SELECT `+s.Columns+` FROM `+t.Quoted+` WHERE 1 = 0`); err != nil {
		return nil, s.Errorf("table %q lacks the expected columns: %w", table, err)
	}
	return t, nil
}

// Qualify qualifies each of the comma-separated columns with the table's
// name, for a query that reads another relation with columns of the same
// names (UPDATE … FROM).
func (t *Table) Qualify(columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = t.Quoted + "." + c
	}
	return strings.Join(cols, ", ")
}
