package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/apitoken/sqlstore"
	"github.com/sessionless/sessionless/apitoken/storetest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
)

// pair opens two stores on two handles of one fresh table, and a third
// handle to look at the table directly.
func pair(t testing.TB, b schematest.Backend) (s1, s2 *sqlstore.Store, raw *sql.DB, table string) {
	t.Helper()
	open, table := b.Fresh(t, "apitoken_test")
	cfg := sqlstore.Config{Dialect: b.Dialect, Table: table}
	return schematest.New(t, sqlstore.New, open(t), cfg), schematest.New(t, sqlstore.New, open(t), cfg), open(t), table
}

func TestConformance(t *testing.T) {
	schematest.Run(t, func(t *testing.T, b schematest.Backend) {
		storetest.Run(t, func(t *testing.T) (apitoken.Store, apitoken.Store) {
			s1, s2, _, _ := pair(t, b)
			return s1, s2
		})
	})
}

// TestPlaintextNeverStored creates tokens through a Manager and reads
// every column of every row: neither the token nor its secret part is
// there, only its hash.
func TestPlaintextNeverStored(t *testing.T) {
	schematest.Run(t, func(t *testing.T, b schematest.Backend) {
		for _, pepper := range [][]byte{nil, []byte(strings.Repeat("p", 32))} {
			s, _, raw, table := pair(t, b)
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
			q := b.Dialect.Rebind(`SELECT hash FROM "` + table + `" WHERE hash = ?`)
			sum := sha256.Sum256([]byte(secrets[0]))
			err = raw.QueryRow(q, sum[:]).Scan(&h)
			if (pepper == nil) != (err == nil) {
				t.Errorf("pepper %v: a row with SHA-256(token): %v", pepper != nil, err)
			}
		}
	})
}

const ownerIssuer = "https://issuer.example"

func principal(sub string, scopes ...string) *identity.Principal {
	return &identity.Principal{Subject: sub, Scopes: scopes, Method: identity.JWT, Issuer: ownerIssuer}
}

// TestLockKey: on PostgreSQL, Create takes the advisory lock on
// "apitoken:" and the subject, as every release has, so that instances of
// different releases count a subject's tokens in turn.
func TestLockKey(t *testing.T) {
	schematest.Run(t, func(t *testing.T, b schematest.Backend) {
		s, _, raw, _ := pair(t, b)
		schematest.Locks(t, b, raw, "apitoken:alice", func() error {
			return s.Create(context.Background(), storetest.NewRecord("alice", storetest.Base), 10)
		})
	})
}
