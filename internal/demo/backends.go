package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/apitoken"
	apitokensql "github.com/sessionless/sessionless/apitoken/sqlstore"
	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/redisreplay"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/revocation/redisstore"
	revsql "github.com/sessionless/sessionless/revocation/sqlstore"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/endpoint/redisthrottle"
	"github.com/sessionless/sessionless/token/refresh"
	refreshsql "github.com/sessionless/sessionless/token/refresh/sqlstore"
)

// firstSyncTimeout bounds the first sync of the revocation list at start.
const firstSyncTimeout = 15 * time.Second

// backends are the revocation list, the refresh tokens and the API
// tokens, on the database of the users, or with the revocations in Redis.
type backends struct {
	revocations *revocation.List
	refreshes   refresh.Store
	apiTokens   *apitoken.Manager
	// dpopReplay remembers the DPoP proofs seen: in Redis when the
	// revocations are there (instances refuse each other's replays), else
	// in memory.
	dpopReplay dpop.ReplayCache
	// throttle keeps the login budgets in Redis, shared by the instances,
	// when the revocations are there; nil: per instance.
	throttle endpoint.Limiter
	where    string // where revocations are shared, for the log
	closers  []func() error
}

// openBackends opens the revocation list (synced once before it returns),
// the refresh token manager and the API token manager for cfg, on db;
// cfg.Issuer must be set.
func openBackends(ctx context.Context, cfg Config, db *sqlStore, log *slog.Logger) (_ *backends, err error) {
	b := &backends{}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	var store revocation.Store
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			// Not the URL itself: it may hold a password.
			return nil, errors.New("the Redis URL does not parse: use redis://[user:password@]host:port/db")
		}
		client := redis.NewClient(opt)
		b.closers = append(b.closers, client.Close)
		if store, err = redisstore.New(client, redisstore.Config{}); err != nil {
			return nil, err
		}
		if b.dpopReplay, err = redisreplay.New(client, redisreplay.Config{}); err != nil {
			return nil, err
		}
		if b.throttle, err = redisthrottle.New(client, redisthrottle.Config{}); err != nil {
			return nil, err
		}
		b.where = "Redis"
	} else {
		if store, err = revsql.New(ctx, db.db, revsql.Config{Dialect: db.d}); err != nil {
			return nil, err
		}
		b.dpopReplay = dpop.NewMemoryCache(nil)
		b.where = db.d.String()
	}
	sctx, cancel := context.WithTimeout(ctx, firstSyncTimeout)
	defer cancel()
	b.revocations, err = revocation.Open(sctx, revocation.Config{
		Store:            store,
		Staleness:        cfg.RevocationStaleness,
		FailOpen:         cfg.RevocationFailOpen,
		MaxTokenLifetime: maxAccessTTL,
		// No cfg.Now: the list keeps real time (staleness on the monotonic
		// clock), also when tests move the clock of the tokens by days.
		Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("revocation list (%s): %w", b.where, err)
	}
	b.closers = append(b.closers, b.revocations.Close)

	if b.refreshes, err = refreshsql.New(ctx, db.db, refreshsql.Config{Dialect: db.d}); err != nil {
		return nil, err
	}

	// API tokens: revocations go through the list the middleware checks
	// on every cache hit, so they stop a cached token at once here and
	// as soon as the list reaches the other instances.
	as, err := apitokensql.New(ctx, db.db, apitokensql.Config{Dialect: db.d})
	if err != nil {
		return nil, err
	}
	b.apiTokens, err = apitoken.New(apitoken.Config{
		Store: as,
		// The subjects of API tokens are the users of the demo's own
		// access tokens.
		SubjectIssuer: cfg.Issuer,
		// Their access tokens for the whole API (the general audience, or
		// the whole server as a resource) may create API tokens; one asked
		// for /api or /graphql may not, nor a DPoP-bound one (API tokens
		// are bearer tokens).
		CreatorAudiences: []string{cfg.Audience, cfg.Issuer},
		Revoker:          b.revocations,
		Logger:           log,
		Now:              cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	// Closed before the list: Close writes the last uses.
	b.closers = append(b.closers, b.apiTokens.Close)
	return b, nil
}

// apiTokenRetention is how long expired and revoked API tokens stay
// listed before they are purged.
const apiTokenRetention = 30 * 24 * time.Hour

// purge deletes the expired refresh token families of refreshes, and the
// API tokens expired or revoked more than apiTokenRetention ago, every
// interval until ctx ends.
func (b *backends) purge(ctx context.Context, refreshes *refresh.Manager, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := refreshes.Purge(ctx); err != nil && ctx.Err() == nil {
				log.Warn("purging refresh tokens failed", "err", err)
			}
			if _, err := b.apiTokens.Purge(ctx, apiTokenRetention); err != nil && ctx.Err() == nil {
				log.Warn("purging API tokens failed", "err", err)
			}
		}
	}
}

// Close closes the list and the Redis client, in reverse order.
func (b *backends) Close() error {
	var errs []error
	for i := len(b.closers) - 1; i >= 0; i-- {
		errs = append(errs, b.closers[i]())
	}
	return errors.Join(errs...)
}
