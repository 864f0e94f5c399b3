// Package sqlstore is a [clients.Store] over database/sql, on SQLite or
// PostgreSQL: the clients registered at run time (RFC 7591), kept in the
// database that already holds an application's users, so that every
// instance of a service knows every registration. The caller opens the
// *sql.DB with the driver of its choice (for example modernc.org/sqlite's
// "sqlite" or pgx's "pgx") and keeps owning it: this package imports no
// driver and never closes the database.
//
// # Schema
//
// The schema is versioned: New applies the migrations this release has
// and the database lacks, recorded under "token/clients/sqlstore:<table>"
// in the table sessionless_schema_versions, in one transaction that
// instances starting together take in turn; it refuses a database
// migrated by a newer release.
//
// [New] creates, if missing, one table (named by Config.Table,
// "oauth_clients" by default) with one row per registration, and an index
// on its expires_ns column, for Purge:
//
//	id            TEXT PRIMARY KEY  -- the client_id
//	name          TEXT
//	kind          TEXT              -- "registered"
//	auth_method   TEXT              -- token_endpoint_auth_method
//	secret_hashes BLOB              -- SHA-256 of each secret, 32 bytes each; BYTEA on PostgreSQL
//	redirect_uris TEXT              -- a JSON array of strings
//	scopes        TEXT              -- a JSON array of strings
//	grant_types   TEXT              -- a JSON array of strings
//	first_party   BOOLEAN
//	created_ns    BIGINT
//	expires_ns    BIGINT            -- 0: never (the registration was used)
//
// Every column is NOT NULL. Times are unix nanoseconds, so they
// round-trip exactly (read back in UTC); a zero time.Time is 0. Other
// times must lie after the epoch and before 2262-04-12: the store refuses
// to write any other. Strings, those of the lists too, must be UTF-8
// without NUL, what PostgreSQL's text holds, on SQLite as well. The table
// never holds a client secret: only its hash.
//
// The refusals of the store are the errors of package clients themselves
// (clients.ErrUnknownClient, clients.ErrClientExists), as
// [clients.MemoryStore] returns them; database failures are wrapped.
// Errors of this package start with "token/clients/sqlstore: ".
//
// Every method is one statement on one row (Purge: on the rows it
// deletes). Of concurrent Creates of one ID, on any instances, one
// succeeds: INSERT … ON CONFLICT (id) DO NOTHING.
//
// Open a SQLite database with a busy timeout and in WAL mode, for
// example with the modernc.org/sqlite DSN parameters
// ?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL).
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/token/clients"
)

// Dialect is the SQL database a [Store] runs on.
type Dialect = sqlschema.Dialect

// Dialects. The zero value is no dialect: [New] refuses it.
const (
	// SQLite, with a driver such as modernc.org/sqlite. Open the file
	// with a busy timeout and in WAL mode.
	SQLite = sqlschema.SQLite
	// Postgres is PostgreSQL, with a driver such as pgx's stdlib ("pgx").
	Postgres = sqlschema.Postgres
)

// DefaultTable is the table name of a [Config] that names none.
const DefaultTable = "oauth_clients"

// Config configures a [Store].
type Config struct {
	// Dialect is the database of the *sql.DB. Required.
	Dialect Dialect
	// Table is the name of the table, created if missing. It must match
	// [a-z_][a-z0-9_]* and have at most 63 characters. Empty means
	// DefaultTable ("oauth_clients"). The table lives in the default
	// schema of the connection (PostgreSQL's search_path).
	Table string
}

// Store is a [clients.Store] in a SQL database. It is safe for concurrent
// use, and any number of Stores, in any number of processes, may share
// one table. It has no Close: the caller owns the *sql.DB.
type Store struct {
	t *sqlschema.Table

	qInsert, qGet, qMarkUsed, qDelete, qPurge string
}

var _ clients.Store = (*Store)(nil)

// columns are the columns of the table, in the order of the queries'
// arguments and results.
const columns = `id, name, kind, auth_method, secret_hashes, redirect_uris, scopes, grant_types, first_party, ` +
	`created_ns, expires_ns`

// schema is the table of the store, for [sqlschema.Open].
var schema = sqlschema.Schema{
	Package:      "token/clients/sqlstore",
	DefaultTable: DefaultTable,
	Columns:      columns,
	Migrations:   migrations,
}

// migrations are the released versions of the schema. They are
// append-only: a change of schema is a new migration at the end.
func migrations(d Dialect, t, table string) [][]string {
	bytesType := "BLOB"
	if d == Postgres {
		bytesType = "BYTEA"
	}
	v1 := []string{
		`CREATE TABLE ` + t + ` (
	id            TEXT    NOT NULL PRIMARY KEY,
	name          TEXT    NOT NULL,
	kind          TEXT    NOT NULL,
	auth_method   TEXT    NOT NULL,
	secret_hashes ` + bytesType + ` NOT NULL,
	redirect_uris TEXT    NOT NULL,
	scopes        TEXT    NOT NULL,
	grant_types   TEXT    NOT NULL,
	first_party   BOOLEAN NOT NULL,
	created_ns    BIGINT  NOT NULL,
	expires_ns    BIGINT  NOT NULL
)`,
		`CREATE INDEX "` + sqlschema.IndexName(table, "expires_ns") + `" ON ` + t + ` (expires_ns)`,
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
	return &Store{
		t: tbl,
		qInsert: r(`INSERT INTO ` + t + ` (` + columns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`),
		qGet:      r(`SELECT ` + columns + ` FROM ` + t + ` WHERE id = ?`),
		qMarkUsed: r(`UPDATE ` + t + ` SET expires_ns = 0 WHERE id = ?`),
		qDelete:   r(`DELETE FROM ` + t + ` WHERE id = ?`),
		qPurge:    r(`DELETE FROM ` + t + ` WHERE expires_ns <> 0 AND expires_ns <= ?`),
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

// list encodes a list of strings as a JSON array ("[]" for none).
func list(ss []string) (string, error) {
	if err := text(ss...); err != nil {
		return "", err
	}
	if ss == nil {
		ss = []string{}
	}
	b, err := json.Marshal(ss)
	return string(b), err
}

// Create implements [clients.Store].
func (s *Store) Create(ctx context.Context, c clients.Client) error {
	if err := text(c.ID, c.Name, string(c.Kind), c.AuthMethod); err != nil {
		return err
	}
	var lists [3]string
	for i, l := range [][]string{c.RedirectURIs, c.Scopes, c.GrantTypes} {
		var err error
		if lists[i], err = list(l); err != nil {
			return err
		}
	}
	hashes := make([]byte, 0, len(c.SecretHashes)*len(clients.SecretHash{})) // not nil: not NULL
	for _, h := range c.SecretHashes {
		hashes = append(hashes, h[:]...)
	}
	ns, err := sqlschema.NanosAll(c.CreatedAt, c.ExpiresAt)
	if err != nil {
		return schema.Errorf("%w", err)
	}
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qInsert, c.ID, c.Name, string(c.Kind), c.AuthMethod,
		hashes, lists[0], lists[1], lists[2], c.FirstParty, ns[0], ns[1]))
	if err != nil {
		return schema.Errorf("creating a client: %w", err)
	}
	if n == 0 {
		return clients.ErrClientExists
	}
	return nil
}

// Get implements [clients.Store].
func (s *Store) Get(ctx context.Context, id string) (clients.Client, error) {
	if !sqlschema.Text(id) {
		return clients.Client{}, clients.ErrUnknownClient // no row holds it
	}
	var (
		c                    clients.Client
		kind                 string
		hashes               []byte
		uris, scopes, grants string
		created, expires     int64
	)
	err := s.t.DB.QueryRowContext(ctx, s.qGet, id).Scan(&c.ID, &c.Name, &kind, &c.AuthMethod, &hashes,
		&uris, &scopes, &grants, &c.FirstParty, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return clients.Client{}, clients.ErrUnknownClient
	}
	if err != nil {
		return clients.Client{}, schema.Errorf("reading a client: %w", err)
	}
	c.Kind = clients.Kind(kind)
	size := len(clients.SecretHash{})
	if len(hashes)%size != 0 {
		return clients.Client{}, schema.Errorf("client %q: the stored secret hashes have %d bytes, not a multiple of %d",
			c.ID, len(hashes), size)
	}
	for i := 0; i < len(hashes); i += size {
		c.SecretHashes = append(c.SecretHashes, clients.SecretHash(hashes[i:i+size]))
	}
	for _, l := range []struct {
		dst  *[]string
		json string
	}{{&c.RedirectURIs, uris}, {&c.Scopes, scopes}, {&c.GrantTypes, grants}} {
		if err := json.Unmarshal([]byte(l.json), l.dst); err != nil {
			return clients.Client{}, schema.Errorf("client %q: a stored list is not a JSON array of strings: %w", c.ID, err)
		}
		if len(*l.dst) == 0 {
			*l.dst = nil
		}
	}
	c.CreatedAt, c.ExpiresAt = sqlschema.FromNanos(created), sqlschema.FromNanos(expires)
	return c, nil
}

// MarkUsed implements [clients.Store].
func (s *Store) MarkUsed(ctx context.Context, id string) error {
	if !sqlschema.Text(id) {
		return clients.ErrUnknownClient
	}
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qMarkUsed, id))
	if err != nil {
		return schema.Errorf("marking a client used: %w", err)
	}
	if n == 0 {
		return clients.ErrUnknownClient
	}
	return nil
}

// Delete implements [clients.Store].
func (s *Store) Delete(ctx context.Context, id string) (bool, error) {
	if !sqlschema.Text(id) {
		return false, nil
	}
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qDelete, id))
	if err != nil {
		return false, schema.Errorf("deleting a client: %w", err)
	}
	return n > 0, nil
}

// Purge implements [clients.Store].
func (s *Store) Purge(ctx context.Context, now time.Time) (int64, error) {
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qPurge, sqlschema.Bound(now)))
	if err != nil {
		return 0, schema.Errorf("purging: %w", err)
	}
	return n, nil
}
