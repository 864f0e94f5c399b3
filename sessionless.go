// Package sessionless is the short path to protecting an API with tokens
// instead of server sessions: one call builds, from one configuration and
// with the strict defaults of the packages underneath, the middleware
// that accepts all three credentials a client may bring (the API's own
// access tokens, an OpenID Connect provider's, and API tokens made for
// scripts), the login, token, revocation and logout endpoints, and the
// stores they share.
//
//	auth, err := sessionless.New(sessionless.Config{
//		Issuer:    "https://api.example",
//		Audience:  "api",
//		KeyFile:   "signing-key.pem",    // or HMACSecret: secret
//		Database:  "auth.db",            // or a postgres:// URL; empty: in memory
//		Providers: []oidc.Config{{Issuer: "https://sso.example/realms/acme"}},
//		APITokens: &apitoken.Config{},   // sl_… tokens users make for scripts
//		Endpoints: &endpoint.Config{Users: users},
//	})
//	auth.Mount(mux, "/auth")            // login, token, revoke, logout, JWKS, metadata
//	mux.Handle("GET /widgets", auth.Middleware(auth.RequireScopes("widgets:read")(list)))
//	err = sessionless.Serve(ctx, &http.Server{Addr: ":8080", Handler: mux}, auth)
//
// [Serve] stops on SIGINT or SIGTERM, lets the requests in flight end,
// then shuts auth down ([Auth.Shutdown]: the API tokens' last uses are
// written, what New opened is closed). The parts stay at hand for
// everything else: [Auth.Keys] for rotation, [Auth.Issuer] to mint tokens
// of your own login, [Auth.Revocations] to revoke, [Auth.Endpoints],
// [Auth.APITokens] and [Auth.Providers]. The packages token, oidc,
// apitoken, middleware, revocation and token/endpoint hold the details.
//
// This package opens databases by URL, so it links the SQLite
// (modernc.org/sqlite) and PostgreSQL (pgx) drivers and the Redis client;
// a program that wants neither builds on the packages underneath, which
// link none.
package sessionless

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/audit"
	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/redisreplay"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/endpoint/redisthrottle"
)

// Defaults of a [Config].
const (
	// DefaultClientID is the client id of the endpoints when
	// Config.Endpoints names none.
	DefaultClientID = "sessionless"
	// DefaultProviderTimeout bounds the first fetch of each provider's
	// keys in [New].
	DefaultProviderTimeout = 15 * time.Second
	// DefaultPurgeInterval is how often expired refresh tokens and old
	// API tokens are deleted from a database New opened.
	DefaultPurgeInterval = time.Hour
	// APITokenRetention is how long expired and revoked API tokens stay
	// listed before they are purged.
	APITokenRetention = 30 * 24 * time.Hour
)

// Config is what [New] needs. Issuer, Audience and exactly one of
// HMACSecret, KeyFile and Key are required; the rest turns on more.
type Config struct {
	// Issuer is the "iss" of the API's own tokens, usually its base URL.
	Issuer string
	// Audience is the "aud" its tokens are issued for and must carry.
	Audience string

	// HMACSecret signs with HS256: at least 32 random bytes, shared by
	// every instance. Anyone who can verify can also sign.
	HMACSecret []byte
	// KeyFile is a PEM private key (PKCS#8, SEC 1 or PKCS#1: Ed25519,
	// ECDSA or RSA of 2048 bits or more), whose type picks the algorithm,
	// read with token.ReadKeyFile: a file that group or others may read
	// is refused (chmod 600 it). token.LoadOrCreateKeyFile makes one.
	KeyFile string
	// Key is a signing key already loaded.
	Key *token.Key
	// VerifyKeys are the public keys of signing keys retired by a
	// rotation: the tokens they signed still verify (and JWKS lists them)
	// until they expire. New keeps only their public halves.
	VerifyKeys []*token.Key
	// TTL is the lifetime of the access tokens. Zero means 15 minutes;
	// at most 24 hours (token.DefaultMaxTokenLifetime).
	TTL time.Duration

	// Database is where the refresh tokens, the API tokens and (without
	// Redis) the revocations live, shared by every instance: a SQLite
	// file path ("auth.db", or a "file:" URI; the file is made 0600) or a
	// postgres:// URL. New creates the tables (migrating them) and closes
	// the database on Shutdown. Empty, and no DB: all in memory, for one
	// process.
	Database string
	// DB is a database the application has open already, instead of
	// Database: New creates its tables there (beside the application's
	// own, such as its users) and leaves it open. Its driver must be
	// modernc.org/sqlite ("sqlite") or pgx's stdlib ("pgx").
	DB *sql.DB
	// Redis, a redis:// URL, shares the revocations through Redis
	// instead of the database (they reach the other instances at once),
	// and with them the login budgets of the endpoints (a client flooding
	// the login spends one budget however many instances it reaches) and
	// the DPoP replay cache. Without Redis both are per instance.
	Redis string
	// Revocations is a revocation list of your own, instead of the one
	// New opens from Database or Redis (or in memory). It stays yours to
	// close.
	Revocations *revocation.List
	// RevocationList holds the other settings of the list New opens
	// (Staleness, FailOpen, Leeway, MaxTokenLifetime, PurgeInterval, Now):
	// New sets its Store, and its Logger and Now unless given.
	RevocationList revocation.Config

	// DPoP, when set, accepts DPoP-bound tokens (RFC 9449) at the
	// middleware and issues them at the endpoints: New builds the proof
	// verifier, its replay cache in Redis when Config.Redis is set (every
	// instance refuses a proof another one accepted), else in memory,
	// unless Replay is given; Now defaults to this Config's. The
	// middleware then needs Middleware.ExternalURL (and the endpoints
	// Endpoints.ExternalURL): the public URL proofs are checked against.
	DPoP *dpop.Config

	// Providers are OpenID Connect providers whose access tokens the API
	// accepts too: Issuer is required; Audiences default to Audience,
	// Mapping to oidc.Generic(); Logger and Now default to this Config's.
	// New fetches each provider's keys and fails, naming the provider,
	// when it cannot, unless StartWithoutProviders.
	Providers []oidc.Config
	// StartWithoutProviders lets New return at once, fetching the
	// providers' keys in the background: a provider that cannot be
	// reached yet is logged, and its tokens get 503 until its keys are
	// fetched.
	StartWithoutProviders bool
	// ProviderTimeout bounds the first fetch of each provider's keys.
	// Zero means DefaultProviderTimeout.
	ProviderTimeout time.Duration

	// APITokens, when set, accepts the opaque API tokens users make for
	// scripts (apitoken), and [Auth.Mount] serves their management under
	// prefix + "/api-tokens". New sets SubjectIssuer (Issuer), Revoker
	// (the revocation list), Store (on Database, else in memory) unless
	// given, CreatorAudiences (Audience) unless given, Logger and Now.
	APITokens *apitoken.Config

	// Endpoints, when set (with its Users), turns on the login, token,
	// revocation and logout endpoints of token/endpoint, mounted by
	// [Auth.Mount]. New sets Issuer, Verifier, Revocation, APITokens
	// (logging out everywhere revokes the user's API tokens too) and
	// RefreshStore (on Database) unless given, ClientID (DefaultClientID)
	// unless given, Logger and Now; with Config.Redis, the login budgets
	// are shared by the instances there (Throttle.Shared, redisthrottle)
	// unless Throttle.Shared is given.
	Endpoints *endpoint.Config

	// Middleware holds the other settings of the middleware (cookie,
	// realm, cache, resources, hooks). New sets its JWT routes (this
	// issuer and every provider), Prefixes (the API tokens), Revocation,
	// and, unless given, Audiences (Audience and the providers').
	Middleware middleware.Config

	// Logger receives what the parts log (never a token). Nil discards.
	Logger *slog.Logger
	// Audit, when set, receives the audit records (package audit, one
	// per security event, a schema of its own): the endpoints' (logins,
	// logouts, reuse detections, consents; Endpoints.Hooks.Audit still
	// runs too), the API tokens created and revoked at the handlers
	// [Auth.Mount] serves, the providers' keys as they change, and the
	// keys New starts with. Give it a handler apart from Logger's.
	// [Auth.Audit] writes the application's own. Nil: none.
	Audit *slog.Logger
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Auth is the middleware for the API and the parts it is built from.
type Auth struct {
	// Authenticator provides Middleware, Protect, RequireScopes,
	// RequireAnyScope, RequireRoles and Authenticate.
	*middleware.Authenticator
	Keys     *token.KeyRing
	Issuer   *token.Issuer
	Verifier *token.Verifier
	// Revocations is the list the middleware checks: revoke tokens with
	// it.
	Revocations *revocation.List
	// DPoP is the proof verifier (with Config.DPoP), or nil.
	DPoP *dpop.Verifier
	// Providers verify the tokens of Config.Providers, in order.
	Providers []*oidc.Provider
	// APITokens is the API token manager (with Config.APITokens), or nil.
	APITokens *apitoken.Manager
	// Endpoints are the login, token, revocation and logout endpoints
	// (with Config.Endpoints), or nil.
	Endpoints *endpoint.Server
	// Audit writes audit records to Config.Audit, the client address of
	// a request read as the endpoints read it (behind their trusted
	// proxies); nil without Config.Audit (a nil *audit.Logger writes
	// nothing). Give its APITokenHooks to API token handlers of your own.
	Audit *audit.Logger

	log       *slog.Logger
	db        *sql.DB        // the database the stores are in, or nil
	redis     *redis.Client  // Config.Redis's client, or nil
	failOpen  bool           // the revocation list fails open
	resources bool           // Config.Middleware.Resources has some
	closers   []func() error // in the order they were opened
	stop      context.CancelFunc
	done      chan struct{} // closed when the purge loop has returned
	// stopWarming ends the fetches of the providers' keys in the
	// background (StartWithoutProviders); warming waits for them.
	stopWarming context.CancelFunc
	warming     sync.WaitGroup
	shutdown    sync.Once
	err         error
}

// New builds what cfg describes: the key ring, issuer and verifier, the
// stores and revocation list (on Config.Database and Config.Redis), the
// providers (their keys fetched), the API token manager, the endpoints and
// the middleware. Call [Auth.Shutdown] when done ([Serve] does).
func New(cfg Config) (_ *Auth, err error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	a := &Auth{log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.Audit = audit.New(cfg.Audit, audit.Config{ClientAddr: a.clientAddr, Now: cfg.Now})
	if err := a.tokens(cfg); err != nil {
		return nil, err
	}
	// The keys first: before a provider's, which are fetched meanwhile.
	a.Audit.LogKeys(context.Background(), cfg.Issuer, a.Keys.KeySet())
	st, err := a.openStores(cfg)
	if st != nil {
		a.db, a.redis = st.db, st.redis
	}
	a.failOpen = cfg.RevocationList.FailOpen
	if err != nil {
		return nil, err
	}
	if err := a.providers(cfg); err != nil {
		return nil, err
	}
	if cfg.DPoP != nil {
		if err := a.dpop(cfg, st); err != nil {
			return nil, err
		}
	}
	if cfg.APITokens != nil {
		if err := a.apiTokens(cfg, st); err != nil {
			return nil, err
		}
	}
	if cfg.Endpoints != nil {
		if err := a.endpoints(cfg, st); err != nil {
			return nil, err
		}
	}
	if err := a.middleware(cfg); err != nil {
		return nil, err
	}
	if st.dialect != 0 {
		a.startPurge()
	}
	return a, nil
}

// clientAddr is the client address of r as the endpoints read it, or the
// connection's without endpoints.
func (a *Auth) clientAddr(r *http.Request) netip.Addr {
	if a.Endpoints != nil {
		return a.Endpoints.ClientAddr(r)
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// check refuses what New sets itself, before anything is opened.
func (cfg *Config) check() error {
	switch {
	case cfg.Middleware.Revocation != nil || len(cfg.Middleware.JWT) != 0 || len(cfg.Middleware.Prefixes) != 0:
		return errors.New("sessionless: Config.Middleware.JWT, .Prefixes and .Revocation are set by New (use Config.Providers, APITokens and Revocations)")
	case cfg.Database != "" && cfg.DB != nil:
		return errors.New("sessionless: Config.Database and Config.DB both name the database: give one")
	case cfg.Revocations != nil && (cfg.Redis != ""):
		return errors.New("sessionless: Config.Revocations and Config.Redis both name the revocations: give one")
	case cfg.Revocations != nil && revocationListSet(cfg.RevocationList):
		return errors.New("sessionless: Config.RevocationList configures the list New opens, not Config.Revocations")
	case cfg.RevocationList.Store != nil:
		return errors.New("sessionless: Config.RevocationList.Store is set by New (use Config.Database, Redis or Revocations)")
	case cfg.DPoP != nil && (cfg.Middleware.DPoP != nil || cfg.Endpoints != nil && cfg.Endpoints.DPoP != nil):
		return errors.New("sessionless: Config.DPoP and Config.Middleware.DPoP or Config.Endpoints.DPoP both configure DPoP: give one")
	case cfg.Endpoints != nil && (cfg.Endpoints.Issuer != nil || cfg.Endpoints.Verifier != nil || cfg.Endpoints.Revocation != nil):
		return errors.New("sessionless: Config.Endpoints.Issuer, .Verifier and .Revocation are set by New")
	case cfg.Endpoints != nil && cfg.Endpoints.Users == nil:
		return errors.New("sessionless: Config.Endpoints needs Users, the application's user store")
	case cfg.APITokens != nil && (cfg.APITokens.SubjectIssuer != "" || cfg.APITokens.Revoker != nil):
		return errors.New("sessionless: Config.APITokens.SubjectIssuer and .Revoker are set by New")
	}
	seen := map[string]bool{}
	for _, p := range cfg.Providers {
		if p.Issuer == "" {
			return errors.New("sessionless: a provider without Issuer")
		}
		if seen[p.Issuer] {
			return fmt.Errorf("sessionless: two providers with the issuer %s", p.Issuer)
		}
		seen[p.Issuer] = true
		if p.Issuer == cfg.Issuer {
			return fmt.Errorf("sessionless: provider %s has the API's own issuer", p.Issuer)
		}
	}
	return nil
}

// revocationListSet reports whether any of c is set.
func revocationListSet(c revocation.Config) bool {
	return c.Store != nil || c.Staleness != 0 || c.FailOpen || c.Leeway != 0 || c.MaxTokenLifetime != 0 ||
		c.PurgeInterval != 0 || c.Now != nil || c.Logger != nil
}

// tokens builds the key ring, the issuer and the verifier.
func (a *Auth) tokens(cfg Config) error {
	key, err := signingKey(cfg)
	if err != nil {
		return err
	}
	var retired []*token.Key
	for _, k := range cfg.VerifyKeys {
		if k == nil {
			return errors.New("sessionless: a nil key in Config.VerifyKeys")
		}
		retired = append(retired, k.Public())
	}
	set, err := token.NewKeySet(key, retired...)
	if err != nil {
		return err
	}
	if a.Keys, err = token.NewKeyRing(set); err != nil {
		return err
	}
	if a.Issuer, err = token.NewIssuer(a.Keys, token.IssuerConfig{Issuer: cfg.Issuer, Audience: []string{cfg.Audience}, TTL: cfg.TTL, Now: cfg.Now}); err != nil {
		return err
	}
	auds := []string{cfg.Audience}
	if cfg.Endpoints != nil {
		// Tokens asked for a resource (RFC 8707) must verify here too,
		// for the revocation endpoint.
		for _, r := range cfg.Endpoints.Resources {
			auds = append(auds, r.URL)
		}
	}
	a.Verifier, err = token.NewVerifier(a.Keys, token.VerifierConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, Audiences: auds[1:], Now: cfg.Now})
	return err
}

// providers builds the provider of each of cfg.Providers and fetches its
// keys, all at once: New waits for them, or, with StartWithoutProviders,
// does not (they are fetched in the background until Shutdown).
func (a *Auth) providers(cfg Config) error {
	timeout := cmp.Or(cfg.ProviderTimeout, DefaultProviderTimeout)
	for _, pc := range cfg.Providers {
		if len(pc.Audiences) == 0 {
			pc.Audiences = []string{cfg.Audience}
		}
		pc.Logger = cmp.Or(pc.Logger, cfg.Logger)
		if pc.Now == nil {
			pc.Now = cfg.Now
		}
		if h := audit.ProviderKeysHook(a.Audit, pc.Issuer); h != nil {
			if own := pc.Hooks.OnKeysChanged; own != nil {
				pc.Hooks.OnKeysChanged = func(added, removed []string) { h(added, removed); own(added, removed) }
			} else {
				pc.Hooks.OnKeysChanged = h
			}
		}
		p, err := oidc.New(pc)
		if err != nil {
			return fmt.Errorf("sessionless: provider %s: %w", pc.Issuer, err)
		}
		a.Providers = append(a.Providers, p)
	}
	if len(a.Providers) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	warm := func(p *oidc.Provider) error {
		wctx, stop := context.WithTimeout(ctx, timeout)
		defer stop()
		err := p.Warm(wctx)
		if err == nil {
			a.log.Info("sessionless: OpenID Connect provider ready", "issuer", p.Issuer())
		}
		// A failure is logged by the provider: its tokens get 503 until
		// a fetch succeeds.
		return err
	}
	if cfg.StartWithoutProviders {
		a.stopWarming = cancel
		for _, p := range a.Providers {
			a.warming.Go(func() { warm(p) })
		}
		return nil
	}
	defer cancel()
	errs := make([]error, len(a.Providers))
	var wg sync.WaitGroup
	for i, p := range a.Providers {
		wg.Go(func() { errs[i] = warm(p) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("sessionless: provider %s cannot be reached (Config.StartWithoutProviders starts without it): %w", cfg.Providers[i].Issuer, err)
		}
	}
	return nil
}

// dpop builds the DPoP proof verifier, its replay cache in Redis when
// New opened it.
func (a *Auth) dpop(cfg Config, st *stores) error {
	dc := *cfg.DPoP
	if dc.Replay == nil {
		if st.redis != nil {
			cache, err := redisreplay.New(st.redis, redisreplay.Config{})
			if err != nil {
				return err
			}
			dc.Replay = cache
		} else {
			dc.Replay = dpop.NewMemoryCache(cfg.Now)
		}
	}
	if dc.Now == nil {
		dc.Now = cfg.Now
	}
	v, err := dpop.New(dc)
	if err != nil {
		return fmt.Errorf("sessionless: Config.DPoP: %w", err)
	}
	a.DPoP = v
	return nil
}

// apiTokens builds the API token manager.
func (a *Auth) apiTokens(cfg Config, st *stores) error {
	ac := *cfg.APITokens
	ac.SubjectIssuer, ac.Revoker = cfg.Issuer, a.Revocations
	if ac.Store == nil {
		ac.Store = st.apiTokens
	}
	if ac.CreatorAudiences == nil {
		ac.CreatorAudiences = []string{cfg.Audience}
	}
	ac.Logger = cmp.Or(ac.Logger, cfg.Logger)
	if ac.Now == nil {
		ac.Now = cfg.Now
	}
	m, err := apitoken.New(ac)
	if err != nil {
		return err
	}
	a.APITokens = m
	a.closers = append(a.closers, m.Close) // writes the last uses
	return nil
}

// endpoints builds the login, token, revocation and logout endpoints.
func (a *Auth) endpoints(cfg Config, st *stores) error {
	ec := *cfg.Endpoints
	ec.Issuer, ec.Verifier, ec.Revocation = a.Issuer, a.Verifier, a.Revocations
	if ec.RefreshStore == nil {
		ec.RefreshStore = st.refreshes // nil without a database: in memory
	}
	if ec.APITokens == nil && a.APITokens != nil {
		ec.APITokens = a.APITokens
	}
	if ec.Throttle.Shared == nil && st.redis != nil && !ec.InsecureSkipThrottle {
		lim, err := redisthrottle.New(st.redis, redisthrottle.Config{})
		if err != nil {
			return err
		}
		ec.Throttle.Shared = lim
	}
	if a.DPoP != nil {
		ec.DPoP = a.DPoP
	}
	if ec.Authorization != nil {
		var err error
		if ec.Authorization, err = st.authorization(context.Background(), *ec.Authorization); err != nil {
			return err
		}
	}
	if ec.Cookies != nil {
		// The middleware's cross-origin check and cookie mode's trust the
		// same origins.
		cc := *ec.Cookies
		if cc.CrossOrigin == nil {
			cc.CrossOrigin = cfg.Middleware.CrossOrigin
		}
		ec.Cookies = &cc
	}
	if h := audit.EndpointHook(a.Audit); h != nil {
		if own := ec.Hooks.Audit; own != nil {
			ec.Hooks.Audit = func(r *http.Request, e endpoint.Event) { h(r, e); own(r, e) }
		} else {
			ec.Hooks.Audit = h
		}
	}
	ec.ClientID = cmp.Or(ec.ClientID, DefaultClientID)
	ec.Logger = cmp.Or(ec.Logger, cfg.Logger)
	if ec.Now == nil {
		ec.Now = cfg.Now
	}
	s, err := endpoint.New(ec)
	if err != nil {
		return err
	}
	a.Endpoints = s
	return nil
}

// middleware builds the middleware: every credential routed to its
// verifier, one revocation list.
func (a *Auth) middleware(cfg Config) error {
	mc := cfg.Middleware
	mc.JWT = map[string]middleware.Verifier{cfg.Issuer: a.Verifier}
	auds := []string{cfg.Audience}
	for i, p := range a.Providers {
		if _, dup := mc.JWT[p.Issuer()]; dup {
			return fmt.Errorf("sessionless: two providers with the issuer %s", p.Issuer())
		}
		mc.JWT[p.Issuer()] = p
		pauds := cfg.Providers[i].Audiences
		if len(pauds) == 0 {
			pauds = []string{cfg.Audience}
		}
		for _, aud := range pauds {
			if !slices.Contains(auds, aud) && !slices.ContainsFunc(mc.Resources, func(r middleware.Resource) bool { return r.URL == aud }) {
				auds = append(auds, aud)
			}
		}
	}
	if a.APITokens != nil {
		mc.Prefixes = map[string]middleware.Verifier{a.APITokens.Prefix(): a.APITokens}
	}
	mc.Revocation = a.Revocations
	if a.DPoP != nil {
		mc.DPoP = a.DPoP
	}
	if a.Endpoints != nil {
		// Cookie mode: the middleware reads the access token's cookie.
		if cc, on := a.Endpoints.Cookies(); on {
			if mc.CookieName != "" && mc.CookieName != cc.AccessName {
				return fmt.Errorf("sessionless: Config.Middleware.CookieName %q is not the access cookie of Config.Endpoints.Cookies, %q", mc.CookieName, cc.AccessName)
			}
			mc.CookieName = cc.AccessName
			if mc.CrossOrigin == nil {
				mc.CrossOrigin = cc.CrossOrigin
			}
		}
	}
	if mc.Audiences == nil {
		mc.Audiences = auds
	}
	mc.Logger = cmp.Or(mc.Logger, cfg.Logger)
	if mc.Now == nil {
		mc.Now = cfg.Now
	}
	a.resources = len(mc.Resources) > 0
	var err error
	a.Authenticator, err = middleware.New(mc)
	return err
}

func signingKey(cfg Config) (*token.Key, error) {
	n := 0
	for _, set := range []bool{cfg.HMACSecret != nil, cfg.KeyFile != "", cfg.Key != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("sessionless: set exactly one of HMACSecret, KeyFile and Key")
	}
	switch {
	case cfg.Key != nil:
		return cfg.Key, nil
	case cfg.HMACSecret != nil:
		return token.NewKey(cfg.HMACSecret, token.KeyOptions{Algorithm: token.HS256})
	}
	key, err := token.ReadKeyFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("sessionless: %w", err)
	}
	if !key.CanSign() {
		return nil, fmt.Errorf("sessionless: key file %s holds a public key: a private key is needed to sign", cfg.KeyFile)
	}
	return key, nil
}
