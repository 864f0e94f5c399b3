package demo

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// argon2Params is the cost of an argon2id hash.
type argon2Params struct {
	memory  uint32 // KiB
	time    uint32 // passes
	threads uint8
}

// defaultArgon2 is the second recommended option of RFC 9106 §4:
// 64 MiB, 3 passes, 4 lanes.
var defaultArgon2 = argon2Params{memory: 64 << 10, time: 3, threads: 4}

const (
	saltLen = 16 // bytes
	hashLen = 32 // bytes

	// Bounds on the parameters of a stored hash, so that a tampered
	// database row cannot make a login allocate gigabytes.
	maxArgon2Memory  = 1 << 20 // KiB: 1 GiB
	maxArgon2Time    = 64
	maxArgon2Threads = 64

	// maxConcurrentHashes bounds the memory that logins use at once:
	// with the default parameters, 4 × 64 MiB.
	maxConcurrentHashes = 4
)

// phc is the base64 of the PHC string format: standard alphabet, no padding.
var phc = base64.RawStdEncoding.Strict()

var errBadHash = errors.New("demo: malformed argon2id password hash")

func (p argon2Params) valid() bool {
	return p.threads >= 1 && p.threads <= maxArgon2Threads &&
		p.time >= 1 && p.time <= maxArgon2Time &&
		p.memory >= 8*uint32(p.threads) && p.memory <= maxArgon2Memory
}

// encodeHash formats an argon2id hash in the PHC string format:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>.
func encodeHash(p argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, phc.EncodeToString(salt), phc.EncodeToString(key))
}

// decodeHash parses what encodeHash writes, and only that: the parameters
// must be in canonical form and within bounds.
func decodeHash(s string) (p argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.memory, p.time, p.threads) || !p.valid() {
		return p, nil, nil, errBadHash
	}
	salt, err1 := phc.DecodeString(parts[4])
	key, err2 := phc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// passwords hashes and verifies passwords with argon2id, at most
// maxConcurrentHashes at a time.
type passwords struct {
	params argon2Params
	sem    chan struct{}
	// dummy is the hash of a random password with the same parameters:
	// a login for an unknown user verifies against it, so that it takes as
	// long as one with a wrong password.
	dummy string
	// verifications counts argon2id verifications, for tests.
	verifications atomic.Int64
}

func newPasswords(p argon2Params) (*passwords, error) {
	if p == (argon2Params{}) {
		p = defaultArgon2
	}
	if !p.valid() {
		return nil, fmt.Errorf("demo: invalid argon2id parameters %+v", p)
	}
	pw := &passwords{params: p, sem: make(chan struct{}, maxConcurrentHashes)}
	pw.dummy = pw.hashNow(rand.Text())
	return pw, nil
}

func (pw *passwords) hashNow(password string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, pw.params.time, pw.params.memory, pw.params.threads, hashLen)
	return encodeHash(pw.params, salt, key)
}

// acquire waits for a hashing slot; the caller must call release.
func (pw *passwords) acquire(ctx context.Context) error {
	select {
	case pw.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (pw *passwords) release() { <-pw.sem }

// hash returns the PHC string of a new argon2id hash of password.
func (pw *passwords) hash(ctx context.Context, password string) (string, error) {
	if err := pw.acquire(ctx); err != nil {
		return "", err
	}
	defer pw.release()
	return pw.hashNow(password), nil
}

// verify reports whether password matches encoded, an argon2id PHC string,
// comparing in constant time. A malformed hash is an error.
func (pw *passwords) verify(ctx context.Context, encoded, password string) (bool, error) {
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	if err := pw.acquire(ctx); err != nil {
		return false, err
	}
	defer pw.release()
	pw.verifications.Add(1)
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// verifyDummy spends the time of a verification that fails, for a user
// that does not exist.
func (pw *passwords) verifyDummy(ctx context.Context, password string) error {
	_, err := pw.verify(ctx, pw.dummy, password)
	return err
}
