// Package sqlstore is an [authcode.Store] over database/sql, on SQLite or
// PostgreSQL, meant to live in the database that already holds an
// application's users. The caller opens the *sql.DB with the driver of
// its choice (for example modernc.org/sqlite's "sqlite" or pgx's "pgx")
// and keeps owning it: this package imports no driver and never closes
// the database.
//
// # Schema
//
// The schema is versioned: New applies the migrations this release has
// and the database lacks, recorded under "token/authcode/sqlstore:<table>"
// in the table sessionless_schema_versions, in one transaction that
// instances starting together take in turn; it refuses a database
// migrated by a newer release.
//
// [New] creates, if missing, one table (named by Config.Table,
// "oauth_codes" by default) with one row per authorization code, and
// indexes on its expires_ns and used_ns columns, for Purge:
//
//	hash              BLOB PRIMARY KEY  -- SHA-256 of the code; BYTEA on PostgreSQL
//	client_id         TEXT
//	redirect_uri      TEXT
//	subject           TEXT
//	scope             TEXT
//	resource          TEXT
//	dpop_jkt          TEXT
//	code_challenge    TEXT
//	auth_time_ns      BIGINT
//	issued_ns         BIGINT
//	expires_ns        BIGINT
//	used_ns           BIGINT DEFAULT 0  -- 0: not redeemed
//	reused_ns         BIGINT DEFAULT 0  -- 0: not presented again
//	refresh_family    TEXT DEFAULT ''   -- what the redemption issued
//	access_issuer     TEXT DEFAULT ''
//	access_id         TEXT DEFAULT ''
//	access_expires_ns BIGINT DEFAULT 0
//
// Every column is NOT NULL. Times are unix nanoseconds, so they
// round-trip exactly (read back in UTC); a zero time.Time is 0. Other
// times must lie after the epoch and before 2262-04-12: the store refuses
// to write any other. Strings must be UTF-8 without NUL, what
// PostgreSQL's text holds, on SQLite as well.
//
// The refusals of the store are the errors of package authcode
// themselves (authcode.ErrNotFound, ErrUsed, ErrExists), as
// [authcode.MemoryStore] returns them; database failures are wrapped.
// Errors of this package start with "token/authcode/sqlstore: ".
//
// # Atomicity
//
// Every method is one statement on one row. Redeem is
//
//	UPDATE ... SET used_ns = now WHERE hash = h AND used_ns = 0
//
// and, when it changed no row, reads the row to tell ErrNotFound and
// ErrUsed apart. Of two concurrent Redeems only one UPDATE can change the
// row: on SQLite writers are serialized; on PostgreSQL the second UPDATE
// waits for the row lock of the first and, once it commits, re-checks
// its WHERE clause against the new row version (READ COMMITTED), which
// no longer matches. SetIssued and Reuse are UPDATE … RETURNING of the
// whole row: each writes its side of the handshake and reads the other's
// in one step, so whichever runs second sees what the first wrote.
//
// Open a SQLite database with a busy timeout and in WAL mode, for
// example with the modernc.org/sqlite DSN parameters
// ?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/token/authcode"
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
const DefaultTable = "oauth_codes"

// Config configures a [Store].
type Config struct {
	// Dialect is the database of the *sql.DB. Required.
	Dialect Dialect
	// Table is the name of the table, created if missing. It must match
	// [a-z_][a-z0-9_]* and have at most 63 characters. Empty means
	// DefaultTable ("oauth_codes"). The table lives in the default
	// schema of the connection (PostgreSQL's search_path).
	Table string
}

// Store is an [authcode.Store] in a SQL database. It is safe for
// concurrent use, and any number of Stores, in any number of processes,
// may share one table. It has no Close: the caller owns the *sql.DB.
type Store struct {
	t *sqlschema.Table

	qInsert, qGet, qRedeem, qUsed, qSetIssued, qReuse, qPurge string
}

var _ authcode.Store = (*Store)(nil)

// columns are the columns of the table, in the order of the queries'
// arguments and results.
const columns = `hash, client_id, redirect_uri, subject, scope, resource, dpop_jkt, code_challenge, auth_time_ns, ` +
	`issued_ns, expires_ns, used_ns, reused_ns, refresh_family, access_issuer, access_id, access_expires_ns`

// schema is the table of the store, for [sqlschema.Open].
var schema = sqlschema.Schema{
	Package:      "token/authcode/sqlstore",
	DefaultTable: DefaultTable,
	Columns:      columns,
	Migrations:   migrations,
}

// migrations are the released versions of the schema. They are
// append-only: a change of schema is a new migration at the end.
func migrations(d Dialect, t, table string) [][]string {
	hashType := "BLOB"
	if d == Postgres {
		hashType = "BYTEA"
	}
	v1 := []string{
		`CREATE TABLE ` + t + ` (
	hash              ` + hashType + ` NOT NULL PRIMARY KEY,
	client_id         TEXT   NOT NULL,
	redirect_uri      TEXT   NOT NULL,
	subject           TEXT   NOT NULL,
	scope             TEXT   NOT NULL,
	resource          TEXT   NOT NULL,
	dpop_jkt          TEXT   NOT NULL,
	code_challenge    TEXT   NOT NULL,
	auth_time_ns      BIGINT NOT NULL,
	issued_ns         BIGINT NOT NULL,
	expires_ns        BIGINT NOT NULL,
	used_ns           BIGINT NOT NULL DEFAULT 0,
	reused_ns         BIGINT NOT NULL DEFAULT 0,
	refresh_family    TEXT   NOT NULL DEFAULT '',
	access_issuer     TEXT   NOT NULL DEFAULT '',
	access_id         TEXT   NOT NULL DEFAULT '',
	access_expires_ns BIGINT NOT NULL DEFAULT 0
)`,
		`CREATE INDEX "` + sqlschema.IndexName(table, "expires_ns") + `" ON ` + t + ` (expires_ns)`,
		`CREATE INDEX "` + sqlschema.IndexName(table, "used_ns") + `" ON ` + t + ` (used_ns)`,
	}
	return [][]string{v1}
}

// New returns a Store over db, migrating its schema to the version this
// release knows (creating its table and indexes if missing). Calling it
// again on the same database, from this process or another, is harmless
// and keeps the rows.
func New(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	tbl, err := sqlschema.Open(ctx, db, cfg.Dialect, cfg.Table, schema)
	if err != nil {
		return nil, err
	}
	t, r := tbl.Quoted, tbl.Dialect.Rebind
	return &Store{
		t: tbl,
		qInsert: r(`INSERT INTO ` + t + ` (` + columns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (hash) DO NOTHING`),
		qGet:    r(`SELECT ` + columns + ` FROM ` + t + ` WHERE hash = ?`),
		qRedeem: r(`UPDATE ` + t + ` SET used_ns = ? WHERE hash = ? AND used_ns = 0`),
		qUsed:   r(`SELECT used_ns FROM ` + t + ` WHERE hash = ?`),
		qSetIssued: r(`UPDATE ` + t + ` SET refresh_family = ?, access_issuer = ?, access_id = ?, access_expires_ns = ?
WHERE hash = ? RETURNING ` + columns),
		qReuse: r(`UPDATE ` + t + ` SET reused_ns = CASE WHEN used_ns <> 0 AND reused_ns = 0 THEN ? ELSE reused_ns END
WHERE hash = ? RETURNING ` + columns),
		qPurge: r(`DELETE FROM ` + t + ` WHERE (used_ns = 0 AND expires_ns <= ?) OR (used_ns <> 0 AND used_ns <= ?)`),
	}, nil
}

// text refuses the strings the table cannot hold.
func text(ss ...string) error {
	for _, v := range ss {
		if !sqlschema.Text(v) {
			return schema.Errorf("%q is not UTF-8 without NUL, which the store cannot hold", v)
		}
	}
	return nil
}

// nonZero returns the stored value of a time that must not be zero.
func nonZero(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, schema.Errorf("zero time")
	}
	ns, err := sqlschema.Nanos(t)
	if err != nil {
		return 0, schema.Errorf("%w", err)
	}
	return ns, nil
}

// Create implements [authcode.Store].
func (s *Store) Create(ctx context.Context, rec authcode.Record) error {
	g, is := rec.Grant, rec.Issued
	if err := text(g.ClientID, g.RedirectURI, g.Subject, g.Scope, g.Resource, g.JKT, g.CodeChallenge,
		is.RefreshFamily, is.AccessIssuer, is.AccessID); err != nil {
		return err
	}
	ns, err := sqlschema.NanosAll(g.AuthTime, rec.IssuedAt, rec.ExpiresAt, rec.UsedAt, rec.ReusedAt, is.AccessExpiresAt)
	if err != nil {
		return schema.Errorf("%w", err)
	}
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qInsert, rec.Hash[:], g.ClientID, g.RedirectURI,
		g.Subject, g.Scope, g.Resource, g.JKT, g.CodeChallenge, ns[0], ns[1], ns[2], ns[3], ns[4],
		is.RefreshFamily, is.AccessIssuer, is.AccessID, ns[5]))
	if err != nil {
		return schema.Errorf("creating a code: %w", err)
	}
	if n == 0 {
		return authcode.ErrExists
	}
	return nil
}

// scan reads a row of columns.
func scan(row *sql.Row) (authcode.Record, error) {
	var (
		rec                                        authcode.Record
		hash                                       []byte
		auth, issued, expires, used, reused, until int64
	)
	g, is := &rec.Grant, &rec.Issued
	err := row.Scan(&hash, &g.ClientID, &g.RedirectURI, &g.Subject, &g.Scope, &g.Resource, &g.JKT, &g.CodeChallenge,
		&auth, &issued, &expires, &used, &reused, &is.RefreshFamily, &is.AccessIssuer, &is.AccessID, &until)
	if err != nil {
		return authcode.Record{}, err
	}
	if len(hash) != len(rec.Hash) {
		return authcode.Record{}, schema.Errorf("the stored hash has %d bytes, want %d", len(hash), len(rec.Hash))
	}
	copy(rec.Hash[:], hash)
	g.AuthTime = sqlschema.FromNanos(auth)
	rec.IssuedAt, rec.ExpiresAt = sqlschema.FromNanos(issued), sqlschema.FromNanos(expires)
	rec.UsedAt, rec.ReusedAt = sqlschema.FromNanos(used), sqlschema.FromNanos(reused)
	is.AccessExpiresAt = sqlschema.FromNanos(until)
	return rec, nil
}

// one runs q, which returns one row of columns, and reads it: no row is
// ErrNotFound.
func (s *Store) one(ctx context.Context, what, q string, args ...any) (authcode.Record, error) {
	rec, err := scan(s.t.DB.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return authcode.Record{}, authcode.ErrNotFound
	}
	if err != nil {
		return authcode.Record{}, schema.Errorf("%s: %w", what, err)
	}
	return rec, nil
}

// Get implements [authcode.Store].
func (s *Store) Get(ctx context.Context, h authcode.Hash) (authcode.Record, error) {
	return s.one(ctx, "reading a code", s.qGet, h[:])
}

// Redeem implements [authcode.Store]. See the package documentation for
// why it is atomic.
func (s *Store) Redeem(ctx context.Context, h authcode.Hash, now time.Time) error {
	at, err := nonZero(now)
	if err != nil {
		return err
	}
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qRedeem, at, h[:]))
	if err != nil {
		return schema.Errorf("redeeming a code: %w", err)
	}
	if n == 1 {
		return nil
	}
	var used int64
	err = s.t.DB.QueryRowContext(ctx, s.qUsed, h[:]).Scan(&used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return authcode.ErrNotFound
	case err != nil:
		return schema.Errorf("redeeming a code: %w", err)
	case used != 0:
		return authcode.ErrUsed
	}
	// The row did not match the UPDATE but matches now: used_ns went
	// back to 0, which this package's statements never do.
	return schema.Errorf("redeeming a code: the code changed during the redemption; try again")
}

// SetIssued implements [authcode.Store].
func (s *Store) SetIssued(ctx context.Context, h authcode.Hash, issued authcode.Issued) (authcode.Record, error) {
	if err := text(issued.RefreshFamily, issued.AccessIssuer, issued.AccessID); err != nil {
		return authcode.Record{}, err
	}
	until, err := sqlschema.Nanos(issued.AccessExpiresAt)
	if err != nil {
		return authcode.Record{}, schema.Errorf("%w", err)
	}
	return s.one(ctx, "recording what a code issued", s.qSetIssued,
		issued.RefreshFamily, issued.AccessIssuer, issued.AccessID, until, h[:])
}

// Reuse implements [authcode.Store].
func (s *Store) Reuse(ctx context.Context, h authcode.Hash, now time.Time) (authcode.Record, error) {
	at, err := nonZero(now)
	if err != nil {
		return authcode.Record{}, err
	}
	return s.one(ctx, "marking a code reused", s.qReuse, at, h[:])
}

// Purge implements [authcode.Store].
func (s *Store) Purge(ctx context.Context, expiredBefore, usedBefore time.Time) (int64, error) {
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qPurge,
		sqlschema.Bound(expiredBefore), sqlschema.Bound(usedBefore)))
	if err != nil {
		return 0, schema.Errorf("purging: %w", err)
	}
	return n, nil
}
