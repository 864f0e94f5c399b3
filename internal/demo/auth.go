package demo

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
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
// revocations in the database and the rest per instance.
func newAuth(cfg Config, users UserStore, db *sql.DB, keys *token.KeySet, pw *password.Hasher, res resources, log *slog.Logger) (*sessionless.Auth, error) {
	sc, err := authConfig(cfg, users, db, keys, pw, res, log)
	if err != nil {
		return nil, err
	}
	return sessionless.New(sc)
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
