package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite", pure Go

	"github.com/sessionless/sessionless/internal/sqlopen"
	"github.com/sessionless/sessionless/internal/sqlschema"
)

// User is an account that can log in.
type User struct {
	// ID is stable and opaque, fixed at creation; it is the "sub" of the
	// user's tokens.
	ID string
	// Username is the login name; unique, compared exactly.
	Username string
	// PasswordHash is an argon2id hash in the PHC string format.
	PasswordHash string
	// Scopes are granted to the user's tokens ("scope" claim).
	Scopes []string
	// Roles go into the user's tokens ("roles" claim).
	Roles []string
}

// Errors of a [UserStore].
var (
	ErrUserNotFound = errors.New("demo: user not found")
	ErrUserExists   = errors.New("demo: username already taken")
)

// UserStore keeps the users. Implementations must be safe for concurrent
// use.
type UserStore interface {
	// UserByUsername returns the user with exactly this username, or an
	// error wrapping ErrUserNotFound.
	UserByUsername(ctx context.Context, username string) (User, error)
	// UserByID returns the user with this ID, or an error wrapping
	// ErrUserNotFound.
	UserByID(ctx context.Context, id string) (User, error)
	// CreateUsers adds users atomically: all of them, or, when a username
	// is taken (an error wrapping ErrUserExists) or anything else fails,
	// none.
	CreateUsers(ctx context.Context, users ...User) error
	// CountUsers returns the number of users.
	CountUsers(ctx context.Context) (int, error)
}

// The users table and its upsert are the same on SQLite (modernc, driver
// "sqlite") and PostgreSQL (pgx, driver "pgx"); only the placeholders
// differ (sqlschema.Dialect.Rebind).
const (
	usersSchema = `CREATE TABLE IF NOT EXISTS users (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	scopes        TEXT NOT NULL DEFAULT '',
	roles         TEXT NOT NULL DEFAULT ''
)`
	// insertUser adds a user unless the username is taken, in which case
	// it changes nothing.
	insertUser = `INSERT INTO users (id, username, password_hash, scopes, roles) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (username) DO NOTHING`
)

// usersTable is how sqlschema.Open opens the users table. Its Package is
// "demo", not the import path, so that its version stays recorded under
// "demo:users", the name of earlier releases.
var usersTable = sqlschema.Schema{
	Package:      "demo",
	DefaultTable: "users",
	Columns:      "id, username, password_hash, scopes, roles",
	Migrations:   func(sqlschema.Dialect, string, string) [][]string { return [][]string{{usersSchema}} },
}

// sqlStore is a [UserStore] over database/sql. Scopes and roles are stored
// space-separated.
type sqlStore struct {
	db *sql.DB
	d  sqlschema.Dialect

	qUserByUsername, qUserByID, qInsertUser, qCountUsers, qSetPassword string
}

// openStore opens the database that databaseURL names (see
// [Config.DatabaseURL]), creating the directory of a SQLite file (0700)
// and the file (0600) when missing, and the schema.
func openStore(ctx context.Context, databaseURL string) (*sqlStore, error) {
	db, d, err := sqlopen.Open(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	st, err := newSQLStore(ctx, db, d)
	if err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

// isPostgres and sqliteSource read a database URL as internal/sqlopen
// does.
func isPostgres(databaseURL string) bool { return sqlopen.IsPostgres(databaseURL) }

func sqliteSource(databaseURL string) (dsn, path string, err error) {
	return sqlopen.SQLiteSource(databaseURL)
}

// newSQLStore creates the users table in db and returns the store.
func newSQLStore(ctx context.Context, db *sql.DB, d sqlschema.Dialect) (*sqlStore, error) {
	if _, err := sqlschema.Open(ctx, db, d, "", usersTable); err != nil {
		return nil, err
	}
	return &sqlStore{
		db:              db,
		d:               d,
		qUserByUsername: d.Rebind(`SELECT id, username, password_hash, scopes, roles FROM users WHERE username = ?`),
		qUserByID:       d.Rebind(`SELECT id, username, password_hash, scopes, roles FROM users WHERE id = ?`),
		qInsertUser:     d.Rebind(insertUser),
		qCountUsers:     `SELECT COUNT(*) FROM users`,
		qSetPassword:    d.Rebind(`UPDATE users SET password_hash = ? WHERE id = ?`),
	}, nil
}

func (s *sqlStore) UserByUsername(ctx context.Context, username string) (User, error) {
	return s.user(ctx, s.qUserByUsername, username)
}

func (s *sqlStore) UserByID(ctx context.Context, id string) (User, error) {
	return s.user(ctx, s.qUserByID, id)
}

func (s *sqlStore) user(ctx context.Context, query, arg string) (User, error) {
	if !sqlschema.Text(arg) {
		return User{}, ErrUserNotFound // PostgreSQL text cannot hold them: no user has them
	}
	var u User
	var scopes, roles string
	err := s.db.QueryRowContext(ctx, query, arg).Scan(&u.ID, &u.Username, &u.PasswordHash, &scopes, &roles)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("looking up a user: %w", err)
	}
	u.Scopes, u.Roles = strings.Fields(scopes), strings.Fields(roles)
	return u, nil
}

func (s *sqlStore) CreateUsers(ctx context.Context, users ...User) (err error) {
	for _, u := range users {
		if err := u.check(); err != nil {
			return err
		}
	}
	tx, err := sqlschema.BeginTx(ctx, s.db, s.d)
	if err != nil {
		return fmt.Errorf("creating users: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	for _, u := range users {
		res, err := tx.ExecContext(ctx, s.qInsertUser, u.ID, u.Username, u.PasswordHash,
			strings.Join(u.Scopes, " "), strings.Join(u.Roles, " "))
		if err != nil {
			return fmt.Errorf("creating user %q: %w", u.Username, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("creating user %q: %w", u.Username, err)
		} else if n == 0 {
			return fmt.Errorf("%w: %q", ErrUserExists, u.Username)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("creating users: %w", err)
	}
	return nil
}

func (s *sqlStore) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.qCountUsers).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting users: %w", err)
	}
	return n, nil
}

// SetPasswordHash replaces the password hash of the user with this ID.
func (s *sqlStore) SetPasswordHash(ctx context.Context, id, hash string) error {
	res, err := s.db.ExecContext(ctx, s.qSetPassword, hash, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrUserNotFound
	}
	return err
}

// Close closes the database.
func (s *sqlStore) Close() error { return s.db.Close() }

// check validates a user before it is stored.
func (u User) check() error {
	if u.ID == "" || u.Username == "" || u.PasswordHash == "" {
		return fmt.Errorf("demo: user %q needs an ID, a username and a password hash", u.Username)
	}
	for _, list := range [][]string{u.Scopes, u.Roles} {
		for _, v := range list {
			if v == "" || strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
				return fmt.Errorf("demo: user %q: scope or role %q is empty or contains spaces", u.Username, v)
			}
		}
	}
	return nil
}
