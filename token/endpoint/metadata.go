package endpoint

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sessionless/sessionless/internal/httpx"
)

// WellKnownMetadata is the well-known name of authorization server
// metadata (RFC 8414 §3).
const WellKnownMetadata = "/.well-known/oauth-authorization-server"

// Metadata is the authorization server metadata of the endpoints (RFC
// 8414 §2), as [Server.Metadata] fills it. It is an http.Handler that
// serves itself; change its fields before serving it (a JWKSURI of your
// own, more scopes), not while it serves.
type Metadata struct {
	Issuer                                 string   `json:"issuer"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	JWKSURI                                string   `json:"jwks_uri,omitempty"`
	RevocationEndpoint                     string   `json:"revocation_endpoint,omitempty"`
	ScopesSupported                        []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                 []string `json:"response_types_supported"`
	GrantTypesSupported                    []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	DPoPSigningAlgValuesSupported          []string `json:"dpop_signing_alg_values_supported,omitempty"`
}

// Metadata returns the metadata of the endpoints mounted at prefix
// ([Server.Mount]'s, such as "/auth") under the public URL of the server:
// Config.ExternalURL, or, without one, the issuer identifier. Its
// jwks_uri is "/.well-known/jwks.json" under that URL (where
// token.JWKSHandler is usually served: change it otherwise), its scopes
// those of Config.Resources, its DPoP algorithms those of Config.DPoP.
// The response types are none: there is no authorization endpoint.
func (s *Server) Metadata(prefix string) *Metadata {
	base := s.cfg.ExternalURL
	if base == "" {
		base = strings.TrimSuffix(s.cfg.Issuer.Name(), "/")
	}
	at := base + "/" + strings.Trim(prefix, "/")
	at = strings.TrimSuffix(at, "/")
	m := &Metadata{
		Issuer:                                 s.cfg.Issuer.Name(),
		TokenEndpoint:                          at + "/token",
		JWKSURI:                                base + "/.well-known/jwks.json",
		RevocationEndpoint:                     at + "/revoke",
		ResponseTypesSupported:                 []string{},
		GrantTypesSupported:                    []string{"password", "refresh_token"},
		TokenEndpointAuthMethodsSupported:      []string{"none"},
		RevocationEndpointAuthMethodsSupported: []string{"none"},
	}
	for _, res := range s.cfg.Resources {
		for _, sc := range res.Scopes {
			if !slices.Contains(m.ScopesSupported, sc) {
				m.ScopesSupported = append(m.ScopesSupported, sc)
			}
		}
	}
	if s.cfg.DPoP != nil {
		m.DPoPSigningAlgValuesSupported = s.cfg.DPoP.AlgNames()
	}
	return m
}

// MetadataPaths returns the paths, as requests reach the server, at which
// to serve [Server.Metadata]: first the RFC 8414 §3.1 location, the
// well-known name followed by the issuer identifier's path
// ("/.well-known/oauth-authorization-server/tenant" for
// "https://host/tenant"), which clients derive from the issuer; then,
// when the issuer has a path and Config.ExternalURL is a prefix of it (a
// proxy strips the ExternalURL's path), the location under the issuer
// that earlier releases served ("https://host/tenant/.well-known/…",
// which the service sees as "/.well-known/oauth-authorization-server").
// Behind such a proxy, route the RFC location to the service unstripped.
func (s *Server) MetadataPaths() []string {
	iss, err := url.Parse(s.cfg.Issuer.Name())
	if err != nil {
		return []string{WellKnownMetadata}
	}
	issPath := strings.TrimSuffix(iss.EscapedPath(), "/")
	paths := []string{WellKnownMetadata + issPath}
	base := s.cfg.ExternalURL
	if base == "" {
		base = strings.TrimSuffix(s.cfg.Issuer.Name(), "/")
	}
	if ext, err := url.Parse(base); err == nil && issPath != "" {
		extPath := strings.TrimSuffix(ext.EscapedPath(), "/")
		if rest, ok := strings.CutPrefix(issPath, extPath); ok && (rest == "" || rest[0] == '/') {
			if legacy := WellKnownMetadata + rest; legacy != paths[0] {
				paths = append(paths, legacy)
			}
		}
	}
	return paths
}

// ServeHTTP serves the metadata (GET and HEAD), never cached.
func (m *Metadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpx.WriteOAuthError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET or HEAD")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, m)
}
