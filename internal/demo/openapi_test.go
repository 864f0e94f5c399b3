package demo

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestOpenAPIIsValid parses docs/openapi.yaml as YAML and checks its
// shape: every response of every operation has a description or a $ref,
// every $ref names a component that exists.
func TestOpenAPIIsValid(t *testing.T) {
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI    string                                       `yaml:"openapi"`
		Paths      map[string]map[string]map[string]any         `yaml:"paths"`
		Components map[string]map[string]map[string]interface{} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml is not valid YAML: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) == 0 {
		t.Fatalf("openapi %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
	refs := regexp.MustCompile(`"#/components/(\w+)/(\w+)"`)
	for _, m := range refs.FindAllStringSubmatch(string(b), -1) {
		if doc.Components[m[1]][m[2]] == nil {
			t.Errorf("$ref to a missing component %s/%s", m[1], m[2])
		}
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			responses, ok := op["responses"].(map[string]any)
			if !ok || len(responses) == 0 {
				t.Errorf("%s %s: no responses", method, path)
				continue
			}
			for code, r := range responses {
				rm, ok := r.(map[string]any)
				if !ok || rm["description"] == nil && rm["$ref"] == nil {
					t.Errorf("%s %s: response %s has neither a description nor a $ref: %v", method, path, code, r)
				}
				for k := range rm {
					if k != "description" && k != "content" && k != "headers" && k != "$ref" {
						t.Errorf("%s %s: response %s has a member %q (an unquoted comma in a description?)", method, path, code, k)
					}
				}
			}
		}
	}
}

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
		"GET /.well-known/oauth-authorization-server", "GET /.well-known/oauth-protected-resource",
		"GET /.well-known/oauth-protected-resource/api", "GET /.well-known/oauth-protected-resource/graphql", "GET /healthz", "GET /api/me", "GET /api/widgets",
		"POST /api/widgets", "GET /api/widgets/{id}", "POST /api/tokens", "GET /api/tokens", "DELETE /api/tokens/{id}",
		"POST /graphql", "GET /auth/devices", "DELETE /auth/devices/{id}", "DELETE /api/widgets/{id}",
		"GET /auth/authorize", "POST /auth/authorize", "POST /auth/register", "GET /auth/consents", "DELETE /auth/consents",
		"POST /mcp", "GET /.well-known/oauth-protected-resource/mcp", "GET /readyz", "GET /metrics",
	} {
		if !documented[route] {
			t.Errorf("%s is not in docs/openapi.yaml", route)
		}
	}
	if len(documented) != 33 {
		t.Errorf("docs/openapi.yaml describes %d routes, the demo has 33", len(documented))
	}
}
