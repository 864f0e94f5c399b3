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
	// seeded are, per family, the spent tokens that still hold a seed:
	// after a Rotate, only the one it spent (see Store.Rotate).
	seeded map[string][]Hash
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
	if !rec.SpentAt.IsZero() && len(rec.Seed) > 0 {
		s.seed(rec.Family, rec.Hash, false)
	}
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
	// The seed of the token the family spent before old serves no grace
	// any more (see Store.Rotate); those before it were forgotten then.
	for _, h := range s.seeded[next.Family] {
		if o, ok := s.recs[h]; ok && h != old && o.Family == next.Family && !o.SpentAt.IsZero() {
			o.Seed = nil
			s.recs[h] = o
		}
	}
	if len(r.Seed) > 0 {
		s.seed(r.Family, old, r.Family == next.Family)
	} else if r.Family == next.Family {
		delete(s.seeded, r.Family)
	}
	return nil
}

// seed notes that the spent token h of family holds a seed; alone, the
// others forgotten.
func (s *MemoryStore) seed(family string, h Hash, alone bool) {
	if s.seeded == nil {
		s.seeded = make(map[string][]Hash)
	}
	if alone {
		s.seeded[family] = append(s.seeded[family][:0], h)
		return
	}
	s.seeded[family] = append(s.seeded[family], h)
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
			delete(s.seeded, r.Family)
			n++
		}
	}
	return n, nil
}
