package testenv

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/password"
)

// CheapPasswords makes password hashing cheap (argon2id with 64 KiB, one
// pass, one thread), so that suites that log in many times stay fast
// under -race. Production keeps password.DefaultParams. (Package
// password's own tests keep a copy: they cannot import this package.)
var CheapPasswords = password.Config{Params: password.Params{Memory: 64, Time: 1, Threads: 1}}

// SyncBuffer is a bytes.Buffer that a logger, a process's output and a
// test may use at once.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Patience is how long [Eventually] waits: long enough for background
// work on a machine busy with other work, since a passing test waits
// only as long as the work takes.
const Patience = 30 * time.Second

// Eventually polls cond until it holds, and fails the test when it still
// does not after Patience: for background work a test cannot step
// through (a database polled, another process). Where only time must
// pass, run the test in a testing/synctest bubble instead.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(Patience); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", Patience, what)
		}
	}
}
