// Package identity defines the one Principal every authentication method
// produces, and carries it in a request's context. It has no dependencies,
// so credential verifiers (token, oidc, apitoken) and the middleware meet
// here without importing each other.
package identity

import (
	"context"
	"slices"
	"time"
)

// Method names how a principal authenticated.
type Method string

// The authentication methods.
const (
	JWT      Method = "jwt"      // a first-party access token (package token)
	OIDC     Method = "oidc"     // a token from an external OpenID Connect provider
	APIToken Method = "apitoken" // an opaque API token
)

// Principal is who made a request, whatever the credential. Principals
// are shared (the middleware caches them): treat them as read-only.
type Principal struct {
	Subject   string
	Issuer    string
	Method    Method
	Scopes    []string
	Roles     []string
	TokenID   string    // jti, or the API token's id: what revocation keys on
	IssuedAt  time.Time // zero when unknown
	ExpiresAt time.Time // zero when the credential does not expire
	ClientID  string
	// Claims holds the method's own claims for custom use: *token.Claims
	// for JWT.
	Claims any
}

// HasScope reports whether p holds scope s.
func (p *Principal) HasScope(s string) bool { return p != nil && slices.Contains(p.Scopes, s) }

// HasRole reports whether p holds role r.
func (p *Principal) HasRole(r string) bool { return p != nil && slices.Contains(p.Roles, r) }

type ctxKey struct{}

// NewContext returns a copy of ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal in ctx, if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok && p != nil
}
