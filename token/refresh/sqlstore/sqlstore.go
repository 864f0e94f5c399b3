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
// and the database lacks, recorded under "token/refresh/sqlstore:<table>"
// in the table sessionless_schema_versions, in one transaction that
// instances starting together take in turn; it refuses a database
// migrated by a newer release.
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
//	seed              BLOB DEFAULT X'' -- version 4: what the successor is derived from; BYTEA on PostgreSQL
//	user_agent        TEXT DEFAULT ''  -- version 4: the User-Agent of the family's login
//
// The rows written before version 4 read with an empty seed (their
// successors are random, without a grace period) and User-Agent.
//
// Every column is NOT NULL. Times are unix nanoseconds, so they
// round-trip exactly (read back in UTC); a zero time.Time is 0. Other
// times must lie after the epoch (whose 0 stands for the zero time) and
// before 2262-04-12 (the end of int64 nanoseconds): the store refuses to
// write any other, which also keeps the order of the columns the order of
// the times. Strings must be UTF-8 without NUL, what PostgreSQL's text
// holds, on SQLite as well.
//
// The refusals of the store are the errors of package refresh themselves
// (refresh.ErrNotFound, ErrSpent, ErrRevoked, ErrExists), as
// [refresh.MemoryStore] returns them; database failures are wrapped.
// Errors of this package start with "token/refresh/sqlstore: ".
//
// # Atomic rotation
//
// Rotate runs in one transaction whose first write is
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
//
// # Revocations racing rotations
//
// On PostgreSQL, Rotate first takes transaction-scoped advisory locks on
// the subject ("s:<table>:<subject>") and then the family
// ("f:<table>:<family>"); RevokeSubject and RevokeFamily take the one
// they revoke by. A revocation therefore either runs before a concurrent
// rotation, which then fails with ErrRevoked, or after it, and revokes
// its successor too. On SQLite the database's write lock serializes them.
// RevokeFamily reads the family's access tokens under its lock, after
// its UPDATE.
//
// # Families
//
// Families is one query over the subject's rows (through the subject
// index): window functions pick each family's newest row and tell
// whether any row of it is revoked.
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
	t *sqlschema.Table

	qInsert, qGet, qSpend, qState, qRevokeFamily, qFamilyAccess, qRevokeSubject, qFamilies, qPurge string
	qForgetSeeds                                                                                   string
}

var _ refresh.Store = (*Store)(nil)

// columns are the columns of the table, in the order of the queries'
// arguments and results.
const columns = `hash, family, subject, client_id, scope, family_created_ns, issued_ns, spent_ns, revoked_ns, ` +
	`access_issuer, access_id, access_expires_ns, dpop_jkt, resource, seed, user_agent`

// schema is the table of the store, for [sqlschema.Open].
var schema = sqlschema.Schema{
	Package:      "token/refresh/sqlstore",
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
	// Version 4: the seed a token's successor is derived from, and the
	// User-Agent of the family's login. The rows before have neither.
	noBytes := `X''`
	if d == Postgres {
		noBytes = `''::bytea`
	}
	v4 := []string{
		`ALTER TABLE ` + t + ` ADD COLUMN seed ` + hashType + ` NOT NULL DEFAULT ` + noBytes, // bytes, as hash
		`ALTER TABLE ` + t + ` ADD COLUMN user_agent TEXT NOT NULL DEFAULT ''`,
	}
	return [][]string{v1, v2, v3, v4}
}

// New returns a Store over db, migrating its schema to the version this
// release knows (creating its table and indexes if missing).
// Calling it again on the same database, from this process or
// another, is harmless and keeps the rows.
func New(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	tbl, err := sqlschema.Open(ctx, db, cfg.Dialect, cfg.Table, schema)
	if err != nil {
		return nil, err
	}
	t, r := tbl.Quoted, tbl.Dialect.Rebind
	return &Store{
		t: tbl,
		qInsert: r(`INSERT INTO ` + t + ` (` + columns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (hash) DO NOTHING`),
		qGet:           r(`SELECT ` + columns + ` FROM ` + t + ` WHERE hash = ?`),
		qSpend:         r(`UPDATE ` + t + ` SET spent_ns = ? WHERE hash = ? AND spent_ns = 0 AND revoked_ns = 0`),
		qState:         r(`SELECT spent_ns, revoked_ns FROM ` + t + ` WHERE hash = ?`),
		qRevokeFamily:  r(`UPDATE ` + t + ` SET revoked_ns = ? WHERE family = ? AND revoked_ns = 0`),
		qFamilyAccess:  r(`SELECT access_issuer, access_id, access_expires_ns FROM ` + t + ` WHERE family = ?`),
		qRevokeSubject: r(`UPDATE ` + t + ` SET revoked_ns = ? WHERE subject = ? AND revoked_ns = 0`),
		// The newest row of each family: the highest issued_ns, then an
		// unspent one, then the lowest hash, as refresh.MemoryStore has it.
		qForgetSeeds: r(`UPDATE ` + t + ` SET seed = ? WHERE family = ? AND spent_ns <> 0 AND hash <> ? AND seed <> ?`),
		qFamilies: r(`SELECT ` + familyColumns + ` FROM (
	SELECT ` + familyColumns + `, hash,
		ROW_NUMBER() OVER (PARTITION BY family ORDER BY issued_ns DESC, spent_ns <> 0, hash) AS newest,
		MAX(CASE WHEN revoked_ns <> 0 THEN 1 ELSE 0 END) OVER (PARTITION BY family) AS revoked
	FROM ` + t + ` WHERE subject = ?
) AS f WHERE newest = 1 AND revoked = 0
ORDER BY issued_ns DESC, hash LIMIT ?`),
		qPurge: r(`DELETE FROM ` + t + ` WHERE family_created_ns <= ?
OR family IN (SELECT family FROM ` + t + ` GROUP BY family HAVING MAX(issued_ns) <= ?)`),
	}, nil
}

// familyColumns are the columns Families reads of a family's newest row,
// in the order of [Store.Families]'s Scan.
const familyColumns = `family, client_id, scope, dpop_jkt, resource, user_agent, family_created_ns, issued_ns`

// args returns the values of the columns of rec, in the order of columns.
func (s *Store) args(rec refresh.Record) ([]any, error) {
	texts := []string{rec.Family, rec.Grant.Subject, rec.Grant.ClientID, rec.Grant.Scope,
		rec.Access.Issuer, rec.Access.ID, rec.Grant.JKT, rec.Grant.Resource, rec.Grant.UserAgent}
	for _, v := range texts {
		if !sqlschema.Text(v) {
			return nil, schema.Errorf("%q is not UTF-8 without NUL, which the store cannot hold", v)
		}
	}
	ns, err := sqlschema.NanosAll(rec.FamilyCreated, rec.IssuedAt, rec.SpentAt, rec.RevokedAt, rec.Access.ExpiresAt)
	if err != nil {
		return nil, schema.Errorf("%w", err)
	}
	seed := rec.Seed
	if seed == nil {
		seed = []byte{} // not NULL
	}
	return []any{
		rec.Hash[:], rec.Family, rec.Grant.Subject, rec.Grant.ClientID, rec.Grant.Scope, ns[0], ns[1], ns[2], ns[3],
		rec.Access.Issuer, rec.Access.ID, ns[4], rec.Grant.JKT, rec.Grant.Resource, seed, rec.Grant.UserAgent,
	}, nil
}

// inserted turns the result of qInsert into ErrExists when it inserted
// no row.
func inserted(res sql.Result, err error) error {
	n, err := sqlschema.RowsAffected(res, err)
	if err == nil && n == 0 {
		return refresh.ErrExists
	}
	return err
}

// Create implements [refresh.Store].
func (s *Store) Create(ctx context.Context, rec refresh.Record) error {
	args, err := s.args(rec)
	if err != nil {
		return err
	}
	if err := inserted(s.t.DB.ExecContext(ctx, s.qInsert, args...)); err != nil {
		if errors.Is(err, refresh.ErrExists) {
			return err
		}
		return schema.Errorf("creating a token: %w", err)
	}
	return nil
}

// Get implements [refresh.Store].
func (s *Store) Get(ctx context.Context, h refresh.Hash) (refresh.Record, error) {
	var (
		rec                                    refresh.Record
		hash, seed                             []byte
		created, issued, spent, revoked, until int64
	)
	err := s.t.DB.QueryRowContext(ctx, s.qGet, h[:]).Scan(&hash, &rec.Family, &rec.Grant.Subject, &rec.Grant.ClientID,
		&rec.Grant.Scope, &created, &issued, &spent, &revoked, &rec.Access.Issuer, &rec.Access.ID, &until, &rec.Grant.JKT,
		&rec.Grant.Resource, &seed, &rec.Grant.UserAgent)
	if errors.Is(err, sql.ErrNoRows) {
		return refresh.Record{}, refresh.ErrNotFound
	}
	if err != nil {
		return refresh.Record{}, schema.Errorf("reading a token: %w", err)
	}
	if len(hash) != len(rec.Hash) {
		return refresh.Record{}, schema.Errorf("reading a token: the stored hash has %d bytes, want %d",
			len(hash), len(rec.Hash))
	}
	copy(rec.Hash[:], hash)
	rec.FamilyCreated, rec.IssuedAt = sqlschema.FromNanos(created), sqlschema.FromNanos(issued)
	rec.SpentAt, rec.RevokedAt = sqlschema.FromNanos(spent), sqlschema.FromNanos(revoked)
	rec.Access.ExpiresAt = sqlschema.FromNanos(until)
	if len(seed) > 0 {
		rec.Seed = seed
	}
	return rec, nil
}

// Rotate implements [refresh.Store]. See the package documentation for
// why it is atomic.
func (s *Store) Rotate(ctx context.Context, old refresh.Hash, now time.Time, next refresh.Record) error {
	at, err := sqlschema.Nanos(now)
	if err != nil {
		return schema.Errorf("%w", err)
	}
	args, err := s.args(next)
	if err != nil {
		return err
	}
	fail := func(err error) error { return schema.Errorf("rotating a token: %w", err) }
	tx, err := sqlschema.BeginTx(ctx, s.t.DB, s.t.Dialect)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	// Subject, then family: the order RevokeSubject and RevokeFamily
	// take them in (one each), so no two of them wait on each other.
	if err := s.lock(ctx, tx, "s", next.Grant.Subject); err != nil {
		return fail(err)
	}
	if err := s.lock(ctx, tx, "f", next.Family); err != nil {
		return fail(err)
	}
	n, err := sqlschema.RowsAffected(tx.ExecContext(ctx, s.qSpend, at, old[:]))
	if err != nil {
		return fail(err)
	}
	if n == 0 {
		return s.refusal(ctx, tx, old)
	}
	if err := inserted(tx.ExecContext(ctx, s.qInsert, args...)); err != nil {
		if errors.Is(err, refresh.ErrExists) {
			return err
		}
		return fail(err)
	}
	// The seeds of the family's tokens spent before old serve no grace
	// any more (their successors are spent): forgotten, so that a copy
	// of the table and one of those old tokens yield no later token.
	if _, err := tx.ExecContext(ctx, s.qForgetSeeds, []byte{}, next.Family, old[:], []byte{}); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
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
		return schema.Errorf("rotating a token: %w", err)
	case revoked != 0:
		return refresh.ErrRevoked
	case spent != 0:
		return refresh.ErrSpent
	}
	// The row did not match the UPDATE but matches now: it changed in
	// between, which this package's statements never do (spent_ns and
	// revoked_ns are never reset). Refuse rather than guess.
	return schema.Errorf("rotating a token: the token changed during the rotation; try again")
}

// RevokeFamily implements [refresh.Store]: under the family's lock, one
// UPDATE revokes the family's live tokens and one SELECT reads the access
// tokens of all of them.
func (s *Store) RevokeFamily(ctx context.Context, family string, now time.Time) ([]refresh.AccessToken, error) {
	at, err := sqlschema.Nanos(now)
	if err != nil {
		return nil, schema.Errorf("%w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.holds(family) {
		return nil, nil // no family has this name
	}
	fail := func(err error) error { return schema.Errorf("revoking a family: %w", err) }
	tx, err := sqlschema.BeginTx(ctx, s.t.DB, s.t.Dialect)
	if err != nil {
		return nil, fail(err)
	}
	defer tx.Rollback()
	if err := s.lock(ctx, tx, "f", family); err != nil {
		return nil, fail(err)
	}
	if _, err := tx.ExecContext(ctx, s.qRevokeFamily, at, family); err != nil {
		return nil, fail(err)
	}
	out, err := familyAccess(ctx, tx, s.qFamilyAccess, family)
	if err != nil {
		return nil, fail(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fail(err)
	}
	return out, nil
}

// familyAccess reads the access tokens of a family.
func familyAccess(ctx context.Context, tx *sql.Tx, q, family string) ([]refresh.AccessToken, error) {
	rows, err := tx.QueryContext(ctx, q, family)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []refresh.AccessToken
	for rows.Next() {
		var a refresh.AccessToken
		var until int64
		if err := rows.Scan(&a.Issuer, &a.ID, &until); err != nil {
			return nil, err
		}
		a.ExpiresAt = sqlschema.FromNanos(until)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// holds reports whether the table may hold a row whose family or subject
// is name. The store writes no string that fails [sqlschema.Text], and
// PostgreSQL can hold none, so there a revocation by one has nothing to
// do (and its query would fail). A SQLite table may hold one that an
// earlier release wrote, which a revocation must reach all the same.
func (s *Store) holds(name string) bool {
	return s.t.Dialect == SQLite || sqlschema.Text(name)
}

// lock takes, on PostgreSQL, a transaction-scoped advisory lock on a
// subject ("s") or family ("f") of this table, under the key
// kind:table:name. Rotate holds both while it spends a token and inserts
// its successor; RevokeSubject and RevokeFamily hold theirs while they
// revoke. Without them, under READ COMMITTED, a revocation racing a
// rotation would not see the successor the rotation has not committed
// yet, and the successor would stay live in a revoked family. SQLite
// needs none: its writers are serialized.
func (s *Store) lock(ctx context.Context, tx *sql.Tx, kind, name string) error {
	return sqlschema.AdvisoryLock(ctx, tx, s.t.Dialect, kind+":"+s.t.Name+":"+name)
}

// RevokeSubject implements [refresh.Store]: one UPDATE of the subject's
// tokens, under the subject's lock.
func (s *Store) RevokeSubject(ctx context.Context, subject string, now time.Time) error {
	at, err := sqlschema.Nanos(now)
	if err != nil {
		return schema.Errorf("%w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.holds(subject) {
		return nil // no token has this subject
	}
	fail := func(err error) error { return schema.Errorf("revoking a subject: %w", err) }
	tx, err := sqlschema.BeginTx(ctx, s.t.DB, s.t.Dialect)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	if err := s.lock(ctx, tx, "s", subject); err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, s.qRevokeSubject, at, subject); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}

// Families implements [refresh.Store] with one query (see the package
// documentation).
func (s *Store) Families(ctx context.Context, subject string, limit int) ([]refresh.Family, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit < 1 || !s.holds(subject) {
		return nil, nil
	}
	rows, err := s.t.DB.QueryContext(ctx, s.qFamilies, subject, int64(limit))
	if err != nil {
		return nil, schema.Errorf("listing families: %w", err)
	}
	defer rows.Close()
	var out []refresh.Family
	for rows.Next() {
		f := refresh.Family{Grant: refresh.Grant{Subject: subject}}
		var created, used int64
		if err := rows.Scan(&f.ID, &f.Grant.ClientID, &f.Grant.Scope, &f.Grant.JKT, &f.Grant.Resource, &f.Grant.UserAgent,
			&created, &used); err != nil {
			return nil, schema.Errorf("listing families: %w", err)
		}
		f.Created, f.LastUsed = sqlschema.FromNanos(created), sqlschema.FromNanos(used)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, schema.Errorf("listing families: %w", err)
	}
	return out, nil
}

// Purge implements [refresh.Store]. A record goes when its family was
// created at or before createdBefore, or when the newest record of its
// family was issued at or before lastUsedBefore; the spent records of a
// live family stay, to detect reuse.
func (s *Store) Purge(ctx context.Context, createdBefore, lastUsedBefore time.Time) (int64, error) {
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qPurge,
		sqlschema.Bound(createdBefore), sqlschema.Bound(lastUsedBefore)))
	if err != nil {
		return 0, schema.Errorf("purging: %w", err)
	}
	return n, nil
}
