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
// audience, and is good at the URLs it covers alone: its own, and those
// under it but for its Except.
//
// List the server's resources in Config.Resources, then guard each
// resource's routes with [Authenticator.Protect] and serve the documents
// with [Authenticator.MountMetadata]. token/endpoint takes the same
// values, to issue tokens for them.
type Resource struct {
	// URL is the resource identifier: an absolute http(s) URL without
	// user info, query or fragment, such as "https://api.example" (the
	// whole server) or "https://api.example/graphql". A token's audience
	// names it as written; a URL lies under it when it continues it at a
	// "/".
	URL string
	// AuthorizationServers are the issuer identifiers of the
	// authorization servers whose tokens it takes, for its document.
	AuthorizationServers []string
	// Scopes are the scopes it understands, for its document
	// (scopes_supported) and the authorization server's metadata.
	Scopes []string
	// Except are URLs under URL that belong to the resource URL lies
	// under, not to this one: the routes of the whole server inside an
	// API's path, such as an API's token management that acts for every
	// resource ("https://api.example/api/tokens" beside the resource
	// "https://api.example/api"). A token for this resource is not good
	// there, and a client asking for a token for such a URL gets one of
	// the resource above.
	Except []string
}

// MetadataURL returns the URL of the resource's metadata document (RFC
// 9728 §3.1): [MetadataURLFor] of its URL.
func (res Resource) MetadataURL() string { return MetadataURLFor(res.URL) }

// MetadataURLFor returns where the metadata document of the resource
// identifier u is (RFC 9728 §3.1): the well-known name inserted between
// the host and the path, a path of "/" dropped:
// "https://api.example/.well-known/oauth-protected-resource/api/me" for
// "https://api.example/api/me". It returns "" for a u that does not
// parse.
func MetadataURLFor(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return ""
	}
	path := p.EscapedPath()
	if path == "/" {
		path = ""
	}
	return p.Scheme + "://" + p.Host + WellKnownResourceMetadata + path
}

// Covers reports whether a token for res is good at target, a resource
// identifier or a request's URL (without query): target is res's URL, or
// lies under it and under none of its Except. URLs compare as a router
// would: scheme and host in any case, the path's escapes as written or
// decoded where that changes nothing ("%41" is "A").
func (res Resource) Covers(target string) bool {
	t := canonical(target)
	if t == "" || !under(canonical(res.URL), t) {
		return false
	}
	for _, e := range res.Except {
		if under(canonical(e), t) {
			return false
		}
	}
	return true
}

// ResourceFor returns the resource of resources that covers target and
// lies under every other that does (the most specific one): the resource
// a request for target is served as, and the one a token asked for target
// (RFC 8707) is issued for.
func ResourceFor(resources []Resource, target string) (Resource, bool) {
	best := -1
	for i, res := range resources {
		if res.Covers(target) && (best < 0 || len(canonical(res.URL)) > len(canonical(resources[best].URL))) {
			best = i
		}
	}
	if best < 0 {
		return Resource{}, false
	}
	return resources[best], true
}

// canonical is u as Covers compares it: scheme and host lower-case, the
// path escaped as a router reads it (routePath), no trailing slash; ""
// for a u that is no absolute URL.
func canonical(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return ""
	}
	return strings.ToLower(p.Scheme+"://"+p.Host) + strings.TrimSuffix(routePath(p.EscapedPath()), "/")
}

// documentKey is what tells the documents of resources apart on a
// router: the host without its port, in any case, and the path as
// routePath reads it.
func documentKey(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return strings.ToLower(p.Hostname()) + strings.TrimSuffix(routePath(p.EscapedPath()), "/")
}

// under reports whether target is base or continues it at a "/".
func under(base, target string) bool {
	rest, ok := strings.CutPrefix(target, base)
	return ok && (rest == "" || rest[0] == '/' || strings.HasSuffix(base, "/"))
}

// check refuses a resource New cannot take.
func (res Resource) check() error {
	if err := checkResourceURL(res.URL); err != nil {
		return err
	}
	for _, e := range res.Except {
		if err := checkResourceURL(e); err != nil {
			return err
		}
		if canonical(e) == canonical(res.URL) || !under(canonical(res.URL), canonical(e)) {
			return fmt.Errorf("middleware: resource %q: Except %q does not lie under it", res.URL, e)
		}
	}
	return nil
}

// checkResourceURL refuses a resource identifier New cannot take.
func checkResourceURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("middleware: resource %q: want an absolute http(s) URL", s)
	case u.User != nil || strings.ContainsAny(s, "?#"):
		return fmt.Errorf("middleware: resource %q: want no user info, query or fragment", s)
	case strings.ContainsAny(s, "\"\\ \r\n"):
		return fmt.Errorf("middleware: resource %q: want no quotes, backslashes, spaces or line breaks", s)
	case !cleanPath(u.EscapedPath()):
		return fmt.Errorf("middleware: resource %q: want a path without empty, . or .. segments", s)
	case strings.ContainsAny(u.Path, "{}"):
		return fmt.Errorf("middleware: resource %q: want no braces in the path (the wildcards of routers)", s)
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
// check takes, no two that are one resource as Covers compares them.
func (a *Authenticator) setResources(resources []Resource) error {
	a.cfg.Resources = make([]Resource, len(resources))
	seen := map[string]string{}    // document key → URL
	schemes := map[string]string{} // host:port → URL
	for i, res := range resources {
		if err := res.check(); err != nil {
			return err
		}
		if other, dup := seen[documentKey(res.URL)]; dup {
			return fmt.Errorf("middleware: resources %q and %q would share one metadata document (a router tells neither ports nor escapes apart)", other, res.URL)
		}
		seen[documentKey(res.URL)] = res.URL
		u, _ := url.Parse(res.URL) // check parsed it
		// A request's Host names the port explicitly, or the default of
		// a scheme it does not say: one host and port, or one host on
		// the two default ports, cannot take two schemes.
		hp := strings.ToLower(u.Hostname()) + ":" + u.Port()
		if u.Port() == "" {
			hp += map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
		}
		for _, key := range []string{hp, hostKey(u.Scheme, u.Host)} {
			if other, ok := schemes[key]; ok && !strings.EqualFold(other[:strings.Index(other, ":")], u.Scheme) {
				return fmt.Errorf("middleware: resources %q and %q are on one host under two schemes: a request does not say which it is for", other, res.URL)
			}
			schemes[key] = res.URL
		}
		res.AuthorizationServers, res.Scopes, res.Except = slices.Clone(res.AuthorizationServers), slices.Clone(res.Scopes), slices.Clone(res.Except)
		a.cfg.Resources[i] = res
	}
	return nil
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
// (401 invalid_token). Its challenges point at the metadata document of
// the request's URL (RFC 9728 §3.3, §5.1), whose resource is that URL,
// when Config.ExternalURL says what the URL is and the URL lies under res
// as [ResourceFor] has it (else at res's own document). A route under
// Protect needs a credential, also with Config.Optional.
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
// of Config.Resources that covers res's URL (a token asked for it, RFC
// 8707), or is one of Config.Audiences (a token for the whole API): an
// allow-list, so a token asked for any other resource, configured here
// or not, is refused. A principal whose claims do not implement
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
				if other.Covers(res.URL) {
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

// resource returns the configured resource of URL u, exactly as written,
// or nil.
func (a *Authenticator) resource(u string) *Resource {
	for i := range a.cfg.Resources {
		if a.cfg.Resources[i].URL == u {
			return &a.cfg.Resources[i]
		}
	}
	return nil
}

// challengeMetadata returns the metadata URL a challenge to r announces:
// the document of the request's own URL when ExternalURL says what it is
// and it lies under res (RFC 9728 §3.3: its resource is then the URL the
// client requested); else res's document; nil res: the resource of the
// request (ResourceFor, by path without ExternalURL), or the only one
// there is.
func (a *Authenticator) challengeMetadata(r *http.Request, res *Resource) string {
	if a.cfg.ExternalURL != "" {
		u := exturl.RequestURL(a.cfg.ExternalURL, r)
		if of, ok := ResourceFor(a.cfg.Resources, u); ok && (res == nil || of.URL == res.URL) && !strings.ContainsAny(u, "\"\\ \t\r\n") {
			return MetadataURLFor(u)
		}
	}
	if res == nil {
		res = a.resourceByPath(r)
	}
	if res == nil {
		return ""
	}
	return res.MetadataURL()
}

// resourceByPath returns, without ExternalURL, the most specific resource
// whose path the request's path lies under, or the only resource there
// is.
func (a *Authenticator) resourceByPath(r *http.Request) *Resource {
	var best *Resource
	for i := range a.cfg.Resources {
		res := &a.cfg.Resources[i]
		u, err := url.Parse(res.URL)
		if err != nil {
			continue
		}
		p := strings.TrimSuffix(u.EscapedPath(), "/")
		if (a.cfg.ExternalURL == "" && under(p, r.URL.EscapedPath())) && (best == nil || len(res.URL) > len(best.URL)) {
			best = res
		}
	}
	if best == nil && len(a.cfg.Resources) == 1 {
		best = &a.cfg.Resources[0]
	}
	return best
}
