// Package sqlstore is a [consent.Store] over database/sql, on SQLite or
// PostgreSQL, meant to live in the database that already holds an
// application's users. The caller opens the *sql.DB with the driver of
// its choice (for example modernc.org/sqlite's "sqlite" or pgx's "pgx")
// and keeps owning it: this package imports no driver and never closes
// the database.
//
// # Schema
//
// The schema is versioned: New applies the migrations this release has
// and the database lacks, recorded under "token/consent/sqlstore:<table>"
// in the table sessionless_schema_versions, in one transaction that
// instances starting together take in turn; it refuses a database
// migrated by a newer release.
//
// [New] creates, if missing, one table (named by Config.Table,
// "oauth_consents" by default) with one row per subject and client, and
// an index on its subject and granted_ns columns, which gives List a
// subject's consents in their order:
//
//	subject    TEXT    -- PRIMARY KEY (subject, client_id)
//	client_id  TEXT
//	scopes     TEXT    -- the scopes, sorted, separated by single spaces
//	granted_ns BIGINT  -- GrantedAt
//
// Every column is NOT NULL. Scope-tokens hold no space (RFC 6749 §3.3), so
// the scopes are stored as the scope parameter of OAuth spells them,
// sorted; no scopes is the empty string. Times are unix nanoseconds, so
// they round-trip exactly (read back in UTC); a Grant's time must lie
// after the epoch and before 2262-04-12, and any other is refused with
// consent.ErrInvalid. Strings are what [consent.Check] accepts: UTF-8
// without NUL, what PostgreSQL's text holds, on SQLite as well. List
// orders client IDs of equal GrantedAt in byte order on both dialects
// (COLLATE "C" on PostgreSQL, whatever the database's collation).
//
// The refusals of the store are the errors of package consent themselves
// (consent.ErrNotFound, ErrInvalid), as [consent.MemoryStore] returns
// them; database failures are wrapped. Errors of this package start with
// "token/consent/sqlstore: ".
//
// # Concurrent Grants
//
// A Grant reads the scopes consented already, merges the new ones in Go
// ([consent.Union]) and writes the union back: two Grants doing so at once
// would each write a union without the other's scopes. So each Grant runs
// in one transaction whose first statement locks the row:
//
//	INSERT INTO ... VALUES (subject, client_id, scopes, now)
//	ON CONFLICT (subject, client_id) DO UPDATE SET granted_ns = max(granted_ns, now)
//	RETURNING scopes
//
// It inserts the consent with the new scopes if there is none, or else
// updates the existing row's time and returns the scopes it holds; the
// transaction then writes the union back, if it differs, and commits. On
// SQLite that first write takes the database's write lock (waiting for it
// under the connection's busy timeout), so the whole transaction runs
// after any other Grant's commit. On PostgreSQL the insert of a row that a
// concurrent transaction is inserting or updating waits for that
// transaction to end, then updates the row version it committed and
// returns its scopes (ON CONFLICT DO UPDATE at READ COMMITTED): the row
// lock taken is held until the commit, and the second Grant merges into
// what the first wrote. Either way the Grants of one subject and client
// take turns, and Grants of different ones do not wait for each other on
// PostgreSQL. Get, List, Revoke and RevokeSubject are one statement each.
//
// Open a SQLite database with a busy timeout and in WAL mode, for
// example with the modernc.org/sqlite DSN parameters
// ?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/token/consent"
)

// Dialect is the SQL database a [Store] runs on.
type Dialect = sqlschema.Dialect

// Dialects. The zero value is no dialect: [New] refuses it.
const (
	// SQLite, with a driver such as modernc.org/sqlite (3.35 or later,
	// for RETURNING). Open the file with a busy timeout and in WAL mode.
	SQLite = sqlschema.SQLite
	// Postgres is PostgreSQL, with a driver such as pgx's stdlib ("pgx").
	Postgres = sqlschema.Postgres
)

// DefaultTable is the table name of a [Config] that names none.
const DefaultTable = "oauth_consents"

// Config configures a [Store].
type Config struct {
	// Dialect is the database of the *sql.DB. Required.
	Dialect Dialect
	// Table is the name of the table, created if missing. It must match
	// [a-z_][a-z0-9_]* and have at most 63 characters. Empty means
	// DefaultTable ("oauth_consents"). The table lives in the default
	// schema of the connection (PostgreSQL's search_path).
	Table string
}

// Store is a [consent.Store] in a SQL database. It is safe for concurrent
// use, and any number of Stores, in any number of processes, may share
// one table. It has no Close: the caller owns the *sql.DB.
type Store struct {
	t *sqlschema.Table

	qGrant, qSetScopes, qGet, qList, qRevoke, qRevokeSubject string
}

var _ consent.Store = (*Store)(nil)

// columns are the columns of the table, in the order of the queries'
// arguments and results.
const columns = `subject, client_id, scopes, granted_ns`

// schema is the table of the store, for [sqlschema.Open].
var schema = sqlschema.Schema{
	Package:      "token/consent/sqlstore",
	DefaultTable: DefaultTable,
	Columns:      columns,
	Migrations:   migrations,
}

// migrations are the released versions of the schema. They are
// append-only: a change of schema is a new migration at the end.
func migrations(_ Dialect, t, table string) [][]string {
	v1 := []string{
		`CREATE TABLE ` + t + ` (
	subject    TEXT   NOT NULL,
	client_id  TEXT   NOT NULL,
	scopes     TEXT   NOT NULL,
	granted_ns BIGINT NOT NULL,
	PRIMARY KEY (subject, client_id)
)`,
		`CREATE INDEX "` + sqlschema.IndexName(table, "subject_granted_ns") + `" ON ` + t + ` (subject, granted_ns)`,
	}
	return [][]string{v1}
}

// New returns a Store over db, migrating its schema to the version this
// release knows (creating its table and index if missing). Calling it
// again on the same database, from this process or another, is harmless
// and keeps the rows.
func New(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	tbl, err := sqlschema.Open(ctx, db, cfg.Dialect, cfg.Table, schema)
	if err != nil {
		return nil, err
	}
	t, r := tbl.Quoted, tbl.Dialect.Rebind
	// Client IDs of equal times in byte order, as Go's strings compare,
	// whatever the collation of a PostgreSQL database; SQLite's default
	// collation, BINARY, is that order already.
	byteOrder := ""
	if tbl.Dialect == Postgres {
		byteOrder = ` COLLATE "C"`
	}
	return &Store{
		t: tbl,
		qGrant: r(`INSERT INTO ` + t + ` AS c (` + columns + `) VALUES (?, ?, ?, ?)
ON CONFLICT (subject, client_id) DO UPDATE
SET granted_ns = CASE WHEN c.granted_ns < excluded.granted_ns THEN excluded.granted_ns ELSE c.granted_ns END
RETURNING scopes`),
		qSetScopes: r(`UPDATE ` + t + ` SET scopes = ? WHERE subject = ? AND client_id = ?`),
		qGet:       r(`SELECT ` + columns + ` FROM ` + t + ` WHERE subject = ? AND client_id = ?`),
		qList: r(`SELECT ` + columns + ` FROM ` + t + ` WHERE subject = ?
ORDER BY granted_ns DESC, client_id` + byteOrder + ` LIMIT ?`),
		qRevoke:        r(`DELETE FROM ` + t + ` WHERE subject = ? AND client_id = ?`),
		qRevokeSubject: r(`DELETE FROM ` + t + ` WHERE subject = ?`),
	}, nil
}

// join returns the stored form of scopes, sorted already.
func join(scopes []string) string { return strings.Join(scopes, " ") }

// split is the inverse of join: nil for no scopes.
func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// Grant implements [consent.Store]. See the package documentation for why
// concurrent Grants lose no scopes.
func (s *Store) Grant(ctx context.Context, subject, clientID string, scopes []string, now time.Time) error {
	if err := consent.Check(subject, clientID, scopes); err != nil {
		return err
	}
	if now.IsZero() {
		return fmt.Errorf("%w: a zero time", consent.ErrInvalid)
	}
	at, err := sqlschema.Nanos(now)
	if err != nil {
		return schema.Errorf("%w: %w", consent.ErrInvalid, err)
	}
	add, err := consent.Union(nil, scopes)
	if err != nil {
		return err
	}
	fail := func(err error) error { return schema.Errorf("granting a consent: %w", err) }
	tx, err := sqlschema.BeginTx(ctx, s.t.DB, s.t.Dialect)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	var stored string
	if err := tx.QueryRowContext(ctx, s.qGrant, subject, clientID, join(add), at).Scan(&stored); err != nil {
		return fail(err)
	}
	union, err := consent.Union(split(stored), add)
	if err != nil {
		return err // rolled back: the time is not updated either
	}
	if u := join(union); u != stored {
		if _, err := tx.ExecContext(ctx, s.qSetScopes, u, subject, clientID); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}

// scan reads a row of columns.
func scan(row interface{ Scan(...any) error }) (consent.Consent, error) {
	var (
		c       consent.Consent
		scopes  string
		granted int64
	)
	if err := row.Scan(&c.Subject, &c.ClientID, &scopes, &granted); err != nil {
		return consent.Consent{}, err
	}
	c.Scopes, c.GrantedAt = split(scopes), sqlschema.FromNanos(granted)
	return c, nil
}

// Get implements [consent.Store].
func (s *Store) Get(ctx context.Context, subject, clientID string) (consent.Consent, error) {
	if err := consent.Check(subject, clientID, nil); err != nil {
		return consent.Consent{}, err
	}
	c, err := scan(s.t.DB.QueryRowContext(ctx, s.qGet, subject, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return consent.Consent{}, consent.ErrNotFound
	}
	if err != nil {
		return consent.Consent{}, schema.Errorf("reading a consent: %w", err)
	}
	return c, nil
}

// List implements [consent.Store].
func (s *Store) List(ctx context.Context, subject string, limit int) ([]consent.Consent, error) {
	if err := consent.CheckSubject(subject); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = consent.DefaultListLimit
	}
	fail := func(err error) error { return schema.Errorf("listing consents: %w", err) }
	rows, err := s.t.DB.QueryContext(ctx, s.qList, subject, limit)
	if err != nil {
		return nil, fail(err)
	}
	defer rows.Close()
	var list []consent.Consent
	for rows.Next() {
		c, err := scan(rows)
		if err != nil {
			return nil, fail(err)
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(err)
	}
	return list, nil
}

// Revoke implements [consent.Store].
func (s *Store) Revoke(ctx context.Context, subject, clientID string) (bool, error) {
	if err := consent.Check(subject, clientID, nil); err != nil {
		return false, err
	}
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qRevoke, subject, clientID))
	if err != nil {
		return false, schema.Errorf("revoking a consent: %w", err)
	}
	return n > 0, nil
}

// RevokeSubject implements [consent.Store].
func (s *Store) RevokeSubject(ctx context.Context, subject string) (int, error) {
	if err := consent.CheckSubject(subject); err != nil {
		return 0, err
	}
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qRevokeSubject, subject))
	if err != nil {
		return 0, schema.Errorf("revoking a subject's consents: %w", err)
	}
	return int(n), nil
}
