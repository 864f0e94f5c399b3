package demo

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPIDescribesTheRoutes: every path and method of
// docs/openapi.yaml is served (neither 404 nor 405), and every route the
// demo registers is described.
func TestOpenAPIDescribesTheRoutes(t *testing.T) {
	f, err := os.Open("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathLine := regexp.MustCompile(`^  (/[^:]*):$`)
	methodLine := regexp.MustCompile(`^    (get|post|delete|put|patch):$`)
	documented := map[string]bool{}
	var path string
	inPaths := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		if line == "paths:" {
			inPaths = true
			continue
		}
		if !inPaths {
			continue
		}
		if m := pathLine.FindStringSubmatch(line); m != nil {
			path = m[1]
		} else if m := methodLine.FindStringSubmatch(line); m != nil {
			documented[strings.ToUpper(m[1])+" "+path] = true
		}
	}
	cfg := testConfig(t)
	cfg.OIDCIssuers, cfg.OIDCClientID = []string{"https://idp.example"}, "web" // the login routes exist
	e := newTestEnv(t, cfg)
	for route := range documented {
		method, p, _ := strings.Cut(route, " ")
		p = strings.ReplaceAll(p, "{id}", "1")
		resp, _ := e.do(t, method, p, "", nil)
		if resp.StatusCode == 404 && !strings.Contains(p, "/1") || resp.StatusCode == 405 {
			t.Errorf("documented %s, answered %s", route, resp.Status)
		}
	}
	// The routes the demo registers (server.routes) must all be there.
	for _, route := range []string{
		"POST /auth/login", "POST /auth/token", "POST /auth/revoke", "POST /auth/logout", "POST /auth/logout-all",
		"GET /auth/oidc/login", "GET /auth/oidc/callback", "GET /.well-known/jwks.json",
		"GET /.well-known/oauth-authorization-server", "GET /.well-known/oauth-protected-resource", "GET /healthz", "GET /api/me", "GET /api/widgets",
		"POST /api/widgets", "GET /api/widgets/{id}", "POST /api/tokens", "GET /api/tokens", "DELETE /api/tokens/{id}",
		"POST /graphql",
	} {
		if !documented[route] {
			t.Errorf("%s is not in docs/openapi.yaml", route)
		}
	}
	if len(documented) != 19 {
		t.Errorf("docs/openapi.yaml describes %d routes, the demo has 19", len(documented))
	}
}
