// Package sqlstore is a [revocation.Store] over database/sql, on SQLite or
// PostgreSQL, meant to live in the database that already holds an
// application's users. The caller opens the *sql.DB with the driver of
// its choice (for example modernc.org/sqlite's "sqlite" or pgx's "pgx")
// and keeps owning it: this package imports no driver and never closes
// the database.
//
// # Schema
//
// The schema is versioned: New applies the migrations this release has
// and the database lacks, recorded under "revocation/sqlstore:<table>" in
// the table sessionless_schema_versions, in one transaction that
// instances starting together take in turn; it refuses a database
// migrated by a newer release.
//
// [New] creates, if missing, one append-only table (named by
// Config.Table, "revocations" by default) and an index on its expiry:
//
//	seq        INTEGER PRIMARY KEY AUTOINCREMENT  -- SQLite
//	seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY  -- PostgreSQL
//	kind       SMALLINT  -- revocation.Kind
//	issuer     TEXT
//	key        TEXT      -- jti or sub
//	before_ns  BIGINT    -- Entry.Before in unix nanoseconds, 0 for a token
//	expires_ns BIGINT    -- Entry.Expires in unix nanoseconds
//
// Create inserts one row per call and never updates one: adding the same
// entry twice leaves two rows; Snapshot returns both and the
// [revocation.List] merges them. Times are kept as Unix nanoseconds, so
// they round-trip exactly (read back in UTC): [revocation.Entry.Validate]
// limits them to the years 1970 to 2261, and the store also refuses the
// epoch itself, whose 0 stands for a token entry's zero Before, with
// revocation.ErrInvalidEntry. Purge deletes the rows that have expired.
// Errors of this package start with "revocation/sqlstore: ".
//
// # Subscriptions
//
// SQL databases have no portable notification, so a subscription polls:
// it remembers the largest seq it has seen (at Subscribe, the largest in
// the table) and asks for the rows with a larger seq, in seq order,
// every Config.PollInterval. A quiet poll is the heartbeat of
// [revocation.Subscription.Next].
//
// Polling on "seq > last" is exact only if rows become visible in seq
// order: a row with a smaller seq committing after a reader has seen a
// larger one would be skipped for good. On SQLite writers are serialized
// by the database lock, so seq order is commit order. AUTOINCREMENT
// keeps SQLite from reusing the seq of a purged row. On PostgreSQL
// concurrent transactions may commit out of seq order, so Create runs in a
// transaction that first takes LOCK TABLE ... IN SHARE ROW EXCLUSIVE
// MODE, which serializes the writers of the table (it conflicts with
// itself and with INSERT, UPDATE and DELETE) but not its readers; the
// seq is then drawn under the lock, and the lock is released only after
// the commit is visible, so seq order is commit order there too.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/revocation"
)

// Dialect is the SQL database a [Store] runs on.
type Dialect = sqlschema.Dialect

// Dialects. The zero value is no dialect: [New] refuses it.
const (
	// SQLite, with a driver such as modernc.org/sqlite. Open the file with
	// a busy timeout and in WAL mode, for example with the DSN parameters
	// ?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL).
	SQLite = sqlschema.SQLite
	// Postgres is PostgreSQL, with a driver such as pgx's stdlib ("pgx").
	Postgres = sqlschema.Postgres
)

// Defaults of [Config].
const (
	DefaultTable        = "revocations"
	DefaultPollInterval = 200 * time.Millisecond
)

// pollBatch is how many rows one poll reads at most.
const pollBatch = 1000

// minPollTimeout bounds a poll query that does not answer: Next then
// fails (and the caller resubscribes) rather than hanging on a dead
// connection. A poll may take max(wait, minPollTimeout).
const minPollTimeout = 5 * time.Second

// Config configures a [Store].
type Config struct {
	// Dialect is the database of the *sql.DB. Required.
	Dialect Dialect
	// Table is the name of the table, created if missing. It must match
	// [a-z_][a-z0-9_]* and have at most 63 characters. Empty means
	// DefaultTable ("revocations"). The table lives in the default schema
	// of the connection (PostgreSQL's search_path).
	Table string
	// PollInterval is how often a subscription asks the database for new
	// entries while Next waits. Zero means DefaultPollInterval (200ms).
	PollInterval time.Duration
}

// Store is a [revocation.Store] in a SQL database. It is safe for
// concurrent use. It has no Close: the caller owns the *sql.DB.
type Store struct {
	t    *sqlschema.Table
	poll time.Duration

	qLock, qInsert, qSnapshot, qPurge, qMaxSeq, qPoll string
}

var _ revocation.Store = (*Store)(nil)

// cols are the columns of an entry; every query also reads seq.
const cols = `kind, issuer, key, before_ns, expires_ns`

// schema is the table of the store, for [sqlschema.Open].
var schema = sqlschema.Schema{
	Package:      "revocation/sqlstore",
	DefaultTable: DefaultTable,
	Columns:      "seq, " + cols,
	Migrations:   migrations,
}

// migrations are the released versions of the schema. They are
// append-only: a change of schema is a new migration at the end.
func migrations(d Dialect, t, table string) [][]string {
	create := `CREATE TABLE IF NOT EXISTS ` + t + ` (
	seq        BIGINT   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind       SMALLINT NOT NULL,
	issuer     TEXT     NOT NULL,
	key        TEXT     NOT NULL,
	before_ns  BIGINT   NOT NULL,
	expires_ns BIGINT   NOT NULL
)`
	if d == SQLite {
		// AUTOINCREMENT: a purged seq is never reused, which polling for
		// seq > last relies on.
		create = `CREATE TABLE IF NOT EXISTS ` + t + ` (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	kind       INTEGER NOT NULL,
	issuer     TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	before_ns  INTEGER NOT NULL,
	expires_ns INTEGER NOT NULL
)`
	}
	idx := `"` + sqlschema.IndexName(table, "expires") + `"`
	return [][]string{{create, `CREATE INDEX IF NOT EXISTS ` + idx + ` ON ` + t + ` (expires_ns)`}}
}

// New returns a Store over db, migrating its schema to the version this
// release knows (creating its table and index if missing).
// Calling it again on the same database, from this process or
// another, is harmless and keeps the rows.
func New(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	switch {
	case cfg.PollInterval == 0:
		cfg.PollInterval = DefaultPollInterval
	case cfg.PollInterval < 0:
		return nil, schema.Errorf("negative PollInterval %v", cfg.PollInterval)
	}
	tbl, err := sqlschema.Open(ctx, db, cfg.Dialect, cfg.Table, schema)
	if err != nil {
		return nil, err
	}
	return newStore(tbl, cfg.PollInterval), nil
}

// newStore returns the Store of tbl, polling every poll, its queries in
// the placeholders of its dialect.
func newStore(tbl *sqlschema.Table, poll time.Duration) *Store {
	t, r := tbl.Quoted, tbl.Dialect.Rebind
	return &Store{
		t:         tbl,
		poll:      poll,
		qLock:     `LOCK TABLE ` + t + ` IN SHARE ROW EXCLUSIVE MODE`,
		qInsert:   r(`INSERT INTO ` + t + ` (` + cols + `) VALUES (?, ?, ?, ?, ?)`),
		qSnapshot: r(`SELECT ` + cols + ` FROM ` + t + ` WHERE expires_ns > ?`),
		qPurge:    r(`DELETE FROM ` + t + ` WHERE expires_ns <= ?`),
		qMaxSeq:   `SELECT COALESCE(MAX(seq), 0) FROM ` + t,
		qPoll:     r(`SELECT seq, ` + cols + ` FROM ` + t + ` WHERE seq > ? ORDER BY seq LIMIT ` + strconv.Itoa(pollBatch)),
	}
}

// Create implements [revocation.Store]. [revocation.Entry.Validate] refuses
// what the columns cannot hold: strings that are not UTF-8 without NUL
// (PostgreSQL text) and times outside the years 1970 to 2261; the epoch
// itself, whose 0 stands for a zero Before, is refused too.
func (s *Store) Create(ctx context.Context, e revocation.Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	// A token entry's zero Before is 0.
	ns, err := sqlschema.NanosAll(e.Before, e.Expires)
	if err != nil {
		return fmt.Errorf("%w: %w", revocation.ErrInvalidEntry, err)
	}
	args := []any{int64(e.Kind), e.Issuer, e.Key, ns[0], ns[1]}
	if s.t.Dialect == SQLite {
		// SQLite serializes writers: seq order is commit order.
		if _, err := s.t.DB.ExecContext(ctx, s.qInsert, args...); err != nil {
			return schema.Errorf("adding an entry: %w", err)
		}
		return nil
	}
	return s.addPostgres(ctx, args)
}

// addPostgres inserts a row on PostgreSQL. Without the table lock, two
// concurrent Creates could draw seq 7 and 8 and commit 8 first; a poll in
// between would see 8, move past 7 and never deliver it. SHARE ROW
// EXCLUSIVE conflicts with itself and with the ROW EXCLUSIVE lock of
// INSERT and DELETE, so the writers of the table take turns, while
// SELECT (ACCESS SHARE) is not blocked: polls and snapshots go on. The
// seq is drawn after the lock is taken, and PostgreSQL releases the lock
// only once the commit is visible, so any reader that sees seq 8 also
// sees every smaller seq that will ever commit.
func (s *Store) addPostgres(ctx context.Context, args []any) error {
	tx, err := sqlschema.BeginTx(ctx, s.t.DB, s.t.Dialect)
	if err != nil {
		return schema.Errorf("adding an entry: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.qLock); err != nil {
		return schema.Errorf("adding an entry: locking the table: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.qInsert, args...); err != nil {
		return schema.Errorf("adding an entry: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return schema.Errorf("adding an entry: %w", err)
	}
	return nil
}

// Snapshot implements [revocation.Store]. It may return several entries
// for one kind, issuer and key. Rows that do not decode to a valid entry
// (an unknown kind, written by a newer version or by hand) are skipped.
func (s *Store) Snapshot(ctx context.Context, now time.Time) ([]revocation.Entry, error) {
	rows, err := s.t.DB.QueryContext(ctx, s.qSnapshot, sqlschema.Bound(now))
	if err != nil {
		return nil, schema.Errorf("snapshot: %w", err)
	}
	defer rows.Close()
	var out []revocation.Entry
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.kind, &r.issuer, &r.key, &r.before, &r.expires); err != nil {
			return nil, schema.Errorf("snapshot: %w", err)
		}
		if e, ok := r.entry(); ok {
			out = append(out, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, schema.Errorf("snapshot: %w", err)
	}
	return out, nil
}

// Purge implements [revocation.Store].
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	n, err := sqlschema.RowsAffected(s.t.DB.ExecContext(ctx, s.qPurge, sqlschema.Bound(before)))
	if err != nil {
		return 0, schema.Errorf("purge: %w", err)
	}
	return n, nil
}

// Subscribe implements [revocation.Store]. The subscription delivers the
// rows whose seq is above the largest one at the time of the call.
func (s *Store) Subscribe(ctx context.Context) (revocation.Subscription, error) {
	var last int64
	if err := s.t.DB.QueryRowContext(ctx, s.qMaxSeq).Scan(&last); err != nil {
		return nil, schema.Errorf("subscribe: %w", err)
	}
	return &subscription{s: s, last: last, closed: make(chan struct{})}, nil
}

// row is a row of the table as scanned.
type row struct {
	seq             int64
	kind            int64
	issuer, key     string
	before, expires int64
}

// entry decodes r, reporting false for a row that is not a valid entry.
func (r row) entry() (revocation.Entry, bool) {
	if r.kind < 0 || r.kind > math.MaxUint8 {
		return revocation.Entry{}, false
	}
	e := revocation.Entry{
		Kind:    revocation.Kind(r.kind),
		Issuer:  r.issuer,
		Key:     r.key,
		Expires: sqlschema.FromNanos(r.expires),
	}
	if e.Kind == revocation.KindSubject {
		// A subject entry always has a Before: 0 is the Unix epoch, which
		// an earlier release wrote (this one refuses to), not "none".
		e.Before = time.Unix(0, r.before).UTC()
	}
	if e.Validate() != nil {
		return revocation.Entry{}, false
	}
	return e, true
}

var errClosed = schema.Errorf("subscription closed")

// subscription polls the table for rows above last.
type subscription struct {
	s         *Store
	closed    chan struct{}
	closeOnce sync.Once

	mu   sync.Mutex // serializes Next
	last int64      // largest seq read
	buf  []revocation.Entry
}

// Next implements [revocation.Subscription]. It returns the entries
// already read first; otherwise it polls, and polls again every
// PollInterval until an entry arrives or wait has passed. When the last
// poll, begun after the call, finds nothing, every entry committed before
// the call has been delivered: that is the heartbeat (false, nil). A
// failed poll returns its error.
func (sub *subscription) Next(ctx context.Context, wait time.Duration) (revocation.Entry, bool, error) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.isClosed() {
		return revocation.Entry{}, false, errClosed
	}
	if err := ctx.Err(); err != nil {
		return revocation.Entry{}, false, err
	}
	if e, ok := sub.pop(); ok {
		return e, true, nil
	}
	deadline := time.Now().Add(wait)
	timeout := max(wait, minPollTimeout)
	var timer *time.Timer
	for {
		full, err := sub.poll(ctx, timeout)
		if err != nil {
			return revocation.Entry{}, false, err
		}
		if e, ok := sub.pop(); ok {
			return e, true, nil
		}
		if full {
			// A whole batch of skipped rows: there may be more.
			continue
		}
		left := time.Until(deadline)
		if left <= 0 {
			return revocation.Entry{}, false, nil
		}
		d := min(sub.s.poll, left)
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		} else {
			timer.Reset(d)
		}
		select {
		case <-timer.C:
		case <-ctx.Done():
			return revocation.Entry{}, false, ctx.Err()
		case <-sub.closed:
			return revocation.Entry{}, false, errClosed
		}
	}
}

// pop returns the first buffered entry.
func (sub *subscription) pop() (revocation.Entry, bool) {
	if len(sub.buf) == 0 {
		return revocation.Entry{}, false
	}
	e := sub.buf[0]
	sub.buf[0] = revocation.Entry{}
	sub.buf = sub.buf[1:]
	return e, true
}

// poll reads the rows above last into buf, reporting whether it read a
// whole batch.
func (sub *subscription) poll(ctx context.Context, timeout time.Duration) (full bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rows, err := sub.s.t.DB.QueryContext(ctx, sub.s.qPoll, sub.last)
	if err != nil {
		return false, schema.Errorf("polling: %w", err)
	}
	defer rows.Close()
	var (
		n    int
		last = sub.last
		got  []revocation.Entry
	)
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.seq, &r.kind, &r.issuer, &r.key, &r.before, &r.expires); err != nil {
			return false, schema.Errorf("polling: %w", err)
		}
		n++
		if r.seq <= last {
			// Not possible with this package's queries; a misbehaving
			// database must not make the subscription go backwards.
			continue
		}
		last = r.seq
		if e, ok := r.entry(); ok {
			got = append(got, e)
		}
	}
	if err := rows.Err(); err != nil {
		return false, schema.Errorf("polling: %w", err)
	}
	// Only a complete read moves the subscription on.
	sub.last = last
	sub.buf = append(sub.buf, got...)
	return n == pollBatch, nil
}

func (sub *subscription) isClosed() bool {
	select {
	case <-sub.closed:
		return true
	default:
		return false
	}
}

// Close implements [revocation.Subscription]. It interrupts a Next that
// is waiting between polls.
func (sub *subscription) Close() error {
	sub.closeOnce.Do(func() { close(sub.closed) })
	return nil
}
