package refresh

import (
	"bytes"
	"cmp"
	"context"
	"slices"
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
	s.recs[rec.Hash] = owned(rec)
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
	return owned(r), nil
}

// owned returns r with a Seed of its own, so that the store's records and
// its callers' never share one: a caller may reuse its slice.
func owned(r Record) Record {
	r.Seed = slices.Clone(r.Seed)
	return r
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
	s.recs[next.Hash] = owned(next)
	// The seeds of the family's tokens spent before old serve no grace
	// any more (see Store.Rotate).
	for h, o := range s.recs {
		if o.Family == next.Family && h != old && !o.SpentAt.IsZero() && len(o.Seed) > 0 {
			o.Seed = nil
			s.recs[h] = o
		}
	}
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

// Families implements [Store].
func (s *MemoryStore) Families(ctx context.Context, subject string, limit int) ([]Family, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit < 1 {
		return nil, nil
	}
	s.mu.Lock()
	newest := map[string]Record{}
	revoked := map[string]bool{}
	for _, r := range s.recs {
		if r.Grant.Subject != subject {
			continue
		}
		if !r.RevokedAt.IsZero() {
			revoked[r.Family] = true
		}
		if n, ok := newest[r.Family]; !ok || newer(r, n) {
			newest[r.Family] = r
		}
	}
	s.mu.Unlock()
	var recs []Record
	for id, r := range newest {
		if !revoked[id] {
			recs = append(recs, r)
		}
	}
	slices.SortFunc(recs, func(a, b Record) int {
		return cmp.Or(b.IssuedAt.Compare(a.IssuedAt), bytes.Compare(a.Hash[:], b.Hash[:]))
	})
	out := make([]Family, 0, min(len(recs), limit))
	for _, r := range recs[:min(len(recs), limit)] {
		out = append(out, Family{ID: r.Family, Grant: r.Grant, Created: r.FamilyCreated, LastUsed: r.IssuedAt})
	}
	return out, nil
}

// newer reports whether a is a newer record of its family than b, as
// [Store.Families] orders them: issued later, or at the same time and
// unspent while b is spent, or else of a lower hash.
func newer(a, b Record) bool {
	if c := a.IssuedAt.Compare(b.IssuedAt); c != 0 {
		return c > 0
	}
	if as, bs := !a.SpentAt.IsZero(), !b.SpentAt.IsZero(); as != bs {
		return bs
	}
	return bytes.Compare(a.Hash[:], b.Hash[:]) < 0
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
