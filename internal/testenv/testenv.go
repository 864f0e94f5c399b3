// Package testenv is what the module's tests share: the PostgreSQL and
// Redis servers that scripts/test.sh starts on loopback (without them a
// test skips with a message saying how to get them; under CI, CI=true, it
// fails instead, because CI must run the backend tests for real), a
// clock to move by hand, a buffer for logs, cheap password hashing, and
// a patient wait for background work. It imports no database driver:
// package testdb, beside it, opens databases.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
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
