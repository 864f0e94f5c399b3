package revocation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionless/sessionless/identity"
)

// Defaults of [Config].
const (
	DefaultStaleness        = 5 * time.Second
	DefaultLeeway           = 5 * time.Minute
	DefaultMaxTokenLifetime = 24 * time.Hour
	DefaultPurgeInterval    = time.Minute

	// Limits of [Config], so that entries stay within what the stores
	// hold (the year 2261).
	MaxLeeway           = 24 * time.Hour
	MaxMaxTokenLifetime = 100 * 365 * 24 * time.Hour
)

// Errors of a [List]. ErrStale and ErrStore wrap [identity.ErrUnavailable]
// ("cannot tell now"), so callers answer 503 without knowing this package.
var (
	// ErrStale is returned by [List.Revoked] when the mirror has not been
	// synced with the store for longer than Config.Staleness (fail
	// closed): an HTTP server answers 503.
	ErrStale = fmt.Errorf("revocation: the revocation list is stale: %w", identity.ErrUnavailable)
	// ErrStore wraps the error of a revocation that could not be written
	// to the store, and of a first sync that did not happen.
	ErrStore = fmt.Errorf("revocation: the store cannot be reached: %w", identity.ErrUnavailable)
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("revocation: list closed")
)

// Config configures a [List].
type Config struct {
	// Store is where revocations are shared. Nil means a new
	// [MemoryStore]: revocations last as long as the process.
	Store Store
	// Staleness is how long the local mirror may go without confirming it
	// is in sync with the store before [List.Revoked] fails with
	// [ErrStale] (or, with FailOpen, answers from the stale mirror).
	// Zero means DefaultStaleness (5s); at least 100ms.
	Staleness time.Duration
	// FailOpen makes Revoked answer from the mirror however stale it is,
	// so an outage of the store does not take the API down, at the price
	// of missing the revocations made meanwhile on other instances. Off
	// by default: failing closed is the safe choice.
	FailOpen bool
	// Leeway is how long after its "exp" a token is kept on the list: at
	// least the largest clock-skew leeway of the verifiers that accept it.
	// Zero means DefaultLeeway (5m, the largest token.VerifierConfig
	// allows).
	Leeway time.Duration
	// MaxTokenLifetime is the longest lifetime of the tokens checked: at
	// least the longest the verifiers accept
	// (token.VerifierConfig.MaxTokenLifetime). A subject revocation is
	// kept that long (plus Leeway), after which every token it revokes
	// has expired. Zero means DefaultMaxTokenLifetime (24h); at most
	// MaxMaxTokenLifetime (100 years).
	MaxTokenLifetime time.Duration
	// PurgeInterval is how often expired entries are dropped from the
	// mirror and purged from the store. Zero means DefaultPurgeInterval.
	PurgeInterval time.Duration
	// Now returns the current time. Nil means time.Now. It exists for
	// tests.
	Now func() time.Time
	// Logger receives sync failures and recoveries. Nil discards them.
	Logger *slog.Logger
}

// List is the revocation list of one instance: a local in-memory mirror
// of a [Store], kept in sync in the background. [List.Revoked] is the
// per-request check; it implements the middleware's RevocationChecker.
// A List is safe for concurrent use.
type List struct {
	cfg       Config
	store     Store
	heartbeat time.Duration
	now       func() time.Time
	log       *slog.Logger

	// mu serializes writers. Readers take no lock (see index.go).
	mu      sync.Mutex
	issuers atomic.Pointer[map[string]*issuerIndexes]
	size    atomic.Int64 // records in the mirror

	// epoch is l.now() at Open. Freshness is measured as offsets from
	// it, with Time.Sub: on the monotonic clock with time.Now, so a step
	// of the wall clock does not make a stale mirror look fresh.
	epoch   time.Time
	freshAt atomic.Pointer[syncMark] // the last confirmed sync; nil before the first
	stale   atomic.Bool
	synced  chan struct{} // closed after the first sync
	once    sync.Once

	cancel  context.CancelFunc
	done    chan struct{}
	workers sync.WaitGroup // watch and purge
	closed  atomic.Bool
	lastErr atomic.Pointer[error] // the last sync failure, for Open's error
}

// Open returns a List over cfg.Store and starts syncing it in the
// background. It waits for the first full sync and fails if ctx ends
// before it: an instance does not start without its revocation list.
func Open(ctx context.Context, cfg Config) (*List, error) {
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	switch {
	case cfg.Staleness == 0:
		cfg.Staleness = DefaultStaleness
	case cfg.Staleness < 100*time.Millisecond:
		return nil, fmt.Errorf("revocation: Staleness %v is below 100ms", cfg.Staleness)
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.MaxTokenLifetime == 0 {
		cfg.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if cfg.PurgeInterval == 0 {
		cfg.PurgeInterval = DefaultPurgeInterval
	}
	if cfg.Leeway < 0 || cfg.MaxTokenLifetime < 0 || cfg.PurgeInterval < 0 {
		return nil, errors.New("revocation: negative Leeway, MaxTokenLifetime or PurgeInterval")
	}
	if cfg.Leeway > MaxLeeway || cfg.MaxTokenLifetime > MaxMaxTokenLifetime {
		return nil, fmt.Errorf("revocation: Leeway over %v or MaxTokenLifetime over %v", MaxLeeway, MaxMaxTokenLifetime)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &List{
		cfg:       cfg,
		store:     cfg.Store,
		heartbeat: cfg.Staleness / 4,
		now:       cfg.Now,
		log:       cfg.Logger,
		epoch:     cfg.Now(),
		synced:    make(chan struct{}),
		done:      make(chan struct{}),
	}
	l.issuers.Store(&map[string]*issuerIndexes{})
	l.stale.Store(true)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	go l.run(runCtx)
	select {
	case <-l.synced:
		return l, nil
	case <-ctx.Done():
		l.Close()
		if last := l.lastErr.Load(); last != nil {
			return nil, fmt.Errorf("%w: first sync: %w (last attempt: %w)", ErrStore, ctx.Err(), *last)
		}
		return nil, fmt.Errorf("%w: first sync: %w", ErrStore, ctx.Err())
	}
}

// Close stops syncing. The store is not closed: it belongs to the caller.
func (l *List) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	l.cancel()
	<-l.done
	return nil
}

// Revoked reports whether the token p was authenticated with has been
// revoked: its (issuer, jti) is on the list, or its subject was revoked
// after it was issued (a token without an issue time counts as issued
// before). It is a local map lookup. When the mirror is stale it returns
// [ErrStale], unless Config.FailOpen.
func (l *List) Revoked(_ context.Context, p *identity.Principal) (bool, error) {
	if l.stale.Load() && !l.cfg.FailOpen {
		return false, ErrStale
	}
	ix := (*l.issuers.Load())[p.Issuer]
	if ix == nil {
		return false, nil
	}
	if p.TokenID != "" && ix.tokens.get(p.TokenID) != nil {
		return true, nil
	}
	if s := ix.subjects.get(p.Subject); s != nil {
		return p.IssuedAt.IsZero() || p.IssuedAt.UnixNano() < s.before, nil
	}
	return false, nil
}

// RevokeToken revokes the token with this issuer and jti until exp (plus
// Config.Leeway). It takes effect on this instance at once, and on the
// others when the store delivers it. A zero exp means now +
// Config.MaxTokenLifetime. An entry that would last past what every store
// can hold (the end of 2261: exp in year 9999, say) is kept until then
// rather than refused, so a logout does not fail; the verifiers refuse
// such tokens anyway (token.VerifierConfig.MaxTokenLifetime), and nothing
// shorter than the store allows is cut, so a verifier configured for
// longer lifetimes than this list still finds its tokens revoked.
func (l *List) RevokeToken(ctx context.Context, issuer, jti string, exp time.Time) error {
	if exp.IsZero() {
		exp = l.now().Add(l.cfg.MaxTokenLifetime)
	}
	expires := exp.Add(l.cfg.Leeway)
	if expires.After(lastStorable) {
		expires = lastStorable
	}
	return l.Revoke(ctx, Entry{Kind: KindToken, Issuer: issuer, Key: jti, Expires: expires})
}

// RevokeSubject revokes every token of subject from issuer issued before
// the moment before, to the nanosecond of the tokens' "iat": tokens issued
// later, even within the same second, stay valid when their issuer writes
// sub-second "iat" (token.Issuer does). The entry lasts
// Config.MaxTokenLifetime plus Config.Leeway after before.
func (l *List) RevokeSubject(ctx context.Context, issuer, subject string, before time.Time) error {
	return l.Revoke(ctx, Entry{Kind: KindSubject, Issuer: issuer, Key: subject, Before: before,
		Expires: before.Add(l.cfg.MaxTokenLifetime + l.cfg.Leeway)})
}

// RevokePrincipal revokes the token p was authenticated with, by its
// issuer and token ID, until it expires.
func (l *List) RevokePrincipal(ctx context.Context, p *identity.Principal) error {
	if p == nil || p.TokenID == "" {
		return fmt.Errorf("%w: the principal has no token ID", ErrInvalidEntry)
	}
	return l.RevokeToken(ctx, p.Issuer, p.TokenID, p.ExpiresAt)
}

// Revoke adds e to the store, then to this instance's mirror at once
// (other instances get it from the store). When the store fails, nothing
// is revoked anywhere and the error wraps [ErrStore]: the caller reports
// a failure (HTTP 503) and the client retries, so no revocation is half
// done. An entry that has already expired is a no-op.
func (l *List) Revoke(ctx context.Context, e Entry) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if !e.Expires.After(l.now()) || l.covered(e) {
		return nil // nothing to add: no write, so repeating a revocation is cheap
	}
	if err := l.store.Create(ctx, e); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	l.apply(e)
	return nil
}

// Len returns the number of entries in the mirror.
func (l *List) Len() int { return int(l.size.Load()) }

// Stale reports whether the mirror is older than Config.Staleness.
func (l *List) Stale() bool { return l.stale.Load() }

// SyncedAt returns when the mirror was last confirmed in sync with the
// store, by the wall clock; zero before the first sync.
func (l *List) SyncedAt() time.Time {
	if m := l.freshAt.Load(); m != nil {
		return m.at
	}
	return time.Time{}
}

// covered reports whether the mirror holds e already: the same key with
// an expiry at least as late (and, for a subject, a Before at least as
// late). The mirror only holds what the store holds.
func (l *List) covered(e Entry) bool {
	ix := (*l.issuers.Load())[e.Issuer]
	if ix == nil {
		return false
	}
	target := ix.tokens
	if e.Kind == KindSubject {
		target = ix.subjects
	}
	r := target.get(e.Key)
	return r != nil && r.expires >= e.Expires.UnixNano() && r.before >= e.Before.UnixNano()
}

// apply merges entries into the mirror.
func (l *List) apply(entries ...Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range entries {
		l.applyLocked(e)
	}
}

func (l *List) applyLocked(e Entry) {
	issuers := *l.issuers.Load()
	ix := issuers[e.Issuer]
	if ix == nil {
		// A new issuer is rare: copy the map and publish the copy.
		ix = &issuerIndexes{tokens: newIndex(), subjects: newIndex()}
		m := make(map[string]*issuerIndexes, len(issuers)+1)
		for k, v := range issuers {
			m[k] = v
		}
		m[e.Issuer] = ix
		l.issuers.Store(&m)
	}
	target := ix.tokens
	if e.Kind == KindSubject {
		target = ix.subjects
	}
	n := target.n
	target.merge(record{key: e.Key, before: e.Before.UnixNano(), expires: e.Expires.UnixNano()})
	l.size.Add(int64(target.n - n))
}

// purgeTimeout bounds one purge of the store.
const purgeTimeout = 30 * time.Second

// applyBatch is the size of the batches a snapshot is applied in, so
// that readers are never held up for long.
const applyBatch = 4096

// run keeps the mirror in sync until ctx ends: subscribe, take a full
// snapshot, then apply what the subscription delivers; after any failure
// start over with a backoff. Staleness is watched alongside.
func (l *List) run(ctx context.Context) {
	defer close(l.done)
	l.workers.Go(func() { l.watch(ctx) })
	l.workers.Go(func() { l.purge(ctx) })
	defer l.workers.Wait()
	backoff := 50 * time.Millisecond
	failing := false
	for ctx.Err() == nil {
		err := l.sync(ctx, func() {
			if failing {
				l.log.Info("revocation list back in sync")
				failing = false
			}
			backoff = 50 * time.Millisecond
		})
		if ctx.Err() != nil {
			return
		}
		l.lastErr.Store(&err)
		if !failing {
			l.log.Warn("revocation list lost its store; retrying", "err", err)
			failing = true
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, max(l.cfg.Staleness/4, 100*time.Millisecond), 2*time.Second)
	}
}

// sync does one subscribe-snapshot-follow round; it returns only with an
// error. ok is called once the snapshot is applied.
func (l *List) sync(ctx context.Context, ok func()) error {
	start := l.now()
	sub, err := l.store.Subscribe(ctx)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer sub.Close()
	entries, err := l.store.Snapshot(ctx, start)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	for len(entries) > 0 {
		n := min(len(entries), applyBatch)
		l.apply(entries[:n]...)
		entries = entries[n:]
	}
	l.markFresh(start)
	ok()
	l.once.Do(func() { close(l.synced) })
	for {
		start := l.now()
		e, got, err := sub.Next(ctx, l.heartbeat)
		if err != nil {
			return fmt.Errorf("subscription: %w", err)
		}
		if got {
			l.apply(e)
		}
		// An entry, like a heartbeat, shows the connection alive; a stream
		// of entries may keep heartbeats from coming.
		l.markFresh(start)
	}
}

// syncMark is a confirmed sync. It is never modified once published.
type syncMark struct {
	at  time.Time     // when it happened, by the wall clock: SyncedAt
	off time.Duration // its offset from l.epoch: monotonic with time.Now
}

// fresh reports whether m is within the staleness bound now. Elapsed time
// is measured from the epoch, so with time.Now it is monotonic. A clock
// without a monotonic reading (an injected one) that reads before m has
// stepped back: that counts as stale, never as fresh.
func (l *List) fresh(m *syncMark) bool {
	if m == nil {
		return false
	}
	at := l.now().Sub(l.epoch)
	if at < m.off {
		return false
	}
	d := at - m.off // negative only on overflow: very old
	return d >= 0 && d <= l.cfg.Staleness
}

// markFresh records that the mirror was in sync with the store at t. It
// clears the stale flag only when t is within the staleness bound: a sync
// that took too long does not make an old mirror count as fresh. Only the
// sync loop calls it, in order, so the latest call is the last sync.
func (l *List) markFresh(t time.Time) {
	m := &syncMark{at: t.Round(0), off: t.Sub(l.epoch)}
	l.freshAt.Store(m)
	if l.fresh(m) {
		l.stale.Store(false)
	}
}

// watch flips the stale flag once the last confirmed sync is older than
// the staleness bound, so Revoked reads one atomic instead of the clock.
func (l *List) watch(ctx context.Context) {
	tick := time.NewTicker(min(l.cfg.Staleness/10, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m := l.freshAt.Load()
		if m == nil || l.fresh(m) {
			continue
		}
		if !l.stale.Swap(true) {
			l.log.Error("revocation list is stale", "synced_at", m.at, "fail_open", l.cfg.FailOpen)
		}
		// A markFresh between the check and the swap must not be undone.
		if cur := l.freshAt.Load(); cur != m && l.fresh(cur) {
			l.stale.Store(false)
		}
	}
}

// purge drops expired entries from the mirror and the store.
func (l *List) purge(ctx context.Context) {
	tick := time.NewTicker(l.cfg.PurgeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := l.now()
		l.Purge(now)
		pctx, cancel := context.WithTimeout(ctx, purgeTimeout)
		_, err := l.store.Purge(pctx, now)
		cancel()
		if err != nil && ctx.Err() == nil {
			l.log.Warn("revocation store purge failed", "err", err)
		}
	}
}

// Purge drops the mirror's entries that have expired at now; the
// background sync calls it every Config.PurgeInterval. Tables with
// expired records are rebuilt without them and swapped in, so readers
// never wait.
func (l *List) Purge(now time.Time) {
	ns := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	issuers := *l.issuers.Load()
	var empty []string
	for iss, ix := range issuers {
		for _, target := range []*index{ix.tokens, ix.subjects} {
			if target.expired(ns) > 0 {
				n := target.n
				target.rebuild(target.n, ns)
				l.size.Add(int64(target.n - n))
			}
		}
		if ix.tokens.n == 0 && ix.subjects.n == 0 {
			empty = append(empty, iss)
		}
	}
	if len(empty) > 0 {
		m := make(map[string]*issuerIndexes, len(issuers))
		for k, v := range issuers {
			m[k] = v
		}
		for _, k := range empty {
			delete(m, k)
		}
		l.issuers.Store(&m)
	}
}
