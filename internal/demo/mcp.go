package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sessionless/sessionless/mcpauth"
)

// mcpToolScopes are the scopes each tool of the MCP endpoint needs, the
// scopes of the REST routes that do the same: mcpauth.Handler refuses a
// call without them with a 403 step-up challenge, and
// mcpauth.RequireToolScopes checks them again on the call as the SDK
// parsed it.
var mcpToolScopes = map[string][]string{
	"list_widgets":  {scopeRead},
	"create_widget": {scopeWrite},
}

// mcpHandler returns the MCP endpoint (streamable HTTP, MCP's official Go
// SDK), for POST at /mcp, with the widget tools over the demo's store.
// Every request authenticates as the rest of the API does (package
// mcpauth: bearer or DPoP-bound tokens, revocation, 401 with
// resource_metadata, 503 when a store is down), for the resource /mcp:
// tokens for the whole server, or asked for /mcp (RFC 8707).
//
// It is stateless (StreamableHTTPOptions.Stateless): no Mcp-Session-Id,
// no session in this instance's memory, every POST carrying its token and
// standing alone, so any instance behind the load balancer answers any
// request, none is lost in a restart or a deploy, and each call is
// authorized by the token it comes with (its scopes, its revocation), as
// a REST call is. The tools need nothing a session gives (server-to-client
// requests, a GET event stream). Answers are plain JSON rather than event
// streams (JSONResponse), which buffering proxies pass unchanged.
func (s *server) mcpHandler() http.Handler {
	srv := s.newMCPServer()
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless:           true,
		JSONResponse:        true,
		Logger:              s.log,
		MaxRequestBodyBytes: maxWidgetBody,
	})
	return mcpauth.Handler(s.auth, s.resources.mcp, sdk, mcpauth.Config{ToolScopes: mcpToolScopes, MaxBodyBytes: maxWidgetBody})
}

// newMCPServer returns the MCP server of the widget tools.
func (s *server) newMCPServer() *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "sessionless-demo", Title: "Sessionless demo widgets", Version: "v1"},
		&mcp.ServerOptions{Logger: s.log})
	srv.AddReceivingMiddleware(mcpauth.RequireToolScopes(mcpToolScopes))
	mcp.AddTool(srv, &mcp.Tool{
		Name:        "list_widgets",
		Description: "Lists the widgets (needs widgets:read); with mine, only those the caller created.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	}, s.mcpListWidgets)
	mcp.AddTool(srv, &mcp.Tool{
		Name:        "create_widget",
		Description: "Creates a widget (needs widgets:write), recording the caller as its creator.",
		Annotations: &mcp.ToolAnnotations{DestructiveHint: new(false)},
	}, s.mcpCreateWidget)
	return srv
}

type mcpListWidgetsInput struct {
	Mine bool `json:"mine,omitempty" jsonschema:"only the widgets the caller created"`
}

type mcpListWidgetsOutput struct {
	Widgets []Widget `json:"widgets"`
}

// mcpListWidgets is the list_widgets tool: GET /api/widgets, or the
// caller's own.
func (s *server) mcpListWidgets(_ context.Context, req *mcp.CallToolRequest, in mcpListWidgetsInput) (*mcp.CallToolResult, mcpListWidgetsOutput, error) {
	ws := s.widgets.list()
	if in.Mine {
		p, ok := mcpauth.PrincipalFrom(req)
		if !ok { // unreachable behind mcpauth.Handler
			return nil, mcpListWidgetsOutput{}, errNoMCPPrincipal
		}
		ws = slices.DeleteFunc(ws, func(w Widget) bool { return w.CreatedBy != p.Subject })
	}
	return nil, mcpListWidgetsOutput{Widgets: ws}, nil
}

type mcpCreateWidgetInput struct {
	Name string `json:"name" jsonschema:"the widget's name: 1 to 100 characters, not all blank"`
}

// mcpCreateWidget is the create_widget tool: POST /api/widgets. Its
// errors are tool errors, which the caller (a model) reads.
func (s *server) mcpCreateWidget(ctx context.Context, req *mcp.CallToolRequest, in mcpCreateWidgetInput) (*mcp.CallToolResult, Widget, error) {
	p, ok := mcpauth.PrincipalFrom(req)
	if !ok { // unreachable behind mcpauth.Handler
		return nil, Widget{}, errNoMCPPrincipal
	}
	if !validWidgetName(in.Name) {
		return nil, Widget{}, errors.New("name must be 1 to 100 characters, not all blank")
	}
	w, ok := s.widgets.add(in.Name, p.Subject)
	if !ok {
		return nil, Widget{}, fmt.Errorf("the demo keeps at most %d widgets", s.widgets.max)
	}
	s.log.InfoContext(ctx, "widget created", "id", w.ID, "sub", p.Subject, "via", "mcp")
	return nil, w, nil
}

var errNoMCPPrincipal = errors.New("no authenticated caller")
