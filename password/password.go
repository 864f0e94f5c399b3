// Package password hashes and checks passwords with argon2id (RFC 9106),
// stored in the PHC string format:
//
//	$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>
//
// A [Hasher] bounds how many hashes run at once (each takes Params.Memory),
// checks in constant time, and gives a login for an unknown user the cost
// of a wrong password ([Hasher.VerifyNone]), so timing does not tell which
// usernames exist. Stored hashes keep their own parameters: raising the
// cost later still verifies old hashes.
//
//	h, err := password.New(password.Config{})
//	encoded, err := h.Hash(ctx, "correct horse battery staple") // store this
//	ok, err := h.Verify(ctx, encoded, attempt)
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Params is the cost of an argon2id hash.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// DefaultParams is the second recommended option of RFC 9106 §4: 64 MiB,
// 3 passes, 4 lanes.
var DefaultParams = Params{Memory: 64 << 10, Time: 3, Threads: 4}

// Bounds on the parameters, also of stored hashes, so that a tampered
// database row cannot make a login allocate gigabytes.
const (
	MaxMemory  = 1 << 20 // KiB: 1 GiB
	MaxTime    = 64
	MaxThreads = 64
)

// DefaultMaxConcurrent bounds the hashes running at once when
// Config.MaxConcurrent is zero: with DefaultParams, 4 × 64 MiB.
const DefaultMaxConcurrent = 4

const (
	saltLen = 16 // bytes
	hashLen = 32 // bytes
)

// ErrMalformedHash is returned by [Hasher.Verify] for a stored hash that
// is not an argon2id PHC string within bounds.
var ErrMalformedHash = errors.New("password: malformed argon2id password hash")

// phc is the base64 of the PHC string format: standard alphabet, no padding.
var phc = base64.RawStdEncoding.Strict()

func (p Params) valid() bool {
	return p.Threads >= 1 && p.Threads <= MaxThreads &&
		p.Time >= 1 && p.Time <= MaxTime &&
		p.Memory >= 8*uint32(p.Threads) && p.Memory <= MaxMemory
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, phc.EncodeToString(salt), phc.EncodeToString(key))
}

// decode parses what encode writes, and only that: the parameters must be
// in canonical form and within bounds.
func decode(s string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads) || !p.valid() {
		return p, nil, nil, ErrMalformedHash
	}
	salt, err1 := phc.DecodeString(parts[4])
	key, err2 := phc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}

// Config configures a [Hasher].
type Config struct {
	// Params is the cost of new hashes. Zero means DefaultParams.
	Params Params
	// MaxConcurrent bounds the hashes and verifications running at once;
	// the others wait. Zero means DefaultMaxConcurrent.
	MaxConcurrent int
	// MaxQueue bounds the callers waiting for a slot: one more gets
	// ErrBusy at once, so that a flood of wrong passwords cannot queue up
	// work that delays every login. Zero means 4 × MaxConcurrent;
	// negative, no queue (ErrBusy whenever every slot is taken).
	MaxQueue int
	// MaxWait bounds how long a caller waits for a slot before ErrBusy
	// (or until its context ends, if sooner). Zero means DefaultMaxWait.
	MaxWait time.Duration
}

// DefaultMaxWait is how long a caller waits for a hashing slot when
// Config.MaxWait is zero.
const DefaultMaxWait = 2 * time.Second

// ErrBusy: every hashing slot is taken and the queue is full, or the
// wait was too long. Answer 503 with Retry-After: the password was not
// checked.
var ErrBusy = errors.New("password: too many hashes in progress; retry later")

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params   Params
	sem      chan struct{}
	maxQueue int64
	maxWait  time.Duration
	waiting  atomic.Int64
	// dummy is the hash of a random password with the same parameters:
	// VerifyNone verifies against it.
	dummy         string
	verifications atomic.Int64
}

// New returns a hasher for cfg; out-of-bounds parameters are an error.
func New(cfg Config) (*Hasher, error) {
	if cfg.Params == (Params{}) {
		cfg.Params = DefaultParams
	}
	if !cfg.Params.valid() {
		return nil, fmt.Errorf("password: invalid argon2id parameters %+v", cfg.Params)
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.MaxConcurrent < 0 {
		return nil, fmt.Errorf("password: negative MaxConcurrent")
	}
	switch {
	case cfg.MaxQueue == 0:
		cfg.MaxQueue = 4 * cfg.MaxConcurrent
	case cfg.MaxQueue < 0:
		cfg.MaxQueue = 0
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	h := &Hasher{params: cfg.Params, sem: make(chan struct{}, cfg.MaxConcurrent), maxQueue: int64(cfg.MaxQueue), maxWait: cfg.MaxWait}
	h.dummy = h.hashNow(rand.Text())
	return h, nil
}

func (h *Hasher) hashNow(password string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, hashLen)
	return encode(h.params, salt, key)
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxQueue {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC string of a new argon2id hash of password, with a
// random salt. It fails only with ErrBusy, or when ctx ends while it
// waits for a slot.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hashNow(password), nil
}

// Verify reports whether password matches encoded, an argon2id PHC
// string, comparing in constant time. A malformed hash is
// [ErrMalformedHash]; no slot soon enough, [ErrBusy]; a context that
// ends while waiting for a slot, its cause.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	h.verifications.Add(1)
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyNone spends the time of a verification that fails: call it for a
// user that does not exist, so that the answer takes as long as for a
// wrong password.
func (h *Hasher) VerifyNone(ctx context.Context, password string) error {
	_, err := h.Verify(ctx, h.dummy, password)
	return err
}

// Verifications returns how many argon2id verifications ran, for tests
// and metrics.
func (h *Hasher) Verifications() int64 { return h.verifications.Load() }
