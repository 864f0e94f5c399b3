package mcpauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/middleware"
)

// DefaultMaxBodyBytes is Config.MaxBodyBytes when it is zero: the SDK's
// own default bound (mcp.DefaultMaxRequestBodyBytes, 4 MiB).
const DefaultMaxBodyBytes = mcp.DefaultMaxRequestBodyBytes

// CodeInsufficientScope is the JSON-RPC error code of the body of
// [Handler]'s 403 (an implementation-defined server error: MCP defines
// none for it). The challenge in WWW-Authenticate is what a client acts on;
// the body lets the SDK's client report the refusal as the error of the
// one call, and keep its session, instead of failing the connection.
const CodeInsufficientScope = -32003

// ErrBodyTooLarge: a POST body longer than Config.MaxBodyBytes, refused
// with 413 before the SDK reads it.
var ErrBodyTooLarge = errors.New("mcpauth: request body too large")

// Config configures [Handler]. The zero value protects the endpoint and
// checks no tool's scope.
type Config struct {
	// ToolScopes maps a tool's name to the scopes a call of it needs,
	// every one of them (RFC 6749 scope-tokens). A call of a tool not
	// listed needs no scope beyond what the endpoint needs. Give the same
	// map to [RequireToolScopes].
	ToolScopes map[string][]string
	// MaxBodyBytes bounds the body of a POST, which is read whole to find
	// the tools it calls before the SDK reads it: a longer body is
	// refused with 413 ([ErrBodyTooLarge]). Zero means
	// [DefaultMaxBodyBytes]. The body is read only when ToolScopes is not
	// empty, and only once the request has authenticated.
	MaxBodyBytes int64
	// OnRejected, when set, runs when Handler refuses a request itself:
	// a call of a tool without its scopes (the error wraps
	// [middleware.ErrInsufficientScope]) or a body too large
	// ([ErrBodyTooLarge]). The authenticator's refusals go to its own
	// hooks. It runs on the request's goroutine and must not block.
	OnRejected func(r *http.Request, err error)
}

// Handler protects mcpHandler, the MCP endpoint (an
// mcp.StreamableHTTPHandler), with the authenticator, as the resource
// res (one of the authenticator's Config.Resources: anything else panics,
// as [middleware.Authenticator.Protect] does). Every request goes through
// Protect(res), exactly as the rest of the API does: bearer and
// DPoP-bound tokens (RFC 9449), the token cache, revocation; 401 with a
// resource_metadata challenge (RFC 9728 §5.1) without a good token, 503
// when a backing store cannot answer.
//
// A POST whose JSON-RPC message (or a message of its batch) calls a tool
// of cfg.ToolScopes (method "tools/call", params.name) without every
// scope that tool needs is then refused with 403, before the SDK sees it,
// and the challenge the MCP authorization specification (2025-11-25,
// "Scope Challenge Handling") asks for, from which its clients
// re-authorize (step-up):
//
//	WWW-Authenticate: Bearer error="insufficient_scope", scope="<the token's scopes and the missing ones>",
//	  resource_metadata="<res's document>", error_description="…"
//
// (on the DPoP challenge when the request used that scheme). The body is
// a JSON-RPC error response ([CodeInsufficientScope]). Any other body
// goes to the SDK as it came, malformed or not: the SDK answers it. The resource_metadata of the 403 is res's document
// ([middleware.Resource.MetadataURL]); the authenticator's 401s announce
// the document of the request's URL when Config.ExternalURL is set. Give
// the MCP endpoint a resource of its own (its URL the endpoint's,
// "https://api.example/mcp"), and both name the same document.
//
// The principal reaches the SDK as its auth.TokenInfo (Scopes,
// Expiration, UserID the subject, and the principal under
// [PrincipalKey]): tool handlers read it as req.Extra.TokenInfo, or
// through [PrincipalFrom] and [RequireScopes].
//
// Serve res's metadata document with the authenticator's
// MountMetadata (or Documents): it serves the documents of every URL
// under a resource, the endpoint's included.
//
// Handler panics on a wiring mistake: a nil mcpHandler, res not one of the
// authenticator's resources, an empty tool name or a scope that is not a
// scope-token in cfg.ToolScopes, a negative cfg.MaxBodyBytes.
func Handler(a *middleware.Authenticator, res middleware.Resource, mcpHandler http.Handler, cfg Config) http.Handler {
	if mcpHandler == nil {
		panic("mcpauth: Handler: nil MCP handler")
	}
	protect := a.Protect(res)
	tools, err := checkToolScopes(cfg.ToolScopes)
	if err != nil {
		panic(err)
	}
	if cfg.MaxBodyBytes < 0 {
		panic("mcpauth: Handler: negative MaxBodyBytes")
	}
	h := &handler{next: mcpHandler, tools: tools, max: cfg.MaxBodyBytes, meta: res.MetadataURL(), onRejected: cfg.OnRejected}
	if h.max == 0 {
		h.max = DefaultMaxBodyBytes
	}
	h.dpopAlgs = strings.Join(a.Metadata(res).DPoPSigningAlgValuesSupported, " ")
	return protect(h)
}

type handler struct {
	next       http.Handler
	tools      map[string][]string // tools needing scopes, each's distinct
	max        int64
	meta       string // res's metadata URL
	dpopAlgs   string // "" without DPoP
	onRejected func(*http.Request, error)
}

// ServeHTTP serves an authenticated request: Protect is in front.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := identity.FromContext(r.Context())
	if !ok {
		// Unreachable: Protect lets no request through without one.
		http.Error(w, "mcpauth: no principal", http.StatusInternalServerError)
		return
	}
	if r.Method == http.MethodPost && len(h.tools) > 0 && !h.checkCalls(w, r, p) {
		return
	}
	r, ok = withTokenInfo(r, p)
	if !ok {
		// Unreachable: the SDK's check of a token info that has no
		// expiry and needs no scope passes.
		http.Error(w, "mcpauth: token info refused", http.StatusInternalServerError)
		return
	}
	h.next.ServeHTTP(w, r)
}

// checkCalls reads the body of r and puts it back for the SDK; it
// refuses r (and returns false) when the body is too large, or calls a
// tool whose scopes p lacks.
func (h *handler) checkCalls(w http.ResponseWriter, r *http.Request, p *identity.Principal) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, h.max+1))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge) || int64(len(body)) > h.max:
		h.reject(r, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, h.max))
		writeRPCError(w, http.StatusRequestEntityTooLarge, nil, jsonrpc.CodeInvalidRequest, "request body too large", nil)
		return false
	case err != nil:
		writeRPCError(w, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, "the request body could not be read", nil)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var missing, tools []string
	var n int
	var id json.RawMessage // of the only message
	peek(body, func(m *message) {
		n++
		id = m.id
		if !m.call {
			return
		}
		for _, name := range m.names {
			for _, s := range h.tools[name] {
				if p.HasScope(s) {
					continue
				}
				if !slices.Contains(missing, s) {
					missing = append(missing, s)
				}
				if !slices.Contains(tools, name) {
					tools = append(tools, name)
				}
			}
		}
	})
	if len(missing) == 0 {
		return true
	}
	h.reject(r, fmt.Errorf("mcpauth: subject %q calls %q without the scope %s: %w",
		p.Subject, tools, strings.Join(missing, " "), middleware.ErrInsufficientScope))
	if n != 1 {
		id = nil // a batch
	}
	h.insufficientScope(w, r, p, missing, id)
	return false
}

func (h *handler) reject(r *http.Request, err error) {
	if h.onRejected != nil {
		h.onRejected(r, err)
	}
}

// insufficientDescription is the error_description of the 403, the
// middleware's words.
const insufficientDescription = "the access token lacks the required scope"

// insufficientScope writes the 403: the challenge, on the scheme the
// request used, with the scopes the client should ask for (those the
// token holds and the missing ones: MCP 2025-11-25, "Scope Challenge
// Handling") and res's metadata; the body a JSON-RPC error for the
// message id.
func (h *handler) insufficientScope(w http.ResponseWriter, r *http.Request, p *identity.Principal, missing []string, id json.RawMessage) {
	var scopes []string
	for _, s := range p.Scopes {
		// The token's scopes go into a quoted string: only scope-tokens
		// (an issuer's odd scope is left out, not written).
		if scopeToken(s) && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	for _, s := range missing {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	scope := strings.Join(scopes, " ")
	var meta string
	if h.meta != "" {
		meta = `resource_metadata="` + h.meta + `"`
	}
	params := `error="insufficient_scope", scope="` + scope + `"`
	if meta != "" {
		params += ", " + meta
	}
	params += `, error_description="` + insufficientDescription + `"`
	bearer := "Bearer " + params
	if h.dpopAlgs != "" && usedDPoP(r) {
		bearer = strings.TrimSpace("Bearer " + meta)
	}
	hdr := w.Header()
	hdr.Set("WWW-Authenticate", bearer)
	if h.dpopAlgs != "" {
		dp := `DPoP algs="` + h.dpopAlgs + `"`
		if usedDPoP(r) {
			dp += ", " + params
		}
		hdr.Add("WWW-Authenticate", dp)
	}
	writeRPCError(w, http.StatusForbidden, id, CodeInsufficientScope, "insufficient_scope: "+insufficientDescription,
		map[string]string{"error": "insufficient_scope", "scope": scope, "resource_metadata": h.meta})
}

// usedDPoP reports whether r came under the DPoP scheme, as the
// middleware tells it.
func usedDPoP(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	return len(a) > 5 && strings.EqualFold(a[:5], "DPoP ")
}

// rpcError is a JSON-RPC 2.0 error response.
type rpcError struct {
	Version string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   rpcErrorObject  `json:"error"`
}

type rpcErrorObject struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// writeRPCError writes a JSON-RPC error response with status, for the
// request id (null unless it is a string or a number, as JSON-RPC ids
// are).
func writeRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string, data any) {
	if len(id) == 0 || id[0] != '"' && id[0] != '-' && (id[0] < '0' || id[0] > '9') {
		id = json.RawMessage("null")
	}
	httpx.WriteJSON(w, status, rpcError{Version: "2.0", ID: id, Error: rpcErrorObject{Code: code, Message: msg, Data: data}})
}

// tokenInfoOptions are those of the SDK's check withTokenInfo runs: a
// principal without an expiry (an API token) passes, and the expiry is
// not checked again (see withTokenInfo).
var tokenInfoOptions = &auth.RequireBearerTokenOptions{AllowMissingExpiration: true}

// withTokenInfo returns r with p as the SDK's auth.TokenInfo in its
// context, where the SDK reads it (auth.TokenInfoFromContext) to give it
// to tool handlers (RequestExtra.TokenInfo) and to bind stateful
// sessions to its UserID.
//
// The SDK's context key is unexported: only auth.RequireBearerToken puts
// a token info there. So withTokenInfo runs it, on a probe of r, with a
// verifier that returns p's token info and a response writer that
// discards, and keeps the context the probe comes out with. The probe
// carries a stand-in "Authorization: Bearer" header, because
// RequireBearerToken takes no other scheme (not DPoP) and no token from
// elsewhere (a cookie): the middleware has already authenticated the
// request, however its credential came; r keeps its own headers. The
// token info goes through without its expiry, which RequireBearerToken
// would check again against time.Now without the verifier's leeway (a
// token the middleware accepted could be refused there); it is set
// afterwards, in the same value the context holds.
func withTokenInfo(r *http.Request, p *identity.Principal) (*http.Request, bool) {
	info := tokenInfo(p)
	expiry := info.Expiration
	info.Expiration = time.Time{}
	var out *http.Request
	set := auth.RequireBearerToken(func(context.Context, string, *http.Request) (*auth.TokenInfo, error) {
		return info, nil
	}, tokenInfoOptions)
	probe := r.WithContext(r.Context())
	probe.Header = http.Header{"Authorization": {"Bearer principal"}}
	set(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { out = r })).ServeHTTP(&discard{}, probe)
	if out == nil {
		return nil, false
	}
	info.Expiration = expiry
	out.Header = r.Header
	return out, true
}

// discard is a response writer that drops what it is given.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (*discard) Write(b []byte) (int, error) { return len(b), nil }
func (*discard) WriteHeader(int)             {}
