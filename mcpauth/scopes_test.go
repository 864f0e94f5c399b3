package mcpauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/mcpauth"
	"github.com/sessionless/sessionless/middleware"
)

// callRequest is a tools/call request with info as its token info.
func callRequest(tool string, info *auth.TokenInfo) *mcp.CallToolRequest {
	return &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: tool, Arguments: json.RawMessage("{}")},
		Extra: &mcp.RequestExtra{TokenInfo: info}}
}

func TestRequireScopes(t *testing.T) {
	p := &identity.Principal{Subject: "alice", Scopes: []string{scopeRead}}
	read := &auth.TokenInfo{Scopes: []string{scopeRead}, Extra: map[string]any{mcpauth.PrincipalKey: p}}
	tests := []struct {
		name   string
		req    mcp.Request
		scopes []string
		want   error // nil: allowed
		msg    string
	}{
		// Allowed.
		{"held", callRequest("t", read), []string{scopeRead}, nil, ""},
		{"none asked", callRequest("t", read), nil, nil, ""},
		// Refused.
		{"missing", callRequest("t", read), []string{scopeRead, scopeWrite, scopeWrite}, middleware.ErrInsufficientScope,
			"mcpauth: the access token lacks the scope widgets:write: middleware: insufficient scope"},
		{"no token info", callRequest("t", nil), []string{scopeRead}, middleware.ErrNoCredentials, ""},
		{"no extra", &mcp.CallToolRequest{}, nil, middleware.ErrNoCredentials, ""},
		{"nil request", nil, nil, middleware.ErrNoCredentials, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mcpauth.RequireScopes(tt.req, tt.scopes...)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message %q", err.Error())
			}
		})
	}
}

func TestPrincipalFrom(t *testing.T) {
	p := &identity.Principal{Subject: "alice"}
	if got, ok := mcpauth.PrincipalFrom(callRequest("t", &auth.TokenInfo{Extra: map[string]any{mcpauth.PrincipalKey: p}})); !ok || got != p {
		t.Errorf("got %v, %t", got, ok)
	}
	for name, req := range map[string]mcp.Request{
		"nil":            nil,
		"no extra":       &mcp.CallToolRequest{},
		"no token info":  callRequest("t", nil),
		"another's info": callRequest("t", &auth.TokenInfo{UserID: "alice"}),
		"a nil pointer":  callRequest("t", &auth.TokenInfo{Extra: map[string]any{mcpauth.PrincipalKey: (*identity.Principal)(nil)}}),
		"another type":   callRequest("t", &auth.TokenInfo{Extra: map[string]any{mcpauth.PrincipalKey: "alice"}}),
	} {
		if got, ok := mcpauth.PrincipalFrom(req); ok || got != nil {
			t.Errorf("%s: got %v, %t", name, got, ok)
		}
	}
}

// TestRequireToolScopes: the server middleware lets a call through with
// the tool's scopes, or of a tool needing none, and answers any other
// with a tool error; other methods pass.
func TestRequireToolScopes(t *testing.T) {
	var called []string
	next := func(_ context.Context, method string, req mcp.Request) (mcp.Result, error) {
		called = append(called, method)
		return &mcp.CallToolResult{}, nil
	}
	h := mcpauth.RequireToolScopes(toolScopes)(next)
	read := &auth.TokenInfo{Scopes: []string{scopeRead}}
	tests := []struct {
		name    string
		method  string
		req     mcp.Request
		refused bool
	}{
		{"held", "tools/call", callRequest("list_widgets", read), false},
		{"a tool needing none", "tools/call", callRequest("whoami", nil), false},
		{"missing", "tools/call", callRequest("create_widget", read), true},
		{"no token info", "tools/call", callRequest("list_widgets", nil), true},
		{"no params", "tools/call", &mcp.CallToolRequest{}, false},
		{"another method", "tools/list", &mcp.ListToolsRequest{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called = nil
			res, err := h(t.Context(), tt.method, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			tool, _ := res.(*mcp.CallToolResult)
			refused := tool != nil && tool.IsError
			if refused != tt.refused || refused == (len(called) == 1) {
				t.Errorf("refused %t, next called %q", refused, called)
			}
			if refused && !errors.Is(tool.GetError(), middleware.ErrInsufficientScope) && !errors.Is(tool.GetError(), middleware.ErrNoCredentials) {
				t.Errorf("error %v", tool.GetError())
			}
		})
	}
}
