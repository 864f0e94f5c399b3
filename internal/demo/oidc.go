package demo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/token/endpoint"
)

// oidcScopes are what a user who logs in through a provider may do here.
var oidcScopes = []string{scopeRead}

// oidcMapping returns the mapping named by -oidc-mapping.
func oidcMapping(name, audience string) (oidc.Mapping, error) {
	switch {
	case name == "" || name == "generic":
		return oidc.Generic(), nil
	case name == "dex":
		return oidc.Dex(), nil
	case name == "keycloak":
		return oidc.Keycloak(audience), nil
	case strings.HasPrefix(name, "auth0:") && len(name) > len("auth0:"):
		return oidc.Auth0(strings.TrimPrefix(name, "auth0:")), nil
	case name == "zitadel":
		return oidc.Zitadel(""), nil
	case strings.HasPrefix(name, "zitadel:") && len(name) > len("zitadel:"):
		return oidc.Zitadel(strings.TrimPrefix(name, "zitadel:")), nil
	}
	return oidc.Mapping{}, fmt.Errorf("%q: want generic, dex, keycloak, auth0:NAMESPACE (e.g. auth0:https://example.com/), zitadel or zitadel:PROJECT_ID", name)
}

// oidcProviders returns the configuration of a verifier of access tokens
// per -oidc-issuer.
func oidcProviders(cfg Config, log *slog.Logger) ([]oidc.Config, error) {
	var ps []oidc.Config
	for _, iss := range cfg.OIDCIssuers {
		m, err := oidcMapping(cfg.mappingOf(iss), cfg.audienceOf(iss))
		if err != nil {
			return nil, err
		}
		ps = append(ps, oidc.Config{
			Issuer:           iss,
			Audiences:        []string{cfg.audienceOf(iss)},
			Mapping:          m,
			MaxTokenLifetime: maxAccessTTL, // what the revocation list keeps
			Logger:           log,
			Now:              cfg.Now,
		})
	}
	return ps, nil
}

// oidcLogin returns the login through the first provider, or nil when
// -oidc-client-id is not set. The users who log in get a local account
// (subject "oidc_" and a hash of issuer and subject), made on their first
// login, and the demo's own tokens.
func oidcLogin(cfg Config, users UserStore, endpoints *endpoint.Server, log *slog.Logger) (*oidc.Login, error) {
	if cfg.OIDCClientID == "" {
		return nil, nil
	}
	key := cfg.OIDCCookieKey
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key)
		log.Warn("OIDC_COOKIE_KEY is not set: a login started on this instance must end on it")
	}
	redirect := cfg.OIDCRedirectURL
	if redirect == "" {
		redirect = strings.TrimRight(cfg.Issuer, "/") + "/auth/oidc/callback"
	}
	return oidc.NewLogin(oidc.LoginConfig{
		Issuer:       cfg.OIDCIssuers[0],
		ClientID:     cfg.OIDCClientID,
		ClientSecret: cfg.OIDCClientSecret,
		RedirectURL:  redirect,
		CookieKey:    key,
		Logger:       log,
		Now:          cfg.Now,
		Complete: func(w http.ResponseWriter, r *http.Request, id *oidc.Identity) {
			u, err := oidcUser(r.Context(), users, id)
			if err != nil {
				log.ErrorContext(r.Context(), "OIDC login: the local account", "err", err)
				w.Header().Set("Retry-After", "1")
				httpx.WriteOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the user store cannot answer")
				return
			}
			eu := endpoint.User{Subject: u.ID, Scopes: u.Scopes, Roles: u.Roles}
			if id.ReturnTo != "" {
				// Started by the web app (/auth/oidc/login?return_to=/):
				// the cookies of cookie mode, and back to the page.
				endpoints.IssueCookies(w, r, eu, u.Username, id.ReturnTo)
				return
			}
			endpoints.IssueTokens(w, r, eu, u.Username)
		},
	})
}

// oidcUser returns the local account of a provider's user, making it on
// the first login. Its id and username derive from the issuer and the
// subject (never from an email or a name, which the provider may let the
// user change or reuse); it has no password.
func oidcUser(ctx context.Context, users UserStore, id *oidc.Identity) (User, error) {
	sum := sha256.Sum256([]byte(id.Issuer + "\x00" + id.Subject))
	local := "oidc_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
	u, err := users.UserByID(ctx, local)
	if err == nil {
		return u, nil
	}
	if !errors.Is(err, ErrUserNotFound) {
		return User{}, err
	}
	u = User{ID: local, Username: local, PasswordHash: "!oidc", Scopes: oidcScopes}
	if err := users.CreateUsers(ctx, u); err != nil && !errors.Is(err, ErrUserExists) {
		return User{}, err
	}
	return users.UserByID(ctx, local)
}
