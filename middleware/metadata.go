package middleware

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/sessionless/sessionless/internal/httpx"
)

// ProtectedResourceMetadata is the metadata document of a resource (RFC
// 9728 §2), as [Authenticator.MetadataHandler] serves it.
type ProtectedResourceMetadata struct {
	Resource                      string   `json:"resource"`
	AuthorizationServers          []string `json:"authorization_servers,omitempty"`
	ScopesSupported               []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported        []string `json:"bearer_methods_supported"`
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	DPoPBoundAccessTokensRequired bool     `json:"dpop_bound_access_tokens_required"`
}

// Metadata returns the document of res: its URL, authorization servers
// and scopes, how tokens may be sent (the Authorization header, and the
// query when Config.QueryParam allows it; a cookie is no bearer method
// of RFC 6750), and the DPoP proof algorithms when Config.DPoP is set.
func (a *Authenticator) Metadata(res Resource) ProtectedResourceMetadata {
	m := ProtectedResourceMetadata{
		Resource:               res.URL,
		AuthorizationServers:   slices.Clone(res.AuthorizationServers),
		ScopesSupported:        slices.Clone(res.Scopes),
		BearerMethodsSupported: []string{"header"},
	}
	if a.cfg.QueryParam != "" {
		m.BearerMethodsSupported = append(m.BearerMethodsSupported, "query")
	}
	if a.cfg.DPoP != nil {
		m.DPoPSigningAlgValuesSupported = a.cfg.DPoP.AlgNames()
	}
	return m
}

// MetadataHandler serves the document of res (GET and HEAD), never
// cached.
func (a *Authenticator) MetadataHandler(res Resource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !getOrHead(w, r) {
			return
		}
		httpx.WriteJSON(w, http.StatusOK, a.Metadata(res))
	})
}

// getOrHead answers 405 to anything but GET and HEAD.
func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	httpx.WriteOAuthError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET or HEAD")
	return false
}

// MetadataRoute is one path at which documents are served, as requests
// reach the server (unescaped where a router needs it: "/…/café"), and
// the handler that serves them there.
type MetadataRoute struct {
	Path    string
	Handler http.Handler
}

// MetadataRoutes returns where the documents of Config.Resources are
// served, each path once: the path of each resource's MetadataURL (RFC
// 9728 §3.1), and, when Config.ExternalURL has a path that a proxy
// strips, also the well-known name followed by the resource's path under
// ExternalURL (the location an earlier release announced, which clients
// may have kept; it yields to another resource's RFC location). Where
// resources on several hosts share a path, the handler serves the one of
// the request's host (its Host header, as a ServeMux reads it: without
// the port, in any case), and 404 to another host. [Authenticator.MountMetadata]
// registers them; a router with answers of its own for other methods can
// register them itself.
func (a *Authenticator) MetadataRoutes() []MetadataRoute {
	return slices.Clone(a.metadata)
}

// MetadataPaths returns the paths of MetadataRoutes that serve the
// document of res.
func (a *Authenticator) MetadataPaths(res Resource) []string {
	return slices.Clone(a.docPaths[res.URL])
}

// MountMetadata registers MetadataRoutes on mux, for GET (and so HEAD).
func (a *Authenticator) MountMetadata(mux Router) {
	for _, rt := range a.metadata {
		mux.Handle("GET "+rt.Path, rt.Handler)
	}
}

// Router is where [Authenticator.MountMetadata] registers handlers: an
// *http.ServeMux or a chi.Router (both take "GET /path" patterns).
type Router interface {
	Handle(pattern string, h http.Handler)
}

// docLocation is a place a document is served: a path, and the host the
// resource is on.
type docLocation struct {
	res    *Resource
	path   string // escaped, as registered
	key    string // the path as a router matches it: segments unescaped
	host   string // lower-case, no port
	legacy bool
}

// planMetadata works out where the documents are served (a.metadata,
// a.docPaths), refusing two resources of one host whose RFC locations a
// router would take for one path. A location an earlier release used
// yields to an RFC one; two such locations of one host that meet are
// refused too.
func (a *Authenticator) planMetadata() error {
	var locs []docLocation
	for i := range a.cfg.Resources {
		res := &a.cfg.Resources[i]
		u, err := url.Parse(res.MetadataURL())
		if err != nil {
			return fmt.Errorf("middleware: resource %q: %w", res.URL, err)
		}
		host := strings.ToLower(u.Hostname())
		p := routePath(u.EscapedPath())
		locs = append(locs, docLocation{res, p, pathKey(p), host, false})
		if p := routePath(a.legacyPath(res)); p != "" {
			locs = append(locs, docLocation{res, p, pathKey(p), host, true})
		}
	}
	taken := map[[2]string]docLocation{} // host and key → the location kept
	var kept []docLocation
	for _, pass := range []bool{false, true} { // RFC locations first
		for _, l := range locs {
			if l.legacy != pass {
				continue
			}
			if other, ok := taken[[2]string{l.host, l.key}]; ok {
				if l.legacy && !other.legacy {
					continue // the RFC location wins
				}
				return fmt.Errorf("middleware: resources %q and %q would share the metadata document at %s", other.res.URL, l.res.URL, l.path)
			}
			taken[[2]string{l.host, l.key}] = l
			kept = append(kept, l)
		}
	}
	a.metadata, a.docPaths = nil, map[string][]string{}
	byKey := map[string][]docLocation{}
	for _, l := range kept {
		if byKey[l.key] == nil {
			a.metadata = append(a.metadata, MetadataRoute{Path: l.path})
		}
		byKey[l.key] = append(byKey[l.key], l)
		a.docPaths[l.res.URL] = append(a.docPaths[l.res.URL], l.path)
	}
	for i, rt := range a.metadata {
		a.metadata[i].Handler = a.documents(byKey[pathKey(rt.Path)])
	}
	return nil
}

// legacyPath returns the location an earlier release announced for res:
// the well-known name followed by the resource's path under ExternalURL,
// when ExternalURL has a path (a proxy strips) and res lies under it;
// else "".
func (a *Authenticator) legacyPath(res *Resource) string {
	ext := a.cfg.ExternalURL
	if ext == "" || !under(ext, res.URL) {
		return ""
	}
	e, err1 := url.Parse(ext)
	u, err2 := url.Parse(res.URL)
	base := strings.TrimSuffix(e.EscapedPath(), "/")
	if err1 != nil || err2 != nil || base == "" || !strings.HasPrefix(u.EscapedPath(), base) {
		return ""
	}
	p := WellKnownResourceMetadata + strings.TrimSuffix(strings.TrimPrefix(u.EscapedPath(), base), "/")
	if p == res.metadataPath() {
		return ""
	}
	return p
}

// metadataPath is the path of res.MetadataURL.
func (res Resource) metadataPath() string {
	u, err := url.Parse(res.MetadataURL())
	if err != nil {
		return ""
	}
	return u.EscapedPath()
}

// documents serves the document of the location of the request's host
// among locs (one path), or of the only one there is.
func (a *Authenticator) documents(locs []docLocation) http.Handler {
	if len(locs) == 1 {
		return a.MetadataHandler(*locs[0].res)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower((&url.URL{Host: r.Host}).Hostname())
		for _, l := range locs {
			if l.host == host {
				a.MetadataHandler(*l.res).ServeHTTP(w, r)
				return
			}
		}
		if getOrHead(w, r) {
			httpx.WriteOAuthError(w, http.StatusNotFound, "not_found", "no protected resource of this host here")
		}
	})
}

// routePath returns the escaped path p as routers match it: a segment
// unescaped ("%41pi" is "Api", "caf%C3%A9" is "café": a ServeMux unescapes
// its patterns, chi compares them with the request's path), unless it
// would hold a "/", a "%", white space or a control character, which
// stays escaped.
func routePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err == nil && !strings.ContainsAny(u, "/%") && !strings.ContainsFunc(u, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			segs[i] = u
		}
	}
	return strings.Join(segs, "/")
}

// pathKey is the escaped path p as a router matches it: each segment
// unescaped ("%41" is "A"), a "%2F" inside a segment kept apart from a
// "/" between segments.
func pathKey(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			segs[i] = u
		}
	}
	return strings.Join(segs, "\x00")
}
