package revocation

import (
	"hash/maphash"
	"sync/atomic"
)

// The mirror is read on every request from every core, and written only
// when a revocation arrives. A sync.RWMutex around a map makes every
// reader write the lock's reader count, and with two cores that cache
// line bouncing cost more than the lookup itself. So readers take no
// lock: an atomic pointer to an immutable map of issuers, each with
// open-addressing tables of atomic pointers to immutable records.
// Writers hold List.mu; they publish a record with one atomic store, and
// a grown or purged table with one atomic swap.

// record is one revoked token (key = jti) or subject (key = sub).
type record struct {
	key     string
	before  int64 // subjects: tokens issued before this are revoked, unix ns
	expires int64 // unix ns
}

// table is an open-addressing hash table with linear probing, at most
// half full, so every probe sequence ends at an empty slot. Slots only go
// from empty to a record, or from a record to a newer record for the same
// key; deletions happen by building a new table.
type table struct {
	seed  maphash.Seed
	mask  uint64
	slots []slot
}

// slot holds a record and its key's hash, in one cache line, so that a
// probe past another key does not follow the pointer. The hash is stored
// before the record is published, and never changes afterwards.
type slot struct {
	hash atomic.Uint64
	r    atomic.Pointer[record]
}

func newTable(capacity int) *table {
	size := 16
	for size < 2*capacity {
		size <<= 1
	}
	return &table{seed: maphash.MakeSeed(), mask: uint64(size - 1), slots: make([]slot, size)}
}

// get returns the record for k, or nil. Safe concurrently with put.
func (t *table) get(k string) *record {
	h := maphash.String(t.seed, k)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		r := s.r.Load()
		if r == nil || s.hash.Load() == h && r.key == k {
			return r
		}
	}
}

// put stores r, replacing the record with the same key; it reports
// whether the key is new. The caller keeps the table at most half full
// and serializes writers.
func (t *table) put(r *record) bool {
	h := maphash.String(t.seed, r.key)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		old := s.r.Load()
		if old == nil {
			s.hash.Store(h)
			s.r.Store(r)
			return true
		}
		if s.hash.Load() == h && old.key == r.key {
			s.r.Store(r)
			return false
		}
	}
}

// index is the records of one kind from one issuer.
type index struct {
	t atomic.Pointer[table]
	n int // records; guarded by List.mu
}

func newIndex() *index {
	ix := &index{}
	ix.t.Store(newTable(0))
	return ix
}

func (ix *index) get(k string) *record { return ix.t.Load().get(k) }

// merge adds r or merges it into the record for its key (latest before,
// latest expires). Writers only, under List.mu.
func (ix *index) merge(r record) {
	t := ix.t.Load()
	if old := t.get(r.key); old != nil {
		if old.before >= r.before && old.expires >= r.expires {
			return
		}
		r.before, r.expires = max(r.before, old.before), max(r.expires, old.expires)
		r.key = old.key
		t.put(&r)
		return
	}
	if 2*(ix.n+1) > len(t.slots) {
		t = ix.rebuild(2*(ix.n+1), 0)
	}
	t.put(&r)
	ix.n++
}

// rebuild copies the records that expire after now (all with now 0) into
// a new table for capacity records and publishes it. Writers only.
func (ix *index) rebuild(capacity int, now int64) *table {
	old := ix.t.Load()
	t := newTable(capacity)
	n := 0
	for i := range old.slots {
		if r := old.slots[i].r.Load(); r != nil && r.expires > now {
			t.put(r)
			n++
		}
	}
	ix.t.Store(t)
	ix.n = n
	return t
}

// expired counts the records that have expired at now. Writers only.
func (ix *index) expired(now int64) int {
	t := ix.t.Load()
	n := 0
	for i := range t.slots {
		if r := t.slots[i].r.Load(); r != nil && r.expires <= now {
			n++
		}
	}
	return n
}

// issuerIndexes are the revocations of one issuer.
type issuerIndexes struct {
	tokens, subjects *index
}
