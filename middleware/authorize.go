package middleware

import (
	"fmt"
	"net/http"

	"github.com/sessionless/sessionless/identity"
)

// RequireScopes lets a request through only if its principal holds every
// one of scopes. Without a principal (no authentication middleware, or an
// anonymous request in optional mode) the answer is 401.
func (a *Authenticator) RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	return a.require(scopes, func(p *identity.Principal) bool {
		for _, s := range scopes {
			if !p.HasScope(s) {
				return false
			}
		}
		return true
	})
}

// RequireAnyScope lets a request through if its principal holds at least
// one of scopes.
func (a *Authenticator) RequireAnyScope(scopes ...string) func(http.Handler) http.Handler {
	return a.require(scopes, func(p *identity.Principal) bool {
		for _, s := range scopes {
			if p.HasScope(s) {
				return true
			}
		}
		return false
	})
}

// RequireRoles lets a request through only if its principal holds every
// one of roles.
func (a *Authenticator) RequireRoles(roles ...string) func(http.Handler) http.Handler {
	return a.require(nil, func(p *identity.Principal) bool {
		for _, r := range roles {
			if !p.HasRole(r) {
				return false
			}
		}
		return true
	})
}

// Require lets a request through only if check accepts its principal. A
// refusal is answered as the middleware answers its own: check's error
// wraps ErrInvalidToken (401, e.g. a token meant for another resource:
// RFC 8707) or ErrInsufficientScope (403).
func (a *Authenticator) Require(check func(*identity.Principal) error) func(http.Handler) http.Handler {
	return a.guard(nil, nil, check)
}

func (a *Authenticator) require(scopes []string, ok func(*identity.Principal) bool) func(http.Handler) http.Handler {
	return a.guard(nil, scopes, func(p *identity.Principal) error {
		if ok(p) {
			return nil
		}
		return fmt.Errorf("%w: subject %q", ErrInsufficientScope, p.Subject)
	})
}

// guard refuses the requests whose principal check refuses; scopes, for
// a 403, are the scopes that would have been enough, and res the route's
// resource (nil: the request's).
func (a *Authenticator) guard(res *Resource, scopes []string, check func(*identity.Principal) error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, found := identity.FromContext(r.Context())
			if !found {
				a.reject(w, r, res, ErrNoCredentials, nil)
				return
			}
			if err := check(p); err != nil {
				a.reject(w, r, res, err, scopes)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
