package mcpauth

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sessionless/sessionless/middleware"
)

// RequireScopes returns nil when the token of req, a request a tool (or
// prompt, or resource) handler serves, holds every one of scopes; else an
// error wrapping [middleware.ErrInsufficientScope] that names the missing
// ones, or [middleware.ErrNoCredentials] when req carries no token info
// (a handler not behind [Handler] or [TokenVerifier]). It reads the SDK's
// auth.TokenInfo, whichever verifier set it.
//
// Returned from a handler added with mcp.AddTool, the error becomes a
// tool error (a result with isError): the caller learns which scope the
// tool needs.
//
//	func create(ctx context.Context, req *mcp.CallToolRequest, in input) (*mcp.CallToolResult, output, error) {
//		if err := mcpauth.RequireScopes(req, "widgets:write"); err != nil {
//			return nil, output{}, err
//		}
//		...
//	}
func RequireScopes(req mcp.Request, scopes ...string) error {
	info := tokenInfoOf(req)
	if info == nil {
		return fmt.Errorf("mcpauth: the request carries no token info: %w", middleware.ErrNoCredentials)
	}
	var missing []string
	for _, s := range scopes {
		if !slices.Contains(info.Scopes, s) && !slices.Contains(missing, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("mcpauth: the access token lacks the scope %s: %w", strings.Join(missing, " "), middleware.ErrInsufficientScope)
	}
	return nil
}

// RequireToolScopes returns server middleware (mcp.Server's
// AddReceivingMiddleware) that answers a call of a tool of toolScopes,
// whose token lacks one of the tool's scopes, with a tool error
// ([RequireScopes]'s) instead of calling the tool. Give it the map of
// Config.ToolScopes: [Handler] refuses such calls with a 403 before the
// SDK reads them, and this check, on the request as the SDK parsed it,
// stands behind that one (a body Handler could not read, a server
// reached by another path).
//
// It panics on a toolScopes that [Handler] refuses: an empty tool name or
// a scope that is not an RFC 6749 scope-token.
func RequireToolScopes(toolScopes map[string][]string) mcp.Middleware {
	tools, err := checkToolScopes(toolScopes)
	if err != nil {
		panic(err)
	}
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if call, ok := req.(*mcp.CallToolRequest); ok && call.Params != nil {
				if need := tools[call.Params.Name]; len(need) > 0 {
					if err := RequireScopes(req, need...); err != nil {
						res := &mcp.CallToolResult{}
						res.SetError(err)
						return res, nil
					}
				}
			}
			return next(ctx, method, req)
		}
	}
}

// checkToolScopes returns a copy of toolScopes without tools that need
// no scope, or an error for an empty tool name or a scope that is not a
// scope-token.
func checkToolScopes(toolScopes map[string][]string) (map[string][]string, error) {
	tools := make(map[string][]string, len(toolScopes))
	for _, name := range slices.Sorted(maps.Keys(toolScopes)) {
		if name == "" {
			return nil, fmt.Errorf("mcpauth: ToolScopes: an empty tool name")
		}
		var scopes []string
		for _, s := range toolScopes[name] {
			if !scopeToken(s) {
				return nil, fmt.Errorf("mcpauth: ToolScopes: tool %q: scope %q is not an RFC 6749 scope-token", name, s)
			}
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		if len(scopes) > 0 {
			tools[name] = scopes
		}
	}
	return tools, nil
}

// scopeToken reports whether s is a scope-token (RFC 6749 §3.3):
// 1*( %x21 / %x23-5B / %x5D-7E ), printable ASCII but for the space, the
// quote and the backslash, so it can go into a challenge's quoted scope.
func scopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
