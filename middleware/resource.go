package middleware

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/exturl"
)

// WellKnownResourceMetadata is the well-known name of protected resource
// metadata (RFC 9728 §3).
const WellKnownResourceMetadata = "/.well-known/oauth-protected-resource"

// Resource is a protected resource of the server (RFC 9728): an API, or a
// part of one, that clients may ask a token for by its URL (a resource
// indicator, RFC 8707). A token asked for it carries its URL as its only
// audience, and is good at it and at the resources under it alone.
//
// List the server's resources in Config.Resources, then guard each
// resource's routes with [Authenticator.Protect] and serve their
// documents with [Authenticator.MountMetadata]. token/endpoint takes the
// same values, to issue tokens for them.
type Resource struct {
	// URL is the resource identifier: an absolute http(s) URL without
	// user info, query or fragment, such as "https://api.example" (the
	// whole server) or "https://api.example/graphql". Resources compare
	// as strings, as RFC 8707 audiences do; one lies under another when
	// its URL continues the other's at a "/".
	URL string
	// AuthorizationServers are the issuer identifiers of the
	// authorization servers whose tokens it takes, for its document.
	AuthorizationServers []string
	// Scopes are the scopes it understands, for its document
	// (scopes_supported) and the authorization server's metadata.
	Scopes []string
}

// MetadataURL returns the URL of the resource's metadata document: the
// well-known name inserted between the host and the path of its URL (RFC
// 9728 §3.1), "https://api.example/.well-known/oauth-protected-resource/graphql"
// for "https://api.example/graphql".
func (res Resource) MetadataURL() string {
	u, err := url.Parse(res.URL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + WellKnownResourceMetadata + strings.TrimSuffix(u.EscapedPath(), "/")
}

// covers reports whether a token for res is good at target (a resource
// URL or a request's URL): target is res, or lies under it.
func (res Resource) covers(target string) bool {
	return under(res.URL, target)
}

// under reports whether target is base or continues it at a "/".
func under(base, target string) bool {
	if !strings.HasPrefix(target, base) {
		return false
	}
	rest := target[len(base):]
	return rest == "" || rest[0] == '/' || strings.HasSuffix(base, "/")
}

// check refuses a resource New cannot take.
func (res Resource) check() error {
	u, err := url.Parse(res.URL)
	switch {
	case err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("middleware: resource %q: want an absolute http(s) URL", res.URL)
	case u.User != nil || strings.ContainsAny(res.URL, "?#"):
		return fmt.Errorf("middleware: resource %q: want no user info, query or fragment", res.URL)
	case strings.ContainsAny(res.URL, "\"\\ \r\n"):
		return fmt.Errorf("middleware: resource %q: want no quotes, backslashes, spaces or line breaks", res.URL)
	case !cleanPath(u.EscapedPath()):
		return fmt.Errorf("middleware: resource %q: want a path without empty, . or .. segments", res.URL)
	case strings.ContainsAny(u.Path, "{}"):
		return fmt.Errorf("middleware: resource %q: want no braces in the path (the wildcards of routers)", res.URL)
	}
	return nil
}

// cleanPath reports whether the escaped path p has no empty segment (but
// for a trailing slash) and no "." or ".." segment, its dots plain or
// percent-encoded: a path that names one place.
func cleanPath(p string) bool {
	segs := strings.Split(strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/"), "/")
	for _, seg := range segs {
		d := strings.ReplaceAll(strings.ReplaceAll(seg, "%2E", "."), "%2e", ".")
		if seg == "" && p != "" && p != "/" || d == "." || d == ".." {
			return false
		}
	}
	return true
}

// setResources checks resources and keeps a copy of them: each a URL
// check takes, none twice, no two whose documents would be served at one
// place (see planMetadata).
func (a *Authenticator) setResources(resources []Resource) error {
	a.cfg.Resources = make([]Resource, len(resources))
	for i, res := range resources {
		if err := res.check(); err != nil {
			return err
		}
		res.AuthorizationServers, res.Scopes = slices.Clone(res.AuthorizationServers), slices.Clone(res.Scopes)
		a.cfg.Resources[i] = res
	}
	for i, res := range a.cfg.Resources {
		if a.resource(res.URL) != &a.cfg.Resources[i] {
			return fmt.Errorf("middleware: resource %q listed twice", res.URL)
		}
	}
	return a.planMetadata()
}

// Audienced is an optional interface of a principal's Claims: Audiences
// returns the token's audiences ("aud"). *token.Claims and *oidc.Claims
// implement it. Under [Authenticator.Protect], the tokens of a verifier
// whose claims do not implement it (API tokens) are good at every
// resource.
type Audienced interface {
	Audiences() []string
}

// Protect returns middleware for the routes of res, one of
// Config.Resources (anything else panics: a mistake in the server's
// wiring): Middleware, then the check of [Authenticator.ForResource]
// (401 invalid_token), every challenge pointing at res's metadata
// document (RFC 9728 §5.1). A route under Protect needs a credential,
// also with Config.Optional.
func (a *Authenticator) Protect(res Resource) func(http.Handler) http.Handler {
	r := a.resource(res.URL)
	if r == nil {
		panic("middleware: Protect(" + res.URL + "): not one of Config.Resources")
	}
	return func(next http.Handler) http.Handler {
		return a.serve(r, a.guard(r, nil, a.ForResource(*r))(next))
	}
}

// ForResource returns the check of Protect as a function, for
// [Authenticator.Require] or a handler of one's own: nil for a principal
// whose token is good at res, else an error wrapping ErrInvalidToken. A
// token is good at res when one of its audiences is the URL of a resource
// of Config.Resources that res is or lies under (a token asked for it,
// RFC 8707), or is one of Config.Audiences (a token for the whole API):
// an allow-list, so a token asked for any other resource, configured
// here or not, is refused. A principal whose claims do not implement
// [Audienced] (an API token) passes; one whose claims report no audience
// does not.
func (a *Authenticator) ForResource(res Resource) func(*identity.Principal) error {
	return func(p *identity.Principal) error {
		c, ok := p.Claims.(Audienced)
		if !ok {
			return nil
		}
		auds := c.Audiences()
		for _, aud := range auds {
			if other := a.resource(aud); other != nil {
				if other.covers(res.URL) {
					return nil
				}
				continue // narrowed to another resource
			}
			if slices.Contains(a.cfg.Audiences, aud) {
				return nil
			}
		}
		return fmt.Errorf("%w: a token for another audience than %s (aud %q)", ErrInvalidToken, res.URL, auds)
	}
}

// resource returns the configured resource of URL u, or nil.
func (a *Authenticator) resource(u string) *Resource {
	for i := range a.cfg.Resources {
		if a.cfg.Resources[i].URL == u {
			return &a.cfg.Resources[i]
		}
	}
	return nil
}

// resourceOf returns the resource whose document a challenge to r points
// at, when no Protect names one: the longest of Config.Resources the
// request's URL lies under (its path alone, without ExternalURL), or the
// only resource there is.
func (a *Authenticator) resourceOf(r *http.Request) *Resource {
	target := r.URL.EscapedPath()
	if a.cfg.ExternalURL != "" {
		target = exturl.RequestURL(a.cfg.ExternalURL, r)
	}
	var best *Resource
	for i := range a.cfg.Resources {
		res := &a.cfg.Resources[i]
		match := res.URL
		if a.cfg.ExternalURL == "" {
			if u, err := url.Parse(res.URL); err == nil {
				match = u.EscapedPath()
			}
		}
		if under(strings.TrimSuffix(match, "/"), target) && (best == nil || len(res.URL) > len(best.URL)) {
			best = res
		}
	}
	if best == nil && len(a.cfg.Resources) == 1 {
		best = &a.cfg.Resources[0]
	}
	return best
}
