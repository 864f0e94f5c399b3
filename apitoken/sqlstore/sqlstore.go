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
// Every column is NOT NULL; times are unix nanoseconds. The plaintext of
// a token is never written: only its hash, which authentication looks up
// through the unique index.
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
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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

// DefaultTable is the table name of a [Config] that names none.
const DefaultTable = "api_tokens"

// Config configures a [Store].
type Config struct {
	// Dialect is the database of the *sql.DB. Required.
	Dialect Dialect
	// Table is the name of the table: [a-z_][a-z0-9_]*, at most 63
	// characters. Empty means DefaultTable ("api_tokens").
	Table string
}

// Store is an [apitoken.Store] in a SQL database, safe for concurrent use
// by any number of Stores in any number of processes. It has no Close:
// the caller owns the *sql.DB.
type Store struct {
	db *sql.DB
	d  Dialect

	qCreate, qGetByHash, qGet, qList, qActive, qRevoke, qRevokeSubject, qRevokeSubjectPG, qTouch, qPurge string
}

var _ apitoken.Store = (*Store)(nil)

const columns = `id, owner, name, scopes, created_ns, expires_ns, last_used_ns, revoked_ns`

// New returns a Store over db, migrating its schema first. Calling it
// again, from this process or another, is harmless and keeps the rows.
func New(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("apitoken/sqlstore: nil *sql.DB")
	}
	if cfg.Dialect != SQLite && cfg.Dialect != Postgres {
		return nil, fmt.Errorf("apitoken/sqlstore: unknown dialect %v: use SQLite or Postgres", cfg.Dialect)
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if err := sqlschema.CheckTable(cfg.Table); err != nil {
		return nil, fmt.Errorf("apitoken/sqlstore: %w", err)
	}
	t := `"` + cfg.Table + `"`
	s := &Store{
		db: db,
		d:  cfg.Dialect,
		// The limit and the insert are one statement: SQLite runs it
		// under the database's write lock; PostgreSQL takes an advisory
		// lock on the subject first (Insert).
		qCreate: `INSERT INTO ` + t + ` (hash, ` + columns + `) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
WHERE (SELECT COUNT(*) FROM ` + t + ` WHERE owner = ? AND revoked_ns = 0 AND (expires_ns = 0 OR expires_ns > ?)) < ?
ON CONFLICT DO NOTHING`,
		qActive:    `SELECT COUNT(*) FROM ` + t + ` WHERE owner = ? AND revoked_ns = 0 AND (expires_ns = 0 OR expires_ns > ?)`,
		qGetByHash: `SELECT hash, ` + columns + ` FROM ` + t + ` WHERE hash = ?`,
		qGet:       `SELECT ` + columns + ` FROM ` + t + ` WHERE id = ?`,
		qList:      `SELECT ` + columns + ` FROM ` + t + ` WHERE owner = ? ORDER BY created_ns, id`,
		qRevoke: `UPDATE ` + t + ` SET revoked_ns = CASE WHEN revoked_ns = 0 THEN ? ELSE revoked_ns END
WHERE id = ? AND owner = ? RETURNING ` + columns,
		qRevokeSubject: `UPDATE ` + t + ` SET revoked_ns = ? WHERE owner = ? AND revoked_ns = 0 RETURNING ` + columns,
		// PostgreSQL: the rows are locked in the order of their ids, as
		// Touch locks them, so that the two never deadlock.
		qRevokeSubjectPG: `WITH l AS MATERIALIZED (SELECT id FROM ` + t + ` WHERE owner = ? AND revoked_ns = 0 ORDER BY id FOR UPDATE)
UPDATE ` + t + ` SET revoked_ns = ? FROM l WHERE ` + t + `.id = l.id RETURNING ` + prefixed(t, columns),
		qTouch: `UPDATE ` + t + ` SET last_used_ns = ? WHERE id = ? AND last_used_ns < ?`,
		qPurge: `DELETE FROM ` + t + ` WHERE (expires_ns <> 0 AND expires_ns <= ?)
OR (revoked_ns <> 0 AND revoked_ns <= ?)`,
	}
	if s.d == Postgres {
		s.qRevokeSubject = s.qRevokeSubjectPG
		for _, q := range []*string{&s.qCreate, &s.qGetByHash, &s.qGet, &s.qList, &s.qActive, &s.qRevoke, &s.qRevokeSubject, &s.qTouch, &s.qPurge} {
			*q = sqlschema.Numbered(*q)
		}
	}
	hashType := "BLOB"
	if s.d == Postgres {
		hashType = "BYTEA"
	}
	err := sqlschema.Migrate(ctx, db, s.d, "apitoken/sqlstore:"+cfg.Table, []string{
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
		`CREATE UNIQUE INDEX "` + sqlschema.IndexName(cfg.Table, "hash") + `" ON ` + t + ` (hash)`,
		`CREATE INDEX "` + sqlschema.IndexName(cfg.Table, "owner") + `" ON ` + t + ` (owner)`,
	})
	if err != nil {
		return nil, fmt.Errorf("apitoken/sqlstore: migrating the %v schema: %w", s.d, err)
	}
	// A table dropped or replaced by hand behind the version table's back
	// would fail every later query: say so now.
	if _, err := db.ExecContext(ctx, `SELECT hash, `+columns+` FROM `+t+` WHERE 1 = 0`); err != nil {
		return nil, fmt.Errorf("apitoken/sqlstore: table %q lacks the expected columns: %w", cfg.Table, err)
	}
	return s, nil
}

// prefixed qualifies each of the comma-separated columns with table t.
func prefixed(t, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = t + "." + c
	}
	return strings.Join(cols, ", ")
}

// The range of the non-zero times the store writes.
var (
	epoch   = time.Unix(0, 0)
	maxTime = time.Unix(0, math.MaxInt64)
)

func nanos(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	if !t.After(epoch) || t.After(maxTime) {
		return 0, fmt.Errorf("%w: time %v out of range: want one after 1970 and before 2262-04-11", apitoken.ErrInvalid, t)
	}
	return t.UnixNano(), nil
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// text reports whether s can be stored in a TEXT column of both
// databases: valid UTF-8 without NUL (PostgreSQL refuses both). No row
// holds any other string, so a lookup by one finds nothing.
func text(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// Create implements [apitoken.Store]: one INSERT … SELECT … WHERE the
// subject's active tokens are fewer than max. On PostgreSQL it runs in a
// transaction holding an advisory lock on the subject, since two
// transactions at READ COMMITTED would otherwise count the same rows.
func (s *Store) Create(ctx context.Context, r apitoken.Record, max int) error {
	if !text(append([]string{r.ID, r.Subject, r.Name}, r.Scopes...)...) || r.ID == "" || len(r.Hash) == 0 {
		return fmt.Errorf("%w: an id, a hash, and strings of UTF-8 without NUL", apitoken.ErrInvalid)
	}
	var ns [4]int64
	for i, t := range []time.Time{r.CreatedAt, r.ExpiresAt, r.LastUsedAt, r.RevokedAt} {
		var err error
		if ns[i], err = nanos(t); err != nil {
			return err
		}
	}
	fail := func(err error) error { return fmt.Errorf("apitoken/sqlstore: inserting a token: %w", err) }
	// READ COMMITTED whatever the server's default: under REPEATABLE
	// READ the snapshot would predate the lock (and the count miss what
	// the previous holder inserted), under SERIALIZABLE inserts would fail.
	var opts *sql.TxOptions
	if s.d == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	if s.d == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "apitoken:"+r.Subject); err != nil {
			return fail(err)
		}
	}
	res, err := tx.ExecContext(ctx, s.qCreate, r.Hash, r.ID, r.Subject, r.Name, strings.Join(r.Scopes, " "),
		ns[0], ns[1], ns[2], ns[3], r.Subject, ns[0], max)
	if err != nil {
		return fail(err)
	}
	n, err := res.RowsAffected()
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
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromNanos(ns[0]), fromNanos(ns[1]), fromNanos(ns[2]), fromNanos(ns[3])
	return t, nil
}

// GetByHash implements [apitoken.Store]: one lookup through the unique index.
func (s *Store) GetByHash(ctx context.Context, hash []byte) (apitoken.Record, error) {
	var r apitoken.Record
	t, err := scan(s.db.QueryRowContext(ctx, s.qGetByHash, hash), &r.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return r, apitoken.ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("apitoken/sqlstore: looking a token up: %w", err)
	}
	r.Token = t
	return r, nil
}

// Get implements [apitoken.Store].
func (s *Store) Get(ctx context.Context, id string) (apitoken.Token, error) {
	if !text(id) {
		return apitoken.Token{}, apitoken.ErrNotFound
	}
	t, err := scan(s.db.QueryRowContext(ctx, s.qGet, id), nil)
	if errors.Is(err, sql.ErrNoRows) {
		return t, apitoken.ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("apitoken/sqlstore: reading a token: %w", err)
	}
	return t, nil
}

// query runs a query returning tokens.
func (s *Store) query(ctx context.Context, what, q string, args ...any) ([]apitoken.Token, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("apitoken/sqlstore: %s: %w", what, err)
	}
	defer rows.Close()
	var ts []apitoken.Token
	for rows.Next() {
		t, err := scan(rows, nil)
		if err != nil {
			return nil, fmt.Errorf("apitoken/sqlstore: %s: %w", what, err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("apitoken/sqlstore: %s: %w", what, err)
	}
	return ts, nil
}

// List implements [apitoken.Store].
func (s *Store) List(ctx context.Context, subject string) ([]apitoken.Token, error) {
	if !text(subject) {
		return nil, nil
	}
	return s.query(ctx, "listing tokens", s.qList, subject)
}

// Revoke implements [apitoken.Store]: one UPDATE … RETURNING.
func (s *Store) Revoke(ctx context.Context, subject, id string, now time.Time) (apitoken.Token, error) {
	if !text(subject, id) {
		return apitoken.Token{}, apitoken.ErrNotFound
	}
	n, err := nanos(now)
	if err != nil {
		return apitoken.Token{}, err
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
	if !text(subject) {
		return nil, nil
	}
	n, err := nanos(now)
	if err != nil {
		return nil, err
	}
	if s.d == Postgres {
		return s.query(ctx, "revoking tokens", s.qRevokeSubject, subject, n)
	}
	return s.query(ctx, "revoking tokens", s.qRevokeSubject, n, subject)
}

// Touch implements [apitoken.Store]: one transaction of one UPDATE per
// token, in the order of the ids.
func (s *Store) Touch(ctx context.Context, uses []apitoken.Use) error {
	if len(uses) == 0 {
		return nil
	}
	uses = slices.Clone(uses)
	slices.SortFunc(uses, func(a, b apitoken.Use) int { return strings.Compare(a.ID, b.ID) })
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apitoken/sqlstore: writing last uses: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.qTouch)
	if err != nil {
		return fmt.Errorf("apitoken/sqlstore: writing last uses: %w", err)
	}
	defer stmt.Close()
	for _, u := range uses {
		n, err := nanos(u.At)
		if err != nil || n == 0 || !text(u.ID) {
			continue // nothing a token could have been used at, or no such token
		}
		if _, err := stmt.ExecContext(ctx, n, u.ID, n); err != nil {
			return fmt.Errorf("apitoken/sqlstore: writing last uses: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apitoken/sqlstore: writing last uses: %w", err)
	}
	return nil
}

// Purge implements [apitoken.Store].
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	b := bound(before)
	res, err := s.db.ExecContext(ctx, s.qPurge, b, b)
	if err != nil {
		return 0, fmt.Errorf("apitoken/sqlstore: purging tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("apitoken/sqlstore: purging tokens: %w", err)
	}
	return n, nil
}

// bound returns the largest stored value at or before t, for Purge
// (whose conditions already skip the 0 of "never").
func bound(t time.Time) int64 {
	switch {
	case !t.After(epoch):
		return 0
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}
