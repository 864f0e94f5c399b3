package demo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

// mcpEnv is the demo with its MCP endpoint at /mcp, beside the rest of
// its routes, over real HTTP.
func mcpEnv(t *testing.T) (*testEnv, *httptest.Server) {
	t.Helper()
	e := newTestEnv(t, testConfig(t))
	mux := http.NewServeMux()
	mux.Handle("/mcp", e.srv.mcpHandler())
	mux.Handle("/", e.srv.routes())
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return e, ts
}

// mcpSession connects the SDK's client to ts's /mcp with token.
func mcpSession(t *testing.T, ts *httptest.Server, token string) (*mcp.ClientSession, error) {
	t.Helper()
	hc := oauth2.NewClient(t.Context(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
	hc.Timeout = 10 * time.Second
	client := mcp.NewClient(&mcp.Implementation{Name: "demo-test", Version: "v0"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp", HTTPClient: hc, MaxRetries: -1}, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}

// callTool calls tool and decodes its structured result into a T; a tool
// error comes back as its text.
func callTool[T any](t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) (T, string, error) {
	t.Helper()
	var out T
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return out, "", err
	}
	if res.IsError {
		var msg string
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				msg += tc.Text
			}
		}
		return out, msg, nil
	}
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: structured content %s: %v", tool, b, err)
	}
	return out, "", nil
}

// TestMCP: the widget tools through the SDK's client: the viewer reads
// and is refused writing with a step-up challenge; the demo user writes,
// and its widget shows in the REST API too.
func TestMCP(t *testing.T) {
	e, ts := mcpEnv(t)
	viewer := e.login(t, "viewer", testPassword).AccessToken
	demo := e.login(t, "demo", testPassword).AccessToken

	// Without a token: 401, the challenge pointing at the endpoint's
	// metadata, which is served.
	resp, b := sendRequest(t, ts.Client(), http.MethodPost, ts.URL+"/mcp", `{"jsonrpc":"2.0","id":1,"method":"ping"}`,
		http.Header{"Accept": {"application/json, text/event-stream"}})
	const meta = "http://demo.test/.well-known/oauth-protected-resource/mcp"
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `resource_metadata="`+meta+`"`) {
		t.Fatalf("no token: %s %q %s", resp.Status, resp.Header.Get("WWW-Authenticate"), b)
	}
	resp, b = sendRequest(t, ts.Client(), http.MethodGet, ts.URL+"/.well-known/oauth-protected-resource/mcp", "", nil)
	if doc := decodeInto[struct{ Resource string }](t, b); resp.StatusCode != http.StatusOK || doc.Resource != "http://demo.test/mcp" {
		t.Errorf("metadata: %s %s", resp.Status, b)
	}
	if _, err := mcpSession(t, ts, ""); err == nil {
		t.Error("an MCP session without a token")
	}

	// The viewer (widgets:read) lists the tools and the widgets.
	cs, err := mcpSession(t, ts, viewer)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if slices.Sort(names); !slices.Equal(names, []string{"create_widget", "list_widgets"}) {
		t.Errorf("tools %q", names)
	}
	list, msg, err := callTool[mcpListWidgetsOutput](t, cs, "list_widgets", nil)
	if err != nil || msg != "" || len(list.Widgets) != 2 || list.Widgets[0].Name != "sprocket" {
		t.Fatalf("list_widgets: %+v %q %v", list, msg, err)
	}

	// Writing: 403 with the step-up challenge, before the tool runs.
	call := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"create_widget","arguments":{"name":"nope"}}}`
	resp, b = sendRequest(t, ts.Client(), http.MethodPost, ts.URL+"/mcp", call, http.Header{
		"Authorization": {"Bearer " + viewer}, "Accept": {"application/json, text/event-stream"}})
	want := `Bearer error="insufficient_scope", scope="widgets:read widgets:write", resource_metadata="http://demo.test/.well-known/oauth-protected-resource/mcp", error_description="the access token lacks the required scope"`
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("WWW-Authenticate") != want {
		t.Errorf("create_widget as the viewer: %s %q %s", resp.Status, resp.Header.Get("WWW-Authenticate"), b)
	}
	if _, _, err := callTool[Widget](t, cs, "create_widget", map[string]any{"name": "nope"}); err == nil || !strings.Contains(err.Error(), "insufficient_scope") {
		t.Errorf("create_widget as the viewer, through the client: %v", err)
	}

	// The demo user (widgets:write) creates a widget, recorded as its.
	cs2, err := mcpSession(t, ts, demo)
	if err != nil {
		t.Fatal(err)
	}
	w, msg, err := callTool[Widget](t, cs2, "create_widget", map[string]any{"name": "from mcp"})
	if err != nil || msg != "" || w.Name != "from mcp" || w.CreatedBy == "" {
		t.Fatalf("create_widget: %+v %q %v", w, msg, err)
	}
	if _, msg, _ := callTool[Widget](t, cs2, "create_widget", map[string]any{"name": " "}); msg != "name must be 1 to 100 characters, not all blank" {
		t.Errorf("a blank name: %q", msg)
	}
	mine, _, err := callTool[mcpListWidgetsOutput](t, cs2, "list_widgets", map[string]any{"mine": true})
	if err != nil || len(mine.Widgets) != 1 || mine.Widgets[0] != w {
		t.Errorf("list_widgets mine: %+v %v", mine, err)
	}
	if theirs, _, _ := callTool[mcpListWidgetsOutput](t, cs, "list_widgets", map[string]any{"mine": true}); len(theirs.Widgets) != 0 {
		t.Errorf("the viewer's own widgets: %+v", theirs)
	}
	resp, b = sendRequest(t, ts.Client(), http.MethodGet, ts.URL+"/api/widgets/"+w.ID, "", http.Header{"Authorization": {"Bearer " + viewer}})
	if got := decodeInto[Widget](t, b); resp.StatusCode != http.StatusOK || got != w {
		t.Errorf("the widget through the REST API: %s %s", resp.Status, b)
	}

	// A revoked token (logged out) is refused at once.
	resp, b = e.do(t, http.MethodPost, "/auth/logout", "", http.Header{"Authorization": {"Bearer " + demo}})
	if resp.StatusCode/100 != 2 {
		t.Fatalf("logout: %s %s", resp.Status, b)
	}
	if _, _, err := callTool[Widget](t, cs2, "create_widget", map[string]any{"name": "after logout"}); err == nil {
		t.Error("create_widget after logout")
	}
}
