package mcpauth

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
)

// PrincipalKey is the key of the caller's *identity.Principal in the
// Extra of the SDK's auth.TokenInfo, which [Handler] and [TokenVerifier]
// give tool handlers. Read it with [PrincipalFrom].
const PrincipalKey = "github.com/sessionless/sessionless/identity.Principal"

// PrincipalFrom returns the principal of the request a tool (or prompt,
// or resource) handler serves: the one [Handler] or [TokenVerifier]
// authenticated. It is the request's own copy; treat what its slices and
// Claims share as read-only.
func PrincipalFrom(req mcp.Request) (*identity.Principal, bool) {
	info := tokenInfoOf(req)
	if info == nil {
		return nil, false
	}
	p, ok := info.Extra[PrincipalKey].(*identity.Principal)
	return p, ok && p != nil
}

// tokenInfoOf returns the SDK's token info of req, or nil.
func tokenInfoOf(req mcp.Request) *auth.TokenInfo {
	if req == nil {
		return nil
	}
	extra := req.GetExtra()
	if extra == nil {
		return nil
	}
	return extra.TokenInfo
}

// tokenInfo is p as the SDK's token info: its scopes, expiry and subject
// (UserID, which a stateful StreamableHTTPHandler binds its sessions
// to), and p itself under PrincipalKey.
func tokenInfo(p *identity.Principal) *auth.TokenInfo {
	return &auth.TokenInfo{
		Scopes:     slices.Clone(p.Scopes),
		Expiration: p.ExpiresAt,
		UserID:     p.Subject,
		Extra:      map[string]any{PrincipalKey: p},
	}
}

// TokenVerifier returns a verifier for the SDK's own
// auth.RequireBearerToken: the token is checked by
// [middleware.Authenticator.Authenticate] (routing, cache, revocation)
// and must be good at res ([middleware.Authenticator.ForResource], RFC
// 8707). An error wraps auth.ErrInvalidToken when the token is refused,
// and [middleware.ErrUnavailable] alone when a backing store cannot
// answer; either also wraps the cause. Its message is terse, because
// RequireBearerToken writes it into the response body.
//
// [Handler] is the better path. RequireBearerToken accepts only the
// Bearer scheme, so DPoP-bound tokens (RFC 9449) are refused (and
// Authenticate refuses them anyway: it has no request to check a proof
// against); it answers any error but auth.ErrInvalidToken and
// auth.ErrOAuth with 500, so a store outage is a 500, not the 503 the rest
// of the API answers; its 401 carries no error code; it refuses a token
// without an expiry (API tokens) unless
// RequireBearerTokenOptions.AllowMissingExpiration is set; and it
// checks the expiry again on its own clock, time.Now, without the
// verifier's leeway. Wire it as:
//
//	h := auth.RequireBearerToken(mcpauth.TokenVerifier(a, res), &auth.RequireBearerTokenOptions{
//		ResourceMetadataURL: res.MetadataURL(), AllowMissingExpiration: true,
//	})(mcpHandler)
func TokenVerifier(a *middleware.Authenticator, res middleware.Resource) auth.TokenVerifier {
	forResource := a.ForResource(res)
	return func(ctx context.Context, raw string, _ *http.Request) (*auth.TokenInfo, error) {
		p, err := a.Authenticate(ctx, raw)
		if err == nil {
			err = forResource(p)
		}
		switch {
		case err == nil:
			return tokenInfo(p), nil
		case errors.Is(err, middleware.ErrUnavailable):
			return nil, &verifyError{"mcpauth: authentication is temporarily unavailable", []error{err}}
		}
		return nil, &verifyError{"mcpauth: invalid token", []error{auth.ErrInvalidToken, err}}
	}
}

// verifyError is a refusal of TokenVerifier: a terse message for the
// client, the sentinels and the cause for errors.Is and logs.
type verifyError struct {
	msg  string
	errs []error
}

func (e *verifyError) Error() string   { return e.msg }
func (e *verifyError) Unwrap() []error { return e.errs }
