package endpoint

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/token/clients"
)

// WellKnownMetadata is the well-known name of authorization server
// metadata (RFC 8414 §3).
const WellKnownMetadata = "/.well-known/oauth-authorization-server"

// Metadata is the authorization server metadata of the endpoints (RFC
// 8414 §2), as [Server.Metadata] fills it. It is an http.Handler that
// serves itself; change its fields before serving it (a JWKSURI of your
// own, more scopes), not while it serves.
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri,omitempty"`
	RegistrationEndpoint                       string   `json:"registration_endpoint,omitempty"`
	RevocationEndpoint                         string   `json:"revocation_endpoint,omitempty"`
	ScopesSupported                            []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported,omitempty"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	AuthorizationResponseISSParameterSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
	ClientIDMetadataDocumentSupported          bool     `json:"client_id_metadata_document_supported,omitempty"`
	DPoPSigningAlgValuesSupported              []string `json:"dpop_signing_alg_values_supported,omitempty"`
}

// Metadata returns the metadata of the endpoints mounted at prefix
// ([Server.Mount]'s, such as "/auth") under the public URL of the server:
// Config.ExternalURL, or, without one, the issuer identifier. Its
// jwks_uri is "/.well-known/jwks.json" under that URL (where
// token.JWKSHandler is usually served: change it otherwise), its scopes
// those of Config.Resources, its DPoP algorithms those of Config.DPoP.
// Without Config.Authorization the response types are none (there is no
// authorization endpoint) and the grants password and refresh_token;
// with it, the authorization endpoint, response type code, PKCE S256,
// the iss parameter (RFC 9207), the client authentication methods, the
// registration endpoint when registration is on, and
// client_id_metadata_document_supported when its Clients is a
// *clients.Registry with Documents.
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
	m.ScopesSupported = s.scopesSupported()
	if s.authz != nil {
		auth := []string{clients.AuthNone, clients.AuthSecretBasic, clients.AuthSecretPost}
		m.AuthorizationEndpoint = at + "/authorize"
		m.ResponseTypesSupported = []string{"code"}
		m.ResponseModesSupported = []string{"query"}
		m.GrantTypesSupported = []string{clients.GrantAuthorizationCode, clients.GrantRefreshToken, clients.GrantPassword}
		m.CodeChallengeMethodsSupported = []string{"S256"}
		m.TokenEndpointAuthMethodsSupported = auth
		m.RevocationEndpointAuthMethodsSupported = auth
		m.AuthorizationResponseISSParameterSupported = true
		m.ClientIDMetadataDocumentSupported = s.authz.documents
		if s.authz.registrar != nil {
			m.RegistrationEndpoint = at + "/register"
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
