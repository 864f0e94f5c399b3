package mcpauth_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/mcpauth"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
)

func TestTokenVerifier(t *testing.T) {
	e := newEnv(t, envConfig{dpop: true})
	verify := mcpauth.TokenVerifier(e.auth, mcpRes)
	good := e.mint(t, "alice", scopeRead+" "+scopeWrite, func(c *token.Claims) { c.ID = "good-1" })
	revoked := e.mint(t, "alice", scopeRead, func(c *token.Claims) { c.ID = "revoked-1" })
	e.rev.revoke("revoked-1")
	otherResource := e.mint(t, "alice", scopeRead, func(c *token.Claims) { c.Audience = token.Audience{apiRes.URL} })
	bound := e.mint(t, "alice", scopeRead, func(c *token.Claims) { c.JKT = dpoptest.NewClient(t).JKT() })

	// Accepted: the principal as the SDK's token info.
	info, err := verify(t.Context(), good, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := info.Extra[mcpauth.PrincipalKey].(*identity.Principal)
	if !slices.Equal(info.Scopes, []string{scopeRead, scopeWrite}) || info.UserID != "alice" ||
		!info.Expiration.Equal(e.clock.Now().Add(token.DefaultTTL)) || p == nil || p.TokenID != "good-1" {
		t.Errorf("token info %+v, principal %+v", info, p)
	}

	tests := []struct {
		name  string
		raw   string
		down  bool
		cause error // what the error wraps besides the SDK's sentinel
	}{
		// Refused: auth.ErrInvalidToken, a 401.
		{"garbage", "garbage", false, middleware.ErrInvalidToken},
		{"characters outside b64token", `a"b`, false, middleware.ErrInvalidRequest},
		{"revoked", revoked, false, middleware.ErrRevoked},
		{"for another resource", otherResource, false, middleware.ErrInvalidToken},
		{"DPoP-bound, without a proof", bound, false, middleware.ErrInvalidToken},
		// Cannot tell: middleware.ErrUnavailable, not ErrInvalidToken.
		{"store outage", good, true, middleware.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.rev.down.Store(tt.down)
			defer e.rev.down.Store(false)
			info, err := verify(t.Context(), tt.raw, nil)
			if info != nil || !errors.Is(err, tt.cause) || errors.Is(err, auth.ErrInvalidToken) == tt.down {
				t.Fatalf("got %+v, %v", info, err)
			}
			// The message is what RequireBearerToken writes to the client.
			if msg := err.Error(); msg != "mcpauth: invalid token" && msg != "mcpauth: authentication is temporarily unavailable" {
				t.Errorf("message %q", msg)
			}
		})
	}
}

// TestTokenVerifierOverHTTP: the SDK's RequireBearerToken with
// TokenVerifier serves the SDK's client, and shows what Handler does
// better: its store outage is a 500, its 401 names no error.
func TestTokenVerifierOverHTTP(t *testing.T) {
	e := newEnv(t, envConfig{})
	read := e.mint(t, "alice", scopeRead, nil)
	cs := e.mustConnect(t, "/sdk/mcp", &authTransport{token: read})
	if got, err := callText(t, cs, "whoami", nil); err != nil || got != "sub=alice user=alice scopes=widgets:read method=jwt expires=true" {
		t.Errorf("whoami: %q, %v", got, err)
	}
	// No HTTP scope check on this path: RequireToolScopes refuses the
	// call on the request as the SDK parsed it, with a tool error.
	if got, err := callText(t, cs, "create_widget", map[string]any{"name": "w"}); err != nil ||
		!strings.HasPrefix(got, "tool error: mcpauth: the access token lacks the scope widgets:write") {
		t.Errorf("create_widget with a read-only token: %q, %v", got, err)
	}
	if r := e.post(t, "/sdk/mcp", "Bearer garbage", toolCall(1, "whoami"), nil); r.status != http.StatusUnauthorized ||
		len(r.challenges) != 1 || r.challenges[0] != `Bearer resource_metadata="`+metadataURL+`"` || strings.Contains(r.body, "middleware") {
		t.Errorf("garbage: %d %q %q", r.status, r.challenges, r.body)
	}
	e.rev.down.Store(true)
	if r := e.post(t, "/sdk/mcp", "Bearer "+read, toolCall(1, "whoami"), nil); r.status != http.StatusInternalServerError {
		t.Errorf("store outage: %d, want the SDK's 500", r.status)
	}
	e.rev.down.Store(false)
	// The SDK checks the expiry again, on time.Now: with the
	// authenticator's clock an hour behind, a token it issued then and
	// still accepts (for another minute) has expired by time.Now.
	e.clock.Advance(-time.Hour)
	early := e.mint(t, "alice", scopeRead, nil) // 15 minutes
	e.clock.Advance(14 * time.Minute)
	if r := e.post(t, "/sdk/mcp", "Bearer "+early, toolCall(1, "whoami"), nil); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "token expired") {
		t.Errorf("a token the authenticator accepts, expired by time.Now: %d %s", r.status, r.body)
	}
	if r := e.post(t, "/mcp", "Bearer "+early, toolCall(1, "whoami"), nil); r.status != http.StatusOK {
		t.Errorf("the same token through Handler: %d %s", r.status, r.body)
	}
}
