package demo

import (
	"cmp"
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/metrics"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/endpoint"
)

// endpointUsers presents the demo's users to the login, token and
// revocation endpoints (package token/endpoint), which do the rest.
type endpointUsers struct{ UserStore }

func (u endpointUsers) UserByName(ctx context.Context, name string) (endpoint.User, error) {
	return endpointUser(u.UserByUsername(ctx, name))
}

func (u endpointUsers) UserBySubject(ctx context.Context, subject string) (endpoint.User, error) {
	return endpointUser(u.UserByID(ctx, subject))
}

func endpointUser(u User, err error) (endpoint.User, error) {
	if errors.Is(err, ErrUserNotFound) {
		return endpoint.User{}, endpoint.ErrUnknownUser
	}
	if err != nil {
		return endpoint.User{}, err
	}
	return endpoint.User{Subject: u.ID, PasswordHash: u.PasswordHash, Scopes: u.Scopes, Roles: u.Roles}, nil
}

// newAuth builds the demo's auth with the library's short path,
// sessionless.New, as an application would: the demo's own tokens (keys
// signs, its retired keys verify), the tokens of every -oidc-issuer, API
// tokens (sl_…), the login, token, revocation and logout endpoints on
// users, DPoP, the resources res, and the stores on -db: refresh and API
// tokens there, the revocation list and DPoP replay cache and login
// budgets in Redis with -redis (shared by every instance), else the
// revocations in the database and the rest per instance; its audit
// records (logins, logouts, reuse, API tokens, keys) to auditLog.
func newAuth(cfg Config, users UserStore, db *sql.DB, keys *token.KeySet, pw *password.Hasher, res resources, log, auditLog *slog.Logger, m *metrics.Metrics) (*sessionless.Auth, error) {
	sc, err := authConfig(cfg, users, db, keys, pw, res, log)
	if err != nil {
		return nil, err
	}
	sc.Audit = auditLog
	// Metrics (package metrics, exported at /metrics): every
	// authentication and refusal, and the endpoints' events.
	sc.Middleware.Hooks = m.Hooks()
	sc.Endpoints.Hooks.Audit = m.EndpointAudit
	a, err := sessionless.New(sc)
	if err != nil {
		return nil, err
	}
	m.ObserveRevocations(func() (int, time.Time) { return a.Revocations.Len(), a.Revocations.SyncedAt() })
	return a, nil
}

// authConfig is the configuration newAuth gives sessionless.New.
func authConfig(cfg Config, users UserStore, db *sql.DB, keys *token.KeySet, pw *password.Hasher, res resources, log *slog.Logger) (sessionless.Config, error) {
	providers, err := oidcProviders(cfg, log)
	if err != nil {
		return sessionless.Config{}, err
	}
	for _, p := range providers {
		if p.Issuer == cfg.Issuer {
			// Without -issuer the demo's own issuer is only known now.
			return sessionless.Config{}, fmt.Errorf("-oidc-issuer %s is the demo's own issuer", p.Issuer)
		}
	}
	var retired []*token.Key
	for _, k := range keys.Keys() {
		if k != keys.SigningKey() {
			retired = append(retired, k)
		}
	}
	external := strings.TrimRight(cfg.Issuer, "/")
	authz, err := authorizationConfig(cfg, external, res, log)
	if err != nil {
		return sessionless.Config{}, err
	}
	return sessionless.Config{
		Issuer:     cfg.Issuer,
		Audience:   cfg.Audience,
		Key:        keys.SigningKey(),
		VerifyKeys: retired,
		TTL:        cfg.AccessTTL,
		// The users' database: the stores' tables beside theirs.
		DB:    db,
		Redis: cfg.RedisURL,
		RevocationList: revocation.Config{
			Staleness: cfg.RevocationStaleness,
			FailOpen:  cfg.RevocationFailOpen,
			// No cfg.Now: the list keeps real time (staleness on the
			// monotonic clock), also when tests move the clock of the
			// tokens by days.
			Now: time.Now,
		},
		// Tokens of OpenID Connect providers (-oidc-issuer), routed by
		// iss; a provider that cannot be reached yet gets 503 until it
		// answers.
		Providers:             providers,
		StartWithoutProviders: true,
		// DPoP (RFC 9449): htu against the public URL, the issuer (a path
		// in it is one a proxy strips in front of the demo).
		DPoP: &dpop.Config{NonceKey: cfg.DPoPNonceKey},
		// API tokens: the subjects are the users of the demo's own access
		// tokens. Their access tokens for the whole API (the general
		// audience, or the whole server as a resource) may create API
		// tokens; one asked for /api or /graphql may not, nor a
		// DPoP-bound one (API tokens are bearer tokens).
		APITokens: &apitoken.Config{CreatorAudiences: []string{cfg.Audience, cfg.Issuer}},
		Endpoints: &endpoint.Config{
			// Login protection, the library's defaults: per address and
			// per username, the address read behind -trusted-proxy only.
			Throttle:        endpoint.ThrottleConfig{TrustedProxies: cfg.TrustedProxies},
			ExternalURL:     external,
			Resources:       res.list(),
			Users:           endpointUsers{users},
			RefreshLifetime: cfg.RefreshLifetime,
			RefreshIdle:     cfg.RefreshIdle,
			// 0s is none: the endpoints' own zero is their default.
			RefreshGracePeriod: cmp.Or(cfg.RefreshGrace, -1),
			ClientID:           clientID,
			Passwords:          pw,
			Realm:              realm,
			// Cookie mode for the web app at /: a login that asks for it
			// gets HttpOnly cookies; the refresh cookie's path is the
			// token endpoint's as browsers call it (behind a proxy that
			// strips the issuer's path, with that path).
			Cookies: &endpoint.CookieConfig{RefreshPath: publicPath(external) + "/auth/token"},
			// The authorization code grant with PKCE (OAuth 2.1) for apps on
			// other origins, native apps, CLIs and AI agents.
			Authorization: authz,
		},
		Middleware: middleware.Config{
			ExternalURL: external,
			// Every challenge points at the metadata of the resource asked
			// for (RFC 9728 §5.1): /api, /graphql, or the whole server.
			Resources: res.list(),
			// Tokens for the whole API: the demo's own general audience,
			// and the providers' (-oidc-audience).
			Audiences: generalAudiences(cfg, res),
			Realm:     realm,
		},
		Logger: log,
		Now:    cfg.Now,
	}, nil
}

// The demo's configured OAuth clients besides clientID (the web app at /,
// which logs in with its own form).
const (
	webClientID = "demo-web" // a first-party app on another origin
	cliClientID = "demo-cli" // a command-line tool, on a loopback port
)

// authorizationConfig configures the authorization endpoint: the demo's
// two configured clients, dynamic registration (-registration), Client ID
// Metadata Documents, and the sealing key (DEMO_AUTHORIZE_KEY). Its
// stores are the database's, opened by sessionless.New.
func authorizationConfig(cfg Config, external string, res resources, log *slog.Logger) (*endpoint.AuthorizationConfig, error) {
	// What third-party clients may ask for: the widgets' scopes, never
	// tokens:manage — an API token made with it would outlive the
	// consent that allowed it.
	scopes := res.mcp.Scopes
	cli := clients.Client{ID: cliClientID, Name: "Demo CLI", Scopes: []string{scopeRead, scopeWrite},
		RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback", "http://localhost/callback"}}
	list := []clients.Client{cli}
	// The first-party web client's callback is under the demo's URL, which
	// must be https or loopback http to be a redirect URI.
	web := clients.Client{ID: webClientID, Name: "Demo web app", FirstParty: true, RedirectURIs: []string{external + "/callback"}}
	if web.Validate() == nil {
		list = append(list, web)
	} else {
		log.Warn("the demo-web client is off: its redirect URI needs the issuer on https or loopback http", "redirect_uri", external+"/callback")
	}
	static, err := clients.NewStatic(list...)
	if err != nil {
		return nil, err
	}
	dc := clients.DocumentsConfig{Scopes: scopes, Logger: log}
	if cfg.ClientMetadataTestCA != "" {
		pem, err := os.ReadFile(cfg.ClientMetadataTestCA)
		if err != nil {
			return nil, fmt.Errorf("-client-metadata-test-ca: %w", err)
		}
		dc.RootCAs = x509.NewCertPool()
		if !dc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errors.New("-client-metadata-test-ca: no PEM certificate in the file")
		}
		dc.InsecureAllowPrivateAddresses = true
		log.Warn("client metadata documents are fetched from private and loopback addresses too (-client-metadata-test-ca): for tests only")
	}
	docs, err := clients.NewDocuments(dc)
	if err != nil {
		return nil, err
	}
	ac := &endpoint.AuthorizationConfig{
		Clients:  &clients.Registry{Static: static, Documents: docs, Now: cfg.Now},
		SealKeys: nil,
		ScopeDescriptions: map[string]string{
			scopeRead:         "See your widgets",
			scopeWrite:        "Create and delete your widgets",
			scopeManageTokens: "Create, list and revoke your API tokens",
		},
		ServiceName: "the sessionless demo",
	}
	if cfg.AuthorizeKey != nil {
		ac.SealKeys = [][]byte{cfg.AuthorizeKey}
	}
	if cfg.Registration && len(scopes) > 0 {
		ac.Registration = &clients.RegistrarConfig{Scopes: scopes}
	}
	return ac, nil
}

// revocationsWhere names where cfg's revocations are shared, for the log.
func revocationsWhere(cfg Config) string {
	if cfg.RedisURL != "" {
		return "Redis"
	}
	if isPostgres(cfg.DatabaseURL) {
		return "PostgreSQL"
	}
	return "SQLite"
}

// publicPath is the path of the public URL external ("" for a host's
// root).
func publicPath(external string) string {
	u, err := url.Parse(external)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.EscapedPath(), "/")
}
