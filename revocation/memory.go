package revocation

import (
	"context"
	"errors"
	"sync"
	"time"
)

// subscriptionBuffer is how many entries a MemoryStore subscription holds
// before its reader is too slow and the subscription breaks (the reader
// then resyncs from a snapshot).
const subscriptionBuffer = 1024

// MemoryStore is a [Store] in the memory of one process: the default for a
// single instance without a database. Its entries are lost when the
// process exits. The zero value is ready to use.
type MemoryStore struct {
	mu      sync.Mutex
	entries map[entryKey]Entry
	subs    map[*memorySub]struct{}
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

var _ Store = (*MemoryStore)(nil)

// Create implements [Store].
func (s *MemoryStore) Create(ctx context.Context, e Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries = make(map[entryKey]Entry)
	}
	k := entryKey{e.Kind, e.Issuer, e.Key}
	s.entries[k] = merge(s.entries[k], e)
	for sub := range s.subs {
		select {
		case sub.ch <- e:
		default: // too slow: it resyncs
			sub.broken = true
			close(sub.ch)
			delete(s.subs, sub)
		}
	}
	return nil
}

// Snapshot implements [Store].
func (s *MemoryStore) Snapshot(ctx context.Context, now time.Time) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		if e.Expires.After(now) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Purge implements [Store].
func (s *MemoryStore) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for k, e := range s.entries {
		if !e.Expires.After(before) {
			delete(s.entries, k)
			n++
		}
	}
	return n, nil
}

// Subscribe implements [Store].
func (s *MemoryStore) Subscribe(ctx context.Context) (Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sub := &memorySub{s: s, ch: make(chan Entry, subscriptionBuffer)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = make(map[*memorySub]struct{})
	}
	s.subs[sub] = struct{}{}
	return sub, nil
}

type memorySub struct {
	s      *MemoryStore
	ch     chan Entry
	broken bool // guarded by s.mu
}

var errSlowSubscriber = errors.New("revocation: subscription fell behind")

func (m *memorySub) Next(ctx context.Context, wait time.Duration) (Entry, bool, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case e, ok := <-m.ch:
		if !ok {
			return Entry{}, false, errSlowSubscriber
		}
		return e, true, nil
	case <-t.C:
		return Entry{}, false, nil
	case <-ctx.Done():
		return Entry{}, false, ctx.Err()
	}
}

func (m *memorySub) Close() error {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if _, ok := m.s.subs[m]; ok {
		delete(m.s.subs, m)
		close(m.ch)
	}
	return nil
}

// entryKey identifies what an entry revokes.
type entryKey struct {
	kind        Kind
	issuer, key string
}

// merge combines two entries for the same key: the later Before revokes
// more, the later Expires keeps it longer.
func merge(a, b Entry) Entry {
	if a.Kind == 0 {
		return b
	}
	if b.Before.After(a.Before) {
		a.Before = b.Before
	}
	if b.Expires.After(a.Expires) {
		a.Expires = b.Expires
	}
	return a
}
