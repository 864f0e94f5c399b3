// Package identity defines the one Principal every authentication method
// produces, and carries it in a request's context. It has no dependencies,
// so credential verifiers (token, oidc, apitoken) and the middleware meet
// here without importing each other.
package identity

import (
	"context"
	"errors"
	"slices"
	"time"
)

// ErrUnavailable is what a verifier or a revocation checker wraps to say
// "cannot tell now": the database of API tokens, a provider's keys or the
// revocation list cannot be reached. HTTP servers answer 503, never 401 and
// never 200. Verifiers return it without importing the middleware.
var ErrUnavailable = errors.New("identity: cannot tell now: a backing store or provider is unavailable")

// Method names how a principal authenticated.
type Method string

// The authentication methods.
const (
	JWT      Method = "jwt"      // a first-party access token (package token)
	OIDC     Method = "oidc"     // a token from an external OpenID Connect provider
	APIToken Method = "apitoken" // an opaque API token
	// Session is a legacy server-side session, accepted by its cookie
	// while an application moves to tokens (middleware.SessionConfig).
	Session Method = "session"
)

// Principal is who made a request, whatever the credential.
//
// The middleware caches principals and gives every request its own copy
// through [NewContext]: a handler may change the fields of the principal it
// reads from its context (even append to Scopes or Roles) without affecting
// other requests. The elements of the slices and what Claims points to are
// shared: treat them as read-only.
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
	// FromCookie reports that the credential came from a cookie (a
	// browser's access token cookie or legacy session), not from the
	// Authorization header: the middleware checked that an unsafe
	// request came from the same origin (CSRF). Set per request.
	FromCookie bool
	// Claims holds the method's own claims for custom use: *token.Claims
	// for JWT.
	Claims any
}

// HasScope reports whether p holds scope s.
func (p *Principal) HasScope(s string) bool { return p != nil && slices.Contains(p.Scopes, s) }

// HasRole reports whether p holds role r.
func (p *Principal) HasRole(r string) bool { return p != nil && slices.Contains(p.Roles, r) }

type ctxKey struct{}

// principalCtx is a context carrying its own copy of a principal: the
// context node and the copy are one allocation.
type principalCtx struct {
	context.Context
	p Principal
}

func (c *principalCtx) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return &c.p
	}
	return c.Context.Value(key)
}

func (c *principalCtx) String() string { return "identity.NewContext(" + c.p.Subject + ")" }

// NewContext returns a copy of ctx carrying a copy of p, so the principal
// [FromContext] returns belongs to this context alone. The copy's Scopes
// and Roles have no spare capacity: appending to them allocates instead of
// writing into the arrays p shares. A nil p hides any principal of ctx.
func NewContext(ctx context.Context, p *Principal) context.Context {
	if p == nil {
		return context.WithValue(ctx, ctxKey{}, (*Principal)(nil))
	}
	c := &principalCtx{Context: ctx, p: *p}
	c.p.Scopes = slices.Clip(c.p.Scopes)
	c.p.Roles = slices.Clip(c.p.Roles)
	return c
}

// FromContext returns the principal in ctx, if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok && p != nil
}
