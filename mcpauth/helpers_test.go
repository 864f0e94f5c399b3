package mcpauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/mcpauth"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

const (
	scopeRead  = "widgets:read"
	scopeWrite = "widgets:write"
	// external is the public URL of the test server (middleware
	// Config.ExternalURL): what DPoP proofs and resources name.
	external = "https://mcp.test"
	// metadataURL is the document of the MCP resource.
	metadataURL = "https://mcp.test/.well-known/oauth-protected-resource/mcp"
	// maxBody is the test's Config.MaxBodyBytes.
	maxBody = 4096
)

// mcpRes is the MCP endpoint's resource; apiRes another resource of the
// server, whose tokens the MCP endpoint refuses.
var (
	mcpRes = middleware.Resource{URL: external + "/mcp", AuthorizationServers: []string{tokentest.Issuer}, Scopes: []string{scopeRead, scopeWrite}}
	apiRes = middleware.Resource{URL: external + "/api", AuthorizationServers: []string{tokentest.Issuer}, Scopes: []string{scopeRead, scopeWrite}}
)

// toolScopes are the scopes of the test server's tools; whoami needs
// none.
var toolScopes = map[string][]string{"list_widgets": {scopeRead}, "create_widget": {scopeWrite}}

// revoker revokes listed token IDs, or fails when down.
type revoker struct {
	mu   sync.Mutex
	ids  map[string]bool
	down atomic.Bool
}

func (r *revoker) Revoked(_ context.Context, p *identity.Principal) (bool, error) {
	if r.down.Load() {
		return false, fmt.Errorf("%w: store down", middleware.ErrUnavailable)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ids[p.TokenID], nil
}

func (r *revoker) revoke(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids[id] = true
}

// env is an MCP server behind mcpauth.Handler at /mcp, and behind the
// SDK's RequireBearerToken with mcpauth.TokenVerifier at /sdk/mcp, over
// real HTTP.
type env struct {
	clock    *testenv.Clock
	issuer   *token.Issuer
	auth     *middleware.Authenticator
	rev      *revoker
	srv      *httptest.Server
	mu       sync.Mutex
	rejected []error // what Config.OnRejected was told
}

// envConfig says how to build an env.
type envConfig struct {
	stateful bool // a stateful StreamableHTTPHandler; stateless by default
	dpop     bool // DPoP accepted
}

func newEnv(t testing.TB, ec envConfig) *env {
	t.Helper()
	e := &env{clock: testenv.NewClock(time.Now().Truncate(time.Second)), rev: &revoker{ids: map[string]bool{}}}
	keys := tokentest.KeySet(tokentest.MustSigner(token.EdDSA))
	var err error
	e.issuer, err = token.NewIssuer(keys, token.IssuerConfig{Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: tokentest.Issuer, Audience: tokentest.Audience,
		Audiences: []string{mcpRes.URL, apiRes.URL}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := middleware.Config{
		JWT:         map[string]middleware.Verifier{tokentest.Issuer: verifier},
		Revocation:  e.rev,
		Resources:   []middleware.Resource{mcpRes, apiRes},
		Audiences:   []string{tokentest.Audience},
		ExternalURL: external,
		Realm:       "test",
		Now:         e.clock.Now,
	}
	if ec.dpop {
		if cfg.DPoP, err = dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(e.clock.Now), Now: e.clock.Now}); err != nil {
			t.Fatal(err)
		}
	}
	if e.auth, err = middleware.New(cfg); err != nil {
		t.Fatal(err)
	}
	server := newMCPServer()
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: !ec.stateful})
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpauth.Handler(e.auth, mcpRes, sdk, mcpauth.Config{
		ToolScopes:   toolScopes,
		MaxBodyBytes: maxBody,
		OnRejected: func(_ *http.Request, err error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.rejected = append(e.rejected, err)
		},
	}))
	mux.Handle("/sdk/mcp", auth.RequireBearerToken(mcpauth.TokenVerifier(e.auth, mcpRes), &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: mcpRes.MetadataURL(), AllowMissingExpiration: true,
	})(sdk))
	e.auth.MountMetadata(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// newMCPServer returns the test's MCP server: whoami tells what the tool
// saw of the caller; list_widgets and create_widget need the scopes of
// toolScopes, which RequireToolScopes checks too.
func newMCPServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "widgets", Version: "v0.0.1"}, nil)
	s.AddReceivingMiddleware(mcpauth.RequireToolScopes(toolScopes))
	type none struct{}
	mcp.AddTool(s, &mcp.Tool{Name: "whoami", Description: "who the caller is"},
		func(_ context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
			p, ok := mcpauth.PrincipalFrom(req)
			info := req.Extra.TokenInfo
			if !ok || info == nil {
				return nil, nil, errors.New("no principal")
			}
			text := fmt.Sprintf("sub=%s user=%s scopes=%s method=%s expires=%t", p.Subject, info.UserID,
				strings.Join(info.Scopes, ","), p.Method, info.Expiration.Equal(p.ExpiresAt) && !info.Expiration.IsZero())
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "list_widgets", Description: "lists widgets"},
		func(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "sprocket gear"}}}, nil, nil
		})
	type create struct {
		Name string `json:"name"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "create_widget", Description: "creates a widget"},
		func(_ context.Context, req *mcp.CallToolRequest, in create) (*mcp.CallToolResult, any, error) {
			p, _ := mcpauth.PrincipalFrom(req)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "created " + in.Name + " for " + p.Subject}}}, nil, nil
		})
	return s
}

// mint issues a token for sub with scope; edit, when not nil, changes the
// claims first.
func (e *env) mint(t testing.TB, sub, scope string, edit func(*token.Claims)) string {
	t.Helper()
	c := token.Claims{Subject: sub, Scope: scope}
	if edit != nil {
		edit(&c)
	}
	raw, _, err := e.issuer.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (e *env) rejections() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.rejected...)
}

// authTransport adds a credential to every request: a bearer token, or a
// DPoP-bound token with a fresh proof for the request's public URL.
type authTransport struct {
	token string
	dpop  *dpoptest.Client // nil: a bearer token
	now   func() time.Time
}

func (a *authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	switch {
	case a.token == "":
	case a.dpop != nil:
		r.Header.Set("Authorization", "DPoP "+a.token)
		r.Header.Set("DPoP", a.dpop.Proof(r.Method, external+r.URL.Path, a.token, a.now(), nil))
	default:
		r.Header.Set("Authorization", "Bearer "+a.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// connect opens an MCP client session at path with rt's credential.
func (e *env) connect(t testing.TB, path string, rt http.RoundTripper, oauth auth.OAuthHandler) (*mcp.ClientSession, error) {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "v0.0.1"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{
		Endpoint:     e.srv.URL + path,
		HTTPClient:   &http.Client{Transport: rt, Timeout: 10 * time.Second},
		OAuthHandler: oauth,
		MaxRetries:   -1,
	}, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}

// mustConnect is connect that fails the test on error.
func (e *env) mustConnect(t testing.TB, path string, rt http.RoundTripper) *mcp.ClientSession {
	t.Helper()
	cs, err := e.connect(t, path, rt, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return cs
}

// callText calls a tool and returns the text of its result, or the
// error; a tool error comes back as "tool error: " and its text.
func callText(t testing.TB, cs *mcp.ClientSession, tool string, args map[string]any) (string, error) {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	if res.IsError {
		return "tool error: " + b.String(), nil
	}
	return b.String(), nil
}

// reply is an HTTP answer, its body read.
type reply struct {
	status     int
	challenges []string
	header     http.Header
	body       string
}

// post sends body to path as an MCP client would, with authz (an
// Authorization value, or nothing) and extra headers.
func (e *env) post(t testing.TB, path, authz, body string, extra http.Header) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for k, vs := range extra {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err) // a panic in the handler ends here
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, challenges: resp.Header.Values("WWW-Authenticate"), header: resp.Header, body: string(b)}
}

// challengeParam returns the value of the parameter name of a challenge.
func challengeParam(challenge, name string) string {
	m := regexp.MustCompile(`(?:^|[ ,])` + name + `="([^"]*)"`).FindStringSubmatch(challenge)
	if m == nil {
		return ""
	}
	return m[1]
}

// toolCall is the JSON-RPC body of a call of tool, with id.
func toolCall(id int, tool string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{"name":"w"}}}`, id, tool)
}
