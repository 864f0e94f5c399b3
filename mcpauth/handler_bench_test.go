package mcpauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/sessionless/sessionless/mcpauth"
)

// BenchmarkHandler: what Handler adds to a request before the SDK (a
// cached token, the body read and peeked, the token info set), for a
// call it lets through and one it refuses.
func BenchmarkHandler(b *testing.B) {
	e := newEnv(b, envConfig{})
	read := "Bearer " + e.mint(b, "alice", scopeRead, nil)
	h := mcpauth.Handler(e.auth, mcpRes, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth.TokenInfoFromContext(r.Context()) == nil {
			b.Fatal("no token info")
		}
		w.WriteHeader(http.StatusOK)
	}), mcpauth.Config{ToolScopes: toolScopes})
	for name, tc := range map[string]struct {
		body   string
		status int
	}{
		"allowed": {toolCall(1, "list_widgets"), http.StatusOK},
		"refused": {toolCall(1, "create_widget"), http.StatusForbidden},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(tc.body))
				req.Header.Set("Authorization", read)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != tc.status {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
