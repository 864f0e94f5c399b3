package oidc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionless/sessionless/token"
)

// remoteKeys is a provider's JWK Set, fetched when needed and kept: a
// token.KeySource whose set changes when the provider's does.
//
// Fetches are deduplicated (one at a time; callers wait for the one in
// flight) and rate-limited (at most one attempt per minInterval): a flood
// of tokens with unknown kids causes O(1) fetches, and a request that the
// limiter turns away does not wait. Keys are fetched again in the
// background once older than maxAge, so that a rotation or a removal at
// the provider is seen without a request waiting. When a fetch fails, the
// last keys keep working.
type remoteKeys struct {
	jwksURL     func(context.Context) (string, error)
	client      *http.Client
	algs        []token.Algorithm
	minInterval time.Duration
	maxAge      time.Duration
	maxSize     int64
	now         func() time.Time
	log         *slog.Logger
	onFetched   func(error)                   // Hooks.OnKeysRefreshed, or nil
	onChanged   func(added, removed []string) // Hooks.OnKeysChanged, or nil

	set       atomic.Pointer[token.KeySet]
	fetchedAt atomic.Int64 // unix nanoseconds of the last successful fetch
	fetches   atomic.Int64 // attempts, for tests and metrics

	mu          sync.Mutex
	inflight    chan struct{} // closed when the fetch in flight ends; nil: none
	lastAttempt time.Time
	lastErr     error
}

// KeySet implements token.KeySource: the last keys fetched, or nil.
func (k *remoteKeys) KeySet() *token.KeySet { return k.set.Load() }

// errRateLimited: the keys were fetched less than the minimum interval
// ago, successfully. (When that fetch failed, refresh returns its error
// instead: the provider is down, not merely asked too often.)
var errRateLimited = errors.New("oidc: keys fetched less than the minimum interval ago")

// fetchTimeout bounds a fetch of the keys (discovery included), whatever
// the HTTP client's own timeout: a provider that accepts the connection
// and never answers must not hold the fetch in flight forever.
const fetchTimeout = 2 * DefaultHTTPTimeout

// refresh fetches the keys now, unless a fetch is in flight (it waits for
// that one) or the last attempt was less than minInterval ago (at once:
// errRateLimited when it succeeded, its error when it failed). The fetch
// runs on its own goroutine under fetchTimeout; every caller, the one
// that started it included, waits for it at most until its own ctx ends.
// It returns the error of the fetch it waited for.
func (k *remoteKeys) refresh(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err // no fetch for a caller already gone
	}
	k.mu.Lock()
	ch := k.inflight
	if ch == nil {
		if !k.lastAttempt.IsZero() && k.now().Sub(k.lastAttempt) < k.minInterval {
			err := k.lastErr
			k.mu.Unlock()
			if err != nil {
				return fmt.Errorf("oidc: the last fetch of the keys, less than the minimum interval ago, failed: %w", err)
			}
			return errRateLimited
		}
		ch = make(chan struct{})
		k.inflight, k.lastAttempt = ch, k.now()
		go k.run(ch)
	}
	k.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastErr
}

// run does one fetch, closes ch when it is done, then tells the hook.
func (k *remoteKeys) run(ch chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	added, removed, err := k.fetch(ctx)
	cancel()
	if err != nil {
		// One line per attempt, so at most one per minInterval.
		if k.set.Load() == nil {
			k.log.Warn("fetching an OpenID Connect provider's keys failed; its tokens get 503 until a fetch succeeds", "err", err)
		} else {
			k.log.Warn("fetching an OpenID Connect provider's keys failed; the last keys stay in use", "err", err)
		}
	}
	k.mu.Lock()
	k.inflight, k.lastErr = nil, err
	k.mu.Unlock()
	close(ch)
	if k.onChanged != nil && len(added)+len(removed) > 0 {
		k.onChanged(added, removed)
	}
	if k.onFetched != nil {
		k.onFetched(err)
	}
}

// refreshInBackground starts a refresh when the keys are older than
// maxAge, without waiting for it.
func (k *remoteKeys) refreshInBackground() {
	at := k.fetchedAt.Load()
	if at == 0 || k.now().Sub(time.Unix(0, at)) < k.maxAge {
		return
	}
	k.mu.Lock()
	due := k.inflight == nil && k.now().Sub(k.lastAttempt) >= k.minInterval
	k.mu.Unlock()
	if due {
		go k.refresh(context.Background()) // run logs a failure
	}
}

// fetch gets the JWK Set and swaps it in, and returns the key IDs it
// added and removed.
func (k *remoteKeys) fetch(ctx context.Context) (added, removed []string, err error) {
	k.fetches.Add(1)
	url, err := k.jwksURL(ctx)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("oidc: JWKS URL: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("oidc: fetching the JWK Set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("oidc: fetching the JWK Set: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, k.maxSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("oidc: reading the JWK Set: %w", err)
	}
	if int64(len(body)) > k.maxSize {
		return nil, nil, fmt.Errorf("oidc: the JWK Set is larger than %d bytes", k.maxSize)
	}
	set, skipped, err := token.ParseJWKSet(body, token.JWKSetOptions{Algorithms: k.algs, Previous: k.set.Load()})
	if err != nil {
		return nil, nil, fmt.Errorf("oidc: the JWK Set: %w", err)
	}
	for _, s := range skipped {
		k.log.Debug("a key of the provider's JWK Set is skipped", "reason", s)
	}
	prev := k.set.Swap(set)
	k.fetchedAt.Store(k.now().UnixNano())
	added, removed = keyChanges(prev, set)
	return added, removed, nil
}

// keyChanges returns the key IDs of next that prev lacks, and those of
// prev that next lacks, sorted.
func keyChanges(prev, next *token.KeySet) (added, removed []string) {
	ids := func(s *token.KeySet) map[string]bool {
		m := map[string]bool{}
		if s != nil {
			for _, key := range s.Keys() {
				m[key.ID()] = true
			}
		}
		return m
	}
	before, after := ids(prev), ids(next)
	for id := range after {
		if !before[id] {
			added = append(added, id)
		}
	}
	for id := range before {
		if !after[id] {
			removed = append(removed, id)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}
