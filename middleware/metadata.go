package middleware

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/sessionless/sessionless/internal/httpx"
)

// ProtectedResourceMetadata is a protected resource metadata document
// (RFC 9728 §2), as [Authenticator.Documents] serves it.
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

// Documents serves the metadata documents (GET and HEAD, never cached)
// at the well-known name and every path under it: for a path, the
// document of the URL it names (RFC 9728 §3.1: the well-known name
// taken out of it) when one of Config.Resources covers that URL
// ([ResourceFor]), with that resource's authorization servers and scopes
// and the URL itself as its resource (§3.3: a client that followed a
// challenge compares it with the URL it requested); 404 otherwise. The
// URL's scheme and host are those of the resources on the request's host
// (its Host header, without the port, in any case; any, when all the
// resources are on one host). When Config.ExternalURL has a path that a
// proxy strips, a path that names no covered URL is also read under
// ExternalURL: the location an earlier release announced.
//
// Mount it at WellKnownResourceMetadata and the paths under it
// ([Authenticator.MountMetadata] does).
func (a *Authenticator) Documents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !getOrHead(w, r) {
			return
		}
		rest, ok := strings.CutPrefix(r.URL.EscapedPath(), WellKnownResourceMetadata)
		if ok && (rest == "" || rest[0] == '/') && cleanPath(rest) {
			if doc, ok := a.documentAt(r.Host, rest); ok {
				httpx.WriteJSON(w, http.StatusOK, doc)
				return
			}
		}
		httpx.WriteOAuthError(w, http.StatusNotFound, "not_found", "no protected resource here")
	})
}

// documentAt returns the document of the URL the path rest (after the
// well-known name) names for a request to host.
func (a *Authenticator) documentAt(host, rest string) (ProtectedResourceMetadata, bool) {
	var urls []string
	for _, origin := range a.origins(host) {
		urls = append(urls, origin+rest)
	}
	if ext := a.cfg.ExternalURL; ext != "" {
		if e, err := url.Parse(ext); err == nil && strings.Trim(e.EscapedPath(), "/") != "" {
			urls = append(urls, strings.TrimSuffix(ext, "/")+rest)
		}
	}
	for _, u := range urls {
		if u == "" || strings.HasSuffix(u, "://") {
			continue
		}
		if res, ok := ResourceFor(a.cfg.Resources, u); ok {
			doc := a.Metadata(res)
			if !sameURL(u, res.URL) {
				doc.Resource = u // §3.3: the URL asked about, identical
			}
			return doc, true
		}
	}
	return ProtectedResourceMetadata{}, false
}

// sameURL reports whether a and b are one URL as a client's URL parser
// (WHATWG's) would compare them: the scheme and host in any case, an
// empty path the same as "/", default ports dropped; the path's escapes
// and trailing slash count (RFC 9728 §3.3: identical).
func sameURL(a, b string) bool {
	pa, errA := url.Parse(a)
	pb, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return a == b
	}
	path := func(p *url.URL) string {
		if e := p.EscapedPath(); e != "" {
			return e
		}
		return "/"
	}
	return strings.EqualFold(pa.Scheme, pb.Scheme) && hostKey(pa.Scheme, pa.Host) == hostKey(pb.Scheme, pb.Host) &&
		path(pa) == path(pb) && pa.RawQuery == pb.RawQuery
}

// hostKey returns host in lower case without the default port of scheme.
func hostKey(scheme, host string) string {
	host = strings.ToLower(host)
	switch strings.ToLower(scheme) {
	case "https":
		host = strings.TrimSuffix(host, ":443")
	case "http":
		host = strings.TrimSuffix(host, ":80")
	}
	return host
}

// origins returns the scheme and host of the resources a request to host
// may be asking about: with every resource on one origin, that one
// whatever the request's host; else those on the request's host and
// port, or when none is, those on its host name whatever their ports (a
// proxy may have changed the port).
func (a *Authenticator) origins(host string) []string {
	wantName := strings.ToLower((&url.URL{Host: host}).Hostname())
	var all, exact, named []string
	for _, res := range a.cfg.Resources {
		u, err := url.Parse(res.URL)
		if err != nil {
			continue
		}
		origin := u.Scheme + "://" + u.Host
		if slices.Contains(all, origin) {
			continue
		}
		all = append(all, origin)
		if strings.ToLower(u.Hostname()) == wantName {
			named = append(named, origin)
			if hostKey(u.Scheme, u.Host) == hostKey("https", hostKey("http", host)) {
				exact = append(exact, origin)
			}
		}
	}
	switch {
	case len(all) == 1:
		return all
	case len(exact) > 0:
		return exact
	}
	return named
}

// MetadataHandler serves the document of res (GET and HEAD), never
// cached, for a router of one's own; [Authenticator.Documents] serves
// every resource's.
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

// MountMetadata registers [Authenticator.Documents] on mux for GET at
// WellKnownResourceMetadata and the paths under it: "GET …/" on an
// *http.ServeMux, "GET …/*" on any other router (chi's pattern).
func (a *Authenticator) MountMetadata(mux Router) {
	h := a.Documents()
	mux.Handle("GET "+WellKnownResourceMetadata, h)
	if _, ok := mux.(*http.ServeMux); ok {
		mux.Handle("GET "+WellKnownResourceMetadata+"/", h)
	} else {
		mux.Handle("GET "+WellKnownResourceMetadata+"/*", h)
	}
}

// Router is where [Authenticator.MountMetadata] registers handlers: an
// *http.ServeMux or a chi.Router (both take "GET /path" patterns).
type Router interface {
	Handle(pattern string, h http.Handler)
}

// routePath returns the escaped path p as routers match it: a segment
// unescaped ("%41pi" is "Api", "caf%C3%A9" is "café"), unless it would
// hold a "/", a "%", white space or a control character: then escaped
// one way ("a%2fb" is "a%2Fb").
func routePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		switch {
		case err != nil:
		case strings.ContainsAny(u, "/%") || strings.ContainsFunc(u, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
			segs[i] = url.PathEscape(u)
		default:
			segs[i] = u
		}
	}
	return strings.Join(segs, "/")
}
