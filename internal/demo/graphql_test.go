package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (e *testEnv) graphql(t *testing.T, tok, body string) (*http.Response, gqlResponse) {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	resp, b := e.do(t, "POST", "/graphql", body, h)
	var g gqlResponse
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("%s", b)
		}
	}
	return resp, g
}

func TestGraphQL(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	demo := e.login(t, "demo", testPassword).AccessToken
	viewer := e.login(t, "viewer", testPassword).AccessToken

	resp, g := e.graphql(t, demo, `{"query": "{ me { sub authMethod scopes } widgets { id name } }"}`)
	if resp.StatusCode != 200 || len(g.Errors) != 0 || !strings.Contains(string(g.Data["me"]), `"authMethod":"jwt"`) ||
		!strings.Contains(string(g.Data["widgets"]), `"sprocket"`) {
		t.Fatalf("query: %s %+v", resp.Status, g)
	}
	// A mutation with variables.
	resp, g = e.graphql(t, demo, `{"query": "mutation($n: String!) { createWidget(name: $n) { id name createdBy } }", "variables": {"n": "flange"}}`)
	if resp.StatusCode != 200 || len(g.Errors) != 0 || !strings.Contains(string(g.Data["createWidget"]), `"flange"`) {
		t.Fatalf("mutation: %s %+v", resp.Status, g)
	}
	// The viewer may read but not write: FORBIDDEN, no data for that field.
	resp, g = e.graphql(t, viewer, `{"query": "mutation { createWidget(name: \"nope\") { id } }"}`)
	if resp.StatusCode != 200 || len(g.Errors) != 1 || g.Errors[0].Extensions["code"] != "FORBIDDEN" ||
		string(g.Data["createWidget"]) != "null" {
		t.Fatalf("a forbidden mutation: %s %+v (data %s)", resp.Status, g, g.Data["createWidget"])
	}
	if _, b := e.call(t, "GET", "/api/widgets", "", viewer); strings.Contains(string(b), "nope") {
		t.Fatal("the forbidden mutation created a widget")
	}
	// A token without widgets:read gets me, and FORBIDDEN for widgets.
	apiTok := e.createToken(t, demo, `{"name":"no scopes"}`)
	resp, g = e.graphql(t, apiTok.Token, `{"query": "{ me { authMethod } widgets { id } }"}`)
	if resp.StatusCode != 200 || len(g.Errors) != 1 || g.Errors[0].Extensions["code"] != "FORBIDDEN" ||
		string(g.Data["widgets"]) != "null" || !strings.Contains(string(g.Data["me"]), "apitoken") {
		t.Fatalf("partial answer: %s %+v", resp.Status, g)
	}
	// Unauthenticated: the same 401 as REST.
	resp, _ = e.graphql(t, "", `{"query": "{ me { sub } }"}`)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unauthenticated: %s %v", resp.Status, resp.Header)
	}
	// Requests that are not GraphQL requests.
	for name, tc := range map[string]struct {
		ctype, body string
		status      int
	}{
		"a form":            {"application/x-www-form-urlencoded", "query={me{sub}}", 415},
		"query twice":       {"application/json", `{"query":"{me{sub}}","query":"{widgets{id}}"}`, 400},
		"Query in capitals": {"application/json", `{"Query":"{me{sub}}"}`, 400},
		"no query":          {"application/json", `{}`, 400},
		"not an object":     {"application/json", `["{me{sub}}"]`, 400},
	} {
		resp, _ := e.do(t, "POST", "/graphql", tc.body, http.Header{"Content-Type": {tc.ctype}, "Authorization": {"Bearer " + demo}})
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s, want %d", name, resp.Status, tc.status)
		}
	}
	if resp, _ := e.do(t, "GET", "/graphql", "", http.Header{"Authorization": {"Bearer " + demo}}); resp.StatusCode != 405 {
		t.Errorf("GET /graphql: %s", resp.Status)
	}
}

// TestGraphQLLimits: aliases cannot multiply a list or a mutation, lists
// are paged, and the introspection query of GraphiQL passes.
func TestGraphQLLimits(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	demo := e.login(t, "demo", testPassword).AccessToken
	var aliases strings.Builder
	for i := range 150 {
		fmt.Fprintf(&aliases, "a%d: widgets { name } ", i)
	}
	resp, g := e.graphql(t, demo, `{"query": "{ `+aliases.String()+` }"}`)
	if resp.StatusCode != 200 || len(g.Errors) == 0 || len(g.Data) != 0 {
		t.Fatalf("150 aliased lists: %s, %d errors, data %v", resp.Status, len(g.Errors), g.Data)
	}
	var muts strings.Builder
	for i := range 150 {
		fmt.Fprintf(&muts, `m%d: createWidget(name: \"x\") { id } `, i)
	}
	if resp, g := e.graphql(t, demo, `{"query": "mutation { `+muts.String()+` }"}`); resp.StatusCode != 200 || len(g.Errors) == 0 {
		t.Fatalf("150 aliased mutations: %s %+v", resp.Status, g.Errors)
	}
	if n := len(e.srv.widgets.list()); n != 2 {
		t.Fatalf("%d widgets after a refused mutation of 150 aliases, want 2", n)
	}
	for i := range 120 {
		e.srv.widgets.add(fmt.Sprint("w", i), "")
	}
	_, g = e.graphql(t, demo, `{"query": "{ widgets { id } }"}`)
	var page []map[string]string
	json.Unmarshal(g.Data["widgets"], &page)
	if len(page) != 50 || page[0]["id"] != "1" {
		t.Fatalf("the default page: %d widgets", len(page))
	}
	_, g = e.graphql(t, demo, `{"query": "{ widgets(first: 100, after: \"50\") { id } }"}`)
	json.Unmarshal(g.Data["widgets"], &page)
	if len(page) != 72 || page[0]["id"] != "51" {
		t.Fatalf("after 50: %d widgets, first %v", len(page), page[0])
	}
	if _, g := e.graphql(t, demo, `{"query": "{ widgets(first: 101) { id } }"}`); len(g.Errors) == 0 {
		t.Fatal("first: 101 accepted")
	}
	introspection := `{"query": "query { __schema { types { name fields { name type { name ofType { name ofType { name ofType { name } } } } } } } }"}`
	if resp, g := e.graphql(t, demo, introspection); resp.StatusCode != 200 || len(g.Errors) != 0 {
		t.Fatalf("a deep introspection query: %s %+v", resp.Status, g.Errors)
	}
}
