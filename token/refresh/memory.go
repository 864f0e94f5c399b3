package refresh

import (
	"context"
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

// Rotate implements [Store].
func (s *MemoryStore) Rotate(ctx context.Context, old Hash, now time.Time, next Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[old]
	switch {
	case !ok:
		return ErrNotFound
	case !r.RevokedAt.IsZero():
		return ErrRevoked
	case !r.SpentAt.IsZero():
		return ErrSpent
	}
	if _, ok := s.recs[next.Hash]; ok {
		return ErrExists
	}
	r.SpentAt = now
	s.recs[old] = r
	s.recs[next.Hash] = next
	return nil
}

// RevokeFamily implements [Store].
func (s *MemoryStore) RevokeFamily(ctx context.Context, family string, now time.Time) ([]AccessToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AccessToken
	for h, r := range s.recs {
		if r.Family != family {
			continue
		}
		if r.RevokedAt.IsZero() {
			r.RevokedAt = now
			s.recs[h] = r
		}
		out = append(out, r.Access)
	}
	return out, nil
}

// RevokeSubject implements [Store].
func (s *MemoryStore) RevokeSubject(ctx context.Context, subject string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, r := range s.recs {
		if r.Grant.Subject == subject && r.RevokedAt.IsZero() {
			r.RevokedAt = now
			s.recs[h] = r
		}
	}
	return nil
}

// Purge implements [Store].
func (s *MemoryStore) Purge(ctx context.Context, createdBefore, lastUsedBefore time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	newest := map[string]time.Time{}
	for _, r := range s.recs {
		if r.IssuedAt.After(newest[r.Family]) {
			newest[r.Family] = r.IssuedAt
		}
	}
	var n int64
	for h, r := range s.recs {
		if !r.FamilyCreated.After(createdBefore) || !newest[r.Family].After(lastUsedBefore) {
			delete(s.recs, h)
			n++
		}
	}
	return n, nil
}
