// Package sqlschema is what the SQL stores of sessionless
// (apitoken/sqlstore, revocation/sqlstore, token/refresh/sqlstore,
// token/authcode/sqlstore, token/clients/sqlstore, token/consent/sqlstore,
// and the users of the demo) share about their tables on SQLite and
// PostgreSQL, so that they open, migrate, encode and lock alike.
//
// # Opening a table
//
// A store describes its table with a [Schema] (its package, default
// table name, columns and migrations) and opens it in its New:
//
//	tbl, err := sqlschema.Open(ctx, db, cfg.Dialect, cfg.Table, schema)
//	if err != nil {
//		return nil, err // "apitoken/sqlstore: …"
//	}
//	qGet := tbl.Dialect.Rebind(`SELECT ` + columns + ` FROM ` + tbl.Quoted + ` WHERE id = ?`)
//
// [Open] refuses a nil database, a [Dialect] other than [SQLite] and
// [Postgres], and a table name [CheckTable] refuses, before any SQL runs;
// then it applies the migrations the database lacks with [Migrate] and
// checks the table's columns. It returns the [Table]: the database, the
// dialect and the name, quoted for the store's queries. The errors of
// Open, and every error a store formats with [Schema.Errorf], start with
// the store's import path: one rule for every store.
//
// # Names and queries
//
//   - [CheckTable] accepts the table names that can be interpolated into
//     SQL without escaping; [IndexName] names a table's indexes within
//     PostgreSQL's [MaxNameLen].
//   - [Dialect.Rebind] turns a query written with ? placeholders into the
//     dialect's ($1, $2, … on PostgreSQL). [Table.Qualify] qualifies
//     columns with the table's name.
//
// # Migrations
//
// [Migrate] applies a store's migrations in one transaction and records
// their number in [VersionTable]; instances starting together take turns,
// and a database a newer release migrated is refused with
// [ErrNewerSchema]. Migrations are append-only.
//
// # Values
//
//   - Times are BIGINT Unix nanoseconds. [Nanos] encodes one (0 for the
//     zero time; other times after the epoch and within int64, or
//     [ErrTimeRange]), [NanosAll] several, [FromNanos] decodes one, in
//     UTC, and [Bound] turns any time into the bound of a comparison with
//     the stored values ("at or before t", "after t") for purges and
//     snapshots.
//   - [Text] is the rule for strings: UTF-8 without NUL, what PostgreSQL's
//     text holds; the stores write no other, on either dialect.
//
// # Transactions
//
// [BeginTx] starts a store's transaction, at READ COMMITTED on PostgreSQL
// whatever the server's default; [AdvisoryLock] takes a transaction-scoped
// advisory lock on a key on PostgreSQL (SQLite serializes writers
// already), and [RowsAffected] reads how many rows a statement changed.
//
// Package schematest gives the stores' tests their databases; the tests
// of Open, written once, run against every store in this package's tests.
package sqlschema
