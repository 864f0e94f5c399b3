package oidc

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/strictjson"
	"github.com/sessionless/sessionless/token"
)

// Claims are the verified claims of a provider's token, with what the
// mapping read besides the principal's fields. It embeds *token.Claims:
// [token.Claims.Member] and [token.Claims.Decode] read any other claim,
// and StillTrusted tells the middleware's cache whether the key that
// verified the token is still published by the provider.
type Claims struct {
	*token.Claims
	// Username is preferred_username (Keycloak, generic) or nickname, when
	// the token carries one.
	Username string
	// Groups are the "groups" claim, when the token carries one.
	Groups []string

	members []member // the payload's top-level members, read once
	names   []byte   // their names, end to end
	once    sync.Once
	keys    *remoteKeys // the provider's keys, refreshed when old
}

// StillTrusted reports whether the key that verified the token is still
// published by the provider (token.Claims.StillTrusted). The middleware's
// cache asks it on every hit: when the provider's keys are older than
// Config.KeyMaxAge it also starts their refresh in the background, so
// that a key the provider removed stops even tokens that only hit the
// cache, within about KeyMaxAge.
func (c *Claims) StillTrusted() bool {
	if c.keys != nil {
		c.keys.refreshInBackground()
	}
	return c.Claims.StillTrusted()
}

type member struct {
	start, end int // the name: names[start:end]
	value      []byte
}

// Member returns the raw JSON value of the payload's top-level member
// name (exact), or nil when there is none or it is null, like
// token.Claims.Member; the payload is walked once for all the lookups of
// a mapping. The bytes are read-only.
func (c *Claims) Member(name string) []byte {
	c.index()
	for _, m := range c.members {
		if string(c.names[m.start:m.end]) == name {
			return m.value
		}
	}
	return nil
}

// index reads the payload's top-level members, once.
func (c *Claims) index() {
	c.once.Do(func() {
		p := c.Payload()
		m := strictjson.Object(unsafe.Slice(unsafe.StringData(p), len(p)))
		c.members, c.names = make([]member, 0, 24), make([]byte, 0, 256)
		for m.Next() {
			if v := m.Value(); !strictjson.IsNull(v) {
				start := len(c.names)
				c.names = append(c.names, m.Name()...)
				c.members = append(c.members, member{start, len(c.names), v})
			}
		}
	})
}

// Mapping turns a provider's verified claims into the principal.
type Mapping struct {
	// Name names the mapping in logs ("keycloak", "auth0", "generic").
	Name string
	// Map fills p (Subject, Issuer, TokenID, times and ClientID are set
	// already) from c: Scopes, Roles, ClientID, and c's own fields. An
	// error refuses the token.
	Map func(c *Claims, p *identity.Principal) error
	// Profile is what the provider's access tokens leave out (typ at+jwt,
	// jti, …); Config.Profile overrides it.
	Profile token.Profile
	// ATHashInAccessTokens and NonceInAccessTokens say the provider
	// writes at_hash, or the nonce of a login, in its access tokens too,
	// so that they do not mark an ID token (c_hash, and auth_time with
	// the client in aud, always do: see [Provider.Authenticate]). Dex
	// does both: its access tokens are ID tokens with the at_hash of a
	// random id, and the nonce of the login when it sent one. Generic
	// sets ATHashInAccessTokens; the other mappings neither.
	ATHashInAccessTokens, NonceInAccessTokens bool
}

// stringClaim returns the string claim name of c.
func stringClaim(c *Claims, name string) (string, bool) {
	v := c.Member(name)
	if v == nil {
		return "", false
	}
	s, err := strictjson.String(v)
	if err != nil {
		return "", false
	}
	return string(s), true
}

// stringsOf reads v, a JSON array of strings (non-strings skipped) or a
// string of space-separated values.
func stringsOf(v []byte) []string {
	if v == nil {
		return nil
	}
	if s, err := strictjson.String(v); err == nil {
		return strings.Fields(string(s))
	}
	var out []string
	e := strictjson.Array(v)
	for e.Next() {
		if s, err := strictjson.String(e.Value()); err == nil && len(s) > 0 {
			out = append(out, string(s))
		}
	}
	return out
}

// path returns the value at the nested members names of v (an object), or
// nil.
func path(v []byte, names ...string) []byte {
	for _, n := range names {
		if v == nil {
			return nil
		}
		var next []byte
		m := strictjson.Object(v)
		for m.Next() {
			if string(m.Name()) == n {
				next = m.Value()
				break
			}
		}
		if strictjson.IsNull(next) {
			return nil
		}
		v = next
	}
	return v
}

// union appends to a the strings of b it lacks.
func union(a []string, b ...string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}

// clientOf sets p.ClientID from azp (OpenID Connect), else client_id (RFC
// 9068, as token.Claims read it), cid (Okta) or appid (Entra ID v1).
func clientOf(c *Claims, p *identity.Principal) {
	for _, name := range []string{"azp", "client_id", "cid", "appid"} {
		if v, ok := stringClaim(c, name); ok && v != "" {
			p.ClientID = v
			return
		}
	}
}

// Generic maps what most providers (Dex, Okta, Entra ID, Ory Hydra, …)
// write: scopes from "scope" (space-separated) or "scp" (an array, or a
// string), roles from "roles", "groups" into Claims.Groups (not Roles:
// group names are not permissions; a Func mapping can make them so), the
// client from "azp" or "client_id",
// preferred_username as Username. Its profile accepts any typ and tokens
// without jti (Dex, Entra ID and often Auth0 write none; such a token is
// revoked by subject); set Config.Profile to require more. It accepts
// at_hash in access tokens (ATHashInAccessTokens: Dex writes one in
// every access token); for Dex's tokens of a login that sent a nonce, use
// [Dex].
func Generic() Mapping {
	return Mapping{
		Name:                 "generic",
		Profile:              token.Profile{AnyType: true, NoJTI: true},
		ATHashInAccessTokens: true,
		Map: func(c *Claims, p *identity.Principal) error {
			p.Scopes = union(c.Scopes(), stringsOf(c.Member("scp"))...)
			p.Roles = slices.Clone(c.Roles)
			c.Groups = stringsOf(c.Member("groups"))
			c.Username, _ = stringClaim(c, "preferred_username")
			clientOf(c, p)
			return nil
		},
	}
}

// Dex maps Dex's tokens as Generic does, and takes the nonce of a login
// in an access token (NonceInAccessTokens): Dex's access tokens are ID
// tokens in all but c_hash, with the at_hash of a random id and the
// login's nonce when it sent one. An ID token of Dex's code flow (with
// c_hash) is refused; one of its password or refresh grants cannot be
// told from an access token by any claim.
func Dex() Mapping {
	m := Generic()
	m.Name, m.NonceInAccessTokens = "dex", true
	return m
}

// Keycloak maps Keycloak's access tokens: realm roles
// (realm_access.roles) and the roles of the API's own client
// (resource_access.<clientID>.roles: clientID is the client of the API,
// usually its audience) become Roles; "scope" becomes Scopes;
// preferred_username the Username; "azp" the ClientID. Keycloak writes
// "typ": "Bearer" in its access tokens and "ID" in its ID tokens: a token
// whose typ claim is anything but Bearer is refused (ErrNotAccessToken).
// Its profile accepts the "JWT" typ header.
func Keycloak(clientID string) Mapping {
	return Mapping{
		Name:    "keycloak",
		Profile: token.Profile{AnyType: true},
		Map: func(c *Claims, p *identity.Principal) error {
			if typ, ok := stringClaim(c, "typ"); ok && typ != "Bearer" {
				return fmt.Errorf("%w: Keycloak token of typ %q", ErrNotAccessToken, typ)
			}
			p.Scopes = c.Scopes()
			p.Roles = stringsOf(path(c.Member("realm_access"), "roles"))
			if clientID != "" {
				p.Roles = union(p.Roles, stringsOf(path(c.Member("resource_access"), clientID, "roles"))...)
			}
			c.Username, _ = stringClaim(c, "preferred_username")
			c.Groups = stringsOf(c.Member("groups"))
			clientOf(c, p)
			return nil
		},
	}
}

// Auth0 maps Auth0's access tokens: "scope" and "permissions" (RBAC with
// "Add Permissions in the Access Token") become Scopes; the namespaced
// custom claim namespace+"roles" (an Action adds it, e.g.
// "https://example.com/roles"; a namespace without a trailing "/" gets
// one) becomes Roles; "azp" the ClientID. Auth0
// access tokens often have no jti (revoked by subject then) and a "JWT"
// typ header: its profile accepts both.
func Auth0(namespace string) Mapping {
	if namespace != "" && !strings.HasSuffix(namespace, "/") {
		namespace += "/"
	}
	return Mapping{
		Name:    "auth0",
		Profile: token.Profile{AnyType: true, NoJTI: true},
		Map: func(c *Claims, p *identity.Principal) error {
			p.Scopes = union(c.Scopes(), stringsOf(c.Member("permissions"))...)
			if namespace != "" {
				p.Roles = stringsOf(c.Member(namespace + "roles"))
			}
			c.Username, _ = stringClaim(c, "nickname")
			clientOf(c, p)
			return nil
		},
	}
}

// ZitadelRolesClaim is where Zitadel asserts a user's roles on the
// project of the client a token was issued to: an object whose keys are
// the role names (each one's value: the organisations that granted it,
// id to primary domain). ZitadelProjectRolesClaim(id) names the roles on
// one project.
const ZitadelRolesClaim = "urn:zitadel:iam:org:project:roles"

// ZitadelProjectRolesClaim is the claim of the roles on the project id:
// urn:zitadel:iam:org:project:<id>:roles, asserted when the client asks
// for the scope urn:zitadel:iam:org:projects:roles (for the projects of
// the token's audience).
func ZitadelProjectRolesClaim(projectID string) string {
	return "urn:zitadel:iam:org:project:" + projectID + ":roles"
}

// Zitadel maps Zitadel's JWT access tokens (an application whose auth
// token type is JWT; the default, opaque tokens, are not JWTs): Roles are
// the keys of ZitadelRolesClaim, the roles on the project of the client
// the token was issued to, which is right when the API and its clients
// share a project; with a projectID, the keys of
// ZitadelProjectRolesClaim(projectID) instead, so that roles on another
// project never count. Zitadel's JWT access tokens carry no "scope":
// Scopes are empty unless a token has one. ClientID is client_id (or
// azp); Username preferred_username when present. Its profile accepts the
// "JWT" typ header and requires jti, which Zitadel writes in every access
// token and in no ID token.
func Zitadel(projectID string) Mapping {
	claim := ZitadelRolesClaim
	if projectID != "" {
		claim = ZitadelProjectRolesClaim(projectID)
	}
	return Mapping{
		Name:    "zitadel",
		Profile: token.Profile{AnyType: true},
		Map: func(c *Claims, p *identity.Principal) error {
			p.Scopes = c.Scopes()
			p.Roles = keysOf(c.Member(claim))
			c.Username, _ = stringClaim(c, "preferred_username")
			c.Groups = stringsOf(c.Member("groups"))
			clientOf(c, p)
			return nil
		},
	}
}

// keysOf returns the member names of v, a JSON object (nil otherwise),
// in their order, without empty ones (strictjson refuses repeated ones).
func keysOf(v []byte) []string {
	if v == nil {
		return nil
	}
	var out []string
	m := strictjson.Object(v)
	for m.Next() {
		if len(m.Name()) > 0 {
			out = append(out, string(m.Name()))
		}
	}
	return out
}

// Func is a custom mapping: f fills the principal from the claims, on the
// given profile.
func Func(name string, profile token.Profile, f func(c *Claims, p *identity.Principal) error) Mapping {
	return Mapping{Name: name, Profile: profile, Map: f}
}
