package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/audit"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/authcode"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/refresh"
)

var update = flag.Bool("update", false, "rewrite testdata/events.golden")

const (
	issuer     = "https://api.example"
	redirect   = "http://127.0.0.1/callback"
	goodSecret = "correct horse battery staple"
	badSecret  = "Tr0ub4dor&3 is not it"
)

// users are the accounts of the golden run: one per scenario, so that
// their budgets and records stay apart; lou cannot log in with a
// password.
var userNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}

type memUsers map[string]endpoint.User // by name

func (u memUsers) UserByName(_ context.Context, name string) (endpoint.User, error) {
	if x, ok := u[name]; ok {
		return x, nil
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

func (u memUsers) UserBySubject(_ context.Context, sub string) (endpoint.User, error) {
	for _, x := range u {
		if x.Subject == sub {
			return x, nil
		}
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

// goldenRun is a whole API on the short path (sessionless.Config.Audit),
// served over HTTP, its audit records in a buffer.
type goldenRun struct {
	t     *testing.T
	auth  *sessionless.Auth
	ts    *httptest.Server
	idp   *oidctest.Provider
	clock *testenv.Clock
	out   *testenv.SyncBuffer
	// vary maps the values that change from run to run (token ids, the
	// provider's URL) to the placeholders the golden file holds.
	vary map[string]string
	// secrets are every token, password, code and verifier of the run:
	// none may appear in a record.
	secrets []string
	// ownEvents counts the events the application's own
	// Endpoints.Hooks.Audit saw, beside the audit log's.
	ownEvents atomic.Int64
}

func fixedKey(t *testing.T, seed byte, kid string) *token.Key {
	t.Helper()
	k, err := token.NewKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)), token.KeyOptions{ID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newGoldenRun(t *testing.T) *goldenRun {
	t.Helper()
	g := &goldenRun{t: t, idp: oidctest.New(t), clock: testenv.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
		out: &testenv.SyncBuffer{}, vary: map[string]string{}}
	g.vary[g.idp.Issuer()] = "<provider>"
	pw, err := password.New(testenv.CheapPasswords)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := pw.Hash(t.Context(), goodSecret)
	if err != nil {
		t.Fatal(err)
	}
	users := memUsers{"lou": {Subject: "usr_lou", PasswordHash: "!locked"}}
	for _, n := range userNames {
		users[n] = endpoint.User{Subject: "usr_" + n, PasswordHash: hash, Scopes: []string{"read", apitoken.DefaultManageScope}}
	}
	static, err := clients.NewStatic(clients.Client{ID: "cli", Name: "Widget CLI", RedirectURIs: []string{redirect}, Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	g.secrets = append(g.secrets, goodSecret, badSecret)
	g.auth, err = sessionless.New(sessionless.Config{
		Issuer: issuer, Audience: "api",
		Key: fixedKey(t, 1, "key-2030"), VerifyKeys: []*token.Key{fixedKey(t, 2, "key-2029")},
		Providers: []oidc.Config{{Issuer: g.idp.Issuer()}},
		APITokens: &apitoken.Config{},
		Endpoints: &endpoint.Config{
			Users: users, Passwords: pw,
			Throttle: endpoint.ThrottleConfig{
				// Small budgets, to see them run out; every scenario
				// comes from an address of its own, behind a proxy.
				Username:       endpoint.Rate{Burst: 3, Every: time.Hour},
				Address:        endpoint.Rate{Burst: 5, Every: time.Hour},
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			},
			Authorization: &endpoint.AuthorizationConfig{Clients: &clients.Registry{Static: static}},
			Hooks:         endpoint.Hooks{Audit: func(*http.Request, endpoint.Event) { g.ownEvents.Add(1) }},
		},
		RevocationList: revocation.Config{Now: time.Now}, // staleness in real time
		Audit:          slog.New(slog.NewJSONHandler(g.out, nil)),
		Now:            g.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.auth.Close() })
	mux := http.NewServeMux()
	g.auth.Mount(mux, "/auth")
	g.ts = httptest.NewServer(mux)
	t.Cleanup(g.ts.Close)
	return g
}

// reply is an answer, its body read.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
	return m
}

// do sends a request from the client at addr (X-Forwarded-For, through
// the trusted proxy), with a bearer token unless "".
func (g *goldenRun) do(method, path, contentType, body, addr, bearer string) reply {
	g.t.Helper()
	req, err := http.NewRequestWithContext(g.t.Context(), method, g.ts.URL+path, strings.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-Forwarded-For", addr)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	c := *g.ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func (g *goldenRun) form(path string, v url.Values, addr string) reply {
	g.t.Helper()
	return g.do("POST", path, "application/x-www-form-urlencoded", v.Encode(), addr, "")
}

func (g *goldenRun) login(name, pw, addr string) reply {
	g.t.Helper()
	b, _ := json.Marshal(map[string]string{"username": name, "password": pw})
	return g.do("POST", "/auth/login", "application/json", string(b), addr, "")
}

// tokens logs name in and returns its tokens; the access token's jti is
// named "<jti:name>" in the golden file (n: the how-manieth).
func (g *goldenRun) tokens(name, addr, n string) (access, rt string) {
	g.t.Helper()
	r := g.login(name, goodSecret, addr)
	if r.status != 200 {
		g.t.Fatalf("login %s: %d %s", name, r.status, r.body)
	}
	m := r.json(g.t)
	access, rt = m["access_token"].(string), m["refresh_token"].(string)
	g.secrets = append(g.secrets, access, access[strings.LastIndexByte(access, '.')+1:], rt)
	c, err := g.auth.Verifier.Verify(access)
	if err != nil {
		g.t.Fatal(err)
	}
	g.vary[c.ID] = "<jti:" + name + n + ">"
	return access, rt
}

var sealedField = regexp.MustCompile(`name="request" value="([^"]+)"`)

// page posts the authorization endpoint's form of the page r.
func (g *goldenRun) page(r reply, addr string, kv ...string) reply {
	g.t.Helper()
	m := sealedField.FindStringSubmatch(r.body)
	if m == nil {
		g.t.Fatalf("no form on the page: %d %s", r.status, r.body)
	}
	v := url.Values{"request": {html.UnescapeString(m[1])}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return g.form("/auth/authorize", v, addr)
}

// authorize runs the code flow for cli as name up to the consent page,
// and answers it with action; it returns the PKCE verifier and the
// client's callback query.
func (g *goldenRun) authorize(name, addr, action string) (verifier string, cb url.Values) {
	g.t.Helper()
	verifier = strings.Repeat("v", 20) + name + action + strings.Repeat("x", 20)
	g.secrets = append(g.secrets, verifier)
	q := url.Values{"client_id": {"cli"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"read"},
		"code_challenge": {authcode.Challenge(verifier)}, "code_challenge_method": {"S256"}, "state": {"st"}}
	r := g.do("GET", "/auth/authorize?"+q.Encode(), "", "", addr, "")
	r = g.page(r, addr, "action", "login", "username", name, "password", goodSecret)
	if !strings.Contains(r.body, `value="approve"`) {
		g.t.Fatalf("no consent page: %d %s", r.status, r.body)
	}
	r = g.page(r, addr, "action", action)
	if r.status != http.StatusSeeOther {
		g.t.Fatalf("consent %s: %d %s", action, r.status, r.body)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		g.t.Fatal(err)
	}
	cb = u.Query()
	if c := cb.Get("code"); c != "" {
		g.secrets = append(g.secrets, c)
	}
	return verifier, cb
}

// wantStatus fails unless r has status want.
func (g *goldenRun) wantStatus(what string, r reply, want int) {
	g.t.Helper()
	if r.status != want {
		g.t.Fatalf("%s: %d %s, want %d", what, r.status, r.body, want)
	}
}

// records waits for n records, and returns them.
func (g *goldenRun) records(n int) []string {
	g.t.Helper()
	var lines []string
	testenv.Eventually(g.t, "the audit records", func() bool {
		lines = strings.Split(strings.TrimSpace(g.out.String()), "\n")
		return len(lines) >= n
	})
	return lines
}

// scenarios drives every event through the endpoints over HTTP; each
// scenario comes from a client address of its own.
func (g *goldenRun) scenarios() {
	t := g.t
	g.records(3) // the keys at start; the provider's, fetched at start

	// Logins: one that works, one of an unknown user, a wrong password,
	// a user who has no password, and one throttled by its username
	// budget (3 attempts).
	g.tokens("alice", "203.0.113.1", "")
	g.wantStatus("unknown user", g.login("nobody", badSecret, "203.0.113.2"), 401)
	g.wantStatus("locked user", g.login("lou", goodSecret, "203.0.113.2"), 401)
	for range 3 {
		g.wantStatus("wrong password", g.login("bob", badSecret, "203.0.113.3"), 401)
	}
	g.wantStatus("bob throttled", g.login("bob", goodSecret, "203.0.113.3"), 429)
	// Throttled by the address budget (5), before any username is read.
	for i := range 5 {
		g.wantStatus("from .4", g.login("guess"+strconv.Itoa(i), badSecret, "203.0.113.4"), 401)
	}
	g.wantStatus("address throttled", g.login("guess5", badSecret, "203.0.113.4"), 429)

	// Logout, and logout everywhere.
	access, _ := g.tokens("alice", "203.0.113.1", "2")
	g.wantStatus("logout", g.do("POST", "/auth/logout", "", "", "203.0.113.1", access), 204)
	access, _ = g.tokens("carol", "203.0.113.5", "")
	g.wantStatus("logout-all", g.do("POST", "/auth/logout-all", "", "", "203.0.113.5", access), 204)

	// A refresh token rotated (no record), then presented again after
	// the grace period: reuse, the family revoked.
	_, rt := g.tokens("dave", "203.0.113.6", "")
	r := g.form("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {sessionless.DefaultClientID}}, "203.0.113.6")
	g.wantStatus("refresh", r, 200)
	next := r.json(t)
	g.secrets = append(g.secrets, next["access_token"].(string), next["refresh_token"].(string))
	g.clock.Advance(refresh.DefaultGracePeriod + time.Second)
	g.wantStatus("reuse", g.form("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
		"client_id": {sessionless.DefaultClientID}}, "203.0.113.6"), 400)

	// RFC 7009 revocation.
	access, _ = g.tokens("erin", "203.0.113.7", "")
	g.wantStatus("revoke", g.form("/auth/revoke", url.Values{"token": {access}, "client_id": {sessionless.DefaultClientID}}, "203.0.113.7"), 200)

	// A device (refresh family) ended from the list.
	access, _ = g.tokens("frank", "203.0.113.8", "")
	r = g.do("GET", "/auth/devices", "", "", "203.0.113.8", access)
	g.wantStatus("devices", r, 200)
	var devices struct {
		Devices []struct{ ID string } `json:"devices"`
	}
	if err := json.Unmarshal([]byte(r.body), &devices); err != nil || len(devices.Devices) != 1 {
		t.Fatalf("devices: %s %v", r.body, err)
	}
	g.vary[devices.Devices[0].ID] = "<family:frank>"
	g.wantStatus("end device", g.do("DELETE", "/auth/devices/"+devices.Devices[0].ID, "", "", "203.0.113.8", access), 204)

	// An API token created and revoked by its user.
	access, _ = g.tokens("grace", "203.0.113.9", "")
	r = g.do("POST", "/auth/api-tokens", "application/json", `{"name":"ci","scopes":["read"]}`, "203.0.113.9", access)
	g.wantStatus("create API token", r, 201)
	created := r.json(t)
	id := created["id"].(string)
	g.secrets = append(g.secrets, created["token"].(string))
	g.vary[id] = "<apitoken:grace>"
	g.wantStatus("revoke API token", g.do("DELETE", "/auth/api-tokens/"+id, "", "", "203.0.113.9", access), 204)

	// The authorization server: a consent denied, one granted and its
	// code issued, the code redeemed twice (reuse), the consent
	// withdrawn.
	if _, cb := g.authorize("heidi", "203.0.113.10", "deny"); cb.Get("error") != "access_denied" {
		t.Fatalf("deny: %v", cb)
	}
	verifier, cb := g.authorize("heidi", "203.0.113.10", "approve")
	exchange := func() reply {
		return g.form("/auth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"cli"}, "code": {cb.Get("code")},
			"redirect_uri": {redirect}, "code_verifier": {verifier}}, "203.0.113.10")
	}
	r = exchange()
	g.wantStatus("code", r, 200)
	issued := r.json(t)
	g.secrets = append(g.secrets, issued["access_token"].(string), issued["refresh_token"].(string))
	g.wantStatus("code again", exchange(), 400)
	access, _ = g.tokens("heidi", "203.0.113.10", "")
	g.wantStatus("withdraw consent", g.do("DELETE", "/auth/consents?client_id=cli", "", "", "203.0.113.10", access), 204)

	// What only the application knows: an operator set a password.
	g.auth.Audit.Log(context.Background(), audit.Record{Event: audit.PasswordChange, Subject: "usr_bob", Username: "bob",
		Actor: audit.ActorOperator, Issuer: issuer})

	// The provider rotates its keys: the next fetch adds and removes.
	n := len(g.records(1))
	g.idp.Publish("k2", oidctest.Key(2))
	g.idp.Retire("k1")
	g.clock.Advance(oidc.DefaultRefreshInterval)
	if err := g.auth.Providers[0].Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	g.records(n + 2)
}

// normalized returns the run's records with the values that vary from
// run to run replaced by their placeholders.
func (g *goldenRun) normalized() string {
	type pair struct{ from, to string }
	var ps []pair
	for v, name := range g.vary {
		ps = append(ps, pair{`"` + v + `"`, `"` + name + `"`})
	}
	sort.Slice(ps, func(i, j int) bool { return len(ps[i].from) > len(ps[j].from) })
	out := g.out.String()
	for _, p := range ps {
		out = strings.ReplaceAll(out, p.from, p.to)
	}
	return out
}

// TestGolden: each event's record, keys and values, as the real
// endpoints, API token handlers and provider write them over HTTP,
// against testdata/events.golden (go test ./audit -run Golden -update
// rewrites it).
func TestGolden(t *testing.T) {
	g := newGoldenRun(t)
	g.scenarios()
	got := g.normalized()
	const file = "testdata/events.golden"
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var a, b string
			if i < len(gl) {
				a = gl[i]
			}
			if i < len(wl) {
				b = wl[i]
			}
			if a != b {
				t.Errorf("record %d:\n got  %s\n want %s", i+1, a, b)
			}
		}
	}
	checkSchema(t, got)
	if n := g.ownEvents.Load(); n < 30 {
		t.Errorf("the application's own hook saw %d events", n)
	}
	// Every event of the schema is in the golden run.
	for _, ev := range allEvents {
		if !strings.Contains(got, `"event":"`+string(ev)+`"`) {
			t.Errorf("no %s record in the golden run", ev)
		}
	}
}

// allEvents are the events of the schema.
var allEvents = []audit.Event{audit.Login, audit.Throttled, audit.Logout, audit.LogoutAll, audit.TokenRevoke,
	audit.RefreshReuse, audit.DeviceEnd, audit.CodeIssue, audit.CodeReuse, audit.ConsentGrant, audit.ConsentDeny,
	audit.ConsentRevoke, audit.APITokenCreate, audit.APITokenRevoke, audit.PasswordChange, audit.SigningKey,
	audit.VerificationKey, audit.ProviderKeysChange}

// schemaKeys are the keys a record may have.
var schemaKeys = []string{slog.TimeKey, slog.LevelKey, slog.MessageKey, audit.KeyEvent, audit.KeyOutcome, audit.KeyReason,
	audit.KeyUsername, audit.KeySubject, audit.KeyClientID, audit.KeyTokenID, audit.KeyActor, audit.KeyClientIP,
	audit.KeyIssuer, audit.KeyKeyID}

// checkSchema checks every JSON record of out: the message, only schema
// keys, string values, a known event and outcome.
func checkSchema(t *testing.T, out string) {
	t.Helper()
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		for k, v := range m {
			if !slices.Contains(schemaKeys, k) {
				t.Errorf("key %q is not in the schema: %s", k, line)
			}
			if _, ok := v.(string); !ok {
				t.Errorf("key %q is not a string: %s", k, line)
			}
		}
		if m["msg"] != audit.Message || !slices.Contains(allEvents, audit.Event(m["event"].(string))) ||
			m["outcome"] != string(audit.Success) && m["outcome"] != string(audit.Failure) {
			t.Errorf("not a record of the schema: %s", line)
		}
	}
}

// TestNoSecretInRecords: no record of the golden run holds a password, a
// token (access, refresh, API), a signature, an authorization code or a
// PKCE verifier, nor anything shaped like a JWT or an API token.
func TestNoSecretInRecords(t *testing.T) {
	g := newGoldenRun(t)
	g.scenarios()
	out := g.out.String()
	if len(g.secrets) < 20 {
		t.Fatalf("only %d secrets collected", len(g.secrets))
	}
	for _, s := range g.secrets {
		if s == "" {
			t.Fatal("an empty secret")
		}
		if strings.Contains(out, s) {
			t.Errorf("a record holds the secret %q:\n%s", s, out)
		}
	}
	for _, re := range []*regexp.Regexp{regexp.MustCompile(`eyJ[\w-]*\.[\w-]*\.`), regexp.MustCompile(apitoken.Pattern(apitoken.DefaultPrefix))} {
		if m := re.FindString(out); m != "" {
			t.Errorf("a record holds %q, which looks like a token", m)
		}
	}
}
