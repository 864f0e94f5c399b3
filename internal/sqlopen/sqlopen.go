// Package sqlopen opens the database a URL names, as the demo's -db and
// sessionless.Config.Database take it: a SQLite file path (or "file:" or
// "sqlite:" URI, ":memory:") with modernc.org/sqlite, or a postgres://
// URL with pgx. It links both drivers: only the short path (package
// sessionless) and the demo import it; the stores themselves take a
// *sql.DB and link none.
package sqlopen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"modernc.org/sqlite"             // database/sql driver "sqlite", pure Go

	"github.com/sessionless/sessionless/internal/sqlschema"
)

// DialectOf returns the dialect of a database opened with the drivers
// this package links: modernc.org/sqlite ("sqlite") or pgx ("pgx").
func DialectOf(db *sql.DB) (sqlschema.Dialect, error) {
	switch db.Driver().(type) {
	case *sqlite.Driver:
		return sqlschema.SQLite, nil
	case *stdlib.Driver:
		return sqlschema.Postgres, nil
	}
	return 0, fmt.Errorf("a database of driver %T: want modernc.org/sqlite or github.com/jackc/pgx/v5/stdlib", db.Driver())
}

// Open opens the database databaseURL names, creating the directory of a
// SQLite file (0700) and the file (0600) when missing, and checks that a
// PostgreSQL server answers. Errors never include the URL: it may hold a
// password. The caller closes the database.
func Open(ctx context.Context, databaseURL string) (*sql.DB, sqlschema.Dialect, error) {
	if IsPostgres(databaseURL) {
		db, err := openPostgres(ctx, strings.TrimSpace(databaseURL))
		return db, sqlschema.Postgres, err
	}
	dsn, path, err := SQLiteSource(databaseURL)
	if err != nil {
		return nil, 0, err
	}
	if path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, 0, fmt.Errorf("database directory: %w", err)
		}
		// The file may hold password hashes: create it private. SQLite
		// gives its -wal and -shm files the same mode.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, 0, fmt.Errorf("database file: %w", err)
		}
		f.Close()
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, 0, fmt.Errorf("opening the database: %w", err)
	}
	if path == "" {
		// Each connection to an in-memory database is a database of its own.
		db.SetMaxOpenConns(1)
	}
	return db, sqlschema.SQLite, nil
}

// Exists refuses a SQLite database file that does not exist, for
// commands that must not create one; a PostgreSQL URL passes.
func Exists(databaseURL string) error {
	if IsPostgres(databaseURL) {
		return nil
	}
	if _, path, err := SQLiteSource(databaseURL); err == nil && path != "" {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no database at %s", path)
		}
	}
	return nil
}

// IsPostgres reports whether databaseURL is a postgres:// or
// postgresql:// URL.
func IsPostgres(databaseURL string) bool {
	lower := strings.ToLower(strings.TrimSpace(databaseURL))
	return strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://")
}

// Pool limits of the PostgreSQL connection pool.
const (
	pgMaxOpenConns    = 20
	pgMaxIdleConns    = 10
	pgConnMaxIdleTime = 5 * time.Minute
	pgConnectTimeout  = 10 * time.Second
)

// openPostgres opens a PostgreSQL database and checks that it answers.
// Errors never include the URL: it may hold a password.
func openPostgres(ctx context.Context, databaseURL string) (*sql.DB, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, errors.New("the PostgreSQL URL does not parse")
	}
	u.Scheme = strings.ToLower(u.Scheme) // POSTGRES:// is postgres://
	databaseURL = u.String()
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, errors.New("the PostgreSQL URL is not valid")
	}
	db.SetMaxOpenConns(pgMaxOpenConns)
	db.SetMaxIdleConns(pgMaxIdleConns)
	db.SetConnMaxIdleTime(pgConnMaxIdleTime)
	pctx, cancel := context.WithTimeout(ctx, pgConnectTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", redactURL(err, databaseURL))
	}
	return db, nil
}

// redactURL returns err with any copy of databaseURL in its message
// replaced, so that a password never reaches a log.
func redactURL(err error, databaseURL string) error {
	if msg := err.Error(); strings.Contains(msg, databaseURL) {
		return errors.New(strings.ReplaceAll(msg, databaseURL, "postgres://…"))
	}
	return err
}

// sqliteExts are the extensions a SQLite file path must have, so that a
// mistyped URL is refused rather than created as a file.
var sqliteExts = map[string]bool{".db": true, ".sqlite": true, ".sqlite3": true}

// SQLiteSource turns a database URL into a modernc.org/sqlite DSN and the
// path of the database file, empty for an in-memory database. It never
// puts the URL in an error: it may hold a password.
func SQLiteSource(databaseURL string) (dsn, path string, err error) {
	s := strings.TrimSpace(databaseURL)
	lower := strings.ToLower(s)
	switch {
	case s == "":
		return "", "", errors.New("no database URL")
	case strings.HasPrefix(lower, "file:"):
		// A SQLite URI, passed on whole (https://sqlite.org/uri.html).
		rest, query, _ := strings.Cut(s[len("file:"):], "?")
		if strings.HasPrefix(rest, "//") {
			rest = rest[2:]
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				rest = rest[i:] // drop the authority: file://localhost/x
			}
		}
		if p, err := url.PathUnescape(rest); err == nil {
			rest = p
		}
		q, _ := url.ParseQuery(query)
		if rest == "" || rest == ":memory:" || q.Get("mode") == "memory" {
			return s, "", nil
		}
		if !sqliteExts[strings.ToLower(filepath.Ext(rest))] {
			return "", "", errors.New("a SQLite file: URI must name a file ending in .db, .sqlite or .sqlite3")
		}
		return s, rest, nil
	case strings.HasPrefix(lower, "sqlite:"):
		s = strings.TrimPrefix(s[len("sqlite:"):], "//") // sqlite:///abs/path → /abs/path
	case strings.Contains(s, "://"):
		scheme, _, _ := strings.Cut(s, "://")
		return "", "", fmt.Errorf("unsupported database URL scheme %q: use a SQLite path or postgres://", scheme)
	}
	// A plain path, optionally with driver parameters after '?'.
	path, query, hasQuery := strings.Cut(s, "?")
	if path == "" {
		return "", "", errors.New("database URL names no file")
	}
	if path != ":memory:" && !sqliteExts[strings.ToLower(filepath.Ext(path))] {
		// "localhost:5432/app", "postgres:/db", "demo": a typo, not a file
		// to create.
		return "", "", errors.New("not a postgres:// URL, and not a SQLite file path ending in .db, .sqlite or .sqlite3")
	}
	if !hasQuery {
		s += "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	} else if query == "" {
		s = path
	}
	if path == ":memory:" {
		return s, "", nil
	}
	return s, path, nil
}
