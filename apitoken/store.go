package apitoken

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"sync"
	"time"
)

// Errors. Authentication failures wrap exactly one of ErrMalformed,
// ErrNotFound, ErrRevoked and ErrExpired (a 401 invalid_token), or
// identity.ErrUnavailable (a 503) when the store cannot answer; so do the
// refusals of a caller's API token that is no longer good
// ([Manager.SubjectOf]).
var (
	// ErrMalformed: not a token of this prefix, a wrong length or
	// character, or a bad checksum. Decided without the store.
	ErrMalformed = errors.New("apitoken: malformed token")
	// ErrNotFound: no token has this hash or id (for this subject).
	ErrNotFound = errors.New("apitoken: no such token")
	// ErrRevoked: the token has been revoked.
	ErrRevoked = errors.New("apitoken: token revoked")
	// ErrExpired: the token has expired.
	ErrExpired = errors.New("apitoken: token expired")
	// ErrInvalid: a request the manager or its store refuses, whatever
	// the store holds: a token asked for with a bad subject, name, scope
	// or lifetime, one past the subject's limit (wrapping ErrTooMany too),
	// or a value no store column can hold (a time outside 1970 to 2262).
	ErrInvalid = errors.New("apitoken: invalid request")
	// ErrScope: a token was asked for with a scope its creator lacks.
	ErrScope = errors.New("apitoken: scope not held by the creator")
	// ErrExists: a store already holds a token with this id or hash.
	ErrExists = errors.New("apitoken: token exists")
	// ErrTooMany: the subject already has as many active tokens as allowed.
	ErrTooMany = errors.New("apitoken: too many tokens")
	// ErrForeignIssuer: a principal of an issuer other than
	// Config.SubjectIssuer asked to manage tokens.
	ErrForeignIssuer = errors.New("apitoken: principal of a foreign issuer")
	// ErrConstrained: a token bound to a key (DPoP) or asked for one
	// resource (RFC 8707) asked for an API token, a bearer token good at
	// every resource (see Config.CreatorAudiences and
	// Config.InsecureAllowBoundCreators).
	ErrConstrained = errors.New("apitoken: a sender-constrained or narrowed token cannot create API tokens")
)

// Token is what is known of an API token, never its secret: what List
// returns and a store keeps beside the hash.
type Token struct {
	ID        string
	Subject   string // the subject the token acts for
	Name      string
	Scopes    []string
	CreatedAt time.Time
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time
	// LastUsedAt is when the token last authenticated, to within
	// Config.FlushInterval and the middleware's cache age; zero: never.
	LastUsedAt time.Time
	// RevokedAt is zero while the token is not revoked.
	RevokedAt time.Time
}

// Record is a token as a store keeps it: the metadata and the hash of the
// secret (SHA-256, or HMAC-SHA256 under Config.Pepper).
type Record struct {
	Token
	Hash []byte
}

// Use is one coalesced use of a token, for [Store.Touch].
type Use struct {
	ID string
	At time.Time
}

// Store keeps API tokens. Implementations must be safe for concurrent use
// and return ErrNotFound and ErrExists themselves; any other error means
// the store cannot answer (the manager wraps it in
// identity.ErrUnavailable). storetest.Run checks an implementation.
type Store interface {
	// Create adds a token, unless its subject already has max or more
	// active tokens (neither revoked nor expired at r.CreatedAt):
	// ErrTooMany. The count and the insert are one atomic step, so
	// concurrent inserts never exceed max. A token with the same id or
	// hash: ErrExists.
	Create(ctx context.Context, r Record, max int) error
	// GetByHash returns the token with this hash, or ErrNotFound. It runs on
	// every authentication that misses the middleware's cache: an index
	// lookup.
	GetByHash(ctx context.Context, hash []byte) (Record, error)
	// Get returns the token with this id, or ErrNotFound.
	Get(ctx context.Context, id string) (Token, error)
	// List returns the tokens of subject, oldest first (by CreatedAt, then
	// ID).
	List(ctx context.Context, subject string) ([]Token, error)
	// Revoke marks the token id of subject revoked at now, unless it is
	// already, and returns it as it now is. No such token of this subject:
	// ErrNotFound.
	Revoke(ctx context.Context, subject, id string, now time.Time) (Token, error)
	// RevokeSubject revokes every token of subject not revoked yet, at now,
	// and returns those it revoked.
	RevokeSubject(ctx context.Context, subject string, now time.Time) ([]Token, error)
	// Touch sets the LastUsedAt of each token to its use's At, unless it
	// is later already. Unknown ids are skipped. One call is one write
	// (one transaction), which updates the rows in the order of their ids,
	// so that instances flushing at once do not deadlock.
	Touch(ctx context.Context, uses []Use) error
	// Purge deletes the tokens that expired or were revoked at or before
	// before, and returns how many. It keeps the cut-offs.
	Purge(ctx context.Context, before time.Time) (int64, error)
	// SetCutoff records before as subject's cut-off, unless a later one
	// is recorded: from then on the manager creates no token for a
	// credential of subject issued before it ([Manager.RevokeSubjectBefore]).
	// A subject no column can hold (see sqlstore) may be ErrInvalid.
	SetCutoff(ctx context.Context, subject string, before time.Time) error
	// Cutoff returns subject's cut-off: the latest SetCutoff recorded,
	// zero without one. It keeps nanoseconds.
	Cutoff(ctx context.Context, subject string) (time.Time, error)
}

// MemoryStore is a [Store] in memory, for tests and single-process
// programs that can lose their tokens on restart.
type MemoryStore struct {
	mu      sync.Mutex
	byID    map[string]*Record
	byHash  map[string]*Record
	cutoffs map[string]time.Time
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{byID: map[string]*Record{}, byHash: map[string]*Record{}, cutoffs: map[string]time.Time{}}
}

// own returns a copy of t that shares nothing with the store.
func own(t Token) Token {
	t.Scopes = slices.Clone(t.Scopes)
	return t
}

// Create implements [Store].
func (s *MemoryStore) Create(_ context.Context, r Record, max int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID[r.ID] != nil || s.byHash[string(r.Hash)] != nil {
		return ErrExists
	}
	n := 0
	for _, x := range s.byID {
		if x.Subject == r.Subject && active(x.Token, r.CreatedAt) {
			n++
		}
	}
	if n >= max {
		return ErrTooMany
	}
	c := &Record{Token: own(r.Token), Hash: slices.Clone(r.Hash)}
	s.byID[r.ID], s.byHash[string(r.Hash)] = c, c
	return nil
}

// GetByHash implements [Store].
func (s *MemoryStore) GetByHash(_ context.Context, hash []byte) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byHash[string(hash)]
	if r == nil || subtle.ConstantTimeCompare(r.Hash, hash) != 1 {
		return Record{}, ErrNotFound
	}
	return Record{Token: own(r.Token), Hash: slices.Clone(r.Hash)}, nil
}

// Get implements [Store].
func (s *MemoryStore) Get(_ context.Context, id string) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[id]
	if r == nil {
		return Token{}, ErrNotFound
	}
	return own(r.Token), nil
}

// List implements [Store].
func (s *MemoryStore) List(_ context.Context, subject string) ([]Token, error) {
	s.mu.Lock()
	var ts []Token
	for _, r := range s.byID {
		if r.Subject == subject {
			ts = append(ts, own(r.Token))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(ts, func(a, b Token) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return ts, nil
}

// Revoke implements [Store].
func (s *MemoryStore) Revoke(_ context.Context, subject, id string, now time.Time) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[id]
	if r == nil || r.Subject != subject {
		return Token{}, ErrNotFound
	}
	if r.RevokedAt.IsZero() {
		r.RevokedAt = now
	}
	return own(r.Token), nil
}

// RevokeSubject implements [Store].
func (s *MemoryStore) RevokeSubject(_ context.Context, subject string, now time.Time) ([]Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ts []Token
	for _, r := range s.byID {
		if r.Subject == subject && r.RevokedAt.IsZero() {
			r.RevokedAt = now
			ts = append(ts, own(r.Token))
		}
	}
	return ts, nil
}

// Touch implements [Store].
func (s *MemoryStore) Touch(_ context.Context, uses []Use) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range uses {
		if r := s.byID[u.ID]; r != nil && u.At.After(r.LastUsedAt) {
			r.LastUsedAt = u.At
		}
	}
	return nil
}

// Purge implements [Store].
func (s *MemoryStore) Purge(_ context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, r := range s.byID {
		if gone(r.Token, before) {
			delete(s.byID, id)
			delete(s.byHash, string(r.Hash))
			n++
		}
	}
	return n, nil
}

// SetCutoff implements [Store].
func (s *MemoryStore) SetCutoff(_ context.Context, subject string, before time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if before.After(s.cutoffs[subject]) {
		s.cutoffs[subject] = before
	}
	return nil
}

// Cutoff implements [Store].
func (s *MemoryStore) Cutoff(_ context.Context, subject string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cutoffs[subject], nil
}

// active reports whether t is neither revoked nor expired at now.
func active(t Token, now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || t.ExpiresAt.After(now))
}

// gone reports whether Purge(before) deletes t.
func gone(t Token, before time.Time) bool {
	return !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(before) || !t.RevokedAt.IsZero() && !t.RevokedAt.After(before)
}
