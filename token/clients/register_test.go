package clients_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/sessionless/sessionless/token/clients"
)

// regBase is the moment the registrar's clock starts at.
var regBase = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// regScopes are the scopes the test registrars offer.
var regScopes = []string{"notes:read", "notes:write", "profile"}

// regClock is a clock the test moves.
type regClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *regClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *regClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// regCounting is a Store that counts the Creates that reached it.
type regCounting struct {
	clients.Store
	mu      sync.Mutex
	created int
}

func (s *regCounting) Create(ctx context.Context, c clients.Client) error {
	s.mu.Lock()
	s.created++
	s.mu.Unlock()
	return s.Store.Create(ctx, c)
}

func (s *regCounting) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// regFailing is a Store that cannot answer.
type regFailing struct {
	clients.MemoryStore
	err error
}

func (s *regFailing) Create(context.Context, clients.Client) error { return s.err }

// regEnv is a registrar served over HTTP, with its store and clock.
type regEnv struct {
	srv   *httptest.Server
	reg   *clients.Registrar
	store *regCounting
	clock *regClock
}

// regStart serves a registrar of cfg, whose zero fields get a counted
// memory store, regScopes, no global rate limit and a clock at regBase.
func regStart(t *testing.T, cfg clients.RegistrarConfig) *regEnv {
	t.Helper()
	e := &regEnv{clock: &regClock{t: regBase}}
	if cfg.Store == nil {
		cfg.Store = clients.NewMemoryStore()
	}
	e.store = &regCounting{Store: cfg.Store}
	cfg.Store = e.store
	if cfg.Scopes == nil {
		cfg.Scopes = regScopes
	}
	if cfg.Rate == 0 {
		cfg.Rate = rate.Inf
	}
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	reg, err := clients.NewRegistrar(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.reg = reg
	mux := http.NewServeMux()
	mux.Handle("/auth/register", reg)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// regResponse is a response, its body decoded when it is JSON.
type regResponse struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (e *regEnv) post(t *testing.T, contentType, body string) regResponse {
	t.Helper()
	return e.do(t, http.MethodPost, contentType, body)
}

func (e *regEnv) do(t *testing.T, method, contentType, body string) regResponse {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/auth/register", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := regResponse{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.json); err != nil {
			t.Fatalf("the body is not a JSON object: %v: %s", err, raw)
		}
	}
	return r
}

// register posts body as JSON and wants 201.
func (e *regEnv) register(t *testing.T, body string) regResponse {
	t.Helper()
	r := e.post(t, "application/json", body)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d, want 201: %s", r.status, r.raw)
	}
	return r
}

// regStored returns the client a response registered, from the store.
func (e *regEnv) stored(t *testing.T, r regResponse) clients.Client {
	t.Helper()
	id, _ := r.json["client_id"].(string)
	c, err := e.store.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%q): %v", id, err)
	}
	return c
}

// regDescriptionOK reports whether s has only the characters RFC 6749
// §5.2 allows an error_description: %x20-21 / %x23-5B / %x5D-7E.
func regDescriptionOK(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			return false
		}
	}
	return true
}

// regWantNoStore checks the headers every response of the registrar
// carries.
func regWantNoStore(t *testing.T, r regResponse) {
	t.Helper()
	if cc, p, ct := r.header.Get("Cache-Control"), r.header.Get("Pragma"), r.header.Get("Content-Type"); cc != "no-store" ||
		p != "no-cache" || ct != "application/json" {
		t.Errorf("Cache-Control %q, Pragma %q, Content-Type %q; want no-store, no-cache, application/json", cc, p, ct)
	}
}

// regWantError checks a refusal: status, error code, a description in
// the characters RFC 6749 allows, and no store.
func regWantError(t *testing.T, r regResponse, status int, code string) {
	t.Helper()
	if r.status != status || r.json["error"] != code {
		t.Errorf("got %d %s, want %d %q", r.status, r.raw, status, code)
	}
	d, _ := r.json["error_description"].(string)
	if d == "" || !regDescriptionOK(d) {
		t.Errorf("error_description %q: want one in RFC 6749's characters", d)
	}
	if len(r.json) != 2 {
		t.Errorf("the error has members %v, want error and error_description", slices.Sorted(maps.Keys(r.json)))
	}
	regWantNoStore(t, r)
}

// regJSON marshals v, or panics.
func regJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// regWith returns a registration body: redirect_uris with one loopback
// URI, and the members of extra, as JSON, after it.
func regWith(extra string) string {
	if extra == "" {
		return `{"redirect_uris":["http://127.0.0.1/callback"]}`
	}
	return `{"redirect_uris":["http://127.0.0.1/callback"],` + extra + `}`
}

// regRefusal is a request the registrar refuses.
type regRefusal struct {
	name         string
	confidential bool   // with AllowConfidential
	contentType  string // empty: application/json
	body         string
	status       int
	code         string
}

const (
	regMetadata = "invalid_client_metadata"
	regRedirect = "invalid_redirect_uri"
)

// regRefusals are the refusals of the registrar, also the seeds of
// FuzzRegister.
var regRefusals = []regRefusal{
	// The body.
	{name: "not JSON", body: `redirect_uris=https://app.example/cb`, status: 400, code: regMetadata},
	{name: "an array", body: `[` + regWith("") + `]`, status: 400, code: regMetadata},
	{name: "a string", body: `"x"`, status: 400, code: regMetadata},
	{name: "empty", body: ``, status: 400, code: regMetadata},
	{name: "white space", body: " \n", status: 400, code: regMetadata},
	{name: "trailing data", body: regWith("") + ` {}`, status: 400, code: regMetadata},
	{name: "truncated", body: regWith("")[:20], status: 400, code: regMetadata},
	{name: "invalid UTF-8", body: regWith(`"client_name":"a` + "\xff" + `"`), status: 400, code: regMetadata},
	{name: "a lone surrogate", body: regWith(`"client_name":"\ud800"`), status: 400, code: regMetadata},
	{name: "text/plain", contentType: "text/plain", body: regWith(""), status: 400, code: regMetadata},
	{name: "a form", contentType: "application/x-www-form-urlencoded", body: regWith(""), status: 400, code: regMetadata},
	{name: "no Content-Type", contentType: "-", body: regWith(""), status: 400, code: regMetadata},
	{name: "JSON-ish media type", contentType: "application/jsonx", body: regWith(""), status: 400, code: regMetadata},
	{name: "a repeated member", body: regWith(`"redirect_uris":["https://evil.example/cb"]`), status: 400, code: regMetadata},
	{name: "a repeated ignored member", body: regWith(`"logo_uri":"https://a.example/1","logo_uri":"https://a.example/2"`), status: 400, code: regMetadata},
	{name: "a repeated nested member", body: regWith(`"jwks":{"keys":[],"keys":[]}`), status: 400, code: regMetadata},
	{name: "too large", body: regWith(`"pad":"` + strings.Repeat("x", clients.DefaultRegistrationBytes) + `"`), status: 413, code: regMetadata},
	{name: "nested too deeply", body: regWith(`"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100)), status: 400, code: regMetadata},

	// redirect_uris.
	{name: "no redirect_uris", body: `{"client_name":"x"}`, status: 400, code: regRedirect},
	{name: "an empty object", body: `{}`, status: 400, code: regRedirect},
	{name: "redirect_uris null", body: `{"redirect_uris":null}`, status: 400, code: regRedirect},
	{name: "redirect_uris empty", body: `{"redirect_uris":[]}`, status: 400, code: regRedirect},
	{name: "redirect_uris a string", body: `{"redirect_uris":"https://app.example/cb"}`, status: 400, code: regMetadata},
	{name: "redirect_uris with a number", body: `{"redirect_uris":["https://app.example/cb",1]}`, status: 400, code: regMetadata},
	{name: "redirect_uris with null", body: `{"redirect_uris":[null]}`, status: 400, code: regMetadata},
	{name: "redirect_uris an object", body: `{"redirect_uris":{"a":"https://app.example/cb"}}`, status: 400, code: regMetadata},
	{name: "Redirect_URIs", body: `{"Redirect_URIs":["https://app.example/cb"]}`, status: 400, code: regRedirect},
	{name: "http elsewhere than loopback", body: `{"redirect_uris":["http://app.example/cb"]}`, status: 400, code: regRedirect},
	{name: "a fragment", body: `{"redirect_uris":["https://app.example/cb#x"]}`, status: 400, code: regRedirect},
	{name: "javascript:", body: `{"redirect_uris":["javascript:alert(1)"]}`, status: 400, code: regRedirect},
	{name: "data:", body: `{"redirect_uris":["data:text/html,hi"]}`, status: 400, code: regRedirect},
	{name: "relative", body: `{"redirect_uris":["/cb"]}`, status: 400, code: regRedirect},
	{name: "user information", body: `{"redirect_uris":["https://user@app.example/cb"]}`, status: 400, code: regRedirect},
	{name: "the second one bad", body: `{"redirect_uris":["https://app.example/cb","http://evil.example/"]}`, status: 400, code: regRedirect},
	{name: "an empty one", body: `{"redirect_uris":[""]}`, status: 400, code: regRedirect},
	{name: "21 redirect_uris", body: `{"redirect_uris":` + regJSON(regURIs(21)) + `}`, status: 400, code: regRedirect},

	// token_endpoint_auth_method.
	{name: "client_secret_basic, public only", body: regWith(`"token_endpoint_auth_method":"client_secret_basic"`), status: 400, code: regMetadata},
	{name: "client_secret_post, public only", body: regWith(`"token_endpoint_auth_method":"client_secret_post"`), status: 400, code: regMetadata},
	{name: "private_key_jwt", body: regWith(`"token_endpoint_auth_method":"private_key_jwt"`), status: 400, code: regMetadata},
	{name: "private_key_jwt, confidential", confidential: true, body: regWith(`"token_endpoint_auth_method":"private_key_jwt"`), status: 400, code: regMetadata},
	{name: "tls_client_auth, confidential", confidential: true, body: regWith(`"token_endpoint_auth_method":"tls_client_auth"`), status: 400, code: regMetadata},
	{name: "auth method empty", body: regWith(`"token_endpoint_auth_method":""`), status: 400, code: regMetadata},
	{name: "auth method in capitals", body: regWith(`"token_endpoint_auth_method":"NONE"`), status: 400, code: regMetadata},
	{name: "auth method a number", body: regWith(`"token_endpoint_auth_method":1`), status: 400, code: regMetadata},
	{name: "auth method an array", body: regWith(`"token_endpoint_auth_method":["none"]`), status: 400, code: regMetadata},

	// grant_types.
	{name: "the password grant", body: regWith(`"grant_types":["authorization_code","password"]`), status: 400, code: regMetadata},
	{name: "the password grant, confidential", confidential: true, body: regWith(`"grant_types":["password"]`), status: 400, code: regMetadata},
	{name: "client_credentials", confidential: true, body: regWith(`"grant_types":["authorization_code","client_credentials"]`), status: 400, code: regMetadata},
	{name: "implicit", body: regWith(`"grant_types":["implicit"]`), status: 400, code: regMetadata},
	{name: "device code", body: regWith(`"grant_types":["urn:ietf:params:oauth:grant-type:device_code"]`), status: 400, code: regMetadata},
	{name: "grant_types empty", body: regWith(`"grant_types":[]`), status: 400, code: regMetadata},
	{name: "grant_types a string", body: regWith(`"grant_types":"authorization_code"`), status: 400, code: regMetadata},
	{name: "refresh_token alone", body: regWith(`"grant_types":["refresh_token"]`), status: 400, code: regMetadata},

	// response_types.
	{name: "token", body: regWith(`"response_types":["token"]`), status: 400, code: regMetadata},
	{name: "code and token", body: regWith(`"response_types":["code","token"]`), status: 400, code: regMetadata},
	{name: "code id_token", body: regWith(`"response_types":["code id_token"]`), status: 400, code: regMetadata},
	{name: "response_types empty", body: regWith(`"response_types":[]`), status: 400, code: regMetadata},
	{name: "response_types a string", body: regWith(`"response_types":"code"`), status: 400, code: regMetadata},

	// client_name.
	{name: "a name of 201 bytes", body: regWith(`"client_name":"` + strings.Repeat("n", 201) + `"`), status: 400, code: regMetadata},
	{name: "a name with a control character", body: regWith(`"client_name":"a\u0007b"`), status: 400, code: regMetadata},
	{name: "a name with a line break", body: regWith(`"client_name":"a\nb"`), status: 400, code: regMetadata},
	{name: "a name with a C1 control", body: regWith(`"client_name":"a\u0085b"`), status: 400, code: regMetadata},
	{name: "a name with a bidi override", body: regWith(`"client_name":"Good \u202eliaM"`), status: 400, code: regMetadata},
	{name: "a name with a bidi isolate", body: regWith(`"client_name":"a\u2067b"`), status: 400, code: regMetadata},
	{name: "a name a number", body: regWith(`"client_name":7`), status: 400, code: regMetadata},

	// scope.
	{name: "scope an array", body: regWith(`"scope":["notes:read"]`), status: 400, code: regMetadata},
	{name: "scope with a quote", body: regWith(`"scope":"notes:read a\"b"`), status: 400, code: regMetadata},
	{name: "scope with a tab", body: regWith(`"scope":"notes:read\tprofile"`), status: 400, code: regMetadata},
	{name: "scope with a control", body: regWith(`"scope":"notes:read\u0001"`), status: 400, code: regMetadata},
}

// regURIs returns n distinct https redirect URIs.
func regURIs(n int) []string {
	uris := make([]string, n)
	for i := range uris {
		uris[i] = "https://app.example/cb" + strconv.Itoa(i)
	}
	return uris
}

func TestRegistrarRefusals(t *testing.T) {
	public, confidential := regStart(t, clients.RegistrarConfig{}), regStart(t, clients.RegistrarConfig{AllowConfidential: true})
	for _, tc := range regRefusals {
		t.Run(tc.name, func(t *testing.T) {
			e := public
			if tc.confidential {
				e = confidential
			}
			before := e.store.count()
			ct := tc.contentType
			switch ct {
			case "":
				ct = "application/json"
			case "-":
				ct = ""
			}
			r := e.post(t, ct, tc.body)
			regWantError(t, r, tc.status, tc.code)
			if n := e.store.count() - before; n != 0 {
				t.Errorf("%d registrations reached the store", n)
			}
		})
	}
}

func TestRegistrarMethods(t *testing.T) {
	e := regStart(t, clients.RegistrarConfig{})
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodPatch} {
		r := e.do(t, m, "application/json", regWith(""))
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
			t.Errorf("%s: %d, Allow %q; want 405, POST", m, r.status, r.header.Get("Allow"))
		}
		if m != http.MethodHead {
			regWantError(t, r, http.StatusMethodNotAllowed, "invalid_request")
		}
	}
	if n := e.store.count(); n != 0 {
		t.Errorf("%d registrations reached the store", n)
	}
}

// TestRegistrarPublic: a public client with nothing but its redirect
// URI gets the defaults.
func TestRegistrarPublic(t *testing.T) {
	e := regStart(t, clients.RegistrarConfig{})
	r := e.register(t, regWith(""))
	regWantNoStore(t, r)
	id, _ := r.json["client_id"].(string)
	if !strings.HasPrefix(id, clients.RegisteredIDPrefix) || len(id) < 3+22 || clients.CheckID(id) != nil ||
		strings.Trim(id[3:], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Errorf("client_id %q: want rc_ and 22 or more base64url characters", id)
	}
	want := map[string]any{
		"client_id":                  id,
		"client_id_issued_at":        float64(regBase.Unix()),
		"redirect_uris":              []any{"http://127.0.0.1/callback"},
		"grant_types":                []any{"authorization_code"},
		"response_types":             []any{"code"},
		"token_endpoint_auth_method": "none",
		"scope":                      "notes:read notes:write profile",
	}
	if got := regJSON(r.json); got != regJSON(want) {
		t.Errorf("response\n%s\nwant\n%s", got, regJSON(want))
	}
	c := e.stored(t, r)
	wantClient := clients.Client{
		ID: id, Kind: clients.Registered, AuthMethod: clients.AuthNone,
		RedirectURIs: []string{"http://127.0.0.1/callback"}, Scopes: regScopes,
		GrantTypes: []string{clients.GrantAuthorizationCode}, CreatedAt: regBase,
		ExpiresAt: regBase.Add(clients.DefaultUnusedLifetime),
	}
	if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", wantClient) {
		t.Errorf("stored\n%+v\nwant\n%+v", c, wantClient)
	}
	if err := c.Validate(); err != nil || !c.Public() || c.FirstParty || c.Allows(clients.GrantRefreshToken) {
		t.Errorf("stored client %+v: Validate %v; want a valid public third-party client without refresh tokens", c, err)
	}
	// Another registration is another client.
	if r2 := e.register(t, regWith("")); r2.json["client_id"] == id {
		t.Errorf("two registrations got the client_id %s", id)
	}
}

// TestRegistrarMetadata: what a registration may say, and what becomes
// of it.
func TestRegistrarMetadata(t *testing.T) {
	tests := []struct {
		name string
		body string
		want map[string]any // members of the response that must have these values
		gone []string       // members the response must not have
	}{
		{
			name: "everything",
			body: `{"redirect_uris":["https://app.example/cb","com.example.app:/cb","http://localhost:8080/cb"],
				"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],
				"response_types":["code"],"client_name":"Café ☕ Notes","scope":"notes:read profile"}`,
			want: map[string]any{
				"redirect_uris": []any{"https://app.example/cb", "com.example.app:/cb", "http://localhost:8080/cb"},
				"grant_types":   []any{"authorization_code", "refresh_token"}, "response_types": []any{"code"},
				"token_endpoint_auth_method": "none", "client_name": "Café ☕ Notes", "scope": "notes:read profile",
			},
			gone: []string{"client_secret", "client_secret_expires_at"},
		},
		{
			name: "unknown and ignored members",
			body: `{"redirect_uris":["https://app.example/cb"],"client_uri":"javascript:alert(1)",
				"logo_uri":"http://evil.example/logo.png","contacts":["a@b.example"],"tos_uri":1,
				"jwks":{"keys":[{"kty":"EC"}]},"software_statement":"eyJ.x.y","software_id":null,
				"x-extension":{"nested":[1,2,{"a":null}]},"CLIENT_NAME":"shadow","client_name ":"shadow",
				"Scope":"admin"}`,
			want: map[string]any{"scope": "notes:read notes:write profile"},
			gone: []string{"client_uri", "logo_uri", "contacts", "tos_uri", "jwks", "software_statement", "software_id",
				"x-extension", "client_name", "CLIENT_NAME"},
		},
		{
			name: "nulls are left out",
			body: `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":null,"grant_types":null,
				"response_types":null,"client_name":null,"scope":null}`,
			want: map[string]any{"token_endpoint_auth_method": "none", "grant_types": []any{"authorization_code"},
				"response_types": []any{"code"}, "scope": "notes:read notes:write profile"},
			gone: []string{"client_name"},
		},
		{
			name: "scope narrowed",
			body: regWith(`"scope":"admin notes:read notes:read openid"`),
			want: map[string]any{"scope": "notes:read"},
		},
		{
			name: "scope in the client's order, spaces forgiven",
			body: regWith(`"scope":"  profile   notes:write "`),
			want: map[string]any{"scope": "profile notes:write"},
		},
		{
			name: "scope empty",
			body: regWith(`"scope":""`),
			want: map[string]any{"scope": "notes:read notes:write profile"},
		},
		{
			// claude.ai registers "claudeai": replaced by the server's set
			// (RFC 7591 §3.2.1), as if none were asked for.
			name: "no scope the server offers",
			body: regWith(`"scope":"claudeai"`),
			want: map[string]any{"scope": "notes:read notes:write profile"},
		},
		{
			name: "repeats dropped",
			body: `{"redirect_uris":["https://app.example/cb","https://app.example/cb"],
				"grant_types":["refresh_token","authorization_code","refresh_token"],"response_types":["code","code"]}`,
			want: map[string]any{"redirect_uris": []any{"https://app.example/cb"},
				"grant_types": []any{"refresh_token", "authorization_code"}, "response_types": []any{"code"}},
		},
		{
			name: "a name trimmed",
			body: regWith(`"client_name":"  My CLI "`),
			want: map[string]any{"client_name": "My CLI"},
		},
		{
			name: "a name of white space is none",
			body: regWith(`"client_name":"   "`),
			gone: []string{"client_name"},
		},
		{
			name: "a name of 200 bytes",
			body: regWith(`"client_name":"` + strings.Repeat("é", 100) + `"`),
			want: map[string]any{"client_name": strings.Repeat("é", 100)},
		},
		{
			name: "20 redirect URIs",
			body: `{"redirect_uris":` + regJSON(regURIs(20)) + `}`,
			want: map[string]any{"redirect_uris": func() []any {
				var a []any
				for _, u := range regURIs(20) {
					a = append(a, u)
				}
				return a
			}()},
		},
		{
			name: "escaped member names",
			body: `{"redirect\u005furis":["https://app.example/cb"],"client\u005fname":"esc"}`,
			want: map[string]any{"client_name": "esc"},
		},
	}
	e := regStart(t, clients.RegistrarConfig{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.register(t, tc.body)
			for k, v := range tc.want {
				if regJSON(r.json[k]) != regJSON(v) {
					t.Errorf("%s = %s, want %s", k, regJSON(r.json[k]), regJSON(v))
				}
			}
			for _, k := range tc.gone {
				if v, ok := r.json[k]; ok {
					t.Errorf("the response has %s: %v", k, v)
				}
			}
			// The response says what was registered.
			c := e.stored(t, r)
			if err := c.Validate(); err != nil {
				t.Error(err)
			}
			if regJSON(r.json["redirect_uris"]) != regJSON(c.RedirectURIs) || regJSON(r.json["grant_types"]) != regJSON(c.GrantTypes) ||
				r.json["scope"] != strings.Join(c.Scopes, " ") || r.json["token_endpoint_auth_method"] != c.AuthMethod ||
				(r.json["client_name"] != nil || c.Name != "") && r.json["client_name"] != c.Name {
				t.Errorf("the response %s does not say what was stored: %+v", r.raw, c)
			}
		})
	}
}

// TestRegistrarContentType: parameters of the media type do not matter.
func TestRegistrarContentType(t *testing.T) {
	e := regStart(t, clients.RegistrarConfig{})
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON", "application/json ;charset=UTF-8"} {
		if r := e.post(t, ct, regWith("")); r.status != http.StatusCreated {
			t.Errorf("%q: %d %s, want 201", ct, r.status, r.raw)
		}
	}
}

// TestRegistrarConfidential: with AllowConfidential, a client that asks
// for nothing gets a secret for client_secret_basic, once; the store
// keeps its hash.
func TestRegistrarConfidential(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(regLockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := regStart(t, clients.RegistrarConfig{AllowConfidential: true, Logger: logger})
	for _, tc := range []struct{ ask, want string }{
		{"", clients.AuthSecretBasic},
		{`"token_endpoint_auth_method":"client_secret_basic"`, clients.AuthSecretBasic},
		{`"token_endpoint_auth_method":"client_secret_post"`, clients.AuthSecretPost},
	} {
		r := e.register(t, regWith(tc.ask))
		regWantNoStore(t, r)
		secret, _ := r.json["client_secret"].(string)
		if !strings.HasPrefix(secret, clients.SecretPrefix) || len(secret) < 40 {
			t.Errorf("client_secret %q", secret)
		}
		if exp, ok := r.json["client_secret_expires_at"]; !ok || exp != float64(0) {
			t.Errorf("client_secret_expires_at = %v, want 0", exp)
		}
		if r.json["token_endpoint_auth_method"] != tc.want {
			t.Errorf("token_endpoint_auth_method = %v, want %s", r.json["token_endpoint_auth_method"], tc.want)
		}
		c := e.stored(t, r)
		if c.AuthMethod != tc.want || c.Public() || !c.VerifySecret(secret) || c.VerifySecret(secret+"x") ||
			len(c.SecretHashes) != 1 || c.SecretHashes[0] != clients.HashSecret(secret) {
			t.Errorf("stored %+v: want %s, the hash of the secret alone", c, tc.want)
		}
		if strings.Contains(fmt.Sprintf("%+v %#v", c, c), secret[len(clients.SecretPrefix):]) {
			t.Error("the stored client holds the secret")
		}
		mu.Lock()
		leaked := strings.Contains(logs.String(), secret[len(clients.SecretPrefix):])
		mu.Unlock()
		if leaked {
			t.Error("the secret was logged")
		}
	}
	// "none" is still a public client.
	r := e.register(t, regWith(`"token_endpoint_auth_method":"none"`))
	if _, ok := r.json["client_secret"]; ok || r.json["token_endpoint_auth_method"] != "none" {
		t.Errorf("a public client: %s", r.raw)
	}
	if c := e.stored(t, r); !c.Public() || len(c.SecretHashes) != 0 {
		t.Errorf("stored %+v, want a public client", c)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "client registered") {
		t.Errorf("no registration logged: %s", logs.String())
	}
}

type regLockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w regLockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// TestRegistrarExpiry: through a Registry, an unused registration
// disappears after UnusedLifetime; one used lasts. Purge deletes the
// first.
func TestRegistrarExpiry(t *testing.T) {
	ctx := context.Background()
	store := clients.NewMemoryStore()
	e := regStart(t, clients.RegistrarConfig{Store: store, UnusedLifetime: time.Hour})
	registry := &clients.Registry{Registered: store, Now: e.clock.Now}
	unused := e.register(t, regWith(""))
	used := e.register(t, regWith(""))
	unusedID, usedID := unused.json["client_id"].(string), used.json["client_id"].(string)

	c, err := registry.Client(ctx, usedID)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt.Equal(regBase.Add(time.Hour)) {
		t.Errorf("ExpiresAt = %v, want an hour after the registration", c.ExpiresAt)
	}
	// The token endpoint issues tokens to it.
	if err := registry.MarkUsed(ctx, c); err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(time.Hour - 1)
	if _, err := registry.Client(ctx, unusedID); err != nil {
		t.Errorf("a nanosecond before it expires: %v", err)
	}
	e.clock.Advance(1)
	if _, err := registry.Client(ctx, unusedID); !errors.Is(err, clients.ErrUnknownClient) {
		t.Errorf("expired: %v, want ErrUnknownClient", err)
	}
	e.clock.Advance(1000 * time.Hour)
	if c, err := registry.Client(ctx, usedID); err != nil || !c.ExpiresAt.IsZero() {
		t.Errorf("the used registration: %+v, %v; want it without expiry", c, err)
	}
	if n, err := store.Purge(ctx, e.clock.Now()); n != 1 || err != nil {
		t.Errorf("Purge = %d, %v; want the unused registration deleted", n, err)
	}
	if _, err := store.Get(ctx, unusedID); !errors.Is(err, clients.ErrUnknownClient) {
		t.Errorf("after Purge: %v", err)
	}
	if _, err := store.Get(ctx, usedID); err != nil {
		t.Errorf("after Purge, the used registration: %v", err)
	}
}

// TestRegistrarRate: the global limit, by default one a second in bursts
// of 20, counts every POST, valid or not, and says when to retry.
func TestRegistrarRate(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		e := regStart(t, clients.RegistrarConfig{Rate: clients.DefaultRegistrationRate})
		for i := range clients.DefaultRegistrationBurst {
			body := regWith("")
			if i%2 == 1 {
				body = "{" // refused, and counted
			}
			if r := e.post(t, "application/json", body); r.status == http.StatusTooManyRequests {
				t.Fatalf("request %d refused: %s", i, r.raw)
			}
		}
		r := e.post(t, "application/json", regWith(""))
		regWantError(t, r, http.StatusTooManyRequests, "slow_down")
		if ra := r.header.Get("Retry-After"); ra != "1" {
			t.Errorf("Retry-After %q, want 1", ra)
		}
		e.clock.Advance(time.Second)
		e.register(t, regWith(""))
		if r := e.post(t, "application/json", regWith("")); r.status != http.StatusTooManyRequests {
			t.Errorf("status %d, want 429", r.status)
		}
	})
	t.Run("Slow", func(t *testing.T) {
		e := regStart(t, clients.RegistrarConfig{Rate: rate.Every(time.Hour), Burst: 2})
		e.register(t, regWith(""))
		e.register(t, regWith(""))
		r := e.post(t, "application/json", regWith(""))
		regWantError(t, r, http.StatusTooManyRequests, "slow_down")
		if ra := r.header.Get("Retry-After"); ra != "3600" {
			t.Errorf("Retry-After %q, want 3600", ra)
		}
		// A refused request takes nothing: in an hour there is one.
		e.clock.Advance(time.Hour)
		e.register(t, regWith(""))
		if r := e.post(t, "application/json", regWith("")); r.status != http.StatusTooManyRequests {
			t.Errorf("status %d, want 429", r.status)
		}
		if n := e.store.count(); n != 3 {
			t.Errorf("%d registrations reached the store, want 3", n)
		}
	})
}

// TestRegistrarAllow: the per-client budget runs first, with the
// request, and its refusals spend nothing of the global limit.
func TestRegistrarAllow(t *testing.T) {
	var mu sync.Mutex
	var refuse bool
	var after time.Duration
	var seen []string
	e := regStart(t, clients.RegistrarConfig{
		Rate: rate.Every(time.Hour), Burst: 1,
		Allow: func(r *http.Request) (bool, time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, r.Method+" "+r.URL.Path+" "+r.RemoteAddr)
			return !refuse, after
		},
	})
	set := func(r bool, a time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		refuse, after = r, a
	}
	for _, tc := range []struct {
		after time.Duration
		want  string
	}{{1500 * time.Millisecond, "2"}, {0, "1"}, {-time.Hour, "1"}, {time.Second, "1"}, {90 * time.Second, "90"}} {
		set(true, tc.after)
		r := e.post(t, "application/json", regWith(""))
		regWantError(t, r, http.StatusTooManyRequests, "slow_down")
		if ra := r.header.Get("Retry-After"); ra != tc.want {
			t.Errorf("retryAfter %v: Retry-After %q, want %q", tc.after, ra, tc.want)
		}
	}
	set(false, 0)
	e.register(t, regWith("")) // the global budget of one is intact
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 6 || !strings.HasPrefix(seen[0], "POST /auth/register 127.0.0.1:") {
		t.Errorf("Allow saw %q", seen)
	}
}

// regUnread is a request body that fails the test when it is read.
type regUnread struct{ t *testing.T }

func (b regUnread) Read([]byte) (int, error) {
	b.t.Error("the body was read")
	return 0, io.EOF
}

func (regUnread) Close() error { return nil }

// TestRegistrarLimitsBeforeBody: a request refused by a limit, or for
// its method, is refused before a byte of its body is read.
func TestRegistrarLimitsBeforeBody(t *testing.T) {
	serve := func(cfg clients.RegistrarConfig, method string) int {
		cfg.Store, cfg.Scopes = clients.NewMemoryStore(), regScopes
		reg, err := clients.NewRegistrar(cfg)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(method, "/auth/register", nil)
		req.Body = regUnread{t}
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, req)
		return w.Code
	}
	refuse := func(*http.Request) (bool, time.Duration) { return false, time.Second }
	if code := serve(clients.RegistrarConfig{Allow: refuse}, http.MethodPost); code != http.StatusTooManyRequests {
		t.Errorf("Allow: %d, want 429", code)
	}
	// A burst of one, spent by a first request.
	cfg := clients.RegistrarConfig{Store: clients.NewMemoryStore(), Scopes: regScopes, Rate: rate.Every(time.Hour), Burst: 1}
	reg, err := clients.NewRegistrar(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	reg.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/auth/register", strings.NewReader(regWith(""))))
	req := httptest.NewRequest(http.MethodPost, "/auth/register", nil)
	req.Body = regUnread{t}
	w = httptest.NewRecorder()
	reg.ServeHTTP(w, req)
	if w.Code != http.StatusTooManyRequests {
		t.Errorf("the global limit: %d, want 429", w.Code)
	}
	if code := serve(clients.RegistrarConfig{}, http.MethodGet); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", code)
	}
}

// TestRegistrarBodyLimit: MaxBodyBytes bounds the body, 16 KiB by
// default.
func TestRegistrarBodyLimit(t *testing.T) {
	padded := func(n int) string { // a valid registration of n bytes
		b := regWith(`"pad":""`)
		return regWith(`"pad":"` + strings.Repeat("x", n-len(b)) + `"`)
	}
	e := regStart(t, clients.RegistrarConfig{})
	e.register(t, padded(clients.DefaultRegistrationBytes))
	regWantError(t, e.post(t, "application/json", padded(clients.DefaultRegistrationBytes+1)), http.StatusRequestEntityTooLarge, regMetadata)
	small := regStart(t, clients.RegistrarConfig{MaxBodyBytes: 100})
	small.register(t, padded(100))
	regWantError(t, small.post(t, "application/json", padded(101)), http.StatusRequestEntityTooLarge, regMetadata)
}

// TestRegistrarStoreDown: a store that cannot answer is 503 with
// Retry-After, never a registration and never a 400.
func TestRegistrarStoreDown(t *testing.T) {
	for _, err := range []error{errors.New("connection refused"), clients.ErrClientExists, context.DeadlineExceeded} {
		e := regStart(t, clients.RegistrarConfig{Store: &regFailing{err: err}, AllowConfidential: true})
		r := e.post(t, "application/json", regWith(""))
		regWantError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
		if ra := r.header.Get("Retry-After"); ra != "1" {
			t.Errorf("%v: Retry-After %q, want 1", err, ra)
		}
		// A refusal is still a refusal.
		regWantError(t, e.post(t, "application/json", `{}`), http.StatusBadRequest, regRedirect)
	}
}

func TestNewRegistrar(t *testing.T) {
	store := clients.NewMemoryStore()
	many := make([]string, 65)
	for i := range many {
		many[i] = "s" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name string
		cfg  clients.RegistrarConfig
	}{
		{"no store", clients.RegistrarConfig{Scopes: regScopes}},
		{"no scopes", clients.RegistrarConfig{Store: store}},
		{"empty scopes", clients.RegistrarConfig{Store: store, Scopes: []string{}}},
		{"a bad scope", clients.RegistrarConfig{Store: store, Scopes: []string{"a b"}}},
		{"an empty scope", clients.RegistrarConfig{Store: store, Scopes: []string{""}}},
		{"a scope twice", clients.RegistrarConfig{Store: store, Scopes: []string{"a", "b", "a"}}},
		{"65 scopes", clients.RegistrarConfig{Store: store, Scopes: many}},
		{"a negative lifetime", clients.RegistrarConfig{Store: store, Scopes: regScopes, UnusedLifetime: -1}},
		{"a negative body limit", clients.RegistrarConfig{Store: store, Scopes: regScopes, MaxBodyBytes: -1}},
		{"a negative rate", clients.RegistrarConfig{Store: store, Scopes: regScopes, Rate: -1}},
		{"a negative burst", clients.RegistrarConfig{Store: store, Scopes: regScopes, Burst: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := clients.NewRegistrar(tc.cfg); err == nil || !strings.HasPrefix(err.Error(), "clients: ") {
				t.Errorf("NewRegistrar = %v, want a refusal starting with clients: ", err)
			}
		})
	}
	if _, err := clients.NewRegistrar(clients.RegistrarConfig{Store: store, Scopes: many[:64], Rate: rate.Inf}); err != nil {
		t.Errorf("64 scopes, no rate limit: %v", err)
	}
}

// FuzzRegister posts arbitrary bodies to a public-only registrar, one
// that allows confidential clients, and one whose store is down: no
// panic, no 5xx but the failing store's 503 (exactly when the others
// register), and what is registered is valid and what the response says.
func FuzzRegister(f *testing.F) {
	for _, tc := range regRefusals {
		f.Add(tc.body)
	}
	for _, s := range []string{
		regWith(""),
		regWith(`"token_endpoint_auth_method":"client_secret_post","grant_types":["authorization_code","refresh_token"]`),
		regWith(`"client_name":"Café","scope":"profile admin","response_types":["code"],"logo_uri":null`),
		`{"redirect_uris":["com.example.app:/cb","http://[::1]:9/cb"],"scope":"notes:read"}`,
	} {
		f.Add(s)
	}
	newReg := func(store clients.Store, confidential bool) *clients.Registrar {
		reg, err := clients.NewRegistrar(clients.RegistrarConfig{Store: store, Scopes: regScopes, AllowConfidential: confidential,
			Rate: rate.Inf, Now: func() time.Time { return regBase }})
		if err != nil {
			f.Fatal(err)
		}
		return reg
	}
	store := clients.NewMemoryStore()
	public, confidential := newReg(store, false), newReg(store, true)
	failing := newReg(&regFailing{err: errors.New("down")}, true)
	post := func(t *testing.T, reg *clients.Registrar, body string) (int, map[string]any) {
		req := httptest.NewRequest(http.MethodPost, "/auth/register", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, req)
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("%d, a body that is not a JSON object: %q", w.Code, w.Body)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("%d without Cache-Control no-store", w.Code)
		}
		return w.Code, m
	}
	f.Fuzz(func(t *testing.T, body string) {
		var created []bool
		for _, reg := range []*clients.Registrar{public, confidential} {
			status, m := post(t, reg, body)
			created = append(created, status == http.StatusCreated)
			switch status {
			case http.StatusCreated:
				id, _ := m["client_id"].(string)
				c, err := store.Get(context.Background(), id)
				if err != nil {
					t.Fatalf("registered %s, then Get: %v", id, err)
				}
				if err := c.Validate(); err != nil || c.Kind != clients.Registered || c.FirstParty ||
					c.Allows(clients.GrantPassword) || len(c.Scopes) == 0 || len(c.RedirectURIs) == 0 {
					t.Fatalf("registered %+v (Validate: %v)", c, err)
				}
				for _, s := range c.Scopes {
					if !slices.Contains(regScopes, s) {
						t.Fatalf("registered the scope %q", s)
					}
				}
				secret, _ := m["client_secret"].(string)
				if c.Public() == (secret != "") || !c.Public() && !c.VerifySecret(secret) {
					t.Fatalf("registered %+v with the secret %q", c, secret)
				}
				if reg == public && !c.Public() {
					t.Fatalf("a public-only registrar registered %+v", c)
				}
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
				code, _ := m["error"].(string)
				d, _ := m["error_description"].(string)
				if code != regMetadata && code != regRedirect || !regDescriptionOK(d) || d == "" {
					t.Fatalf("%d %v", status, m)
				}
			default:
				t.Fatalf("status %d: %v", status, m)
			}
		}
		status, m := post(t, failing, body)
		switch {
		case status == http.StatusServiceUnavailable && !created[1]:
			t.Fatalf("a failing store answered 503 to a body the registrar refuses: %v", m)
		case status != http.StatusServiceUnavailable && created[1]:
			t.Fatalf("a failing store answered %d: %v", status, m)
		case status != http.StatusServiceUnavailable && status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge:
			t.Fatalf("a failing store answered %d: %v", status, m)
		}
	})
}

// ExampleRegistrar: an MCP client or a CLI registers itself as a public
// client, then the authorization server finds it through a Registry.
func ExampleRegistrar() {
	store := clients.NewMemoryStore() // sqlstore.New for several instances
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	reg, err := clients.NewRegistrar(clients.RegistrarConfig{
		Store:  store,
		Scopes: []string{"notes:read", "notes:write"},
		Now:    func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("POST /auth/register", reg)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/auth/register", "application/json", strings.NewReader(`{
		"client_name": "Notes CLI",
		"redirect_uris": ["http://127.0.0.1/callback"],
		"grant_types": ["authorization_code", "refresh_token"],
		"scope": "notes:read admin"
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var got struct {
		ClientID   string   `json:"client_id"`
		IssuedAt   int64    `json:"client_id_issued_at"`
		AuthMethod string   `json:"token_endpoint_auth_method"`
		GrantTypes []string `json:"grant_types"`
		Scope      string   `json:"scope"`
	}
	json.NewDecoder(resp.Body).Decode(&got)
	fmt.Println(resp.Status, resp.Header.Get("Cache-Control"))
	fmt.Println(got.ClientID[:3], got.IssuedAt, got.AuthMethod, got.GrantTypes, got.Scope)

	// The authorization and token endpoints look clients up in a Registry.
	registry := &clients.Registry{Registered: store, Now: func() time.Time { return now }}
	c, err := registry.Client(context.Background(), got.ClientID)
	fmt.Println(c.DisplayName(), c.Kind, c.Public(), c.FirstParty, err)
	fmt.Println("unused, it expires at", c.ExpiresAt)

	// A day later, never used: gone, and Purge deletes it.
	now = now.Add(24 * time.Hour)
	_, err = registry.Client(context.Background(), got.ClientID)
	fmt.Println(errors.Is(err, clients.ErrUnknownClient))
	n, _ := store.Purge(context.Background(), now)
	fmt.Println("purged", n)
	// Output:
	// 201 Created no-store
	// rc_ 1795348800 none [authorization_code refresh_token] notes:read
	// Notes CLI registered true false <nil>
	// unused, it expires at 2026-11-23 12:00:00 +0000 UTC
	// true
	// purged 1
}
