// Package sqlstore is an [apitoken.Store] over database/sql, on SQLite or
// PostgreSQL, meant to live in the database that already holds an
// application's users. The caller opens the *sql.DB with the driver of
// its choice (modernc.org/sqlite's "sqlite", pgx's "pgx") and keeps
// owning it: this package imports no driver and never closes the
// database.
//
// # Schema
//
// [New] migrates the schema to the version this release knows, recorded
// under "apitoken/sqlstore:<table>" in the table
// sessionless_schema_versions, in one transaction that instances starting
// together take in turn; it refuses a database migrated by a newer
// release. Version 1 is one table (Config.Table, "api_tokens" by
// default), a unique index on the hash and an index on its subject (column owner):
//
//	id           TEXT PRIMARY KEY
//	hash         BLOB UNIQUE      -- SHA-256 or HMAC-SHA256 of the token; BYTEA on PostgreSQL
//	owner        TEXT             -- the subject the token acts for
//	name         TEXT
//	scopes       TEXT             -- space-separated
//	created_ns   BIGINT
//	expires_ns   BIGINT DEFAULT 0 -- 0: never
//	last_used_ns BIGINT DEFAULT 0 -- 0: never
//	revoked_ns   BIGINT DEFAULT 0 -- 0: not revoked
//
// Version 2 adds the subjects' cut-offs (apitoken.Store.SetCutoff), in
// the table Config.Table followed by "_cutoffs" ("api_tokens_cutoffs";
// past 63 characters, the name is shortened and made unique with a hash,
// as index names are):
//
//	owner     TEXT PRIMARY KEY -- the subject
//	before_ns BIGINT           -- the latest cut-off
//
// Every column is NOT NULL. Times are Unix nanoseconds, so they
// round-trip exactly (read back in UTC); a zero time.Time is 0, and other
// times must lie after the epoch and before 2262-04-12 (a write of any
// other is refused with apitoken.ErrInvalid). Strings must be UTF-8
// without NUL, what PostgreSQL's text holds, on SQLite as well. The
// plaintext of a token is never written: only its hash, which
// authentication looks up through the unique index.
//
// # Limits
//
// Create counts the subject's active tokens and inserts the new one in
// one statement. On SQLite the database's write lock serializes it; on
// PostgreSQL its transaction (at READ COMMITTED) first takes an advisory
// lock on "apitoken:" and the subject, so that two instances never both
// find the subject below the limit. Errors of this package start with
// "apitoken/sqlstore: ".
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
	"slices"
	"strings"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/internal/sqlschema"
)

// Dialect is the SQL database a [Store] runs on.
type Dialect = sqlschema.Dialect

// Dialects. The zero value is no dialect: [New] refuses it.
const (
	// SQLite, with a driver such as modernc.org/sqlite (3.35 or later,
	// for RETURNING).
	SQLite = sqlschema.SQLite
	// Postgres is PostgreSQL, with a driver such as pgx's stdlib ("pgx").
	Postgres = sqlschema.Postgres
)

// Config configures a [Store].
type Config struct {
	// Dialect is the database of the *sql.DB. Required.
	Dialect Dialect
	// Table is the name of the table: [a-z_][a-z0-9_]*, at most 63
	// characters. Empty means DefaultTable ("api_tokens").
	Table string
}

// DefaultTable is the table name of a [Config] that names none.
const DefaultTable = "api_tokens"

// Store is an [apitoken.Store] in a SQL database, safe for concurrent use
// by any number of Stores in any number of processes. It has no Close:
// the caller owns the *sql.DB.
type Store struct {
	t *sqlschema.Table

	qCreate, qGetByHash, qGet, qList, qActive, qRevoke, qRevokeSubject, qTouch, qPurge string
	qSetCutoff, qCutoff                                                                string
}

var _ apitoken.Store = (*Store)(nil)

const columns = `id, owner, name, scopes, created_ns, expires_ns, last_used_ns, revoked_ns`

// migrations are the released versions of the schema. They are
// append-only: a change of schema is a new migration at the end.
func migrations(d Dialect, t, table string) [][]string {
	hashType := "BLOB"
	if d == Postgres {
		hashType = "BYTEA"
	}
	return [][]string{{
		`CREATE TABLE ` + t + ` (
	id           TEXT   NOT NULL PRIMARY KEY,
	hash         ` + hashType + ` NOT NULL,
	owner        TEXT   NOT NULL,
	name         TEXT   NOT NULL,
	scopes       TEXT   NOT NULL,
	created_ns   BIGINT NOT NULL,
	expires_ns   BIGINT NOT NULL DEFAULT 0,
	last_used_ns BIGINT NOT NULL DEFAULT 0,
	revoked_ns   BIGINT NOT NULL DEFAULT 0
)`,
		`CREATE UNIQUE INDEX "` + sqlschema.IndexName(table, "hash") + `" ON ` + t + ` (hash)`,
		`CREATE INDEX "` + sqlschema.IndexName(table, "owner") + `" ON ` + t + ` (owner)`,
	}, {
		`CREATE TABLE ` + cutoffs(table) + ` (
	owner     TEXT   NOT NULL PRIMARY KEY,
	before_ns BIGINT NOT NULL
)`,
	}}
}

// cutoffs is the quoted name of the cut-offs' table of table.
func cutoffs(table string) string { return `"` + sqlschema.RelatedName(table, "_cutoffs") + `"` }

// schema is the table of the store, for [sqlschema.Open].
var schema = sqlschema.Schema{
	Package:      "apitoken/sqlstore",
	DefaultTable: DefaultTable,
	Columns:      "hash, " + columns,
	Migrations:   migrations,
}

// New returns a Store over db, migrating its schema first. Calling it
// again, from this process or another, is harmless and keeps the rows.
func New(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	tbl, err := sqlschema.Open(ctx, db, cfg.Dialect, cfg.Table, schema)
	if err != nil {
		return nil, err
	}
	return newStore(tbl), nil
}

// newStore returns the Store of tbl, its queries in the placeholders of
// its dialect.
func newStore(tbl *sqlschema.Table) *Store {
	t, r := tbl.Quoted, tbl.Dialect.Rebind
	s := &Store{
		t: tbl,
		// The limit and the insert are one statement: SQLite runs it
		// under the database's write lock; PostgreSQL takes an advisory
		// lock on the subject first (Create).
		qCreate: r(`INSERT INTO ` + t + ` (hash, ` + columns + `) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
WHERE (SELECT COUNT(*) FROM ` + t + ` WHERE owner = ? AND revoked_ns = 0 AND (expires_ns = 0 OR expires_ns > ?)) < ?
ON CONFLICT DO NOTHING`),
		qActive:    r(`SELECT COUNT(*) FROM ` + t + ` WHERE owner = ? AND revoked_ns = 0 AND (expires_ns = 0 OR expires_ns > ?)`),
		qGetByHash: r(`SELECT hash, ` + columns + ` FROM ` + t + ` WHERE hash = ?`),
		qGet:       r(`SELECT ` + columns + ` FROM ` + t + ` WHERE id = ?`),
		qList:      r(`SELECT ` + columns + ` FROM ` + t + ` WHERE owner = ? ORDER BY created_ns, id`),
		qRevoke: r(`UPDATE ` + t + ` SET revoked_ns = CASE WHEN revoked_ns = 0 THEN ? ELSE revoked_ns END
WHERE id = ? AND owner = ? RETURNING ` + columns),
		qRevokeSubject: r(`UPDATE ` + t + ` SET revoked_ns = ? WHERE owner = ? AND revoked_ns = 0 RETURNING ` + columns),
		qTouch:         r(`UPDATE ` + t + ` SET last_used_ns = ? WHERE id = ? AND last_used_ns < ?`),
		qPurge: r(`DELETE FROM ` + t + ` WHERE (expires_ns <> 0 AND expires_ns <= ?)
OR (revoked_ns <> 0 AND revoked_ns <= ?)`),
		qSetCutoff: r(`INSERT INTO ` + cutoffs(tbl.Name) + ` AS c (owner, before_ns) VALUES (?, ?)
ON CONFLICT (owner) DO UPDATE SET before_ns = excluded.before_ns WHERE c.before_ns < excluded.before_ns`),
		qCutoff: r(`SELECT before_ns FROM ` + cutoffs(tbl.Name) + ` WHERE owner = ?`),
	}
	if tbl.Dialect == Postgres {
		// The rows are locked in the order of their ids, as Touch locks
		// them, so that the two never deadlock. The arguments come in the
		// other order (RevokeSubject).
		s.qRevokeSubject = r(`WITH l AS MATERIALIZED (SELECT id FROM ` + t + ` WHERE owner = ? AND revoked_ns = 0 ORDER BY id FOR UPDATE)
UPDATE ` + t + ` SET revoked_ns = ? FROM l WHERE ` + t + `.id = l.id RETURNING ` + tbl.Qualify(columns))
	}
	return s
}

// invalid is the refusal of a time the columns cannot hold.
func invalid(err error) error { return fmt.Errorf("%w: %w", apitoken.ErrInvalid, err) }

// Create implements [apitoken.Store]: one INSERT … SELECT … WHERE the
// subject's active tokens are fewer than max. On PostgreSQL it runs in a
// transaction holding an advisory lock on the subject, since two
// transactions at READ COMMITTED would otherwise count the same rows.
func (s *Store) Create(ctx context.Context, r apitoken.Record, max int) error {
	if !sqlschema.Text(append([]string{r.ID, r.Subject, r.Name}, r.Scopes...)...) || r.ID == "" || len(r.Hash) == 0 {
		return fmt.Errorf("%w: an id, a hash, and strings of UTF-8 without NUL", apitoken.ErrInvalid)
	}
	ns, err := sqlschema.NanosAll(r.CreatedAt, r.ExpiresAt, r.LastUsedAt, r.RevokedAt)
	if err != nil {
		return invalid(err)
	}
	fail := func(err error) error { return schema.Errorf("inserting a token: %w", err) }
	tx, err := sqlschema.BeginTx(ctx, s.t.DB, s.t.Dialect)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	// The lock key is "apitoken:" and the subject, whatever the table,
	// as every release has taken it.
	if err := sqlschema.AdvisoryLock(ctx, tx, s.t.Dialect, "apitoken:"+r.Subject); err != nil {
		return fail(err)
	}
	n, err := sqlschema.RowsAffected(tx.ExecContext(ctx, s.qCreate, r.Hash, r.ID, r.Subject, r.Name,
		strings.Join(r.Scopes, " "), ns[0], ns[1], ns[2], ns[3], r.Subject, ns[0], max))
	if err != nil {
		return fail(err)
	}
	if n == 0 {
		// The id or hash exists, or the subject is at the limit.
		var active int
		if err := tx.QueryRowContext(ctx, s.qActive, r.Subject, ns[0]).Scan(&active); err != nil {
			return fail(err)
		}
		if active >= max {
			return apitoken.ErrTooMany
		}
		return apitoken.ErrExists
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

// scan reads the columns (after the hash, when hash is not nil).
func scan(row scanner, hash *[]byte) (apitoken.Token, error) {
	var t apitoken.Token
	var scopes string
	var ns [4]int64
	dest := []any{&t.ID, &t.Subject, &t.Name, &scopes, &ns[0], &ns[1], &ns[2], &ns[3]}
	if hash != nil {
		dest = append([]any{hash}, dest...)
	}
	if err := row.Scan(dest...); err != nil {
		return t, err
	}
	if scopes != "" {
		t.Scopes = strings.Split(scopes, " ")
	}
	t.CreatedAt, t.ExpiresAt = sqlschema.FromNanos(ns[0]), sqlschema.FromNanos(ns[1])
	t.LastUsedAt, t.RevokedAt = sqlschema.FromNanos(ns[2]), sqlschema.FromNanos(ns[3])
	return t, nil
}

// GetByHash implements [apitoken.Store]: one lookup through the unique index.
func (s *Store) GetByHash(ctx context.Context, hash []byte) (apitoken.Record, error) {
	var r apitoken.Record
	t, err := scan(s.t.DB.QueryRowContext(ctx, s.qGetByHash, hash), &r.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return r, apitoken.ErrNotFound
	}
	if err != nil {
		return r, schema.Errorf("looking a token up: %w", err)
	}
	r.Token = t
	return r, nil
}

// Get implements [apitoken.Store].
func (s *Store) Get(ctx context.Context, id string) (apitoken.Token, error) {
	if !sqlschema.Text(id) {
		return apitoken.Token{}, apitoken.ErrNotFound
	}
	t, err := scan(s.t.DB.QueryRowContext(ctx, s.qGet, id), nil)
	if errors.Is(err, sql.ErrNoRows) {
		return t, apitoken.ErrNotFound
	}
	if err != nil {
		return t, schema.Errorf("reading a token: %w", err)
	}
	return t, nil
}

// query runs a query returning tokens.
func (s *Store) query(ctx context.Context, what, q string, args ...any) ([]apitoken.Token, error) {
	ts, err := scanAll(s.t.DB.QueryContext(ctx, q, args...))
	if err != nil {
		return nil, schema.Errorf("%s: %w", what, err)
	}
	return ts, nil
}

// scanAll reads the tokens of rows, the result of a query or its error.
func scanAll(rows *sql.Rows, err error) ([]apitoken.Token, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []apitoken.Token
	for rows.Next() {
		t, err := scan(rows, nil)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// List implements [apitoken.Store].
func (s *Store) List(ctx context.Context, subject string) ([]apitoken.Token, error) {
	if !sqlschema.Text(subject) {
		return nil, nil
	}
	return s.query(ctx, "listing tokens", s.qList, subject)
}

// Revoke implements [apitoken.Store]: one UPDATE … RETURNING.
func (s *Store) Revoke(ctx context.Context, subject, id string, now time.Time) (apitoken.Token, error) {
	if !sqlschema.Text(subject, id) {
		return apitoken.Token{}, apitoken.ErrNotFound
	}
	n, err := sqlschema.Nanos(now)
	if err != nil {
		return apitoken.Token{}, invalid(err)
	}
	ts, err := s.query(ctx, "revoking a token", s.qRevoke, n, id, subject)
	if err != nil {
		return apitoken.Token{}, err
	}
	if len(ts) == 0 {
		return apitoken.Token{}, apitoken.ErrNotFound
	}
	return ts[0], nil
}

// RevokeSubject implements [apitoken.Store]: one UPDATE … RETURNING.
func (s *Store) RevokeSubject(ctx context.Context, subject string, now time.Time) ([]apitoken.Token, error) {
	if !sqlschema.Text(subject) {
		return nil, nil
	}
	n, err := sqlschema.Nanos(now)
	if err != nil {
		return nil, invalid(err)
	}
	args := []any{n, subject}
	if s.t.Dialect == Postgres {
		args = []any{subject, n}
	}
	// Under the subject's lock, as Create takes it: a creation in
	// progress commits first and its token is revoked here, or waits
	// and then finds its creator revoked (apitoken's check after the
	// insert). Without it, an UPDATE begun before a creation committed
	// would not see the new row, and the check after the insert could
	// read the creator before the UPDATE committed: a live token.
	fail := func(err error) ([]apitoken.Token, error) { return nil, schema.Errorf("revoking tokens: %w", err) }
	tx, err := sqlschema.BeginTx(ctx, s.t.DB, s.t.Dialect)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	if err := sqlschema.AdvisoryLock(ctx, tx, s.t.Dialect, "apitoken:"+subject); err != nil {
		return fail(err)
	}
	ts, err := scanAll(tx.QueryContext(ctx, s.qRevokeSubject, args...))
	if err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return ts, nil
}

// Touch implements [apitoken.Store]: one transaction of one UPDATE per
// token, in the order of the ids.
func (s *Store) Touch(ctx context.Context, uses []apitoken.Use) error {
	if len(uses) == 0 {
		return nil
	}
	uses = slices.Clone(uses)
	slices.SortFunc(uses, func(a, b apitoken.Use) int { return strings.Compare(a.ID, b.ID) })
	tx, err := sqlschema.BeginTx(ctx, s.t.DB, s.t.Dialect)
	if err != nil {
		return schema.Errorf("writing last uses: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.qTouch)
	if err != nil {
		return schema.Errorf("writing last uses: %w", err)
	}
	defer stmt.Close()
	for _, u := range uses {
		n, err := sqlschema.Nanos(u.At)
		if err != nil || n == 0 || !sqlschema.Text(u.ID) {
			continue // nothing a token could have been used at, or no such token
		}
		if _, err := stmt.ExecContext(ctx, n, u.ID, n); err != nil {
			return schema.Errorf("writing last uses: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return schema.Errorf("writing last uses: %w", err)
	}
	return nil
}

// Purge implements [apitoken.Store]. Its conditions skip the 0 of
// "never" themselves.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	b := sqlschema.Bound(before)
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qPurge, b, b))
	if err != nil {
		return 0, schema.Errorf("purging tokens: %w", err)
	}
	return n, nil
}

// SetCutoff implements [apitoken.Store]: one upsert that keeps the later
// cut-off. A subject that is not UTF-8 without NUL is apitoken.ErrInvalid.
func (s *Store) SetCutoff(ctx context.Context, subject string, before time.Time) error {
	if !sqlschema.Text(subject) {
		return fmt.Errorf("%w: a subject that is not UTF-8 without NUL", apitoken.ErrInvalid)
	}
	n, err := sqlschema.Nanos(before)
	if err != nil {
		return invalid(err)
	}
	if _, err := s.t.DB.ExecContext(ctx, s.qSetCutoff, subject, n); err != nil {
		return schema.Errorf("recording a cut-off: %w", err)
	}
	return nil
}

// Cutoff implements [apitoken.Store].
func (s *Store) Cutoff(ctx context.Context, subject string) (time.Time, error) {
	if !sqlschema.Text(subject) {
		return time.Time{}, nil
	}
	var n int64
	switch err := s.t.DB.QueryRowContext(ctx, s.qCutoff, subject).Scan(&n); {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, schema.Errorf("reading a cut-off: %w", err)
	}
	return sqlschema.FromNanos(n), nil
}
