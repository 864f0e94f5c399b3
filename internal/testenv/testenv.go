// Package testenv gives tests the PostgreSQL and Redis servers that
// scripts/test.sh starts on loopback. Without them a test skips with a
// message saying how to get them; under CI (CI=true) it fails instead,
// because CI must run the backend tests for real.
package testenv

import (
	"os"
	"testing"
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
