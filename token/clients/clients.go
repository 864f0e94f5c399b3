// Package clients holds the OAuth 2.0 clients of the authorization server
// (token/endpoint): the ones configured by the operator ([Static]), the
// ones registered at run time (RFC 7591, [Registrar] and a [Store]), and
// the ones that name themselves by the URL of a Client ID Metadata
// Document ([Documents]). [Registry] looks a client up among all three.
//
// A client is public (AuthNone: a browser app, a native or mobile app, a
// CLI, an AI agent; nothing it holds is secret) or confidential (a
// server-side app authenticating with a secret, client_secret_basic or
// client_secret_post). Secrets are kept only as their SHA-256: a secret
// carries 256 random bits ([NewSecret]), so a fast hash stores it as
// safely as a slow one and a stolen database yields no usable secret.
package clients

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionless/sessionless/internal/oauth"
)

// Token endpoint authentication methods (RFC 7591 §2).
const (
	AuthNone        = "none"                // a public client: client_id only
	AuthSecretBasic = "client_secret_basic" // HTTP Basic (RFC 6749 §2.3.1)
	AuthSecretPost  = "client_secret_post"  // client_secret in the form
)

// Grant types (RFC 7591 §2).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	// GrantPassword is the resource owner password credentials grant,
	// which RFC 9700 §2.4 says must not be used: only a FirstParty client
	// may have it, for the app's own login form.
	GrantPassword = "password"
)

// Kind says where a client comes from.
type Kind string

// The kinds of [Client].
const (
	Configured Kind = "configured" // by the operator ([Static])
	Registered Kind = "registered" // at run time (RFC 7591, [Registrar])
	Document   Kind = "document"   // by a Client ID Metadata Document ([Documents])
)

// MaxIDLength bounds client IDs: a metadata document's URL is the longest.
const MaxIDLength = 2048

// Client is an OAuth 2.0 client.
type Client struct {
	// ID is the client_id: at most MaxIDLength bytes of printable ASCII,
	// without quotes, backslashes or colons (a colon cannot be sent in
	// HTTP Basic authentication's user), except a metadata document's,
	// which is its https URL.
	ID string
	// Name is shown to the user on the consent page. Empty: the ID.
	Name string
	// Kind says where it comes from. Empty: Configured.
	Kind Kind
	// AuthMethod is how it authenticates at the token endpoint: AuthNone
	// (the default), AuthSecretBasic or AuthSecretPost.
	AuthMethod string
	// SecretHashes are the hashes ([HashSecret]) of its secrets: one, or
	// two while a secret is rotated. Required for a confidential client,
	// refused for a public one.
	SecretHashes []SecretHash
	// RedirectURIs are where authorization responses may go: a request's
	// redirect_uri must equal one of them, but for the port of a loopback
	// one (RFC 8252 §7.3). Each is https, http on a loopback host, or a
	// private-use scheme with a dot (RFC 8252 §7.1). Required with the
	// authorization_code grant.
	RedirectURIs []string
	// Scopes are the scopes it may ask for; a request asking for more is
	// narrowed to these. Empty: any scope the user holds.
	Scopes []string
	// GrantTypes are the grants it may use. Empty: authorization_code and
	// refresh_token.
	GrantTypes []string
	// FirstParty marks the application's own clients: the user is not
	// asked to consent (the app is the server's), and only they may have
	// the password grant.
	FirstParty bool
	// CreatedAt is when it was registered (Registered); ExpiresAt, when
	// not zero, when a registration that has not been used expires.
	CreatedAt, ExpiresAt time.Time
}

// SecretHash is the SHA-256 of a client secret: all that is kept of it.
type SecretHash = oauth.SecretHash

// SecretPrefix starts every secret [NewSecret] makes.
const SecretPrefix = oauth.SecretPrefix

// NewSecret returns a new client secret (256 random bits) and its hash.
// Give the secret to the client once; keep the hash.
func NewSecret() (string, SecretHash) { return oauth.NewSecret() }

// HashSecret returns the hash of a client secret, for configuration that
// holds secrets made elsewhere.
func HashSecret(raw string) SecretHash { return oauth.HashSecret(raw) }

// Public reports whether c has no secret (AuthNone).
func (c Client) Public() bool { return c.AuthMethod == "" || c.AuthMethod == AuthNone }

// DisplayName is Name, or the ID without one.
func (c Client) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// Allows reports whether c may use the grant type.
func (c Client) Allows(grantType string) bool {
	if len(c.GrantTypes) == 0 {
		return grantType == GrantAuthorizationCode || grantType == GrantRefreshToken
	}
	return slices.Contains(c.GrantTypes, grantType)
}

// VerifySecret reports, in constant time, whether secret is one of c's.
// A public client has none.
func (c Client) VerifySecret(secret string) bool {
	ok := false
	for _, h := range c.SecretHashes {
		if oauth.VerifySecret(h, secret) { // every hash compared: no timing of which
			ok = true
		}
	}
	return ok && !c.Public()
}

// MatchRedirectURI reports whether uri is one of c's redirect URIs: equal
// to one, byte for byte, but for the port of a loopback http one (RFC
// 8252 §7.3).
func (c Client) MatchRedirectURI(uri string) bool {
	return oauth.MatchRedirectURI(c.RedirectURIs, uri)
}

// ErrInvalidClient: a client configuration or registration that breaks a
// rule of [Client.Validate].
var ErrInvalidClient = errors.New("clients: invalid client")

// ErrUnknownClient is what a [Lookup] returns for an ID without a client
// (or with an expired registration, or a metadata document that cannot
// be had or is invalid: wrapped with the reason).
var ErrUnknownClient = errors.New("clients: unknown client")

// Validate checks c: its ID, authentication method and secrets, redirect
// URIs (oauth rules above), grant types (the password grant only for a
// FirstParty client; authorization_code needs a redirect URI) and scopes
// (RFC 6749 §3.3 scope tokens).
func (c Client) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidClient, c.ID, fmt.Sprintf(format, args...))
	}
	if c.Kind == Document {
		if err := CheckDocumentURL(c.ID); err != nil {
			return bad("%v", err)
		}
	} else if err := CheckID(c.ID); err != nil {
		return bad("%v", err)
	}
	switch c.Kind {
	case "", Configured:
	case Registered, Document:
		// Named by whoever registered or published it: never trusted as
		// the server's own app.
		if c.FirstParty {
			return bad("a registered client or a metadata document's is never first-party")
		}
		if c.Kind == Document && !c.Public() {
			return bad("a metadata document's client is public")
		}
	default:
		return bad("unknown kind %q", c.Kind)
	}
	if len(c.Name) > 200 || !utf8.ValidString(c.Name) || strings.ContainsFunc(c.Name, isControl) || strings.ContainsFunc(c.Name, isBidiControl) {
		return bad("the name must be UTF-8 without control or bidirectional formatting characters, at most 200 bytes")
	}
	switch c.AuthMethod {
	case "", AuthNone:
		if len(c.SecretHashes) > 0 {
			return bad("a public client has no secret")
		}
	case AuthSecretBasic, AuthSecretPost:
		if len(c.SecretHashes) == 0 {
			return bad("a confidential client needs a secret")
		}
	default:
		return bad("unsupported token_endpoint_auth_method %q", c.AuthMethod)
	}
	if len(c.RedirectURIs) > 20 {
		return bad("at most 20 redirect URIs")
	}
	for _, u := range c.RedirectURIs {
		if err := oauth.CheckRedirectURI(u); err != nil {
			return bad("redirect URI %q: %v", u, err)
		}
	}
	for _, g := range c.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken:
		case GrantPassword:
			if !c.FirstParty {
				return bad("only a first-party client may use the password grant (RFC 9700 §2.4)")
			}
		default:
			return bad("unsupported grant type %q", g)
		}
	}
	if c.Allows(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return bad("the authorization_code grant needs a redirect URI")
	}
	if len(c.Scopes) > 64 {
		return bad("at most 64 scopes")
	}
	for _, s := range c.Scopes {
		if !ValidScope(s) {
			return bad("invalid scope %q", s)
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// isBidiControl reports whether r is a bidirectional formatting
// character, which could make a name shown on the consent page read
// otherwise than it is written (Unicode Bidi_Control).
func isBidiControl(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// CheckID checks a client ID that is not a metadata document's URL: 1 to
// 255 bytes of printable ASCII without space, quotes, backslash or colon.
func CheckID(id string) error {
	if id == "" || len(id) > 255 {
		return errors.New("the client_id must have 1 to 255 bytes")
	}
	for i := range len(id) {
		if c := id[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ':' {
			return errors.New("the client_id must be printable ASCII without space, quotes, backslashes or colons")
		}
	}
	return nil
}

// IsDocumentURL reports whether id has the shape of a Client ID Metadata
// Document's URL (it starts with "https://"); [CheckDocumentURL] checks
// the rest.
func IsDocumentURL(id string) bool { return strings.HasPrefix(id, "https://") }

// CheckDocumentURL checks a client ID that names a Client ID Metadata
// Document: an https URL of at most MaxIDLength bytes with a host and a
// path, without user information, port 0, query, fragment, or dot or
// empty path segments (draft-ietf-oauth-client-id-metadata-document §3),
// in ASCII (an internationalized host in punycode).
func CheckDocumentURL(id string) error {
	if len(id) > MaxIDLength || !IsDocumentURL(id) || strings.ContainsAny(id, " \t\r\n\\?#\"") || !isASCII(id) {
		return errors.New("a metadata document's client_id must be an https URL without query or fragment")
	}
	u, err := url.Parse(id)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" || u.Port() == "0" {
		return errors.New("a metadata document's client_id must be an https URL with a host and no user information")
	}
	p := u.EscapedPath()
	if p == "" || p == "/" {
		return errors.New("a metadata document's client_id must have a path")
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") ||
			strings.EqualFold(seg, ".%2e") || strings.EqualFold(seg, "%2e.") {
			return errors.New("a metadata document's client_id must not have empty or dot path segments")
		}
	}
	return nil
}

// isASCII reports whether s is ASCII: a URL shown on the consent page
// with an internationalized host could pass for another site.
func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// ValidScope reports whether s is a scope token (RFC 6749 §3.3) of at
// most 128 bytes.
func ValidScope(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// Lookup finds clients by ID. An error other than one wrapping
// ErrUnknownClient means it cannot answer now (the endpoints answer 503).
// It must be safe for concurrent use.
type Lookup interface {
	Client(ctx context.Context, id string) (Client, error)
}

// Static is a fixed set of clients, from configuration.
type Static struct{ byID map[string]Client }

// NewStatic validates cs and returns them as a Lookup. IDs must be
// distinct, and none may look like a metadata document's URL.
func NewStatic(cs ...Client) (*Static, error) {
	s := &Static{byID: make(map[string]Client, len(cs))}
	for _, c := range cs {
		if c.Kind == "" {
			c.Kind = Configured
		}
		if c.Kind != Configured {
			return nil, fmt.Errorf("%w %q: a configured client's Kind is Configured", ErrInvalidClient, c.ID)
		}
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if _, dup := s.byID[c.ID]; dup {
			return nil, fmt.Errorf("%w %q: configured twice", ErrInvalidClient, c.ID)
		}
		s.byID[c.ID] = clone(c)
	}
	return s, nil
}

// Client returns the client with id.
func (s *Static) Client(_ context.Context, id string) (Client, error) {
	c, ok := s.byID[id]
	if !ok {
		return Client{}, ErrUnknownClient
	}
	return clone(c), nil
}

// All returns the clients, in no particular order.
func (s *Static) All() []Client {
	out := make([]Client, 0, len(s.byID))
	for _, c := range s.byID {
		out = append(out, clone(c))
	}
	return out
}

func clone(c Client) Client {
	c.SecretHashes = slices.Clone(c.SecretHashes)
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.Scopes = slices.Clone(c.Scopes)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	return c
}
