package clients

import (
	"context"
	"sync"
	"time"
)

// MemoryStore is a [Store] in the memory of one process, for tests and
// single-instance programs without a database: its registrations are
// lost when the process ends, and clients registered then find
// themselves unknown (they register again). The zero value is ready.
type MemoryStore struct {
	mu   sync.Mutex
	byID map[string]Client
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

var _ Store = (*MemoryStore)(nil)

// Create implements [Store]. An ID it holds already is refused with
// ErrClientExists.
func (s *MemoryStore) Create(ctx context.Context, c Client) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[c.ID]; ok {
		return ErrClientExists
	}
	if s.byID == nil {
		s.byID = make(map[string]Client)
	}
	s.byID[c.ID] = clone(c)
	return nil
}

// Get implements [Store].
func (s *MemoryStore) Get(ctx context.Context, id string) (Client, error) {
	if err := ctx.Err(); err != nil {
		return Client{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byID[id]
	if !ok {
		return Client{}, ErrUnknownClient
	}
	return clone(c), nil
}

// MarkUsed implements [Store].
func (s *MemoryStore) MarkUsed(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byID[id]
	if !ok {
		return ErrUnknownClient
	}
	c.ExpiresAt = time.Time{}
	s.byID[id] = c
	return nil
}

// Delete implements [Store].
func (s *MemoryStore) Delete(ctx context.Context, id string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byID[id]
	delete(s.byID, id)
	return ok, nil
}

// Purge implements [Store].
func (s *MemoryStore) Purge(ctx context.Context, now time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, c := range s.byID {
		if !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(now) {
			delete(s.byID, id)
			n++
		}
	}
	return n, nil
}
