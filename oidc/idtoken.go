package oidc

import "github.com/sessionless/sessionless/internal/strictjson"

// idTokenMark returns what marks c as an ID token under the mapping m, or
// "" when nothing does (see Provider.Authenticate). The claims are
// verified already; only their presence counts, whatever their value.
func idTokenMark(c *Claims, m *Mapping) string {
	// Only an ID token binds the code issued with it (OpenID Connect Core
	// §3.3.2.11), and the access token (§3.1.3.6), unless the provider
	// writes at_hash in access tokens too (Dex).
	if c.Member("c_hash") != nil {
		return "c_hash"
	}
	if c.Member("at_hash") != nil && !m.ATHashInAccessTokens {
		return "at_hash"
	}
	// Keycloak's access tokens say what they are: typ "Bearer" (its ID
	// tokens: "ID"). They carry auth_time, and up to Keycloak 24 the
	// login's nonce.
	if typ, err := strictjson.String(c.Member("typ")); err == nil && string(typ) == "Bearer" {
		return ""
	}
	if c.Member("nonce") != nil && !m.NonceInAccessTokens {
		return "nonce"
	}
	// An ID token's audience is the client that logged in, which azp
	// names; an access token's is the resource.
	if c.Member("auth_time") != nil {
		if azp, ok := stringClaim(c, "azp"); ok && azp != "" && c.Audience.Contains(azp) {
			return "auth_time, and azp in aud"
		}
	}
	return ""
}
