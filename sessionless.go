// Package sessionless is the short path to protecting an API with tokens
// instead of server sessions: one call builds the key set, the issuer,
// the verifier and the middleware from one configuration, with the strict
// defaults of the packages underneath.
//
//	auth, err := sessionless.New(sessionless.Config{
//		Issuer:   "https://api.example",
//		Audience: "api",
//		KeyFile:  "signing-key.pem", // or HMACSecret: secret
//	})
//	defer auth.Close()
//	mux.Handle("GET /widgets", auth.Middleware(auth.RequireScopes("widgets:read")(list)))
//	raw, _, err := auth.Issuer.Issue(token.Claims{Subject: "user-42", Scope: "widgets:read"})
//
// The parts stay at hand for everything else: [Auth.Keys] for rotation,
// [Auth.Verifier], [Auth.Issuer] and [Auth.Revocations] for the endpoints
// of package token/endpoint (login, refresh, logout), [Auth.JWKS] to
// publish the public keys. The packages token, middleware, revocation and
// token/endpoint hold the details.
package sessionless

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
)

// Config is what [New] needs. Issuer, Audience and exactly one of
// HMACSecret, KeyFile and Key are required.
type Config struct {
	// Issuer is the "iss" of the tokens, usually the API's base URL.
	Issuer string
	// Audience is the "aud" the tokens are issued for and must carry.
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

	// TTL is the lifetime of the access tokens. Zero means 15 minutes;
	// at most 24 hours (token.DefaultMaxTokenLifetime).
	TTL time.Duration
	// Revocations is the revocation list the middleware checks on every
	// request, so that a logout stops a token at once. Nil means New opens
	// one in memory, for one process; with several instances give it a
	// list over a shared store (revocation/sqlstore, revocation/redisstore).
	Revocations *revocation.List
	// Middleware holds the other settings of the middleware (cookie,
	// realm, cache, hooks); its JWT routes and its Revocation are set by
	// New.
	Middleware middleware.Config
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Auth is the middleware for the API and the parts it is built from.
type Auth struct {
	// Authenticator provides Middleware, RequireScopes, RequireAnyScope,
	// RequireRoles and Authenticate.
	*middleware.Authenticator
	Keys     *token.KeyRing
	Issuer   *token.Issuer
	Verifier *token.Verifier
	// Revocations is the list the middleware checks: revoke tokens with
	// it, and hand it to token/endpoint and token/refresh.
	Revocations *revocation.List

	opened bool // New opened Revocations
}

// New builds the key ring, issuer, verifier, revocation list and
// middleware of cfg. Call Close when done.
func New(cfg Config) (*Auth, error) {
	if cfg.Middleware.Revocation != nil || len(cfg.Middleware.JWT) != 0 {
		return nil, errors.New("sessionless: Config.Middleware.JWT and .Revocation are set by New (use Config.Revocations)")
	}
	key, err := signingKey(cfg)
	if err != nil {
		return nil, err
	}
	set, err := token.NewKeySet(key)
	if err != nil {
		return nil, err
	}
	a := &Auth{}
	if a.Keys, err = token.NewKeyRing(set); err != nil {
		return nil, err
	}
	if a.Issuer, err = token.NewIssuer(a.Keys, token.IssuerConfig{Issuer: cfg.Issuer, Audience: []string{cfg.Audience}, TTL: cfg.TTL, Now: cfg.Now}); err != nil {
		return nil, err
	}
	if a.Verifier, err = token.NewVerifier(a.Keys, token.VerifierConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, Now: cfg.Now}); err != nil {
		return nil, err
	}
	a.Revocations = cfg.Revocations
	if a.Revocations == nil {
		if a.Revocations, err = revocation.Open(context.Background(), revocation.Config{}); err != nil {
			return nil, err
		}
		a.opened = true
	}
	mc := cfg.Middleware
	mc.JWT = map[string]middleware.Verifier{cfg.Issuer: a.Verifier}
	mc.Revocation = a.Revocations
	if mc.Now == nil {
		mc.Now = cfg.Now
	}
	if a.Authenticator, err = middleware.New(mc); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Close stops the revocation list New opened (a list from
// Config.Revocations belongs to the caller).
func (a *Auth) Close() error {
	if a.opened {
		return a.Revocations.Close()
	}
	return nil
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

// JWKS serves the public keys (RFC 7517), for other services that verify
// these tokens; nothing for an HMAC secret.
func (a *Auth) JWKS() http.Handler { return token.JWKSHandler(a.Keys, 0) }
