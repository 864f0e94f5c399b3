package endpoint_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/endpoint"
)

// The tests of this file came from the review of the authorization
// server as an attacker: each failed before its fix.

// TestEmptyResource: resource= (present, empty) is invalid_target, not a
// panic.
func TestEmptyResource(t *testing.T) {
	e := newAuthzEnv(t, func(c *endpoint.Config) { c.Resources = []middleware.Resource{{URL: issuer + "/mcp"}} })
	_, challenge := pkce()
	r := e.browse(t, "GET", "/auth/authorize?"+authzRequest("cli", cliRedirect, challenge).Encode()+"&resource=", nil, nil)
	if q := callback(t, r, cliRedirect); q.Get("error") != "invalid_target" {
		t.Fatalf("empty resource: %v", q)
	}
}

// TestThirdPartyTokenCannotManageAccount: a token the user gave a
// third-party client reads widgets; it does not list or end the user's
// logins, log out everywhere, or read and withdraw consents; and it
// carries none of the user's roles.
func TestThirdPartyTokenCannotManageAccount(t *testing.T) {
	e := newAuthzEnv(t, nil)
	verifier, challenge := pkce()
	cb := e.authorize(t, authzRequest("cli", cliRedirect, challenge, "scope", "read"), "alice")
	r := e.exchange(t, "cli", cb.Get("code"), cliRedirect, verifier, nil)
	third := r.json["access_token"].(string)
	if c, _ := e.verifier.Verify(third); c == nil || len(c.Roles) != 0 {
		t.Fatalf("a third-party token with the user's roles: %+v", c)
	}
	own, _ := e.tokens(t, "alice")
	if c, _ := e.verifier.Verify(own); c == nil || len(c.Roles) == 0 {
		t.Fatal("the first-party token lost the user's roles")
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/auth/devices"}, {"DELETE", "/auth/devices/fam"}, {"POST", "/auth/logout-all"},
		{"GET", "/auth/consents"}, {"DELETE", "/auth/consents?client_id=cli"},
	} {
		if r := e.do(t, c.method, c.path, "", "", bearer(third)); r.status != 403 || r.json["error"] != "access_denied" {
			t.Errorf("%s %s with a third-party token: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if e.me(t, own) != 200 {
		t.Fatal("the first-party session was ended")
	}
	// Withdrawing the "consent" of a first-party client is refused: it
	// would end every login of the user in the app.
	for _, id := range []string{client, "spa"} {
		if r := e.do(t, "DELETE", "/auth/consents?client_id="+id, "", "", bearer(own)); r.status != 400 {
			t.Errorf("withdrawing first-party %s: %d %s", id, r.status, r.body)
		}
	}
	if e.me(t, own) != 200 {
		t.Fatal("the first-party session was ended")
	}
}

// TestUntrustedClientErrorsNotRedirected: a registered client names any
// redirect URI: its errors before login are shown, never redirected (an
// open redirector otherwise, RFC 9700 §4.11.2).
func TestUntrustedClientErrorsNotRedirected(t *testing.T) {
	e := newAuthzEnv(t, func(c *endpoint.Config) {
		c.Authorization.Clients = &clients.Registry{Static: testClients(t), Registered: clients.NewMemoryStore()}
		c.Authorization.Registration = &clients.RegistrarConfig{Scopes: []string{"read"}}
	})
	r := e.do(t, "POST", "/auth/register", "application/json", `{"redirect_uris":["https://evil.example/phish"]}`, nil)
	id, _ := r.json["client_id"].(string)
	if id == "" {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	_, challenge := pkce()
	r = e.browse(t, "GET", "/auth/authorize?"+authzRequest(id, "https://evil.example/phish", challenge, "response_type", "x").Encode(), nil, nil)
	if r.status != 400 || r.header.Get("Location") != "" || !strings.Contains(r.body, "unsupported_response_type") {
		t.Fatalf("an error of a registered client: %d %v %s", r.status, r.header.Get("Location"), r.body)
	}
}

// TestFormActionBehindProxy: behind a proxy that strips ExternalURL's
// path, the page's form posts to the path the browser knows.
func TestFormActionBehindProxy(t *testing.T) {
	e := newAuthzEnv(t, func(c *endpoint.Config) { c.ExternalURL = "https://api.test/base" })
	_, challenge := pkce()
	r := e.browse(t, "GET", "/auth/authorize?"+authzRequest("cli", cliRedirect, challenge).Encode(), nil, nil)
	if !strings.Contains(r.body, `action="/base/auth/authorize"`) {
		t.Fatalf("the form's action: %s", r.body)
	}
}

// TestRedirectQueryKept: the redirect URI's own query stays byte for
// byte (RFC 6749 §3.1.2); the response's parameters follow it.
func TestRedirectQueryKept(t *testing.T) {
	const withQuery = "https://app.test/cb?z=1&a=x;y&flag"
	st, err := clients.NewStatic(clients.Client{ID: "q", FirstParty: true, RedirectURIs: []string{withQuery}})
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthzEnv(t, func(c *endpoint.Config) { c.Authorization.Clients = &clients.Registry{Static: st} })
	_, challenge := pkce()
	r := e.browse(t, "GET", "/auth/authorize?"+authzRequest("q", withQuery, challenge).Encode(), nil, nil)
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"login"}, "username": {"alice"}, "password": {secret}}, nil)
	if loc := r.header.Get("Location"); !strings.HasPrefix(loc, withQuery+"&code=ac_") {
		t.Fatalf("Location %q", loc)
	}
}

// TestLongState: a state that would seal too large for the form to come
// back is refused up front, not answered with a page that cannot be
// submitted.
func TestLongState(t *testing.T) {
	e := newAuthzEnv(t, nil)
	_, challenge := pkce()
	for name, state := range map[string]string{"HTML characters": strings.Repeat("<", 2000), "control characters": strings.Repeat("\x01", 2000)} {
		r := e.browse(t, "GET", "/auth/authorize?"+authzRequest("cli", cliRedirect, challenge, "state", state).Encode(), nil, nil)
		if r.status == 200 {
			r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"login"}, "username": {"alice"}, "password": {secret}}, nil)
			if r.status != 200 || !strings.Contains(r.body, `value="approve"`) {
				t.Errorf("%s: a login page that cannot be submitted: %d %s", name, r.status, r.body)
			}
		} else if r.status != 400 {
			t.Errorf("%s: %d", name, r.status)
		}
	}
}

// TestWrongResourceKeepsCode: a token request naming another resource
// than the code's is refused without spending the code.
func TestWrongResourceKeepsCode(t *testing.T) {
	e := newAuthzEnv(t, func(c *endpoint.Config) {
		c.Resources = []middleware.Resource{{URL: issuer + "/mcp"}, {URL: issuer + "/files"}}
	})
	verifier, challenge := pkce()
	cb := e.authorize(t, authzRequest("spa", spaRedirect, challenge, "resource", issuer+"/mcp"), "alice")
	form := vals("grant_type", "authorization_code", "client_id", "spa", "code", cb.Get("code"), "redirect_uri", spaRedirect,
		"code_verifier", verifier, "resource", issuer+"/files")
	wantError(t, e.form(t, "/auth/token", form, nil), 400, "invalid_target")
	r := e.exchange(t, "spa", cb.Get("code"), spaRedirect, verifier, nil)
	if c, _ := e.verifier.Verify(r.json["access_token"].(string)); r.status != 200 || c == nil || len(c.Audience) != 1 || c.Audience[0] != issuer+"/mcp" {
		t.Fatalf("the code after the refusal: %d %s", r.status, r.body)
	}
}

// The second review's.

// TestConsentWithdrawnStopsCodesAndRefresh: once the user withdraws a
// consent, a code issued before it and the client's refresh tokens are
// refused (however many logins the user had since).
func TestConsentWithdrawnStopsCodesAndRefresh(t *testing.T) {
	e := newAuthzEnv(t, nil)
	verifier, challenge := pkce()
	cb := e.authorize(t, authzRequest("cli", cliRedirect, challenge), "alice")
	rt := e.exchange(t, "cli", cb.Get("code"), cliRedirect, verifier, nil).json["refresh_token"].(string)
	verifier2, challenge2 := pkce()
	cb2 := e.authorize(t, authzRequest("cli", cliRedirect, challenge2), "alice") // not redeemed yet
	own, _ := e.tokens(t, "alice")
	if r := e.do(t, "DELETE", "/auth/consents?client_id=cli", "", "", bearer(own)); r.status != 204 {
		t.Fatalf("withdraw: %d %s", r.status, r.body)
	}
	wantError(t, e.exchange(t, "cli", cb2.Get("code"), cliRedirect, verifier2, nil), 400, "invalid_grant")
	wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt, "client_id", "cli"), nil), 400, "invalid_grant")
}

// TestRegisteredLoopbackErrorsRedirected: a registered client's error
// goes back to a loopback redirect URI (an MCP client waits on it; no
// website can be reached through it), not to an https one.
func TestRegisteredLoopbackErrorsRedirected(t *testing.T) {
	e := newAuthzEnv(t, func(c *endpoint.Config) {
		c.Authorization.Clients = &clients.Registry{Static: testClients(t), Registered: clients.NewMemoryStore()}
		c.Authorization.Registration = &clients.RegistrarConfig{Scopes: []string{"read"}}
	})
	r := e.do(t, "POST", "/auth/register", "application/json", `{"redirect_uris":["http://localhost/cb"]}`, nil)
	id := r.json["client_id"].(string)
	_, challenge := pkce()
	r = e.browse(t, "GET", "/auth/authorize?"+authzRequest(id, "http://localhost:6274/cb", challenge, "code_challenge_method", "plain").Encode(), nil, nil)
	if q := callback(t, r, "http://localhost/cb"); q.Get("error") != "invalid_request" {
		t.Fatalf("%v", q)
	}
}

// TestNothingToConsent: a third-party client whose scopes the user holds
// none of gets invalid_scope, not a token without scope.
func TestNothingToConsent(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.users.set("carol", endpoint.User{Subject: "usr_carol", PasswordHash: e.userHash(t), Scopes: []string{"other"}})
	_, challenge := pkce()
	r := e.browse(t, "GET", "/auth/authorize?"+authzRequest("cli", cliRedirect, challenge).Encode(), nil, nil)
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"login"}, "username": {"carol"}, "password": {secret}}, nil)
	if q := callback(t, r, cliRedirect); q.Get("error") != "invalid_scope" {
		t.Fatalf("%v", q)
	}
}

// TestApprovalAfterUserGone: the consent page's form of a user deleted
// since the login issues no code.
func TestApprovalAfterUserGone(t *testing.T) {
	e := newAuthzEnv(t, nil)
	_, challenge := pkce()
	r := e.browse(t, "GET", "/auth/authorize?"+authzRequest("cli", cliRedirect, challenge).Encode(), nil, nil)
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"login"}, "username": {"bob"}, "password": {secret}}, nil)
	approval := sealed(t, r)
	e.users.remove("bob")
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {approval}, "action": {"approve"}}, nil)
	if r.status != 400 || r.header.Get("Location") != "" {
		t.Fatalf("approve after the user was deleted: %d %v", r.status, r.header.Get("Location"))
	}
}

// userHash returns the hash of the tests' password.
func (e *env) userHash(t *testing.T) string {
	t.Helper()
	u, err := e.users.UserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	return u.PasswordHash
}
