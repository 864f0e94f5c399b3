// Package testenv gives tests the PostgreSQL and Redis servers that
// scripts/test.sh starts on loopback. Without them a test skips with a
// message saying how to get them; under CI (CI=true) it fails instead,
// because CI must run the backend tests for real.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// PostgresURL returns TEST_POSTGRES_URL.
func PostgresURL(t testing.TB) string {
	return need(t, "TEST_POSTGRES_URL", "PostgreSQL", "postgresql")
}

// RedisURL returns TEST_REDIS_URL.
func RedisURL(t testing.TB) string { return need(t, "TEST_REDIS_URL", "Redis", "redis-server") }

// InCI reports whether the tests run under CI, where nothing may skip.
func InCI() bool { return os.Getenv("CI") == "true" }

func need(t testing.TB, env, name, pkg string) string {
	t.Helper()
	if u := os.Getenv(env); u != "" {
		return u
	}
	msg := name + " tests need " + env + ": run ./scripts/test.sh, which starts " + name +
		" on loopback when the Debian package " + pkg + " is installed (apt-get install " + pkg + ")"
	if InCI() {
		t.Fatal("CI must not skip: " + msg)
	}
	t.Skip(msg)
	return ""
}

// PostgresDB creates a fresh database on the test PostgreSQL server and
// returns its URL; it is dropped when the test ends. Tests that own a
// whole schema (fixed table names) use it to stay independent.
func PostgresDB(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_POSTGRES_URL: %v", err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [8]byte
	rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating a test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// RedisServer is a redis-server process of a test's own, which the test
// may stop and start again on the same port, with its data kept on disk
// (append-only file) as a production Redis would keep it.
type RedisServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
}

// StartRedis starts a redis-server on a free loopback port. Without the
// redis-server command it skips (fails under CI).
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "this test runs its own redis-server: install the Debian package redis-server"
		if InCI() {
			t.Fatal("CI must not skip: " + msg)
		}
		t.Skip(msg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &RedisServer{t: t, bin: bin, dir: t.TempDir(), port: port}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *RedisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Start starts the server (again) and waits until it accepts connections.
func (s *RedisServer) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port), "--dir", s.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server does not accept connections: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server and waits for it to exit.
func (s *RedisServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// DBOpener opens handles on one test database; each handle is closed when
// the test that opened it ends.
type DBOpener func(t testing.TB) *sql.DB

// SQLiteDB is a SQLite file of its own in a temporary directory, opened
// with a busy timeout and in WAL mode. The file is switched to WAL once,
// here: connections that open a new file at the same moment and each ask
// for WAL can fail with SQLITE_BUSY, which the busy timeout does not cover.
func SQLiteDB(t testing.TB) DBOpener {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "test.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	if err := openDB(t, "sqlite", dsn).Ping(); err != nil {
		t.Fatalf("creating the SQLite file: %v", err)
	}
	return func(t testing.TB) *sql.DB { return openDB(t, "sqlite", dsn) }
}

// SharedPostgres is the shared test PostgreSQL database (it skips without
// one, see PostgresURL): tests isolate themselves with tables of their own
// (UniqueTable, DropTableAtEnd).
func SharedPostgres(t testing.TB) DBOpener {
	url := PostgresURL(t)
	return func(t testing.TB) *sql.DB { return openDB(t, "pgx", url) }
}

func openDB(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	// The PostgreSQL server is shared; stay well below max_connections.
	db.SetMaxOpenConns(8)
	t.Cleanup(func() { db.Close() })
	return db
}

// UniqueTable returns a table name starting with prefix that no other test
// uses.
func UniqueTable(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// DropTableAtEnd drops table through db when the test ends (before db
// closes, if db was opened earlier in the test: cleanups run last
// registered first).
func DropTableAtEnd(t testing.TB, db *sql.DB, table string) {
	t.Cleanup(func() {
		if _, err := db.Exec(`DROP TABLE IF EXISTS "` + table + `"`); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
	})
}
