package sqlopen

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestOpenCreatesPrivateFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "demo.db")
	db, _, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		if info, err := os.Stat(name); err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %#o", name, info.Mode(), err, want)
		}
	}
}

func TestSQLiteSource(t *testing.T) {
	const defaults = "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	tests := []struct {
		url, dsn, path string
	}{
		{"./demo-data/demo.db", "./demo-data/demo.db" + defaults, "./demo-data/demo.db"},
		{"/var/lib/demo.db", "/var/lib/demo.db" + defaults, "/var/lib/demo.db"},
		{"demo.db?_pragma=foreign_keys(1)", "demo.db?_pragma=foreign_keys(1)", "demo.db"},
		{"demo.db?", "demo.db", "demo.db"},
		{"sqlite:demo.db", "demo.db" + defaults, "demo.db"},
		{"SQLite:demo.db", "demo.db" + defaults, "demo.db"},
		{"sqlite:///abs/demo.db", "/abs/demo.db" + defaults, "/abs/demo.db"},
		{"sqlite://rel/demo.db", "rel/demo.db" + defaults, "rel/demo.db"},
		{"sqlite::memory:", ":memory:" + defaults, ""},
		{":memory:", ":memory:" + defaults, ""},
		{"file:demo.db", "file:demo.db", "demo.db"},
		{"file:///abs/my%20demo.db?mode=rwc", "file:///abs/my%20demo.db?mode=rwc", "/abs/my demo.db"},
		{"file://localhost/abs/demo.db", "file://localhost/abs/demo.db", "/abs/demo.db"},
		{"file::memory:?cache=shared", "file::memory:?cache=shared", ""},
		{"file:x?mode=memory", "file:x?mode=memory", ""},
	}
	for _, tt := range tests {
		dsn, path, err := SQLiteSource(tt.url)
		if err != nil || dsn != tt.dsn || path != tt.path {
			t.Errorf("SQLiteSource(%q) = %q, %q, %v; want %q, %q", tt.url, dsn, path, err, tt.dsn, tt.path)
		}
	}

	for _, tt := range []struct{ url, mention string }{
		{"mysql://demo:s3cret@db.example/demo", `"mysql"`},
		{"", "no database"},
		{"sqlite:", "no file"},
		{"?x=1", "no file"},
	} {
		_, _, err := SQLiteSource(tt.url)
		if err == nil || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("SQLiteSource(%q) err = %v, want one mentioning %s", tt.url, err, tt.mention)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	// An unreachable PostgreSQL fails fast, without the password.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, _, err := Open(ctx, "postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=2"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open(unreachable postgres) err = %v", err)
	}
}

func TestExists(t *testing.T) {
	dir := t.TempDir()
	there := filepath.Join(dir, "there.db")
	if err := os.WriteFile(there, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for url, ok := range map[string]bool{there: true, filepath.Join(dir, "missing.db"): false, ":memory:": true, "postgres://h/db": true} {
		if err := Exists(url); (err == nil) != ok {
			t.Errorf("Exists(%q) = %v", url, err)
		}
	}
}
