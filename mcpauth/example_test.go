package mcpauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/sessionless/sessionless/mcpauth"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

func Example() {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	keys := tokentest.KeySet(tokentest.MustSigner(token.EdDSA))
	issuer, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience}, Now: clock})
	verifier, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: tokentest.Issuer, Audience: tokentest.Audience, Now: clock})

	// The MCP endpoint is a protected resource of the API.
	mcpRes := middleware.Resource{URL: "https://api.example/mcp", AuthorizationServers: []string{tokentest.Issuer},
		Scopes: []string{"widgets:read", "widgets:write"}}
	a, _ := middleware.New(middleware.Config{
		JWT:       map[string]middleware.Verifier{tokentest.Issuer: verifier},
		Resources: []middleware.Resource{mcpRes},
		Audiences: []string{tokentest.Audience},
		Now:       clock,
	})

	// The MCP server, its tools' scopes listed once.
	toolScopes := map[string][]string{"list_widgets": {"widgets:read"}, "create_widget": {"widgets:write"}}
	server := mcp.NewServer(&mcp.Implementation{Name: "widgets", Version: "v1"}, nil)
	server.AddReceivingMiddleware(mcpauth.RequireToolScopes(toolScopes))
	type none struct{}
	mcp.AddTool(server, &mcp.Tool{Name: "list_widgets"}, func(_ context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
		p, _ := mcpauth.PrincipalFrom(req)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "sprocket, gear (for " + p.Subject + ")"}}}, nil, nil
	})
	mcp.AddTool(server, &mcp.Tool{Name: "create_widget"}, func(context.Context, *mcp.CallToolRequest, struct{ Name string }) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "created"}}}, nil, nil
	})
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Stateless: true})

	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpauth.Handler(a, mcpRes, sdk, mcpauth.Config{ToolScopes: toolScopes}))
	a.MountMetadata(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	readOnly, _, _ := issuer.Issue(token.Claims{Subject: "alice", Scope: "widgets:read"})

	// The SDK's client, with the token in every request.
	client := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "v1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:   srv.URL + "/mcp",
		HTTPClient: oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: readOnly})),
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cs.Close()
	res, _ := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "list_widgets"})
	fmt.Println(res.Content[0].(*mcp.TextContent).Text)

	// What a client is answered over HTTP: without a token, and when it
	// calls a tool without its scope.
	post := func(authz, body string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_widget","arguments":{"Name":"w"}}}`
	post("", call)
	post("Bearer "+readOnly, call)
	// Output:
	// sprocket, gear (for alice)
	// 401 Bearer realm="api", resource_metadata="https://api.example/.well-known/oauth-protected-resource/mcp"
	// 403 Bearer error="insufficient_scope", scope="widgets:read widgets:write", resource_metadata="https://api.example/.well-known/oauth-protected-resource/mcp", error_description="the access token lacks the required scope"
}
