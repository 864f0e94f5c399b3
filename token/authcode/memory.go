package authcode

import (
	"context"
	"errors"
	"sync"
	"time"
)

// MemoryStore is a [Store] in the memory of one process, for tests and
// single-instance programs without a database. The zero value is ready.
type MemoryStore struct {
	mu   sync.Mutex
	recs map[Hash]Record
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

var _ Store = (*MemoryStore)(nil)

// errZeroTime is the refusal of a zero time where a store records one: a
// zero UsedAt or ReusedAt means "not yet".
var errZeroTime = errors.New("authcode: zero time")

// Create implements [Store].
func (s *MemoryStore) Create(ctx context.Context, rec Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[rec.Hash]; ok {
		return ErrExists
	}
	if s.recs == nil {
		s.recs = make(map[Hash]Record)
	}
	s.recs[rec.Hash] = rec
	return nil
}

// Get implements [Store].
func (s *MemoryStore) Get(ctx context.Context, h Hash) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[h]
	if !ok {
		return Record{}, ErrNotFound
	}
	return r, nil
}

// Redeem implements [Store].
func (s *MemoryStore) Redeem(ctx context.Context, h Hash, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if now.IsZero() {
		return errZeroTime
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[h]
	switch {
	case !ok:
		return ErrNotFound
	case !r.UsedAt.IsZero():
		return ErrUsed
	}
	r.UsedAt = now
	s.recs[h] = r
	return nil
}

// SetIssued implements [Store].
func (s *MemoryStore) SetIssued(ctx context.Context, h Hash, issued Issued) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[h]
	if !ok {
		return Record{}, ErrNotFound
	}
	r.Issued = issued
	s.recs[h] = r
	return r, nil
}

// Reuse implements [Store].
func (s *MemoryStore) Reuse(ctx context.Context, h Hash, now time.Time) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if now.IsZero() {
		return Record{}, errZeroTime
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[h]
	if !ok {
		return Record{}, ErrNotFound
	}
	if !r.UsedAt.IsZero() && r.ReusedAt.IsZero() {
		r.ReusedAt = now
		s.recs[h] = r
	}
	return r, nil
}

// Purge implements [Store].
func (s *MemoryStore) Purge(ctx context.Context, expiredBefore, usedBefore time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for h, r := range s.recs {
		if r.UsedAt.IsZero() && !r.ExpiresAt.After(expiredBefore) || !r.UsedAt.IsZero() && !r.UsedAt.After(usedBefore) {
			delete(s.recs, h)
			n++
		}
	}
	return n, nil
}
