package node_test

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestMCP runs mcp.mjs: the MCP TypeScript SDK's client against the
// demo's MCP endpoint, from nothing (401, RFC 9728, RFC 8414) to a tool
// call after a step-up, its client registered dynamically (RFC 7591)
// or named by a Client ID Metadata Document that the test serves over
// https on 127.0.0.1.
func TestMCP(t *testing.T) {
	node := nodeModules(t)
	demoBinary(t)

	// Dynamic registration, on in the demo by default.
	t.Run("dynamic registration", func(t *testing.T) {
		d := startDemo(t, demoOptions{})
		runNode(t, node, "mcp.mjs", "SCENARIO=dcr", "BASE_URL="+d.URL, "PASSWORD="+password)
		if n := d.count("POST", "/auth/register"); n != 1 {
			t.Errorf("%d POST /auth/register, want 1", n)
		}
	})

	// Client ID Metadata Documents, registration off: the demo trusts
	// the test server's CA (-client-metadata-test-ca) and fetches from
	// loopback.
	docs := newMetadataServer(t)
	d := startDemo(t, demoOptions{args: []string{"-registration=false", "-client-metadata-test-ca", docs.caFile}})

	t.Run("metadata document", func(t *testing.T) {
		callback := loopbackCallback(t)
		id := docs.url("/clients/mcp-test.json")
		docs.serve("/clients/mcp-test.json", document(t, id, callback))
		runNode(t, node, "mcp.mjs", "SCENARIO=document", "BASE_URL="+d.URL, "PASSWORD="+password,
			"CLIENT_ID_URL="+id, "CALLBACK_URL="+callback)
		if n := d.count("POST", "/auth/register"); n != 0 {
			t.Errorf("%d POST /auth/register, want none", n)
		}
		if got := docs.fetched(); !slices.Contains(got, "GET /clients/mcp-test.json") {
			t.Errorf("the demo did not fetch the document: %v", got)
		}
	})

	// A document whose redirect_uris do not hold the client's callback:
	// an error page, no redirect.
	t.Run("metadata document, another redirect URI", func(t *testing.T) {
		callback := loopbackCallback(t)
		id := docs.url("/clients/elsewhere.json")
		docs.serve("/clients/elsewhere.json", document(t, id, "http://127.0.0.1/elsewhere"))
		runNode(t, node, "mcp.mjs", "SCENARIO=document-bad-redirect", "BASE_URL="+d.URL, "PASSWORD="+password,
			"CLIENT_ID_URL="+id, "CALLBACK_URL="+callback)
		if got := docs.fetched(); !slices.Contains(got, "GET /clients/elsewhere.json") {
			t.Errorf("the demo did not fetch the document: %v", got)
		}
	})
}

// document is the Client ID Metadata Document of the client id, with
// one redirect URI.
func document(t *testing.T, id, redirectURI string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"client_id":                  id,
		"client_name":                "sessionless MCP SDK test client",
		"redirect_uris":              []string{redirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// count returns how many requests of method to path the demo logged.
func (d *demo) count(method, path string) int {
	n := 0
	for _, r := range d.requests() {
		if r.method == method && r.path == path {
			n++
		}
	}
	return n
}
