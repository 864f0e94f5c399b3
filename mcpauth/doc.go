// Package mcpauth puts an MCP server built on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) behind the same
// [middleware.Authenticator] as the rest of the API: the MCP endpoint is
// a protected resource (RFC 9728) whose tools need scopes, and a call
// without them gets the 403 insufficient_scope challenge from which MCP
// clients ask for more (step-up authorization, MCP 2025-11-25).
//
// The MCP endpoint is a resource of the authenticator, and each tool
// that needs scopes is listed once, for [Handler] and for
// [RequireToolScopes]:
//
//	mcpRes := middleware.Resource{URL: "https://api.example/mcp", AuthorizationServers: []string{iss}, Scopes: scopes}
//	authn, _ := middleware.New(middleware.Config{JWT: jwt, Resources: []middleware.Resource{api, mcpRes}, ...})
//
//	toolScopes := map[string][]string{"list_widgets": {"widgets:read"}, "create_widget": {"widgets:write"}}
//	server := mcp.NewServer(&mcp.Implementation{Name: "widgets", Version: "v1"}, nil)
//	server.AddReceivingMiddleware(mcpauth.RequireToolScopes(toolScopes))
//	mcp.AddTool(server, &mcp.Tool{Name: "create_widget"}, create)
//
//	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
//		&mcp.StreamableHTTPOptions{Stateless: true})
//	mux.Handle("/mcp", mcpauth.Handler(authn, mcpRes, sdk, mcpauth.Config{ToolScopes: toolScopes}))
//	authn.MountMetadata(mux) // GET /.well-known/oauth-protected-resource/mcp
//
// A request then goes:
//
//  1. through [middleware.Authenticator.Protect]: 401 with a
//     resource_metadata challenge without a good token for the resource,
//     503 when a store cannot answer, DPoP proofs checked;
//  2. through the scope check of [Handler]: a POST calling a tool of
//     Config.ToolScopes without its scopes gets 403 with
//     error="insufficient_scope" and the scopes to ask for, before the
//     SDK reads it;
//  3. to the SDK, with the principal as its auth.TokenInfo, so that tool
//     handlers find it in req.Extra.TokenInfo ([PrincipalFrom],
//     [RequireScopes]);
//  4. through [RequireToolScopes], which checks the call again on the
//     request as the SDK parsed it (defence in depth), then to the tool.
//
// A tool handler reads the caller from its request:
//
//	func create(ctx context.Context, req *mcp.CallToolRequest, in input) (*mcp.CallToolResult, output, error) {
//		p, _ := mcpauth.PrincipalFrom(req) // *identity.Principal
//		...
//	}
//
// [TokenVerifier] is the other way in: a verifier for the SDK's own
// auth.RequireBearerToken, for servers wired that way. It cannot take
// DPoP-bound tokens, and answers a store outage with 500: see its
// documentation.
package mcpauth
