package sessionless

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/apitoken"
	apitokensql "github.com/sessionless/sessionless/apitoken/sqlstore"
	"github.com/sessionless/sessionless/internal/sqlopen"
	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/revocation/redisstore"
	revsql "github.com/sessionless/sessionless/revocation/sqlstore"
	authcodesql "github.com/sessionless/sessionless/token/authcode/sqlstore"
	"github.com/sessionless/sessionless/token/clients"
	clientsql "github.com/sessionless/sessionless/token/clients/sqlstore"
	consentsql "github.com/sessionless/sessionless/token/consent/sqlstore"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/refresh"
	refreshsql "github.com/sessionless/sessionless/token/refresh/sqlstore"
)

// firstSyncTimeout bounds the first sync of the revocation list.
const firstSyncTimeout = 15 * time.Second

// stores are what New opened on Config.Database or DB: nil fields
// without one.
type stores struct {
	db        *sql.DB
	dialect   sqlschema.Dialect // of the database; 0 without one
	redis     *redis.Client     // Config.Redis, or nil
	refreshes refresh.Store
	apiTokens apitoken.Store
}

// openStores opens the database and Redis cfg names, the stores New needs
// on them, and the revocation list (unless Config.Revocations), and
// registers what they hold to be closed.
func (a *Auth) openStores(cfg Config) (*stores, error) {
	ctx := context.Background()
	st := &stores{apiTokens: apitoken.NewMemoryStore()}
	var revStore revocation.Store // nil: in memory
	db, d := cfg.DB, sqlschema.Dialect(0)
	var err error
	switch {
	case cfg.Database != "":
		if db, d, err = sqlopen.Open(ctx, cfg.Database); err != nil {
			return nil, fmt.Errorf("sessionless: Config.Database: %w", err)
		}
		a.closers = append(a.closers, db.Close)
	case db != nil:
		if d, err = sqlopen.DialectOf(db); err != nil {
			return nil, fmt.Errorf("sessionless: Config.DB: %w", err)
		}
	}
	if db != nil {
		st.db, st.dialect = db, d
		if st.refreshes, err = refreshsql.New(ctx, db, refreshsql.Config{Dialect: d}); err != nil {
			return nil, err
		}
		if cfg.APITokens != nil {
			if st.apiTokens, err = apitokensql.New(ctx, db, apitokensql.Config{Dialect: d}); err != nil {
				return nil, err
			}
		}
		if cfg.Redis == "" && cfg.Revocations == nil {
			if revStore, err = revsql.New(ctx, db, revsql.Config{Dialect: d}); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Redis != "" {
		opt, err := redis.ParseURL(cfg.Redis)
		if err != nil {
			// Not the URL itself: it may hold a password.
			return nil, errors.New("sessionless: Config.Redis does not parse: use redis://[user:password@]host:port/db")
		}
		client := redis.NewClient(opt)
		st.redis = client
		a.closers = append(a.closers, client.Close)
		if revStore, err = redisstore.New(client, redisstore.Config{}); err != nil {
			return nil, err
		}
	}
	a.Revocations = cfg.Revocations
	if a.Revocations == nil {
		sctx, cancel := context.WithTimeout(ctx, firstSyncTimeout)
		defer cancel()
		rc := cfg.RevocationList
		rc.Store = revStore
		rc.Logger = cmp.Or(rc.Logger, cfg.Logger)
		if rc.Now == nil {
			rc.Now = cfg.Now
		}
		list, err := revocation.Open(sctx, rc)
		if err != nil {
			return nil, fmt.Errorf("sessionless: the revocation list: %w", err)
		}
		a.Revocations = list
		a.closers = append(a.closers, list.Close)
	}
	return st, nil
}

// startPurge deletes, every DefaultPurgeInterval until Shutdown, the
// refresh token families past their lifetimes and the API tokens expired
// or revoked more than APITokenRetention ago, from the database New
// opened.
func (a *Auth) startPurge() {
	ctx, stop := context.WithCancel(context.Background())
	a.stop, a.done = stop, make(chan struct{})
	go func() {
		defer close(a.done)
		t := time.NewTicker(DefaultPurgeInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				a.purge(ctx)
			}
		}
	}()
}

// purge runs one round of startPurge's deletions.
func (a *Auth) purge(ctx context.Context) {
	if a.Endpoints != nil {
		if _, err := a.Endpoints.Refresh().Purge(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("sessionless: purging refresh tokens failed", "err", err)
		}
	}
	if a.APITokens != nil {
		if _, err := a.APITokens.Purge(ctx, APITokenRetention); err != nil && ctx.Err() == nil {
			a.log.Warn("sessionless: purging API tokens failed", "err", err)
		}
	}
	if a.Endpoints != nil {
		if err := a.Endpoints.PurgeAuthorization(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("sessionless: purging authorization codes and unused client registrations failed", "err", err)
		}
	}
}

// authorization fills in the stores of the authorization code grant that
// ac leaves out: in the database New opened (codes, consents, and the
// registrations of a *clients.Registry with registration on), else in
// memory.
func (st *stores) authorization(ctx context.Context, ac endpoint.AuthorizationConfig) (*endpoint.AuthorizationConfig, error) {
	reg, _ := ac.Clients.(*clients.Registry)
	needRegistered := reg != nil && reg.Registered == nil && ac.Registration != nil && ac.Registration.Store == nil
	if st.db == nil {
		if needRegistered {
			r := *reg
			r.Registered = clients.NewMemoryStore()
			ac.Clients = &r
		}
		return &ac, nil
	}
	var err error
	if ac.Codes == nil {
		if ac.Codes, err = authcodesql.New(ctx, st.db, authcodesql.Config{Dialect: st.dialect}); err != nil {
			return nil, err
		}
	}
	if ac.Consents == nil {
		if ac.Consents, err = consentsql.New(ctx, st.db, consentsql.Config{Dialect: st.dialect}); err != nil {
			return nil, err
		}
	}
	if needRegistered {
		r := *reg
		if r.Registered, err = clientsql.New(ctx, st.db, clientsql.Config{Dialect: st.dialect}); err != nil {
			return nil, err
		}
		ac.Clients = &r
	}
	return &ac, nil
}
