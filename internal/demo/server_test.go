package demo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
)

// fetchJWKS reads /.well-known/jwks.json into a verification-only key set.
func fetchJWKS(t *testing.T, e *testEnv) (*token.KeySet, []string) {
	t.Helper()
	resp, b := e.do(t, http.MethodGet, "/.well-known/jwks.json", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks: %s %s", resp.Status, b)
	}
	doc := decodeInto[struct {
		Keys []json.RawMessage `json:"keys"`
	}](t, b)
	var keys []*token.Key
	var kids []string
	for _, raw := range doc.Keys {
		k, err := token.ParseJWK(raw, token.KeyOptions{})
		if err != nil {
			t.Fatalf("jwks key %s: %v", raw, err)
		}
		if k.CanSign() {
			t.Fatalf("the JWK Set publishes private key material: %s", raw)
		}
		keys = append(keys, k)
		kids = append(kids, k.ID())
	}
	set, err := token.NewKeySet(nil, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return set, kids
}

// header decodes the JOSE header of a compact JWS.
func header(t *testing.T, raw string) map[string]string {
	t.Helper()
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return decodeInto[map[string]string](t, b)
}

func (e *testEnv) user(t *testing.T, username string) User {
	t.Helper()
	u, err := e.store.UserByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestLoginIssuesTokenVerifiableWithJWKS(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	body := `{"username":"demo","password":"` + testPassword + `"}`
	resp, b := e.do(t, http.MethodPost, "/auth/login", body, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s %s", resp.Status, b)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	// expires_in must be a JSON integer.
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if n, ok := raw["expires_in"].(float64); !ok || n != 900 || strings.Contains(string(b), `"expires_in":900.`) {
		t.Errorf("expires_in = %v, want the integer 900", raw["expires_in"])
	}
	tr := decodeInto[tokenResponse](t, b)
	if tr.TokenType != "Bearer" || tr.Scope != "widgets:read widgets:write tokens:manage" || tr.AccessToken == "" {
		t.Errorf("token response = %+v", tr)
	}

	set, kids := fetchJWKS(t, e)
	h := header(t, tr.AccessToken)
	if !slices.Contains(kids, h["kid"]) || h["alg"] != "EdDSA" || h["typ"] != "at+jwt" {
		t.Errorf("token header %v; JWKS kids %v", h, kids)
	}
	v, err := token.NewVerifier(set, token.VerifierConfig{Issuer: e.cfg.Issuer, Audience: "demo-api", Now: e.cfg.Now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tr.AccessToken)
	if err != nil {
		t.Fatalf("the token does not verify with the published keys: %v", err)
	}
	demo := e.user(t, "demo")
	if !strings.HasPrefix(demo.ID, "usr_") || c.Subject != demo.ID {
		t.Errorf("sub = %q, want the user ID %q", c.Subject, demo.ID)
	}
	if c.ClientID != "demo-api" || !slices.Equal(c.Roles, []string{"admin"}) || c.Scope != tr.Scope ||
		!c.Audience.Contains("demo-api") || c.ExpiresAt.Sub(c.IssuedAt) != 15*time.Minute {
		t.Errorf("claims = %+v", c)
	}
}

func TestLoginViewer(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	tr := e.login(t, "viewer", testPassword)
	if tr.Scope != "widgets:read" {
		t.Errorf("scope = %q", tr.Scope)
	}
}

func TestLoginRejects(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	big := `{"username":"demo","password":"` + strings.Repeat("x", endpoint.DefaultMaxBodyBytes) + `"}`
	tests := []struct {
		name, method, body string
		status             int
		error              string
	}{
		{"wrong password", "POST", `{"username":"demo","password":"nope"}`, 401, "invalid_grant"},
		{"unknown user", "POST", `{"username":"nobody","password":"` + testPassword + `"}`, 401, "invalid_grant"},
		{"username in other case", "POST", `{"username":"DEMO","password":"` + testPassword + `"}`, 401, "invalid_grant"},
		{"malformed JSON", "POST", `{"username":"demo",`, 400, "invalid_request"},
		{"not an object", "POST", `["demo","x"]`, 400, "invalid_request"},
		{"wrong type", "POST", `{"username":"demo","password":42}`, 400, "invalid_request"},
		{"trailing data", "POST", `{"username":"demo","password":"x"} {}`, 400, "invalid_request"},
		{"empty body", "POST", ``, 400, "invalid_request"},
		{"null", "POST", `null`, 400, "invalid_request"},
		{"missing password", "POST", `{"username":"demo"}`, 400, "invalid_request"},
		{"missing username", "POST", `{"password":"x"}`, 400, "invalid_request"},
		{"body over 64 KiB", "POST", big, 413, "invalid_request"},
		{"GET", "GET", ``, 405, "method_not_allowed"},
		{"PUT", "PUT", `{"username":"demo","password":"x"}`, 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := e.do(t, tt.method, "/auth/login", tt.body, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %s, want %d; body %s", resp.Status, tt.status, b)
			}
			got := decodeInto[errorResponse](t, b)
			if got.Error != tt.error {
				t.Errorf("error = %q, want %q (body %s)", got.Error, tt.error, b)
			}
			if tt.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			if strings.Contains(string(b), "access_token") {
				t.Errorf("body has a token: %s", b)
			}
		})
	}
}

func TestLoginSameAnswerForUnknownUserAndWrongPassword(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	n := e.passwords.Verifications()
	r1, wrongPassword := e.do(t, "POST", "/auth/login", `{"username":"demo","password":"nope"}`, nil)
	r2, unknownUser := e.do(t, "POST", "/auth/login", `{"username":"nobody","password":"nope"}`, nil)
	// Same work: an unknown user costs an argon2id verification too.
	if got := e.passwords.Verifications() - n; got != 2 {
		t.Errorf("%d argon2id verifications for two failed logins, want 2", got)
	}
	if r1.StatusCode != 401 || r2.StatusCode != 401 || string(wrongPassword) != string(unknownUser) {
		t.Errorf("wrong password: %d %s; unknown user: %d %s", r1.StatusCode, wrongPassword, r2.StatusCode, unknownUser)
	}
	want := `{"error":"invalid_grant","error_description":"invalid username or password"}` + "\n"
	if string(unknownUser) != want {
		t.Errorf("body = %s, want %s", unknownUser, want)
	}
}

func TestMe(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	for _, tt := range []struct {
		user, scheme string
		scopes       []string
		roles        []string
	}{
		{"demo", "Bearer ", []string{"widgets:read", "widgets:write", "tokens:manage"}, []string{"admin"}},
		{"viewer", "bearer ", []string{"widgets:read"}, []string{"viewer"}},
		{"viewer", "BEARER   ", []string{"widgets:read"}, []string{"viewer"}},
	} {
		tr := e.login(t, tt.user, testPassword)
		resp, b := e.me(t, tt.scheme+tr.AccessToken)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s %s", tt.user, resp.Status, b)
		}
		me := decodeInto[meResponse](t, b)
		want := e.user(t, tt.user).ID
		if me.Subject != want || me.AuthMethod != "jwt" || !slices.Equal(me.Scopes, tt.scopes) || !slices.Equal(me.Roles, tt.roles) ||
			me.Issuer != e.cfg.Issuer || me.ClientID != "demo-api" || me.ID == "" ||
			!slices.Equal(me.Audience, []string{"demo-api"}) || me.IssuedAt != e.clock.Now().Unix() ||
			me.ExpiresAt != e.clock.Now().Add(15*time.Minute).Unix() {
			t.Errorf("%s: /api/me = %s", tt.user, b)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
		}
	}
}

func TestMeRejects(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	valid := e.login(t, "demo", testPassword).AccessToken

	// Tokens the server did not issue: another key, another audience.
	other, err := token.GenerateKey(token.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	otherSet, _ := token.NewKeySet(other)
	foreign, err := token.NewIssuer(otherSet, token.IssuerConfig{Issuer: e.cfg.Issuer, Audience: []string{"demo-api"}, Now: e.cfg.Now})
	if err != nil {
		t.Fatal(err)
	}
	foreignToken, _, _ := foreign.Issue(token.Claims{Subject: e.user(t, "demo").ID})
	elsewhere, err := token.NewIssuer(e.keys, token.IssuerConfig{Issuer: e.cfg.Issuer, Audience: []string{"other-api"}, Now: e.cfg.Now})
	if err != nil {
		t.Fatal(err)
	}
	otherAudience, _, _ := elsewhere.Issue(token.Claims{Subject: e.user(t, "demo").ID})

	// Every 401 challenge announces the resource metadata (RFC 9728 §5.1):
	// the document of the URL requested (§3.3).
	const meta = `, resource_metadata="http://demo.test/.well-known/oauth-protected-resource/api/me"`
	const challenge = `Bearer realm="demo-api"` + meta
	const invalid = `Bearer realm="demo-api", error="invalid_token", error_description="the access token is invalid, expired or revoked"` + meta
	const malformed = `Bearer realm="demo-api", error="invalid_request", error_description="malformed request: send exactly one bearer token"`
	tests := []struct {
		name          string
		authorization []string
		status        int
		error         string
		challenge     string
	}{
		{"no token", nil, 401, "", challenge},
		{"other scheme", []string{"Basic ZGVtbzpwYXNzd29yZA=="}, 401, "", challenge},
		{"scheme prefix", []string{"Bearerx " + valid}, 401, "", challenge},
		{"garbage", []string{"Bearer garbage"}, 401, "invalid_token", invalid},
		{"tampered", []string{"Bearer " + valid[:len(valid)-4] + "AAAA"}, 401, "invalid_token", invalid},
		{"other key", []string{"Bearer " + foreignToken}, 401, "invalid_token", invalid},
		{"other audience", []string{"Bearer " + otherAudience}, 401, "invalid_token", invalid},
		{"no credential", []string{"Bearer"}, 400, "invalid_request", malformed},
		{"two credentials", []string{"Bearer " + valid + " x"}, 400, "invalid_request", malformed},
		{"two headers", []string{"Bearer " + valid, "Bearer " + valid}, 400, "invalid_request", malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := e.me(t, tt.authorization...)
			checkProblem(t, resp, b, tt.status, tt.error)
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		if resp, b := e.me(t, "Bearer "+valid); resp.StatusCode != 200 {
			t.Fatalf("before expiry: %s %s", resp.Status, b)
		}
		e.clock.Advance(15*time.Minute + token.DefaultLeeway + time.Second)
		resp, b := e.me(t, "Bearer "+valid)
		checkProblem(t, resp, b, 401, "invalid_token")
		if got := resp.Header.Get("WWW-Authenticate"); got != invalid {
			t.Errorf("WWW-Authenticate = %q, want %q", got, invalid)
		}
	})
}

// problemBody is the application/problem+json body of a refusal.
type problemBody struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
	Scope  string `json:"scope"`
}

// checkProblem checks that a refusal is an application/problem+json body
// with the status and RFC 6750 error code (empty for no credentials).
func checkProblem(t *testing.T, resp *http.Response, b []byte, status int, code string) problemBody {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %s, want %d; body %s", resp.Status, status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	p := decodeInto[problemBody](t, b)
	if p.Status != status || p.Error != code {
		t.Errorf("body %s: want status %d, error %q", b, status, code)
	}
	return p
}

// TestHealthzReadyz: /healthz is liveness (200 while the process
// serves); /readyz is readiness, 503 naming the backend that does not
// answer.
func TestHealthzReadyz(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	resp, b := e.do(t, http.MethodGet, "/healthz", "", nil)
	if resp.StatusCode != 200 || string(b) != `{"status":"ok"}`+"\n" {
		t.Errorf("healthz = %s %s", resp.Status, b)
	}
	resp, b = e.do(t, http.MethodGet, "/readyz", "", nil)
	if resp.StatusCode != 200 || string(b) != `{"status":"ready","checks":{"database":"ok","revocations":"ok"}}`+"\n" {
		t.Errorf("readyz = %s %s", resp.Status, b)
	}
	e.store.Close()
	if resp, b = e.do(t, http.MethodGet, "/healthz", "", nil); resp.StatusCode != 200 {
		t.Errorf("healthz (liveness) with the database closed = %s %s", resp.Status, b)
	}
	resp, b = e.do(t, http.MethodGet, "/readyz", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), `"database":"unreachable"`) ||
		!strings.Contains(string(b), `"status":"unavailable"`) || resp.Header.Get("Retry-After") == "" {
		t.Errorf("readyz with the database closed = %s %s", resp.Status, b)
	}
}

func TestRoutes(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/nope", 404, ""},
		{"GET", "/api/me/", 404, ""},
		{"GET", "/auth/login/x", 404, ""},
		{"POST", "/api/me", 405, "GET, HEAD"},
		{"DELETE", "/api/widgets", 405, "GET, HEAD, POST"},
		{"PUT", "/api/widgets/1", 405, "GET, HEAD, DELETE"},
		{"GET", "/api/widgets/1/x", 404, ""},
		{"GET", "/api/nope", 404, ""},
		{"DELETE", "/healthz", 405, "GET, HEAD"},
		{"POST", "/.well-known/jwks.json", 405, "GET, HEAD"},
		{"HEAD", "/.well-known/jwks.json", 200, ""},
		{"HEAD", "/healthz", 200, ""},
		{"POST", "/readyz", 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		resp, b := e.do(t, tt.method, tt.path, "", nil)
		if resp.StatusCode != tt.status || resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s = %s (Allow %q) %s, want %d (Allow %q)", tt.method, tt.path, resp.Status, resp.Header.Get("Allow"), b, tt.status, tt.allow)
		}
		if tt.status >= 400 && decodeInto[errorResponse](t, b).Error == "" {
			t.Errorf("%s %s: no error member in %s", tt.method, tt.path, b)
		}
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	cfg := testConfig(t)
	cfg.RequestLog = true
	e := newTestEnv(t, cfg)
	tok := e.login(t, "demo", testPassword).AccessToken
	e.me(t, "Bearer "+tok)
	e.me(t, "Bearer "+tok+"x")
	e.do(t, "POST", "/auth/login", `{"username":"demo","password":"wrong-password-123"}`, nil)
	e.ts.Close() // waits for the handlers, and their log lines
	logs := e.logs.String() + e.audit.String()
	for _, want := range []string{"method=POST path=/auth/login status=200", "method=GET path=/api/me status=200",
		"path=/api/me status=401", "path=/auth/login status=401", "duration="} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	for _, secret := range []string{testPassword, "wrong-password-123", sig, "Bearer", "Authorization"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

// TestLoginStoreDown: a user store that cannot answer gives 503, never a
// 401 (the credentials may be right) and never a 200.
func TestLoginStoreDown(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	e.store.Close()
	resp, b := e.do(t, http.MethodPost, "/auth/login", `{"username":"demo","password":"x"}`, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), `"temporarily_unavailable"`) {
		t.Fatalf("login with the database closed = %s %s", resp.Status, b)
	}
}

// TestMetadata: RFC 8414 metadata, consistent with the endpoints.
func TestMetadata(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	resp, b := e.do(t, "GET", "/.well-known/oauth-authorization-server", "", nil)
	var m struct {
		Issuer        string   `json:"issuer"`
		TokenEndpoint string   `json:"token_endpoint"`
		JWKSURI       string   `json:"jwks_uri"`
		Revocation    string   `json:"revocation_endpoint"`
		Grants        []string `json:"grant_types_supported"`
		ResponseTypes []string `json:"response_types_supported"`
		Authorization string   `json:"authorization_endpoint"`
		Registration  string   `json:"registration_endpoint"`
		PKCE          []string `json:"code_challenge_methods_supported"`
		ISS           bool     `json:"authorization_response_iss_parameter_supported"`
		Documents     bool     `json:"client_id_metadata_document_supported"`
	}
	if err := json.Unmarshal(b, &m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %s", resp.Status, b)
	}
	if m.Issuer != e.cfg.Issuer || m.TokenEndpoint != e.cfg.Issuer+"/auth/token" || m.JWKSURI != e.cfg.Issuer+"/.well-known/jwks.json" ||
		m.Revocation != e.cfg.Issuer+"/auth/revoke" || strings.Join(m.Grants, " ") != "authorization_code refresh_token password" ||
		strings.Join(m.ResponseTypes, " ") != "code" || m.Authorization != e.cfg.Issuer+"/auth/authorize" ||
		m.Registration != e.cfg.Issuer+"/auth/register" || strings.Join(m.PKCE, " ") != "S256" || !m.ISS || !m.Documents {
		t.Fatalf("metadata %s", b)
	}
}

// TestCORS: a browser app of an allowed origin gets its preflight
// answered and may read the answers; another origin gets no CORS
// headers; credentials are never allowed.
func TestCORS(t *testing.T) {
	cfg := testConfig(t)
	cfg.CORSOrigins = []string{"https://app.example"}
	e := newTestEnv(t, cfg)
	preflight := func(origin string) *http.Response {
		resp, _ := e.do(t, "OPTIONS", "/api/widgets", "", http.Header{"Origin": {origin},
			"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization, content-type"}})
		return resp
	}
	resp := preflight("https://app.example")
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight from the allowed origin: %s %v", resp.Status, resp.Header)
	}
	if resp := preflight("https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: %v", resp.Header)
	}
	// DPoP from a browser app (RFC 9449): the DPoP header may be sent, at
	// the API and at the token endpoint; DPoP-Nonce may be read (§8).
	for _, path := range []string{"/api/me", "/auth/token"} {
		resp, _ := e.do(t, "OPTIONS", path, "", http.Header{"Origin": {"https://app.example"},
			"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization, dpop"}})
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "dpop") {
			t.Errorf("a preflight asking for the DPoP header at %s: %s %v", path, resp.Status, resp.Header)
		}
	}
	tok := e.login(t, "demo", testPassword).AccessToken
	resp, _ = e.do(t, "GET", "/api/me", "", http.Header{"Origin": {"https://app.example"}, "Authorization": {"Bearer " + tok}})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("GET from the allowed origin: %s %v", resp.Status, resp.Header)
	}
	resp, _ = e.do(t, "GET", "/api/me", "", http.Header{"Origin": {"https://app.example"}})
	exposed := strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers"))
	if resp.StatusCode != 401 || !strings.Contains(exposed, "www-authenticate") || !strings.Contains(exposed, "dpop-nonce") {
		t.Errorf("a 401 to the allowed origin must expose its challenge and DPoP-Nonce: %v", resp.Header)
	}
	// A wildcard: any origin, still no credentials.
	cfg2 := testConfig(t)
	cfg2.CORSOrigins = []string{"*"}
	e2 := newTestEnv(t, cfg2)
	resp, _ = e2.do(t, "OPTIONS", "/api/me", "", http.Header{"Origin": {"https://anyone.example"}, "Access-Control-Request-Method": {"GET"}})
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("wildcard preflight: %v", resp.Header)
	}
}

// TestMetrics: /metrics (Prometheus) counts what the API saw, by
// bounded labels: a good token, a refused one, a login.
func TestMetrics(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	tr := e.login(t, "demo", testPassword)
	e.status(t, tr.AccessToken)
	e.status(t, tr.AccessToken)
	e.status(t, "not-a-token")
	resp, b := e.do(t, http.MethodGet, "/metrics", "", nil)
	body := string(b)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s", resp.Status, b)
	}
	for _, want := range []string{
		`sessionless_authentications_total{method="jwt",outcome="ok"} 2`,
		`sessionless_authentication_cache_total{method="jwt",result="hit"} 1`,
		`sessionless_logins_total{outcome="ok"} 1`,
		`sessionless_revocation_entries`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in /metrics", want)
		}
	}
	if strings.Contains(body, tr.AccessToken) || strings.Contains(body, "usr_") {
		t.Error("a token or a subject in /metrics")
	}
}
