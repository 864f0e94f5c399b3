package demo

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sessionless/sessionless/internal/testenv/testdb"
)

var _ UserStore = (*sqlStore)(nil)

func TestSQLStore(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{
		filepath.Join(t.TempDir(), "a", "b", "demo.db"),
		"sqlite:" + filepath.Join(t.TempDir(), "demo.db"),
		"file:" + filepath.Join(t.TempDir(), "demo.db") + "?_pragma=busy_timeout(1000)",
		"sqlite::memory:",
		"postgres",
	} {
		t.Run(url, func(t *testing.T) {
			if url == "postgres" {
				url = testdb.PostgresDB(t)
			}
			s, err := openStore(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if n, err := s.CountUsers(ctx); n != 0 || err != nil {
				t.Fatalf("CountUsers = %d, %v", n, err)
			}
			alice := User{ID: "usr_1", Username: "alice", PasswordHash: "$h1", Scopes: []string{"a:read", "a:write"}, Roles: []string{"admin"}}
			bob := User{ID: "usr_2", Username: "bob", PasswordHash: "$h2"}
			if err := s.CreateUsers(ctx, alice, bob); err != nil {
				t.Fatal(err)
			}
			got, err := s.UserByUsername(ctx, "alice")
			if err != nil || got.ID != alice.ID || got.PasswordHash != alice.PasswordHash ||
				!slices.Equal(got.Scopes, alice.Scopes) || !slices.Equal(got.Roles, alice.Roles) {
				t.Errorf("UserByUsername(alice) = %+v, %v", got, err)
			}
			if byID, err := s.UserByID(ctx, alice.ID); err != nil || byID.Username != "alice" || !slices.Equal(byID.Scopes, alice.Scopes) {
				t.Errorf("UserByID(%s) = %+v, %v", alice.ID, byID, err)
			}
			for _, id := range []string{"usr_9", "", "usr_1\x00", "\xff"} {
				if _, err := s.UserByID(ctx, id); !errors.Is(err, ErrUserNotFound) {
					t.Errorf("UserByID(%q) err = %v, want ErrUserNotFound", id, err)
				}
			}
			if got, err := s.UserByUsername(ctx, "bob"); err != nil || len(got.Scopes) != 0 || len(got.Roles) != 0 {
				t.Errorf("UserByUsername(bob) = %+v, %v", got, err)
			}
			for _, name := range []string{"carol", "Alice", "alice ", ""} {
				if _, err := s.UserByUsername(ctx, name); !errors.Is(err, ErrUserNotFound) {
					t.Errorf("UserByUsername(%q) err = %v, want ErrUserNotFound", name, err)
				}
			}

			// All or nothing: carol is not created when bob's name is taken.
			carol := User{ID: "usr_3", Username: "carol", PasswordHash: "$h3"}
			if err := s.CreateUsers(ctx, carol, User{ID: "usr_4", Username: "bob", PasswordHash: "$h4"}); !errors.Is(err, ErrUserExists) {
				t.Errorf("duplicate username: err = %v, want ErrUserExists", err)
			}
			if _, err := s.UserByUsername(ctx, "carol"); !errors.Is(err, ErrUserNotFound) {
				t.Errorf("carol exists after a failed CreateUsers: %v", err)
			}
			if err := s.CreateUsers(ctx, User{ID: "usr_1", Username: "dave", PasswordHash: "$h"}); err == nil || errors.Is(err, ErrUserExists) {
				t.Errorf("duplicate ID: err = %v", err)
			}
			for _, bad := range []User{
				{ID: "", Username: "x", PasswordHash: "$h"},
				{ID: "x", Username: "", PasswordHash: "$h"},
				{ID: "x", Username: "x"},
				{ID: "x", Username: "x", PasswordHash: "$h", Scopes: []string{"a b"}},
				{ID: "x", Username: "x", PasswordHash: "$h", Roles: []string{""}},
			} {
				if err := s.CreateUsers(ctx, bad); err == nil {
					t.Errorf("CreateUsers(%+v) succeeded", bad)
				}
			}
			if n, err := s.CountUsers(ctx); n != 2 || err != nil {
				t.Errorf("CountUsers = %d, %v", n, err)
			}
		})
	}
}
