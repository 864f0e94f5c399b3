package endpoint_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token/authcode"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/consent"
	"github.com/sessionless/sessionless/token/endpoint"
)

const (
	cliRedirect    = "http://127.0.0.1/callback"
	spaRedirect    = "https://spa.test/cb"
	serverRedirect = "https://server.test/cb"
)

// serverSecret is the confidential client's secret.
var serverSecret, serverSecretHash = clients.NewSecret()

// testClients are the clients of the authorization tests: a third-party
// CLI (public, loopback), a first-party SPA on another origin, and a
// confidential server-side app.
func testClients(t testing.TB) *clients.Static {
	t.Helper()
	st, err := clients.NewStatic(
		clients.Client{ID: "cli", Name: "Widget CLI", RedirectURIs: []string{cliRedirect}, Scopes: []string{"read", "write"}},
		clients.Client{ID: "spa", Name: "Our SPA", FirstParty: true, RedirectURIs: []string{spaRedirect}},
		clients.Client{ID: "server", Name: "Server App", AuthMethod: clients.AuthSecretBasic,
			SecretHashes: []clients.SecretHash{serverSecretHash}, RedirectURIs: []string{serverRedirect}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newAuthzEnv(t testing.TB, mutate func(*endpoint.Config)) *env {
	t.Helper()
	return newEnv(t, backends[0], func(c *endpoint.Config) {
		c.Authorization = &endpoint.AuthorizationConfig{Clients: &clients.Registry{Static: testClients(t)},
			ScopeDescriptions: map[string]string{"read": "Read your widgets"}}
		if mutate != nil {
			mutate(c)
		}
	})
}

// pkce returns a new verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	b := make([]byte, 32)
	rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	return verifier, authcode.Challenge(verifier)
}

// browse makes a request without following redirects, as the tests look
// at each one.
func (e *env) browse(t *testing.T, method, path string, form url.Values, edit func(*http.Request)) reply {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if edit != nil {
		edit(req)
	}
	c := *e.ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

var sealedField = regexp.MustCompile(`name="request" value="([^"]+)"`)

// sealed returns the sealed request of a page's form.
func sealed(t *testing.T, r reply) string {
	t.Helper()
	m := sealedField.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no form on the page: %d %s", r.status, r.body)
	}
	return html.UnescapeString(m[1])
}

// authzRequest is an authorization request's query.
func authzRequest(clientID, redirect, challenge string, kv ...string) url.Values {
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"st-123"}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// callback checks that r redirects to redirect (any port on loopback)
// and returns the query it carries.
func callback(t *testing.T, r reply, redirect string) url.Values {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("want a 303 to the client, got %d %s", r.status, r.body)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := url.Parse(redirect)
	if u.Scheme != want.Scheme || u.Hostname() != want.Hostname() || u.Path != want.Path {
		t.Fatalf("redirected to %s, want %s", u, redirect)
	}
	q := u.Query()
	if q.Get("iss") != issuer {
		t.Fatalf("iss %q, want %q (RFC 9207)", q.Get("iss"), issuer)
	}
	return q
}

// authorize runs the authorization request q as alice (or name) in a
// browser: the login page, the consent page when one comes (approved),
// and returns the client's callback query.
func (e *env) authorize(t *testing.T, q url.Values, name string) url.Values {
	t.Helper()
	r := e.browse(t, "GET", "/auth/authorize?"+q.Encode(), nil, nil)
	if r.status != 200 {
		t.Fatalf("authorization request: %d %s", r.status, r.body)
	}
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"login"},
		"username": {name}, "password": {secret}}, nil)
	if r.status == 200 && strings.Contains(r.body, `value="approve"`) {
		r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"approve"}}, nil)
	}
	return callback(t, r, q.Get("redirect_uri"))
}

// exchange redeems a code at the token endpoint as a public client.
func (e *env) exchange(t *testing.T, clientID, code, redirect, verifier string, edit func(*http.Request)) reply {
	t.Helper()
	return e.form(t, "/auth/token", vals("grant_type", "authorization_code", "client_id", clientID, "code", code,
		"redirect_uri", redirect, "code_verifier", verifier), edit)
}

// TestCodeFlow: a third-party CLI logs alice in with the authorization
// code grant and PKCE: login page, consent (remembered), code, tokens
// for the client, refresh by the client only.
func TestCodeFlow(t *testing.T) {
	e := newAuthzEnv(t, nil)
	verifier, challenge := pkce()
	redirect := "http://127.0.0.1:49152/callback" // the port the CLI listens on (RFC 8252 §7.3)
	q := authzRequest("cli", redirect, challenge, "scope", "read write admin")

	r := e.browse(t, "GET", "/auth/authorize?"+q.Encode(), nil, nil)
	if r.status != 200 || !strings.Contains(r.body, "Widget CLI") || !strings.Contains(r.body, `name="password"`) {
		t.Fatalf("login page: %d %s", r.status, r.body)
	}
	for k, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	req := sealed(t, r)
	// A wrong password: the page again, same request, nothing issued.
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {req}, "action": {"login"}, "username": {"alice"}, "password": {"nope"}}, nil)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Invalid username or password") || sealed(t, r) != req {
		t.Fatalf("wrong password: %d %s", r.status, r.body)
	}
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {req}, "action": {"login"}, "username": {"alice"}, "password": {secret}}, nil)
	// A third-party client: the consent page, with the scopes narrowed to
	// the client's (admin dropped) and described.
	if r.status != 200 || !strings.Contains(r.body, "Allow Widget CLI?") || !strings.Contains(r.body, "Read your widgets") ||
		!strings.Contains(r.body, "<code>write</code>") || strings.Contains(r.body, "admin") {
		t.Fatalf("consent page: %d %s", r.status, r.body)
	}
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"approve"}}, nil)
	cb := callback(t, r, redirect)
	if cb.Get("state") != "st-123" || cb.Get("code") == "" {
		t.Fatalf("callback %v", cb)
	}
	if u, _ := url.Parse(r.header.Get("Location")); u.Port() != "49152" {
		t.Fatalf("the loopback port was not kept: %s", u)
	}

	r = e.exchange(t, "cli", cb.Get("code"), redirect, verifier, nil)
	if r.status != 200 || r.json["token_type"] != "Bearer" || r.json["scope"] != "read write" || r.json["refresh_token"] == nil {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	access, rt := r.json["access_token"].(string), r.json["refresh_token"].(string)
	me := e.do(t, "GET", "/api/me", "", "", bearer(access))
	if me.status != 200 || me.json["client_id"] != "cli" || me.json["sub"] != "usr_alice" {
		t.Fatalf("me: %d %s", me.status, me.body)
	}
	// The family is the client's: the first-party client cannot refresh it.
	if r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil); r.json["error"] != "invalid_grant" {
		t.Fatalf("refresh as another client: %d %s", r.status, r.body)
	}
	r = e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt, "client_id", "cli"), nil)
	if r.status != 200 || r.json["scope"] != "read write" {
		t.Fatalf("refresh by the client: %d %s", r.status, r.body)
	}

	// The consent is remembered: the next authorization skips the page,
	// also for fewer scopes; more scopes than consented ask again.
	_, challenge2 := pkce()
	r = e.browse(t, "GET", "/auth/authorize?"+authzRequest("cli", redirect, challenge2, "scope", "read").Encode(), nil, nil)
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"login"}, "username": {"alice"}, "password": {secret}}, nil)
	callback(t, r, redirect)
	// bob holds only read: he is asked, and gets read alone.
	verifier3, challenge3 := pkce()
	cb = e.authorize(t, authzRequest("cli", redirect, challenge3), "bob")
	if r := e.exchange(t, "cli", cb.Get("code"), redirect, verifier3, nil); r.status != 200 || r.json["scope"] != "read" {
		t.Fatalf("bob's token: %d %s", r.status, r.body)
	}
	kinds := e.eventKinds()
	for _, k := range []endpoint.EventKind{endpoint.CodeIssued, endpoint.ConsentGranted, endpoint.LoginFailed} {
		if !slices.Contains(kinds, k) {
			t.Errorf("no %s event in %v", k, kinds)
		}
	}
}

// TestFirstPartyNoConsent: a first-party client's user is not asked to
// consent; without a scope parameter the token has the user's scopes.
func TestFirstPartyNoConsent(t *testing.T) {
	e := newAuthzEnv(t, nil)
	verifier, challenge := pkce()
	r := e.browse(t, "GET", "/auth/authorize?"+authzRequest("spa", spaRedirect, challenge).Encode(), nil, nil)
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"login"}, "username": {"alice"}, "password": {secret}}, nil)
	cb := callback(t, r, spaRedirect)
	if r := e.exchange(t, "spa", cb.Get("code"), spaRedirect, verifier, nil); r.status != 200 || r.json["scope"] != "read write" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
}

// TestConfidentialClient: a confidential client authenticates with the
// method it registered, and only with its secret.
func TestConfidentialClient(t *testing.T) {
	e := newAuthzEnv(t, nil)
	verifier, challenge := pkce()
	cb := e.authorize(t, authzRequest("server", serverRedirect, challenge), "alice")
	code := vals("grant_type", "authorization_code", "code", cb.Get("code"), "redirect_uri", serverRedirect, "code_verifier", verifier)
	withCode := func(kv ...string) url.Values {
		v := url.Values{}
		for k, x := range code {
			v[k] = x
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	basic := func(id, pw string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(pw)) }
	}
	for _, c := range []struct {
		name   string
		form   url.Values
		edit   func(*http.Request)
		status int
	}{
		{"no secret", withCode("client_id", "server"), nil, 400},
		{"wrong secret", withCode(), basic("server", serverSecret+"x"), 401},
		{"secret in the form, registered for Basic", withCode("client_id", "server", "client_secret", serverSecret), nil, 400},
		{"unknown client", withCode(), basic("nobody", serverSecret), 401},
	} {
		r := e.form(t, "/auth/token", c.form, c.edit)
		if r.status != c.status || r.json["error"] != "invalid_client" {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
		if c.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: no Basic challenge", c.name)
		}
	}
	// Those refusals spent nothing.
	if r := e.form(t, "/auth/token", withCode(), basic("server", serverSecret)); r.status != 200 {
		t.Fatalf("with the secret: %d %s", r.status, r.body)
	}
}

// TestAuthorizeRefusals: every refusal the issue names, over HTTP.
// Errors about the client or its redirect URI are shown, never
// redirected; the others go back to the client.
func TestAuthorizeRefusals(t *testing.T) {
	e := newAuthzEnv(t, nil)
	_, ch := pkce()
	for _, c := range []struct {
		name string
		q    url.Values
		page bool   // shown to the user
		code string // else redirected with this error
	}{
		{"unregistered client", authzRequest("nobody", cliRedirect, ch), true, ""},
		{"no client_id", authzRequest("", cliRedirect, ch, "client_id", ""), true, ""},
		{"redirect URI with an extra path", authzRequest("cli", cliRedirect+"/more", ch), true, ""},
		{"redirect URI with a query", authzRequest("cli", cliRedirect+"?x=1", ch), true, ""},
		{"redirect URI of another client", authzRequest("cli", spaRedirect, ch), true, ""},
		{"redirect URI on another host", authzRequest("spa", "https://evil.test/cb", ch), true, ""},
		{"https redirect with a port", authzRequest("spa", "https://spa.test:8443/cb", ch), true, ""},
		{"no redirect URI", authzRequest("cli", cliRedirect, ch, "redirect_uri", ""), true, ""},
		{"response_type=token", authzRequest("cli", cliRedirect, ch, "response_type", "token"), false, "unsupported_response_type"},
		{"no response_type", authzRequest("cli", cliRedirect, ch, "response_type", ""), false, "invalid_request"},
		{"no code_challenge", authzRequest("cli", cliRedirect, ch, "code_challenge", ""), false, "invalid_request"},
		{"plain challenge", authzRequest("cli", cliRedirect, ch, "code_challenge_method", "plain"), false, "invalid_request"},
		{"no challenge method", authzRequest("cli", cliRedirect, ch, "code_challenge_method", ""), false, "invalid_request"},
		{"malformed challenge", authzRequest("cli", cliRedirect, "short", "code_challenge", "short"), false, "invalid_request"},
		{"scope the client may not have", authzRequest("cli", cliRedirect, ch, "scope", "admin"), false, "invalid_scope"},
		{"unknown resource", authzRequest("cli", cliRedirect, ch, "resource", "https://elsewhere.test/"), false, "invalid_target"},
		{"request object", authzRequest("cli", cliRedirect, ch, "request", "eyJ.x.y"), false, "request_not_supported"},
		{"dpop_jkt without DPoP", authzRequest("cli", cliRedirect, ch, "dpop_jkt", strings.Repeat("A", 43)), false, "invalid_request"},
		{"response_mode=fragment", authzRequest("spa", spaRedirect, ch, "response_mode", "fragment"), false, "invalid_request"},
		{"prompt=none (no session to reuse)", authzRequest("spa", spaRedirect, ch, "prompt", "none"), false, "login_required"},
		{"state too long", authzRequest("cli", cliRedirect, ch, "state", strings.Repeat("s", 2049)), false, "invalid_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.browse(t, "GET", "/auth/authorize?"+c.q.Encode(), nil, nil)
			if c.page {
				if r.status != 400 || r.header.Get("Location") != "" || !strings.Contains(r.body, `id="error"`) {
					t.Errorf("want an error page, got %d %v %s", r.status, r.header.Get("Location"), r.body)
				}
				return
			}
			q := callback(t, r, c.q.Get("redirect_uri"))
			wantState := c.q.Get("state")
			if len(wantState) > 2048 {
				wantState = "" // not echoed
			}
			if q.Get("error") != c.code || q.Get("state") != wantState || q.Get("code") != "" {
				t.Errorf("redirected with %v, want error %s", q, c.code)
			}
		})
	}
	// A repeated parameter: the client's is a page, others redirect.
	r := e.browse(t, "GET", "/auth/authorize?"+authzRequest("cli", cliRedirect, ch).Encode()+"&client_id=spa", nil, nil)
	if r.status != 400 || r.header.Get("Location") != "" {
		t.Errorf("repeated client_id: %d %s", r.status, r.body)
	}
	r = e.browse(t, "GET", "/auth/authorize?"+authzRequest("cli", cliRedirect, ch).Encode()+"&code_challenge_method=S256", nil, nil)
	if q := callback(t, r, cliRedirect); q.Get("error") != "invalid_request" {
		t.Errorf("repeated code_challenge_method: %v", q)
	}
}

// TestCodeRefusals: refusals at the token endpoint, each of which leaves
// the code good (a wrong verifier or client cannot burn it), and a code
// used twice, which revokes the tokens of its first use.
func TestCodeRefusals(t *testing.T) {
	e := newAuthzEnv(t, nil)
	verifier, challenge := pkce()
	cb := e.authorize(t, authzRequest("cli", cliRedirect, challenge), "alice")
	code := cb.Get("code")
	other, _ := pkce()
	for _, c := range []struct {
		name string
		form url.Values
		want string
	}{
		{"wrong verifier", vals("grant_type", "authorization_code", "client_id", "cli", "code", code, "redirect_uri", cliRedirect, "code_verifier", other), "invalid_grant"},
		{"no verifier", vals("grant_type", "authorization_code", "client_id", "cli", "code", code, "redirect_uri", cliRedirect), "invalid_request"},
		{"another client's code", vals("grant_type", "authorization_code", "client_id", "spa", "code", code, "redirect_uri", cliRedirect, "code_verifier", verifier), "invalid_grant"},
		{"the first-party client (no client_id)", vals("grant_type", "authorization_code", "code", code, "redirect_uri", cliRedirect, "code_verifier", verifier), "unauthorized_client"},
		{"another redirect URI", vals("grant_type", "authorization_code", "client_id", "cli", "code", code, "redirect_uri", cliRedirect+"/x", "code_verifier", verifier), "invalid_grant"},
		{"no redirect URI", vals("grant_type", "authorization_code", "client_id", "cli", "code", code, "code_verifier", verifier), "invalid_grant"},
		{"a password grant by a third-party client", vals("grant_type", "password", "client_id", "cli", "username", "alice", "password", secret), "unauthorized_client"},
		{"a malformed code", vals("grant_type", "authorization_code", "client_id", "cli", "code", "ac_nope", "redirect_uri", cliRedirect, "code_verifier", verifier), "invalid_grant"},
	} {
		r := e.form(t, "/auth/token", c.form, nil)
		wantError(t, r, 400, c.want)
	}
	r := e.exchange(t, "cli", code, cliRedirect, verifier, nil)
	if r.status != 200 {
		t.Fatalf("the code after the refusals: %d %s", r.status, r.body)
	}
	access, rt := r.json["access_token"].(string), r.json["refresh_token"].(string)
	if e.me(t, access) != 200 {
		t.Fatal("the access token does not work")
	}
	// Used twice: refused, and what the first use issued is revoked.
	wantError(t, e.exchange(t, "cli", code, cliRedirect, verifier, nil), 400, "invalid_grant")
	if st := e.me(t, access); st != 401 {
		t.Errorf("the first access token after the code's reuse: %d", st)
	}
	if r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt, "client_id", "cli"), nil); r.json["error"] != "invalid_grant" {
		t.Errorf("the first refresh token after the code's reuse: %d %s", r.status, r.body)
	}
	if !slices.Contains(e.eventKinds(), endpoint.CodeReused) {
		t.Error("no code_reuse event")
	}
	// Expired: the clock passes the code's minute.
	verifier, challenge = pkce()
	cb = e.authorize(t, authzRequest("cli", cliRedirect, challenge), "alice")
	e.clock.Advance(61 * time.Second)
	wantError(t, e.exchange(t, "cli", cb.Get("code"), cliRedirect, verifier, nil), 400, "invalid_grant")
}

// TestConsentDenyAndRevoke: a user who denies sends the client
// access_denied; a consent withdrawn ends the client's tokens and asks
// again next time.
func TestConsentDenyAndRevoke(t *testing.T) {
	e := newAuthzEnv(t, nil)
	_, challenge := pkce()
	q := authzRequest("cli", cliRedirect, challenge)
	r := e.browse(t, "GET", "/auth/authorize?"+q.Encode(), nil, nil)
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"login"}, "username": {"alice"}, "password": {secret}}, nil)
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"deny"}}, nil)
	if cb := callback(t, r, cliRedirect); cb.Get("error") != "access_denied" || cb.Get("state") != "st-123" {
		t.Fatalf("deny: %v", cb)
	}

	verifier, challenge := pkce()
	cb := e.authorize(t, authzRequest("cli", cliRedirect, challenge), "alice")
	cliAccess := e.exchange(t, "cli", cb.Get("code"), cliRedirect, verifier, nil).json["access_token"].(string)
	own, _ := e.tokens(t, "alice")
	r = e.do(t, "GET", "/auth/consents", "", "", bearer(own))
	if r.status != 200 || !strings.Contains(r.body, `"client_id":"cli"`) || !strings.Contains(r.body, `"client_name":"Widget CLI"`) {
		t.Fatalf("consents: %d %s", r.status, r.body)
	}
	if r := e.do(t, "DELETE", "/auth/consents?client_id=cli", "", "", bearer(own)); r.status != 204 {
		t.Fatalf("revoke consent: %d %s", r.status, r.body)
	}
	if st := e.me(t, cliAccess); st != 401 {
		t.Errorf("the client's token after the consent was withdrawn: %d", st)
	}
	if e.me(t, own) != 200 {
		t.Error("the user's own token was revoked too")
	}
	if r := e.do(t, "DELETE", "/auth/consents?client_id=cli", "", "", bearer(own)); r.status != 404 {
		t.Errorf("revoking it again: %d", r.status)
	}
	// Asked again.
	_, challenge = pkce()
	r = e.browse(t, "GET", "/auth/authorize?"+authzRequest("cli", cliRedirect, challenge).Encode(), nil, nil)
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"login"}, "username": {"alice"}, "password": {secret}}, nil)
	if !strings.Contains(r.body, `value="approve"`) {
		t.Fatalf("no consent page after the consent was withdrawn: %d %s", r.status, r.body)
	}
}

// TestAuthorizeForm: the login form is refused from another origin
// (login CSRF), a sealed request that was tampered with or has expired is
// an error page, and a sealed request cannot stand in for a consent.
func TestAuthorizeForm(t *testing.T) {
	e := newAuthzEnv(t, nil)
	_, challenge := pkce()
	r := e.browse(t, "GET", "/auth/authorize?"+authzRequest("cli", cliRedirect, challenge).Encode(), nil, nil)
	req := sealed(t, r)
	login := url.Values{"request": {req}, "action": {"login"}, "username": {"alice"}, "password": {secret}}
	for name, edit := range map[string]func(*http.Request){
		"Sec-Fetch-Site cross-site": func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		"another Origin":            func(r *http.Request) { r.Header.Set("Origin", "https://evil.test") },
	} {
		if r := e.browse(t, "POST", "/auth/authorize", login, edit); r.status != 403 || r.header.Get("Location") != "" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	tampered := []byte(req)
	tampered[len(tampered)/2] ^= 1
	for name, v := range map[string]url.Values{
		"tampered":                            {"request": {string(tampered)}, "action": {"login"}, "username": {"alice"}, "password": {secret}},
		"approve with a login page's request": {"request": {req}, "action": {"approve"}},
		"no action":                           {"request": {req}, "username": {"alice"}, "password": {secret}},
	} {
		if r := e.browse(t, "POST", "/auth/authorize", v, nil); r.status != 400 || r.header.Get("Location") != "" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	e.clock.Advance(11 * time.Minute)
	if r := e.browse(t, "POST", "/auth/authorize", login, nil); r.status != 400 || !strings.Contains(r.body, "expired") {
		t.Errorf("expired: %d %s", r.status, r.body)
	}
}

// TestAuthorizationMetadata: RFC 8414 lists the authorization endpoint
// and what it supports.
func TestAuthorizationMetadata(t *testing.T) {
	e := newAuthzEnv(t, nil)
	m := e.srv.Metadata("/auth")
	if m.AuthorizationEndpoint != issuer+"/auth/authorize" || !slices.Equal(m.ResponseTypesSupported, []string{"code"}) ||
		!slices.Equal(m.CodeChallengeMethodsSupported, []string{"S256"}) || !m.AuthorizationResponseISSParameterSupported ||
		!slices.Contains(m.GrantTypesSupported, "authorization_code") || !slices.Contains(m.TokenEndpointAuthMethodsSupported, "client_secret_basic") ||
		m.RegistrationEndpoint != "" || m.ClientIDMetadataDocumentSupported {
		t.Fatalf("%+v", m)
	}
}

// downConsents is a consent store that cannot answer.
type downConsents struct{ consent.Store }

func (downConsents) Get(context.Context, string, string) (consent.Consent, error) {
	return consent.Consent{}, errDown
}

// downClients is a client lookup that cannot answer.
type downClients struct{}

func (downClients) Client(context.Context, string) (clients.Client, error) {
	return clients.Client{}, errDown
}

// TestAuthorizeOutages: a store that cannot answer is a 503 page, never
// a redirect with a code and never a 4xx that blames the user.
func TestAuthorizeOutages(t *testing.T) {
	_, challenge := pkce()
	q := authzRequest("cli", cliRedirect, challenge)
	e := newEnv(t, backends[0], func(c *endpoint.Config) {
		c.Authorization = &endpoint.AuthorizationConfig{Clients: downClients{}}
	})
	if r := e.browse(t, "GET", "/auth/authorize?"+q.Encode(), nil, nil); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("clients down: %d %s", r.status, r.body)
	}
	e = newAuthzEnv(t, func(c *endpoint.Config) { c.Authorization.Consents = downConsents{consent.NewMemoryStore()} })
	r := e.browse(t, "GET", "/auth/authorize?"+q.Encode(), nil, nil)
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"login"}, "username": {"alice"}, "password": {secret}}, nil)
	if r.status != 503 || r.header.Get("Location") != "" {
		t.Errorf("consents down: %d %s", r.status, r.body)
	}
	e = newAuthzEnv(t, nil)
	r = e.browse(t, "GET", "/auth/authorize?"+q.Encode(), nil, nil)
	e.users.down.Store(true)
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, r)}, "action": {"login"}, "username": {"alice"}, "password": {secret}}, nil)
	if r.status != 503 || r.header.Get("Location") != "" {
		t.Errorf("users down: %d %s", r.status, r.body)
	}
}

// TestAuthorizeThrottle: the login form takes the login endpoint's
// budgets: over them, 429 with Retry-After and no password checked.
func TestAuthorizeThrottle(t *testing.T) {
	e := newAuthzEnv(t, func(c *endpoint.Config) {
		c.Throttle = endpoint.ThrottleConfig{Username: endpoint.Rate{Burst: 2, Every: time.Hour}, Address: endpoint.Rate{Burst: 100, Every: time.Hour}}
	})
	_, challenge := pkce()
	r := e.browse(t, "GET", "/auth/authorize?"+authzRequest("cli", cliRedirect, challenge).Encode(), nil, nil)
	req := sealed(t, r)
	for i := range 3 {
		r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {req}, "action": {"login"}, "username": {"alice"}, "password": {"wrong"}}, nil)
		if i < 2 && r.status != 401 {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many attempts") {
		t.Fatalf("over the budget: %d %v %s", r.status, r.header, r.body)
	}
	// The right password does not get through either.
	r = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {req}, "action": {"login"}, "username": {"alice"}, "password": {secret}}, nil)
	if r.status != 429 {
		t.Fatalf("the right password over the budget: %d", r.status)
	}
}
