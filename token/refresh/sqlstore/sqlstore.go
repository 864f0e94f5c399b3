// Package sqlstore is a [refresh.Store] over database/sql, on SQLite or
// PostgreSQL, meant to live in the database that already holds an
// application's users. The caller opens the *sql.DB with the driver of
// its choice (for example modernc.org/sqlite's "sqlite" or pgx's "pgx")
// and keeps owning it: this package imports no driver and never closes
// the database.
//
// # Schema
//
// The schema is versioned: New applies the migrations this release has
// and the database lacks, recorded under "token/refresh/sqlstore:<table>" in the table
// sessionless_schema_versions, in one transaction that instances starting
// together take in turn; it refuses a database migrated by a newer
// release.
//
// [New] creates, if missing, one table (named by Config.Table,
// "refresh_tokens" by default) with one row per refresh token, and
// indexes on its family and subject columns:
//
//	hash              BLOB PRIMARY KEY  -- SHA-256 of the token; BYTEA on PostgreSQL
//	family            TEXT
//	subject           TEXT
//	client_id         TEXT
//	scope             TEXT
//	family_created_ns BIGINT
//	issued_ns         BIGINT
//	spent_ns          BIGINT DEFAULT 0  -- 0: not spent
//	revoked_ns        BIGINT DEFAULT 0  -- 0: not revoked
//	access_issuer     TEXT
//	access_id         TEXT
//	access_expires_ns BIGINT
//	dpop_jkt          TEXT DEFAULT ''  -- version 2: the DPoP key of a bound family
//	resource          TEXT DEFAULT ''  -- version 3: the RFC 8707 resource of the family
//
// Every column is NOT NULL. Times are unix nanoseconds, so they
// round-trip exactly; a zero time.Time is 0. Other times must lie after
// the epoch (whose 0 stands for the zero time) and before 2262-04-12 (the
// end of int64 nanoseconds): the store refuses to write any other, which
// also keeps the order of the columns the order of the times.
//
// The refusals of the store are the errors of package refresh themselves
// (refresh.ErrNotFound, ErrSpent, ErrRevoked, ErrExists), as
// [refresh.MemoryStore] returns them; database failures are wrapped.
//
// # Atomic rotation
//
// Rotate runs in one transaction whose first statement is
//
//	UPDATE ... SET spent_ns = now WHERE hash = old AND spent_ns = 0 AND revoked_ns = 0
//
// and which inserts the successor only when that UPDATE changed a row.
// Of two concurrent rotations of one token only one UPDATE can change
// the row: on SQLite the UPDATE takes the database's write lock (waiting
// for it under the connection's busy timeout) and the second one runs
// after the first has committed; on PostgreSQL the second UPDATE waits
// for the row lock of the first and, once it commits, re-checks its WHERE
// clause against the new row version (transactions run at READ
// COMMITTED), which no longer matches. The loser then reads the row to
// tell ErrNotFound, ErrRevoked and ErrSpent apart, and rolls back.
// RevokeFamily is one UPDATE ... RETURNING, so two concurrent calls never
// both return the same access tokens.
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
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/token/refresh"
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
const DefaultTable = "refresh_tokens"

// Config configures a [Store].
type Config struct {
	// Dialect is the database of the *sql.DB. Required.
	Dialect Dialect
	// Table is the name of the table, created if missing. It must match
	// [a-z_][a-z0-9_]* and have at most 63 characters. Empty means
	// DefaultTable ("refresh_tokens"). The table lives in the default
	// schema of the connection (PostgreSQL's search_path).
	Table string
}

// Store is a [refresh.Store] in a SQL database. It is safe for concurrent
// use, and any number of Stores, in any number of processes, may share
// one table. It has no Close: the caller owns the *sql.DB.
type Store struct {
	db    *sql.DB
	d     Dialect
	table string

	qInsert, qGet, qSpend, qState, qRevokeFamily, qFamilyAccess, qLock, qRevokeSubject, qPurge string
}

var _ refresh.Store = (*Store)(nil)

// columns are the columns of the table, in the order of the queries'
// arguments and results.
const columns = `hash, family, subject, client_id, scope, family_created_ns, issued_ns, spent_ns, revoked_ns, ` +
	`access_issuer, access_id, access_expires_ns, dpop_jkt, resource`

// New returns a Store over db, migrating its schema to the version this
// release knows (creating its table and indexes if missing).
// Calling it again on the same database, from this process or
// another, is harmless and keeps the rows.
func New(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("refresh/sqlstore: nil *sql.DB")
	}
	if cfg.Dialect != SQLite && cfg.Dialect != Postgres {
		return nil, fmt.Errorf("refresh/sqlstore: unknown dialect %v: use SQLite or Postgres", cfg.Dialect)
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if err := sqlschema.CheckTable(cfg.Table); err != nil {
		return nil, fmt.Errorf("refresh/sqlstore: %w", err)
	}

	// The table name is interpolated only after CheckTable; it is quoted
	// all the same, so that a name such as "order" is not a keyword.
	t := `"` + cfg.Table + `"`
	s := &Store{
		db:    db,
		d:     cfg.Dialect,
		table: cfg.Table,
		qInsert: `INSERT INTO ` + t + ` (` + columns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (hash) DO NOTHING`,
		qGet:           `SELECT ` + columns + ` FROM ` + t + ` WHERE hash = ?`,
		qSpend:         `UPDATE ` + t + ` SET spent_ns = ? WHERE hash = ? AND spent_ns = 0 AND revoked_ns = 0`,
		qState:         `SELECT spent_ns, revoked_ns FROM ` + t + ` WHERE hash = ?`,
		qRevokeFamily:  `UPDATE ` + t + ` SET revoked_ns = ? WHERE family = ? AND revoked_ns = 0`,
		qFamilyAccess:  `SELECT access_issuer, access_id, access_expires_ns FROM ` + t + ` WHERE family = ?`,
		qLock:          `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`,
		qRevokeSubject: `UPDATE ` + t + ` SET revoked_ns = ? WHERE subject = ? AND revoked_ns = 0`,
		qPurge: `DELETE FROM ` + t + ` WHERE family_created_ns <= ?
OR family IN (SELECT family FROM ` + t + ` GROUP BY family HAVING MAX(issued_ns) <= ?)`,
	}
	if s.d == Postgres {
		for _, q := range []*string{&s.qInsert, &s.qGet, &s.qSpend, &s.qState, &s.qRevokeFamily, &s.qFamilyAccess, &s.qLock, &s.qRevokeSubject, &s.qPurge} {
			*q = sqlschema.Numbered(*q)
		}
	}
	if err := s.createSchema(ctx, cfg.Table); err != nil {
		return nil, err
	}
	// An existing table of the same name but another shape would fail
	// every later query: say so now.
	if _, err := s.db.ExecContext(ctx, `SELECT `+columns+` FROM `+t+` WHERE 1 = 0`); err != nil {
		return nil, fmt.Errorf("refresh/sqlstore: table %q lacks the expected columns: %w", cfg.Table, err)
	}
	return s, nil
}

// createSchema creates the table and its indexes if missing.
func (s *Store) createSchema(ctx context.Context, table string) error {
	hashType := "BLOB"
	if s.d == Postgres {
		hashType = "BYTEA"
	}
	t := `"` + table + `"`
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + t + ` (
	hash              ` + hashType + ` NOT NULL PRIMARY KEY,
	family            TEXT   NOT NULL,
	subject           TEXT   NOT NULL,
	client_id         TEXT   NOT NULL,
	scope             TEXT   NOT NULL,
	family_created_ns BIGINT NOT NULL,
	issued_ns         BIGINT NOT NULL,
	spent_ns          BIGINT NOT NULL DEFAULT 0,
	revoked_ns        BIGINT NOT NULL DEFAULT 0,
	access_issuer     TEXT   NOT NULL,
	access_id         TEXT   NOT NULL,
	access_expires_ns BIGINT NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS "` + sqlschema.IndexName(table, "family") + `" ON ` + t + ` (family)`,
		`CREATE INDEX IF NOT EXISTS "` + sqlschema.IndexName(table, "subject") + `" ON ` + t + ` (subject)`,
	}
	// Version 2: the DPoP key a family is bound to (RFC 9449 §5).
	v2 := []string{`ALTER TABLE ` + t + ` ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT ''`}
	// Version 3: the resource a family was granted for (RFC 8707).
	v3 := []string{`ALTER TABLE ` + t + ` ADD COLUMN resource TEXT NOT NULL DEFAULT ''`}
	if err := sqlschema.Migrate(ctx, s.db, s.d, "token/refresh/sqlstore:"+table, stmts, v2, v3); err != nil {
		return fmt.Errorf("refresh/sqlstore: creating the %v schema: %w", s.d, err)
	}
	return nil
}

// The range of the non-zero times the store writes: after the epoch (whose
// 0 nanoseconds mean a zero time) and within int64 nanoseconds.
var (
	epoch   = time.Unix(0, 0)
	maxTime = time.Unix(0, math.MaxInt64)
)

// nanos returns t in unix nanoseconds, 0 for a zero time, or an error for
// a time outside the range the column holds.
func nanos(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	if !t.After(epoch) || t.After(maxTime) {
		return 0, fmt.Errorf("refresh/sqlstore: time %v out of range: want a zero time or one after 1970-01-01 and before 2262-04-12 UTC", t)
	}
	return t.UnixNano(), nil
}

// bound returns the largest stored value that is at or before t, for the
// comparisons of Purge. Stored values are 0 (the zero time, before every
// other) or the positive nanoseconds of a time after the epoch.
func bound(t time.Time) int64 {
	switch {
	case t.Before(time.Time{}):
		return -1 // before even the zero time
	case !t.After(epoch):
		return 0
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos.
func fromNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// pgText reports whether s can be a PostgreSQL text value: valid UTF-8
// without NUL bytes.
func pgText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// args returns the values of the columns of rec, in the order of columns.
func (s *Store) args(rec refresh.Record) ([]any, error) {
	if s.d == Postgres {
		for _, v := range []string{rec.Family, rec.Grant.Subject, rec.Grant.ClientID, rec.Grant.Scope, rec.Access.Issuer, rec.Access.ID, rec.Grant.JKT, rec.Grant.Resource} {
			if !pgText(v) {
				return nil, fmt.Errorf("refresh/sqlstore: PostgreSQL text cannot hold %q (invalid UTF-8 or NUL)", v)
			}
		}
	}
	var ns [5]int64
	for i, t := range []time.Time{rec.FamilyCreated, rec.IssuedAt, rec.SpentAt, rec.RevokedAt, rec.Access.ExpiresAt} {
		n, err := nanos(t)
		if err != nil {
			return nil, err
		}
		ns[i] = n
	}
	return []any{
		rec.Hash[:], rec.Family, rec.Grant.Subject, rec.Grant.ClientID, rec.Grant.Scope, ns[0], ns[1], ns[2], ns[3],
		rec.Access.Issuer, rec.Access.ID, ns[4], rec.Grant.JKT, rec.Grant.Resource,
	}, nil
}

// execer is what a *sql.DB and a *sql.Tx have in common.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insert stores rec through e, or fails with ErrExists.
func (s *Store) insert(ctx context.Context, e execer, args []any) error {
	res, err := e.ExecContext(ctx, s.qInsert, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return refresh.ErrExists
	}
	return nil
}

// Create implements [refresh.Store].
func (s *Store) Create(ctx context.Context, rec refresh.Record) error {
	args, err := s.args(rec)
	if err != nil {
		return err
	}
	if err := s.insert(ctx, s.db, args); err != nil {
		if errors.Is(err, refresh.ErrExists) {
			return err
		}
		return fmt.Errorf("refresh/sqlstore: creating a token: %w", err)
	}
	return nil
}

// Get implements [refresh.Store].
func (s *Store) Get(ctx context.Context, h refresh.Hash) (refresh.Record, error) {
	var (
		rec                                    refresh.Record
		hash                                   []byte
		created, issued, spent, revoked, until int64
	)
	err := s.db.QueryRowContext(ctx, s.qGet, h[:]).Scan(&hash, &rec.Family, &rec.Grant.Subject, &rec.Grant.ClientID,
		&rec.Grant.Scope, &created, &issued, &spent, &revoked, &rec.Access.Issuer, &rec.Access.ID, &until, &rec.Grant.JKT, &rec.Grant.Resource)
	if errors.Is(err, sql.ErrNoRows) {
		return refresh.Record{}, refresh.ErrNotFound
	}
	if err != nil {
		return refresh.Record{}, fmt.Errorf("refresh/sqlstore: reading a token: %w", err)
	}
	if len(hash) != len(rec.Hash) {
		return refresh.Record{}, fmt.Errorf("refresh/sqlstore: reading a token: the stored hash has %d bytes, want %d",
			len(hash), len(rec.Hash))
	}
	copy(rec.Hash[:], hash)
	rec.FamilyCreated, rec.IssuedAt = fromNanos(created), fromNanos(issued)
	rec.SpentAt, rec.RevokedAt = fromNanos(spent), fromNanos(revoked)
	rec.Access.ExpiresAt = fromNanos(until)
	return rec, nil
}

// beginTx starts a transaction. On PostgreSQL it runs at READ COMMITTED
// whatever the server's default, for the re-check of Rotate's UPDATE.
func (s *Store) beginTx(ctx context.Context) (*sql.Tx, error) {
	var opts *sql.TxOptions
	if s.d == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return s.db.BeginTx(ctx, opts)
}

// Rotate implements [refresh.Store]. See the package documentation for
// why it is atomic.
func (s *Store) Rotate(ctx context.Context, old refresh.Hash, now time.Time, next refresh.Record) error {
	at, err := nanos(now)
	if err != nil {
		return err
	}
	args, err := s.args(next)
	if err != nil {
		return err
	}
	tx, err := s.beginTx(ctx)
	if err != nil {
		return fmt.Errorf("refresh/sqlstore: rotating a token: %w", err)
	}
	defer tx.Rollback()
	// Subject, then family: the order RevokeSubject and RevokeFamily
	// take them in (one each), so no two of them wait on each other.
	if err := s.lock(ctx, tx, "s", next.Grant.Subject); err != nil {
		return fmt.Errorf("refresh/sqlstore: rotating a token: %w", err)
	}
	if err := s.lock(ctx, tx, "f", next.Family); err != nil {
		return fmt.Errorf("refresh/sqlstore: rotating a token: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.qSpend, at, old[:])
	if err != nil {
		return fmt.Errorf("refresh/sqlstore: rotating a token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("refresh/sqlstore: rotating a token: %w", err)
	}
	if n == 0 {
		return s.refusal(ctx, tx, old)
	}
	if err := s.insert(ctx, tx, args); err != nil {
		if errors.Is(err, refresh.ErrExists) {
			return err
		}
		return fmt.Errorf("refresh/sqlstore: rotating a token: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("refresh/sqlstore: rotating a token: %w", err)
	}
	return nil
}

// refusal tells why the UPDATE of Rotate changed no row: there is no such
// token, or its family is revoked, or it is spent.
func (s *Store) refusal(ctx context.Context, tx *sql.Tx, old refresh.Hash) error {
	var spent, revoked int64
	err := tx.QueryRowContext(ctx, s.qState, old[:]).Scan(&spent, &revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return refresh.ErrNotFound
	case err != nil:
		return fmt.Errorf("refresh/sqlstore: rotating a token: %w", err)
	case revoked != 0:
		return refresh.ErrRevoked
	case spent != 0:
		return refresh.ErrSpent
	}
	// The row did not match the UPDATE but matches now: it changed in
	// between, which this package's statements never do (spent_ns and
	// revoked_ns are never reset). Refuse rather than guess.
	return errors.New("refresh/sqlstore: rotating a token: the token changed during the rotation; try again")
}

// RevokeFamily implements [refresh.Store]. Its single UPDATE ... RETURNING
// revokes and reads the same rows, so concurrent calls never return the
// same access token twice.
func (s *Store) RevokeFamily(ctx context.Context, family string, now time.Time) ([]refresh.AccessToken, error) {
	at, err := nanos(now)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.d == Postgres && !pgText(family) {
		return nil, nil // no family has this name
	}
	tx, err := s.beginTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("refresh/sqlstore: revoking a family: %w", err)
	}
	defer tx.Rollback()
	if err := s.lock(ctx, tx, "f", family); err != nil {
		return nil, fmt.Errorf("refresh/sqlstore: revoking a family: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.qRevokeFamily, at, family); err != nil {
		return nil, fmt.Errorf("refresh/sqlstore: revoking a family: %w", err)
	}
	rows, err := tx.QueryContext(ctx, s.qFamilyAccess, family)
	if err != nil {
		return nil, fmt.Errorf("refresh/sqlstore: revoking a family: %w", err)
	}
	defer rows.Close()
	var out []refresh.AccessToken
	for rows.Next() {
		var a refresh.AccessToken
		var until int64
		if err := rows.Scan(&a.Issuer, &a.ID, &until); err != nil {
			return nil, fmt.Errorf("refresh/sqlstore: revoking a family: %w", err)
		}
		a.ExpiresAt = fromNanos(until)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("refresh/sqlstore: revoking a family: %w", err)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("refresh/sqlstore: revoking a family: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("refresh/sqlstore: revoking a family: %w", err)
	}
	return out, nil
}

// lock takes, on PostgreSQL, a transaction-scoped advisory lock on a
// subject ("s") or family ("f") of this table. Rotate holds both while
// it spends a token and inserts its successor; RevokeSubject and
// RevokeFamily hold theirs while they revoke. Without them, under READ
// COMMITTED, a revocation racing a rotation would not see the successor
// the rotation has not committed yet, and the successor would stay live
// in a revoked family. SQLite needs none: its writers are serialized.
func (s *Store) lock(ctx context.Context, tx *sql.Tx, kind, name string) error {
	if s.d != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.qLock, kind+":"+s.table+":"+name)
	return err
}

func (s *Store) RevokeSubject(ctx context.Context, subject string, now time.Time) error {
	at, err := nanos(now)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.d == Postgres && !pgText(subject) {
		return nil // no token has this subject
	}
	tx, err := s.beginTx(ctx)
	if err != nil {
		return fmt.Errorf("refresh/sqlstore: revoking a subject: %w", err)
	}
	defer tx.Rollback()
	if err := s.lock(ctx, tx, "s", subject); err != nil {
		return fmt.Errorf("refresh/sqlstore: revoking a subject: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.qRevokeSubject, at, subject); err != nil {
		return fmt.Errorf("refresh/sqlstore: revoking a subject: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("refresh/sqlstore: revoking a subject: %w", err)
	}
	return nil
}

// Purge implements [refresh.Store]. A record goes when its family was
// created at or before createdBefore, or when the newest record of its
// family was issued at or before lastUsedBefore; the spent records of a
// live family stay, to detect reuse.
func (s *Store) Purge(ctx context.Context, createdBefore, lastUsedBefore time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.qPurge, bound(createdBefore), bound(lastUsedBefore))
	if err != nil {
		return 0, fmt.Errorf("refresh/sqlstore: purging: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("refresh/sqlstore: purging: %w", err)
	}
	return n, nil
}
