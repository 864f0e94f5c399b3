package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/apitoken/sqlstore"
	"github.com/sessionless/sessionless/apitoken/storetest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
)

var backends = []struct {
	name    string
	dialect sqlstore.Dialect
	open    func(t testing.TB) testenv.DBOpener
}{
	{"SQLite", sqlstore.SQLite, testenv.SQLiteDB},
	{"Postgres", sqlstore.Postgres, testenv.SharedPostgres},
}

func newStore(t testing.TB, db *sql.DB, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(context.Background(), db, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// pair opens two stores on two handles of one fresh table, and a third
// handle to look at the table directly.
func pair(t testing.TB, open func(testing.TB) testenv.DBOpener, d sqlstore.Dialect) (a, b *sqlstore.Store, raw *sql.DB, table string) {
	t.Helper()
	conn := open(t)
	cfg := sqlstore.Config{Dialect: d, Table: testenv.UniqueTable("apitoken_test")}
	dbA := conn(t)
	a = newStore(t, dbA, cfg)
	testenv.DropTableAtEnd(t, dbA, cfg.Table)
	return a, newStore(t, conn(t), cfg), conn(t), cfg.Table
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) (apitoken.Store, apitoken.Store) {
				a, b, _, _ := pair(t, b.open, b.dialect)
				return a, b
			})
		})
	}
}

// TestPlaintextNeverStored creates tokens through a Manager and reads
// every column of every row: neither the token nor its secret part is
// there, only its hash.
func TestPlaintextNeverStored(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, pepper := range [][]byte{nil, []byte(strings.Repeat("p", 32))} {
				s, _, raw, table := pair(t, b.open, b.dialect)
				m, err := apitoken.New(apitoken.Config{Store: s, SubjectIssuer: ownerIssuer, Pepper: pepper})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				var secrets []string
				for range 3 {
					tok, _, err := m.CreateFor(context.Background(), principal("alice", "widgets:read"),
						apitoken.CreateRequest{Name: "ci", Scopes: []string{"widgets:read"}})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := m.Authenticate(context.Background(), tok); err != nil {
						t.Fatal(err)
					}
					secrets = append(secrets, tok)
				}
				m.Flush(context.Background())
				rows, err := raw.Query(`SELECT * FROM "` + table + `"`)
				if err != nil {
					t.Fatal(err)
				}
				cols, _ := rows.Columns()
				n := 0
				for rows.Next() {
					n++
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						t.Fatal(err)
					}
					var hash []byte
					for i, v := range vals {
						cell := fmt.Sprint(v)
						if bs, ok := v.([]byte); ok {
							cell = string(bs)
						}
						if cols[i] == "hash" {
							hash = v.([]byte)
						}
						for _, tok := range secrets {
							body := strings.TrimPrefix(tok, "sl_")
							for _, part := range []string{tok, body, body[:apitoken.SecretLen], body[:12]} {
								if strings.Contains(cell, part) || strings.Contains(fmt.Sprintf("%x", cell), fmt.Sprintf("%x", part)) {
									t.Fatalf("column %s holds the token (or a part of it): %q", cols[i], cell)
								}
							}
						}
					}
					if len(hash) != sha256.Size {
						t.Errorf("hash column: %d bytes, want %d", len(hash), sha256.Size)
					}
				}
				if err := rows.Err(); err != nil || n != 3 {
					t.Fatalf("%d rows, %v; want 3", n, err)
				}
				rows.Close()
				// Without a pepper the hash is SHA-256 of the token; with one
				// it is not.
				var h []byte
				q := `SELECT hash FROM "` + table + `" WHERE hash = ?`
				if b.dialect == sqlstore.Postgres {
					q = strings.Replace(q, "?", "$1", 1)
				}
				sum := sha256.Sum256([]byte(secrets[0]))
				err = raw.QueryRow(q, sum[:]).Scan(&h)
				if (pepper == nil) != (err == nil) {
					t.Errorf("pepper %v: a row with SHA-256(token): %v", pepper != nil, err)
				}
			}
		})
	}
}

const ownerIssuer = "https://issuer.example"

func principal(sub string, scopes ...string) *identity.Principal {
	return &identity.Principal{Subject: sub, Scopes: scopes, Method: identity.JWT, Issuer: ownerIssuer}
}

// TestNewRefuses checks the configuration and the table's shape.
func TestNewRefuses(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)(t)
			ctx := context.Background()
			if _, err := sqlstore.New(ctx, nil, sqlstore.Config{Dialect: b.dialect}); err == nil {
				t.Error("New accepted a nil db")
			}
			if _, err := sqlstore.New(ctx, db, sqlstore.Config{}); err == nil {
				t.Error("New accepted no dialect")
			}
			if _, err := sqlstore.New(ctx, db, sqlstore.Config{Dialect: b.dialect, Table: `x"; DROP TABLE users; --`}); err == nil {
				t.Error("New accepted a table name that is not an identifier")
			}
			table := testenv.UniqueTable("apitoken_shape")
			testenv.DropTableAtEnd(t, db, table)
			newStore(t, db, sqlstore.Config{Dialect: b.dialect, Table: table})
			if _, err := db.Exec(`DROP TABLE "` + table + `"`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`CREATE TABLE "` + table + `" (id TEXT)`); err != nil {
				t.Fatal(err)
			}
			if _, err := sqlstore.New(ctx, db, sqlstore.Config{Dialect: b.dialect, Table: table}); err == nil ||
				!strings.Contains(err.Error(), "lacks the expected columns") {
				t.Errorf("New on a table of another shape: %v", err)
			}
		})
	}
}
