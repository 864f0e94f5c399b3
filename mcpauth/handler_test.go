package mcpauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/mcpauth"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
)

// TestHandler: the SDK's own client over real HTTP, against a stateless
// and a stateful server: no token, a read-only token, a token with both
// scopes.
func TestHandler(t *testing.T) {
	for _, stateful := range []bool{false, true} {
		t.Run(map[bool]string{false: "stateless", true: "stateful"}[stateful], func(t *testing.T) {
			e := newEnv(t, envConfig{stateful: stateful})

			// No token: the SDK's client cannot even initialize.
			if _, err := e.connect(t, "/mcp", &authTransport{}, nil); err == nil {
				t.Fatal("connected without a token")
			}

			// A read-only token lists the tools and calls the read tool,
			// and the tool sees the principal.
			read := e.mint(t, "alice", scopeRead, nil)
			cs := e.mustConnect(t, "/mcp", &authTransport{token: read})
			tools, err := cs.ListTools(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tool := range tools.Tools {
				names = append(names, tool.Name)
			}
			slices.Sort(names)
			if want := []string{"create_widget", "list_widgets", "whoami"}; !slices.Equal(names, want) {
				t.Errorf("tools %q, want %q", names, want)
			}
			if got, err := callText(t, cs, "list_widgets", nil); err != nil || got != "sprocket gear" {
				t.Errorf("list_widgets: %q, %v", got, err)
			}
			if got, err := callText(t, cs, "whoami", nil); err != nil || got != "sub=alice user=alice scopes=widgets:read method=jwt expires=true" {
				t.Errorf("whoami: %q, %v", got, err)
			}

			// The write tool: refused before the SDK sees the call (the
			// SDK's client reports the JSON-RPC error of the 403's body)
			// and the session goes on.
			_, err = callText(t, cs, "create_widget", map[string]any{"name": "w"})
			if err == nil || !strings.Contains(err.Error(), "insufficient_scope") {
				t.Errorf("create_widget with a read-only token: %v", err)
			}
			if got, err := callText(t, cs, "list_widgets", nil); err != nil || got != "sprocket gear" {
				t.Errorf("list_widgets after the refusal: %q, %v", got, err)
			}
			if rej := e.rejections(); len(rej) != 1 || !errors.Is(rej[0], middleware.ErrInsufficientScope) ||
				!strings.Contains(rej[0].Error(), `["create_widget"]`) {
				t.Errorf("OnRejected: %v", rej)
			}

			// A token with both scopes writes.
			both := e.mint(t, "alice", scopeRead+" "+scopeWrite, nil)
			cs2 := e.mustConnect(t, "/mcp", &authTransport{token: both})
			if got, err := callText(t, cs2, "create_widget", map[string]any{"name": "w"}); err != nil || got != "created w for alice" {
				t.Errorf("create_widget with widgets:write: %q, %v", got, err)
			}

			if !stateful {
				return
			}
			// A stateful session is bound to its user (the token info's
			// UserID): another user's token cannot use it, the same user's
			// new token can.
			id := cs.ID()
			if id == "" {
				t.Fatal("no session ID")
			}
			ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
			session := http.Header{"Mcp-Session-Id": {id}, "Mcp-Protocol-Version": {"2025-06-18"}}
			if r := e.post(t, "/mcp", "Bearer "+e.mint(t, "mallory", scopeRead, nil), ping, session); r.status != http.StatusForbidden {
				t.Errorf("another user in alice's session: %d %s", r.status, r.body)
			}
			if r := e.post(t, "/mcp", "Bearer "+both, ping, session); r.status != http.StatusOK {
				t.Errorf("alice's other token in her session: %d %s", r.status, r.body)
			}
		})
	}
}

// TestRefusedTokens: what Protect refuses, the MCP endpoint refuses, with
// the same challenges: 401 with resource_metadata, 503 when the
// revocation store is down (never 500, never 200).
func TestRefusedTokens(t *testing.T) {
	e := newEnv(t, envConfig{})
	revoked := e.mint(t, "alice", scopeRead, func(c *token.Claims) { c.ID = "revoked-1" })
	e.rev.revoke("revoked-1")
	expired := e.mint(t, "alice", scopeRead, func(c *token.Claims) {
		c.IssuedAt, c.ExpiresAt = e.clock.Now().Add(-2*time.Hour), e.clock.Now().Add(-time.Hour)
	})
	otherResource := e.mint(t, "alice", scopeRead, func(c *token.Claims) { c.Audience = token.Audience{apiRes.URL} })
	forMCP := e.mint(t, "alice", scopeRead, func(c *token.Claims) { c.Audience = token.Audience{mcpRes.URL} })
	call := toolCall(1, "list_widgets")

	tests := []struct {
		name   string
		authz  string
		down   bool
		status int
		code   string // error="…" of the challenge; "" for none
	}{
		// Credentials refused.
		{"no token", "", false, 401, ""},
		{"garbage", "Bearer garbage", false, 401, "invalid_token"},
		{"revoked", "Bearer " + revoked, false, 401, "invalid_token"},
		{"expired", "Bearer " + expired, false, 401, "invalid_token"},
		{"a token for another resource", "Bearer " + otherResource, false, 401, "invalid_token"},
		{"a token outside b64token", `Bearer a"b`, false, 400, "invalid_request"},
		// The revocation store down.
		{"store outage", "Bearer " + revoked, true, 503, ""},
		// Accepted.
		{"a token for the MCP resource", "Bearer " + forMCP, false, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.rev.down.Store(tt.down)
			defer e.rev.down.Store(false)
			r := e.post(t, "/mcp", tt.authz, call, nil)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			switch {
			case tt.status == 503:
				if len(r.challenges) != 0 || r.header.Get("Retry-After") == "" {
					t.Errorf("503 with challenges %q, Retry-After %q", r.challenges, r.header.Get("Retry-After"))
				}
			case tt.status == 401:
				if len(r.challenges) != 1 || challengeParam(r.challenges[0], "resource_metadata") != metadataURL ||
					challengeParam(r.challenges[0], "error") != tt.code {
					t.Errorf("challenges %q", r.challenges)
				}
			case tt.status == 400:
				if len(r.challenges) != 1 || challengeParam(r.challenges[0], "error") != tt.code {
					t.Errorf("challenges %q", r.challenges)
				}
			}
		})
	}
	// Through the SDK's client: an outage is an error, not a session.
	e.rev.down.Store(true)
	if _, err := e.connect(t, "/mcp", &authTransport{token: forMCP}, nil); err == nil {
		t.Error("connected during an outage")
	}
	e.rev.down.Store(false)
	// The document the challenges announce is served.
	resp, err := http.Get(e.srv.URL + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc middleware.ProtectedResourceMetadata
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 || doc.Resource != mcpRes.URL {
		t.Errorf("metadata: %d %+v %v", resp.StatusCode, doc, err)
	}
}

// TestScopeChallenge: a call of a tool without its scopes gets the 403
// of the MCP authorization spec, whatever shape the body takes; a call
// with them, or of another tool, goes to the SDK.
func TestScopeChallenge(t *testing.T) {
	e := newEnv(t, envConfig{})
	read := "Bearer " + e.mint(t, "alice", scopeRead, nil)
	none := "Bearer " + e.mint(t, "alice", "", nil)
	odd := "Bearer " + e.mint(t, "alice", scopeRead+` profile a"b`, nil)
	oldProtocol := http.Header{"Mcp-Protocol-Version": {"2025-03-26"}} // batches allowed

	tests := []struct {
		name   string
		authz  string
		body   string
		header http.Header
		scope  string // the challenge's scope; "" when the call goes through
		id     string // the id of the 403's JSON-RPC body
	}{
		// Refused: the tool needs a scope the token lacks.
		{"write tool, read token", read, toolCall(7, "create_widget"), nil, "widgets:read widgets:write", "7"},
		{"read tool, no scope", none, toolCall(8, "list_widgets"), nil, "widgets:read", "8"},
		{"string id", read, `{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"create_widget"}}`, nil, "widgets:read widgets:write", `"a-1"`},
		{"the token's odd scopes left out", odd, toolCall(9, "create_widget"), nil, "widgets:read profile widgets:write", "9"},
		// Refused, however the body plays on the parsers.
		{"batch", read, "[" + toolCall(1, "list_widgets") + "," + toolCall(2, "create_widget") + "]", oldProtocol, "widgets:read widgets:write", "null"},
		{"trailing bytes", read, toolCall(3, "create_widget") + ` garbage`, nil, "widgets:read widgets:write", "3"},
		{"second value", read, toolCall(3, "create_widget") + toolCall(4, "list_widgets"), nil, "widgets:read widgets:write", "3"},
		{"name twice", read, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"list_widgets","name":"create_widget"}}`, nil, "widgets:read widgets:write", "5"},
		{"name twice, reversed", read, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"create_widget","name":"list_widgets"}}`, nil, "widgets:read widgets:write", "5"},
		{"NAME", read, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"create_widget","NAME":"list_widgets"}}`, nil, "widgets:read widgets:write", "5"},
		{"escaped name", read, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"create\u005fwidget"}}`, nil, "widgets:read widgets:write", "5"},
		{"escaped method", read, `{"jsonrpc":"2.0","id":5,"method":"tools\/call","params":{"name":"create_widget"}}`, nil, "widgets:read widgets:write", "5"},
		{"params twice", read, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"create_widget"},"params":{"name":"list_widgets"}}`, nil, "widgets:read widgets:write", "5"},
		{"Method", read, `{"jsonrpc":"2.0","id":5,"Method":"tools/call","method":"tools/call","params":{"name":"create_widget"}}`, nil, "widgets:read widgets:write", "5"},
		{"no jsonrpc member (the SDK would refuse it)", read, `{"id":5,"method":"tools/call","params":{"name":"create_widget"}}`, nil, "widgets:read widgets:write", "5"},
		{"object id", read, `{"jsonrpc":"2.0","id":{"x":1},"method":"tools/call","params":{"name":"create_widget"}}`, nil, "widgets:read widgets:write", "null"},
		// Through: the token holds the scope, or the tool needs none.
		{"read tool, read token", read, toolCall(1, "list_widgets"), nil, "", ""},
		{"a tool needing no scope", none, toolCall(1, "whoami"), nil, "", ""},
		{"an unknown tool", none, toolCall(1, "nope"), nil, "", ""},
		{"another method", none, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil, "", ""},
		{"a notification", none, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil, "", ""},
		{"a tool name as another method's param", none, `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"create_widget"}}`, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(t, "/mcp", tt.authz, tt.body, tt.header)
			if tt.scope == "" {
				if r.status == http.StatusForbidden || r.status >= 500 || len(r.challenges) != 0 {
					t.Errorf("refused: %d %q %s", r.status, r.challenges, r.body)
				}
				return
			}
			want := `Bearer error="insufficient_scope", scope="` + tt.scope + `", resource_metadata="` + metadataURL +
				`", error_description="the access token lacks the required scope"`
			if r.status != http.StatusForbidden || len(r.challenges) != 1 || r.challenges[0] != want {
				t.Fatalf("got %d %q, want 403 %q", r.status, r.challenges, want)
			}
			var body struct {
				Version string          `json:"jsonrpc"`
				ID      json.RawMessage `json:"id"`
				Error   struct {
					Code int `json:"code"`
					Data struct {
						Error, Scope string
					} `json:"data"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Version != "2.0" || string(body.ID) != tt.id ||
				body.Error.Code != mcpauth.CodeInsufficientScope || body.Error.Data.Error != "insufficient_scope" || body.Error.Data.Scope != tt.scope {
				t.Errorf("body %s (%v)", r.body, err)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q", ct, r.header.Get("Cache-Control"))
			}
		})
	}
}

// TestBodies: malformed bodies reach the SDK, which answers them (never a
// panic, a 500 or a 403); a body over MaxBodyBytes is refused with 413,
// one of exactly MaxBodyBytes is read.
func TestBodies(t *testing.T) {
	e := newEnv(t, envConfig{})
	read := "Bearer " + e.mint(t, "alice", scopeRead, nil)
	for _, body := range malformed {
		t.Run(fmt.Sprintf("%.20q", body), func(t *testing.T) {
			r := e.post(t, "/mcp", read, body, nil)
			if r.status == http.StatusForbidden || r.status >= 500 || r.status == http.StatusRequestEntityTooLarge {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
	pad := func(n int) string {
		call := toolCall(1, "create_widget")
		return call + strings.Repeat(" ", n-len(call))
	}
	if r := e.post(t, "/mcp", read, pad(maxBody), nil); r.status != http.StatusForbidden {
		t.Errorf("a call of MaxBodyBytes: %d %s", r.status, r.body)
	}
	before := len(e.rejections())
	if r := e.post(t, "/mcp", read, pad(maxBody+1), nil); r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, `"code":-32600`) {
		t.Errorf("a body over MaxBodyBytes: %d %s", r.status, r.body)
	}
	if rej := e.rejections(); len(rej) != before+1 || !errors.Is(rej[before], mcpauth.ErrBodyTooLarge) {
		t.Errorf("OnRejected: %v", rej[before:])
	}
	// The body is read only once the request is authenticated.
	if r := e.post(t, "/mcp", "", pad(maxBody+1), nil); r.status != http.StatusUnauthorized {
		t.Errorf("a large body without a token: %d", r.status)
	}
}

// malformed are bodies the SDK refuses, seeds of FuzzPeek too.
var malformed = []string{
	"", " ", "{", "}", "[", "]", "[]", "[1]", "null", "1", `"x"`, "{}", `{"jsonrpc":"2.0"}`,
	`{"method":1}`, `{"method":"tools/call"}`, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":null}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[]}`, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":1}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_widget"`,
	"\xef\xbb\xbf" + toolCall(1, "create_widget"), `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_widget\xff"}}`,
	strings.Repeat("[", 1200) + strings.Repeat("]", 1200), strings.Repeat(`{"a":`, 600) + "1" + strings.Repeat("}", 600),
	`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_widget"}},]`,
}

// TestStepUp: the SDK's client, given an OAuth handler, answers the 403
// by asking for the scopes of the challenge and retries the call: step-up
// authorization as the MCP spec describes it.
func TestStepUp(t *testing.T) {
	e := newEnv(t, envConfig{})
	h := &stepUp{e: e, t: t, token: e.mint(t, "alice", scopeRead, nil)}
	cs, err := e.connect(t, "/mcp", http.DefaultTransport, h)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := callText(t, cs, "list_widgets", nil); err != nil || got != "sprocket gear" {
		t.Fatalf("list_widgets: %q, %v", got, err)
	}
	if got, err := callText(t, cs, "create_widget", map[string]any{"name": "w"}); err != nil || got != "created w for alice" {
		t.Fatalf("create_widget after step-up: %q, %v", got, err)
	}
	if want := []string{"widgets:read widgets:write"}; !slices.Equal(h.asked, want) {
		t.Errorf("asked for %q, want %q", h.asked, want)
	}
}

// stepUp is an OAuth handler that "authorizes" a 403 insufficient_scope
// by minting a token with the challenge's scope, as an authorization
// server would after the user's consent.
type stepUp struct {
	e     *env
	t     testing.TB
	mu    sync.Mutex
	token string
	asked []string
}

func (s *stepUp) TokenSource(context.Context) (oauth2.TokenSource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: s.token}), nil
}

func (s *stepUp) Authorize(_ context.Context, _ *http.Request, resp *http.Response) error {
	defer resp.Body.Close()
	c := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusForbidden || challengeParam(c, "error") != "insufficient_scope" ||
		challengeParam(c, "resource_metadata") != metadataURL {
		return fmt.Errorf("not a step-up: %d %s", resp.StatusCode, c)
	}
	scope := challengeParam(c, "scope")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, scope)
	s.token = s.e.mint(s.t, "alice", scope, nil)
	return nil
}

// TestDPoP: a DPoP-bound token, with a proof on every request the SDK's
// client sends, works at the MCP endpoint as it does at the rest of the
// API; the 403 goes on the DPoP challenge; the token sent as a bearer
// token is refused.
func TestDPoP(t *testing.T) {
	e := newEnv(t, envConfig{dpop: true})
	key := dpoptest.NewClient(t)
	bound := e.mint(t, "alice", scopeRead, func(c *token.Claims) { c.JKT = key.JKT() })
	cs := e.mustConnect(t, "/mcp", &authTransport{token: bound, dpop: key, now: e.clock.Now})
	if got, err := callText(t, cs, "whoami", nil); err != nil || got != "sub=alice user=alice scopes=widgets:read method=jwt expires=true" {
		t.Errorf("whoami: %q, %v", got, err)
	}
	if _, err := callText(t, cs, "create_widget", map[string]any{"name": "w"}); err == nil {
		t.Error("create_widget with a read-only bound token")
	}

	proof := key.Proof(http.MethodPost, mcpRes.URL, bound, e.clock.Now(), nil)
	r := e.post(t, "/mcp", "DPoP "+bound, toolCall(1, "create_widget"), http.Header{"Dpop": {proof}})
	want := []string{`Bearer resource_metadata="` + metadataURL + `"`,
		`DPoP algs="ES256 EdDSA Ed25519", error="insufficient_scope", scope="widgets:read widgets:write", resource_metadata="` +
			metadataURL + `", error_description="the access token lacks the required scope"`}
	if r.status != http.StatusForbidden || !slices.Equal(r.challenges, want) {
		t.Errorf("403 under DPoP: %d %q", r.status, r.challenges)
	}
	// A bearer token where DPoP is accepted: the error on the Bearer
	// challenge, DPoP offered beside it.
	plain := e.mint(t, "bob", scopeRead, nil)
	r = e.post(t, "/mcp", "Bearer "+plain, toolCall(1, "create_widget"), nil)
	if r.status != http.StatusForbidden || len(r.challenges) != 2 || challengeParam(r.challenges[0], "error") != "insufficient_scope" ||
		r.challenges[1] != `DPoP algs="ES256 EdDSA Ed25519"` {
		t.Errorf("403 to a bearer token: %d %q", r.status, r.challenges)
	}
	// No Bearer bypass, and no replayed proof.
	if r := e.post(t, "/mcp", "Bearer "+bound, toolCall(1, "list_widgets"), nil); r.status != http.StatusUnauthorized {
		t.Errorf("a bound token as a bearer token: %d", r.status)
	}
	if r := e.post(t, "/mcp", "DPoP "+bound, toolCall(1, "list_widgets"), http.Header{"Dpop": {proof}}); r.status != http.StatusUnauthorized {
		t.Errorf("a replayed proof: %d", r.status)
	}
}

// TestHandlerPanics: wiring mistakes panic when the handler is built.
func TestHandlerPanics(t *testing.T) {
	e := newEnv(t, envConfig{})
	ok := http.NotFoundHandler()
	scopes := func(tool string, scopes ...string) mcpauth.Config {
		return mcpauth.Config{ToolScopes: map[string][]string{tool: scopes}}
	}
	tests := []struct {
		name string
		res  middleware.Resource
		next http.Handler
		cfg  mcpauth.Config
	}{
		{"nil handler", mcpRes, nil, mcpauth.Config{}},
		{"unknown resource", middleware.Resource{URL: "https://other.test/mcp"}, ok, mcpauth.Config{}},
		{"empty tool name", mcpRes, ok, scopes("", "a")},
		{"empty scope", mcpRes, ok, scopes("t", "")},
		{"scope with a space", mcpRes, ok, scopes("t", "a b")},
		{"scope with a quote", mcpRes, ok, scopes("t", `a"`)},
		{"scope with a backslash", mcpRes, ok, scopes("t", `a\b`)},
		{"non-ASCII scope", mcpRes, ok, scopes("t", "é")},
		{"negative MaxBodyBytes", mcpRes, ok, mcpauth.Config{MaxBodyBytes: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			mcpauth.Handler(e.auth, tt.res, tt.next, tt.cfg)
		})
	}
	t.Run("RequireToolScopes", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		mcpauth.RequireToolScopes(map[string][]string{"t": {`a\b`}})
	})
	// A tool listed without scopes, and the zero Config, are fine.
	mcpauth.Handler(e.auth, mcpRes, ok, scopes("t"))
	mcpauth.Handler(e.auth, mcpRes, ok, mcpauth.Config{})
}

// TestNoToolScopes: without ToolScopes the body is not read (a body over
// the bound reaches the SDK, whose own bound answers it).
func TestNoToolScopes(t *testing.T) {
	e := newEnv(t, envConfig{})
	var got int
	h := mcpauth.Handler(e.auth, mcpRes, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := r.Body.Read(make([]byte, 1))
		got = n
		w.WriteHeader(http.StatusNoContent)
	}), mcpauth.Config{MaxBodyBytes: 1})
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader("long body"))
	req.Header.Set("Authorization", "Bearer "+e.mint(t, "alice", "", nil))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusNoContent || got != 1 {
		t.Errorf("%d, read %d", w.Code, got)
	}
}

// TestTokenInfoWithoutExpiry: a principal without an expiry (an API
// token's) reaches the tools; the SDK's RequireBearerToken, which
// withTokenInfo runs, does not refuse it.
func TestTokenInfoWithoutExpiry(t *testing.T) {
	e := newEnv(t, envConfig{})
	apiTokens := middleware.VerifierFunc(func(context.Context, string) (*identity.Principal, error) {
		return &identity.Principal{Subject: "ci-bot", Method: identity.APIToken, Scopes: []string{scopeRead}, TokenID: "t1"}, nil
	})
	a, err := middleware.New(middleware.Config{Prefixes: map[string]middleware.Verifier{"sl_": apiTokens},
		Resources: []middleware.Resource{mcpRes}})
	if err != nil {
		t.Fatal(err)
	}
	server := newMCPServer()
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Stateless: true})
	srv := httptest.NewServer(mcpauth.Handler(a, mcpRes, sdk, mcpauth.Config{ToolScopes: toolScopes}))
	defer srv.Close()
	e.srv = srv
	cs := e.mustConnect(t, "", &authTransport{token: "sl_abc"})
	if got, err := callText(t, cs, "whoami", nil); err != nil || got != "sub=ci-bot user=ci-bot scopes=widgets:read method=apitoken expires=false" {
		t.Errorf("whoami: %q, %v", got, err)
	}
}
