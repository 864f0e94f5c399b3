package oidctest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
)

// TestServer: the provider that runs on its own mints, over HTTP, tokens
// that package oidc accepts from its discovery and JWK Set, with the
// subject, scopes and audience asked; it listens on loopback only.
func TestServer(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "example.com:9000", "[::]:0", "10.0.0.1:9000", "nonsense"} {
		if s, err := oidctest.Start(oidctest.ServerConfig{Addr: addr}); err == nil {
			s.Close()
			t.Errorf("Start(%q) listened", addr)
		}
	}
	s, err := oidctest.Start(oidctest.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := oidc.New(oidc.Config{Issuer: s.Issuer(), Audiences: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(form url.Values) (int, map[string]any) {
		resp, err := http.PostForm(s.Issuer()+"/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	status, body := mint(url.Values{"sub": {"alice"}, "scope": {"widgets:read widgets:write"}})
	raw, _ := body["access_token"].(string)
	if status != 200 || body["token_type"] != "Bearer" || raw == "" {
		t.Fatalf("POST /token: %d %v", status, body)
	}
	pr, err := p.Authenticate(context.Background(), raw)
	if err != nil || pr.Subject != "alice" || strings.Join(pr.Scopes, " ") != "widgets:read widgets:write" {
		t.Fatalf("the minted token: %+v, %v", pr, err)
	}
	_, body = mint(url.Values{"sub": {"bob"}, "aud": {"other"}})
	if _, err := p.Authenticate(context.Background(), body["access_token"].(string)); err == nil {
		t.Error("a token minted for another audience was accepted")
	}
	if status, body := mint(url.Values{"scope": {"x"}}); status != 400 || body["error"] != "invalid_request" {
		t.Errorf("no sub: %d %v", status, body)
	}
}
