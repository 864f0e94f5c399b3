package consent

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a [Store] in the memory of one process, for tests and
// single-instance programs without a database. The zero value is ready.
type MemoryStore struct {
	mu sync.Mutex
	// consents are by subject, then client ID. A subject's map is deleted
	// with its last consent.
	consents map[string]map[string]Consent
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

var _ Store = (*MemoryStore)(nil)

// Grant implements [Store].
func (s *MemoryStore) Grant(ctx context.Context, subject, clientID string, scopes []string, now time.Time) error {
	if err := Check(subject, clientID, scopes); err != nil {
		return err
	}
	if now.IsZero() {
		return fmt.Errorf("%w: a zero time", ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.consents[subject][clientID]
	union, err := Union(c.Scopes, scopes)
	if err != nil {
		return err
	}
	if !ok {
		c = Consent{Subject: subject, ClientID: clientID, GrantedAt: now}
	}
	c.Scopes = union // a new slice: a Consent handed out before keeps its own
	if now.After(c.GrantedAt) {
		c.GrantedAt = now
	}
	if s.consents == nil {
		s.consents = make(map[string]map[string]Consent)
	}
	if s.consents[subject] == nil {
		s.consents[subject] = make(map[string]Consent)
	}
	s.consents[subject][clientID] = c
	return nil
}

// owned returns c with a copy of its scopes, which the caller may modify
// without changing the store's.
func owned(c Consent) Consent {
	c.Scopes = slices.Clone(c.Scopes)
	return c
}

// Get implements [Store].
func (s *MemoryStore) Get(ctx context.Context, subject, clientID string) (Consent, error) {
	if err := Check(subject, clientID, nil); err != nil {
		return Consent{}, err
	}
	if err := ctx.Err(); err != nil {
		return Consent{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.consents[subject][clientID]
	if !ok {
		return Consent{}, ErrNotFound
	}
	return owned(c), nil
}

// List implements [Store].
func (s *MemoryStore) List(ctx context.Context, subject string, limit int) ([]Consent, error) {
	if err := CheckSubject(subject); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultListLimit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]Consent, 0, len(s.consents[subject]))
	for _, c := range s.consents[subject] {
		list = append(list, owned(c))
	}
	slices.SortFunc(list, func(a, b Consent) int {
		return cmp.Or(b.GrantedAt.Compare(a.GrantedAt), cmp.Compare(a.ClientID, b.ClientID))
	})
	return list[:min(limit, len(list))], nil
}

// Revoke implements [Store].
func (s *MemoryStore) Revoke(ctx context.Context, subject, clientID string) (bool, error) {
	if err := Check(subject, clientID, nil); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.consents[subject]
	if _, ok := m[clientID]; !ok {
		return false, nil
	}
	delete(m, clientID)
	if len(m) == 0 {
		delete(s.consents, subject)
	}
	return true, nil
}

// RevokeSubject implements [Store].
func (s *MemoryStore) RevokeSubject(ctx context.Context, subject string) (int, error) {
	if err := CheckSubject(subject); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.consents[subject])
	delete(s.consents, subject)
	return n, nil
}
