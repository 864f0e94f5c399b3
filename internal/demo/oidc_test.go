package demo

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/oidc/oidctest"
)

// keycloakClaims are the claims of a Keycloak access token for the demo.
func keycloakClaims(idp *oidctest.Provider, now time.Time) map[string]any {
	return map[string]any{
		"iss": idp.Issuer(), "sub": "kc-user-1", "aud": []string{"demo-api", "account"}, "typ": "Bearer", "azp": "web",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "kc-jti-1",
		"realm_access":    map[string]any{"roles": []string{"offline_access", "auditor"}},
		"resource_access": map[string]any{"demo-api": map[string]any{"roles": []string{"widgets-admin"}}},
		"scope":           "openid widgets:read", "preferred_username": "kcuser",
	}
}

// TestOIDCTokens: a provider's access tokens work on /api, mapped, and
// are refused when they should be.
func TestOIDCTokens(t *testing.T) {
	idp := oidctest.New(t)
	cfg := testConfig(t)
	cfg.OIDCIssuers, cfg.OIDCAudience, cfg.OIDCMapping = []string{idp.Issuer()}, "demo-api", "keycloak"
	e := newTestEnv(t, cfg)
	now := e.clock.Now()

	resp, b := e.me(t, "Bearer "+idp.Mint(keycloakClaims(idp, now)))
	me := decodeInto[meResponse](t, b)
	if resp.StatusCode != 200 || me.AuthMethod != "oidc" || me.Subject != "kc-user-1" || me.Issuer != idp.Issuer() ||
		strings.Join(me.Scopes, " ") != "openid widgets:read" || strings.Join(me.Roles, " ") != "offline_access auditor widgets-admin" ||
		me.ClientID != "web" || strings.Join(me.Audience, " ") != "demo-api account" {
		t.Fatalf("/api/me with a Keycloak token: %s %s", resp.Status, b)
	}
	if resp, b := e.do(t, "GET", "/api/widgets", "", bearer(idp.Mint(keycloakClaims(idp, now)))); resp.StatusCode != 200 {
		t.Errorf("GET /api/widgets with widgets:read from Keycloak: %s %s", resp.Status, b)
	}
	// A provider's token manages no API tokens: their subjects are the
	// demo's own users.
	if resp, _ := e.do(t, "GET", "/api/tokens", "", bearer(idp.Mint(func() map[string]any {
		c := keycloakClaims(idp, now)
		c["scope"] = "tokens:manage"
		return c
	}()))); resp.StatusCode != 403 {
		t.Errorf("a provider's token on /api/tokens: %s, want 403", resp.Status)
	}
	for name, edit := range map[string]func(map[string]any){
		"an ID token":          func(c map[string]any) { c["typ"] = "ID" },
		"another audience":     func(c map[string]any) { c["aud"] = "account" },
		"expired":              func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() },
		"another issuer":       func(c map[string]any) { c["iss"] = "https://evil.example" },
		"lives 25 h":           func(c map[string]any) { c["exp"] = now.Add(25 * time.Hour).Unix() },
		"signed by a stranger": nil,
	} {
		var raw string
		if edit == nil {
			raw = oidctest.SignRS256(t, oidctest.Key(3), map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}, keycloakClaims(idp, now))
		} else {
			c := keycloakClaims(idp, now)
			edit(c)
			raw = idp.Mint(c)
		}
		if resp, _ := e.me(t, "Bearer "+raw); resp.StatusCode != 401 {
			t.Errorf("%s: %s, want 401", name, resp.Status)
		}
	}
	// Logout with a provider's token revokes it (by jti) on this API.
	tok := idp.Mint(keycloakClaims(idp, now))
	if resp, b := e.do(t, "POST", "/auth/logout", "", bearer(tok)); resp.StatusCode != 204 {
		t.Fatalf("logout with a Keycloak token: %s %s", resp.Status, b)
	}
	if resp, _ := e.me(t, "Bearer "+tok); resp.StatusCode != 401 {
		t.Errorf("a logged-out Keycloak token: %s", resp.Status)
	}
}

// TestOIDCProviderDown: without the provider's keys, 503; with them, an
// outage changes nothing.
func TestOIDCProviderDown(t *testing.T) {
	idp := oidctest.New(t)
	idp.Down.Store(true)
	cfg := testConfig(t)
	cfg.OIDCIssuers, cfg.OIDCMapping = []string{idp.Issuer()}, "keycloak"
	e := newTestEnv(t, cfg)
	raw := idp.Mint(keycloakClaims(idp, e.clock.Now()))
	resp, _ := e.me(t, "Bearer "+raw)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("provider down, no keys: %s, want 503 with Retry-After", resp.Status)
	}
	// First-party tokens do not depend on the provider.
	if resp, _ := e.me(t, "Bearer "+e.login(t, "demo", testPassword).AccessToken); resp.StatusCode != 200 {
		t.Errorf("a first-party token while the provider is down: %s", resp.Status)
	}
}

// TestOIDCLogin: log in through the provider, get the demo's own tokens.
// oidcLoginEnv is the demo with a login through a provider of the test's
// own, whose code flow knows the client "web".
func oidcLoginEnv(t *testing.T) (*testEnv, Config) {
	idp := oidctest.New(t)
	idp.EnableCodeFlow("web", "web-secret")
	cfg := testConfig(t)
	cfg.OIDCIssuers, cfg.OIDCClientID, cfg.OIDCClientSecret = []string{idp.Issuer()}, "web", "web-secret"
	cfg.OIDCRedirectURL = "http://demo.test/auth/oidc/callback"
	cfg.Now = time.Now // the provider signs on the real clock
	return newTestEnv(t, cfg), cfg
}

func TestOIDCLogin(t *testing.T) {
	e, cfg := oidcLoginEnv(t)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "demo.test" { // the callback: to the test server
			u, _ := url.Parse(e.ts.URL)
			req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, u.Host // the jar then sends its cookie
		}
		return nil
	}}
	resp, b := sendRequest(t, browser, "GET", e.ts.URL+"/auth/oidc/login", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("OIDC login: %s %s", resp.Status, b)
	}
	tr := decodeInto[tokenResponse](t, b)
	if tr.AccessToken == "" || tr.RefreshToken == "" || tr.Scope != "widgets:read" {
		t.Fatalf("OIDC login answered %s", b)
	}
	resp, b = e.me(t, "Bearer "+tr.AccessToken)
	me := decodeInto[meResponse](t, b)
	if resp.StatusCode != 200 || me.AuthMethod != "jwt" || !strings.HasPrefix(me.Subject, "oidc_") || me.Issuer != cfg.Issuer {
		t.Fatalf("/api/me with the tokens of an OIDC login: %s %s", resp.Status, b)
	}
	// The same provider user gets the same local account next time.
	resp, b = sendRequest(t, browser, "GET", e.ts.URL+"/auth/oidc/login", "", nil)
	if again := decodeInto[tokenResponse](t, b); resp.StatusCode != 200 || again.AccessToken == "" {
		t.Fatalf("second OIDC login: %s %s", resp.Status, b)
	}
	if _, oerr := e.refresh(t, tr.RefreshToken, 200); oerr.Error != "" {
		t.Errorf("refreshing the tokens of an OIDC login: %+v", oerr)
	}
	// A callback without the login's cookie is refused.
	if resp, _ := e.do(t, "GET", "/auth/oidc/callback?state=x&code=y", "", nil); resp.StatusCode != 400 {
		t.Errorf("a callback without a login: %s", resp.Status)
	}
}

// TestOIDCLoginCookies: a login through the provider started by the web
// app with a return path ends in cookie mode: the cookies set and a 303
// to that path; a return path of another site is refused at the start.
func TestOIDCLoginCookies(t *testing.T) {
	e, _ := oidcLoginEnv(t)
	jar, _ := cookiejar.New(nil)
	var final *http.Response
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "demo.test" {
			u, _ := url.Parse(e.ts.URL)
			req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, u.Host
		}
		if strings.HasPrefix(req.URL.Path, "/widgets") { // back in the app: stop here
			final = req.Response
			return http.ErrUseLastResponse
		}
		return nil
	}}
	sendRequest(t, browser, "GET", e.ts.URL+"/auth/oidc/login?return_to="+url.QueryEscape("/widgets?tab=devices"), "", nil)
	if final == nil || final.StatusCode != http.StatusSeeOther || final.Header.Get("Location") != "/widgets?tab=devices" {
		t.Fatalf("the callback's answer: %+v", final)
	}
	var access string
	for _, c := range final.Cookies() {
		if c.Name == "__Host-access" && c.HttpOnly && c.Secure {
			access = c.Value
		}
	}
	if access == "" || len(final.Cookies()) < 3 {
		t.Fatalf("cookies %v", final.Cookies())
	}
	resp, b := e.do(t, "GET", "/api/me", "", http.Header{"Cookie": {"__Host-access=" + access}})
	if me := decodeInto[meResponse](t, b); resp.StatusCode != 200 || me.Credential != "cookie" || !strings.HasPrefix(me.Subject, "oidc_") {
		t.Fatalf("/api/me by the cookie: %s %s", resp.Status, b)
	}
	for _, bad := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		if resp, _ := e.do(t, "GET", "/auth/oidc/login?return_to="+url.QueryEscape(bad), "", nil); resp.StatusCode != 400 {
			t.Errorf("return_to %q: %s", bad, resp.Status)
		}
	}
}

// TestOIDCIssuerIsTheDemos: -oidc-issuer naming the demo's own default
// issuer (known only once it listens) is refused, not a silent swap of
// the first-party verifier for a provider's.
func TestOIDCIssuerIsTheDemos(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := testConfig(t)
	cfg.Addr, cfg.Issuer, cfg.OIDCIssuers = addr, "", []string{"http://" + addr}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // without the check, run would serve
	defer cancel()
	err = run(ctx, cfg, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "own issuer") {
		t.Fatalf("run: %v, want a refusal naming the demo's own issuer", err)
	}
}

// TestOIDCMappingNames: every name -oidc-mapping documents gives its
// mapping; any other is refused with the list.
func TestOIDCMappingNames(t *testing.T) {
	for name, want := range map[string]string{"": "generic", "generic": "generic", "dex": "dex", "keycloak": "keycloak",
		"auth0:https://ns.example/": "auth0", "zitadel": "zitadel", "zitadel:1234": "zitadel"} {
		m, err := oidcMapping(name, "api")
		if err != nil || m.Name != want {
			t.Errorf("oidcMapping(%q) = %q, %v; want %q", name, m.Name, err, want)
		}
	}
	for _, name := range []string{"okta", "auth0:", "zitadel:", "Dex", "zitadel "} {
		if _, err := oidcMapping(name, "api"); err == nil || !strings.Contains(err.Error(), "zitadel:PROJECT_ID") {
			t.Errorf("oidcMapping(%q): %v, want a refusal naming the mappings", name, err)
		}
	}
}

// TestOIDCProviderCommand: "demo-api oidc-provider" runs a provider whose
// minted tokens the demo accepts when started with its issuer, and stops
// when its context ends.
func TestOIDCProviderCommand(t *testing.T) {
	out := &testenv.SyncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, []string{"oidc-provider", "-addr", "127.0.0.1:0"}, env(nil), out, io.Discard) }()
	var issuer string
	testenv.Eventually(t, "the provider to print its issuer", func() bool {
		_, rest, ok := strings.Cut(out.String(), "issuer ")
		issuer, _, _ = strings.Cut(rest, "\n")
		return ok && strings.Contains(rest, "\n")
	})
	resp, err := http.PostForm(issuer+"/token", url.Values{"sub": {"carol"}, "scope": {"widgets:read"}})
	if err != nil {
		t.Fatal(err)
	}
	var minted struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&minted)
	resp.Body.Close()

	cfg := testConfig(t)
	cfg.Now = time.Now // the provider mints with the real clock
	cfg.OIDCIssuers, cfg.OIDCAudience = []string{issuer}, "api"
	e := newTestEnv(t, cfg)
	r, b := e.me(t, "Bearer "+minted.AccessToken)
	if me := decodeInto[meResponse](t, b); r.StatusCode != 200 || me.AuthMethod != "oidc" || me.Subject != "carol" {
		t.Fatalf("/api/me with the local provider's token: %s %s", r.Status, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("oidc-provider: %v", err)
	}
	for _, args := range [][]string{{"oidc-provider", "-addr", "0.0.0.0:0"}, {"oidc-provider", "extra"}, {"oidc-provider", "-nope"}} {
		if err := Run(t.Context(), args, env(nil), io.Discard, io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
