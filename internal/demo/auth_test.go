package demo

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/refresh"
	"golang.org/x/oauth2"
)

// tokenRequest posts form to /auth/token.
func (e *testEnv) tokenRequest(t *testing.T, form url.Values, header http.Header) (*http.Response, []byte) {
	t.Helper()
	if header == nil {
		header = http.Header{}
	}
	if header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return e.do(t, http.MethodPost, "/auth/token", form.Encode(), header)
}

// refresh rotates rt and returns the response; status is what it must be.
func (e *testEnv) refresh(t *testing.T, rt string, status int) (tokenResponse, errorResponse) {
	t.Helper()
	resp, b := e.tokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, nil)
	if resp.StatusCode != status {
		t.Fatalf("refresh: %s %s, want %d", resp.Status, b, status)
	}
	if status != http.StatusOK {
		return tokenResponse{}, decodeInto[errorResponse](t, b)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
		t.Errorf("token response headers %v", resp.Header)
	}
	return decodeInto[tokenResponse](t, b), errorResponse{}
}

// status calls /api/me with tok and returns the status code.
func (e *testEnv) status(t *testing.T, tok string) int {
	t.Helper()
	resp, _ := e.me(t, "Bearer "+tok)
	return resp.StatusCode
}

func (e *testEnv) bearer(method, path, tok, body string) (int, string) {
	req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

func TestLoginReturnsHashedRefreshToken(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	tr := e.login(t, "demo", testPassword)
	if !strings.HasPrefix(tr.RefreshToken, "rt_") || len(tr.RefreshToken) != 46 {
		t.Fatalf("refresh_token %q", tr.RefreshToken)
	}
	// The database holds the hash, never the token.
	var n int
	sum := sha256.Sum256([]byte(tr.RefreshToken))
	if err := e.store.db.QueryRow(`SELECT COUNT(*) FROM refresh_tokens WHERE hash = ?`, sum[:]).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows with the token's hash: %d, %v", n, err)
	}
	rows, err := e.store.db.Query(`SELECT * FROM refresh_tokens`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		for i, v := range vals {
			if s, ok := v.(string); ok && strings.Contains(s, tr.RefreshToken[3:]) {
				t.Errorf("column %s holds the raw token", cols[i])
			}
			if b, ok := v.([]byte); ok && strings.Contains(string(b), tr.RefreshToken[3:]) {
				t.Errorf("column %s holds the raw token", cols[i])
			}
		}
	}
}

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	first := e.login(t, "demo", testPassword)
	e.clock.Advance(time.Minute)
	second, _ := e.refresh(t, first.RefreshToken, http.StatusOK)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken || second.TokenType != "Bearer" ||
		second.ExpiresIn != 900 || second.Scope != "widgets:read widgets:write tokens:manage" {
		t.Fatalf("refresh response %+v", second)
	}
	if got := e.status(t, second.AccessToken); got != 200 {
		t.Fatalf("the refreshed access token: %d", got)
	}
	e.clock.Advance(time.Minute)
	third, _ := e.refresh(t, second.RefreshToken, http.StatusOK)

	// An attacker replays the first refresh token.
	_, oerr := e.refresh(t, first.RefreshToken, http.StatusBadRequest)
	if oerr.Error != "invalid_grant" || !strings.Contains(oerr.Description, "family has been revoked") {
		t.Fatalf("reuse: %+v", oerr)
	}
	// The whole family is gone: refresh tokens and the access tokens
	// issued from them.
	if _, oerr := e.refresh(t, third.RefreshToken, http.StatusBadRequest); oerr.Error != "invalid_grant" {
		t.Errorf("newest refresh token after reuse: %+v", oerr)
	}
	for i, tok := range []string{first.AccessToken, second.AccessToken, third.AccessToken} {
		if got := e.status(t, tok); got != http.StatusUnauthorized {
			t.Errorf("access token %d of the family after reuse: %d, want 401", i, got)
		}
	}
	// Another login of the same user is another family: unaffected.
	other := e.login(t, "demo", testPassword)
	if got := e.status(t, other.AccessToken); got != 200 {
		t.Errorf("another family's access token: %d", got)
	}
	e.refresh(t, other.RefreshToken, http.StatusOK)
}

func TestRefreshIdleAndAbsoluteLifetime(t *testing.T) {
	cfg := testConfig(t)
	e := newTestEnv(t, cfg)
	tr := e.login(t, "viewer", testPassword)
	e.clock.Advance(cfg.RefreshIdle - time.Second)
	tr, _ = e.refresh(t, tr.RefreshToken, http.StatusOK)
	e.clock.Advance(cfg.RefreshIdle)
	if _, oerr := e.refresh(t, tr.RefreshToken, http.StatusBadRequest); oerr.Error != "invalid_grant" || !strings.Contains(oerr.Description, "expired") {
		t.Errorf("idle refresh token: %+v", oerr)
	}

	tr = e.login(t, "viewer", testPassword)
	for range 5 { // used every 6 days: the idle limit never hits, the 30-day one does
		e.clock.Advance(6 * 24 * time.Hour)
		if resp, b := e.tokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}, nil); resp.StatusCode != 200 {
			if !strings.Contains(string(b), "expired") || e.clock.Now().Sub(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) < cfg.RefreshLifetime {
				t.Fatalf("refresh on day %v: %s %s", e.clock.Now(), resp.Status, b)
			}
			return
		} else {
			tr = decodeInto[tokenResponse](t, b)
		}
	}
	t.Error("a family lived past its absolute lifetime")
}

func TestTokenEndpointErrors(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	rt := e.login(t, "viewer", testPassword).RefreshToken
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		form   url.Values
		header http.Header
		status int
		code   string
	}{
		{"JSON body", nil, http.Header{"Content-Type": {"application/json"}}, 400, "invalid_request"},
		{"no grant_type", form(), nil, 400, "invalid_request"},
		{"unknown grant_type", form("grant_type", "client_credentials"), nil, 400, "unsupported_grant_type"},
		{"authorization_code by the password client", form("grant_type", "authorization_code", "code", "x"), nil, 400, "unauthorized_client"},
		{"implicit", form("grant_type", "implicit"), nil, 400, "unsupported_grant_type"},
		{"client_credentials", form("grant_type", "client_credentials"), nil, 400, "unsupported_grant_type"},
		{"no refresh_token", form("grant_type", "refresh_token"), nil, 400, "invalid_request"},
		{"malformed refresh_token", form("grant_type", "refresh_token", "refresh_token", "rt_x"), nil, 400, "invalid_grant"},
		{"unknown refresh_token", form("grant_type", "refresh_token", "refresh_token", "rt_"+strings.Repeat("A", 43)), nil, 400, "invalid_grant"},
		{"repeated parameter", form("grant_type", "refresh_token", "refresh_token", rt, "refresh_token", rt), nil, 400, "invalid_request"},
		{"scope not granted", form("grant_type", "refresh_token", "refresh_token", rt, "scope", "widgets:write"), nil, 400, "invalid_scope"},
		{"unknown client", form("grant_type", "refresh_token", "refresh_token", rt, "client_id", "other"), nil, 400, "invalid_client"},
		{"client secret", form("grant_type", "refresh_token", "refresh_token", rt, "client_id", "demo-api", "client_secret", "s"), nil, 400, "invalid_client"},
		{"basic auth other client", form("grant_type", "refresh_token", "refresh_token", rt),
			http.Header{"Authorization": {"Basic b3RoZXI6"}}, 401, "invalid_client"},
		{"password grant, wrong password", form("grant_type", "password", "username", "viewer", "password", "nope-nope"), nil, 400, "invalid_grant"},
		{"password grant, unknown user", form("grant_type", "password", "username", "nobody", "password", testPassword), nil, 400, "invalid_grant"},
		{"password grant, no password", form("grant_type", "password", "username", "viewer"), nil, 400, "invalid_request"},
		{"password grant, scope not held", form("grant_type", "password", "username", "viewer", "password", testPassword, "scope", "tokens:manage"), nil, 400, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := e.tokenRequest(t, tt.form, tt.header)
			got := decodeInto[errorResponse](t, b)
			if resp.StatusCode != tt.status || got.Error != tt.code {
				t.Errorf("%s %s, want %d %s", resp.Status, b, tt.status, tt.code)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("error response may be cached: %v", resp.Header)
			}
			if tt.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without a Basic challenge: %v", resp.Header)
			}
		})
	}
	// None of the refused requests spent the token.
	e.refresh(t, rt, http.StatusOK)
}

func TestPasswordGrant(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	resp, b := e.tokenRequest(t, url.Values{"grant_type": {"password"}, "username": {"demo"}, "password": {testPassword},
		"scope": {"widgets:read"}, "client_id": {"demo-api"}}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("password grant: %s %s", resp.Status, b)
	}
	tr := decodeInto[tokenResponse](t, b)
	if tr.Scope != "widgets:read" || tr.RefreshToken == "" {
		t.Fatalf("response %+v", tr)
	}
	// The narrowed scope holds: reading works, writing does not.
	if code, body := e.bearer(http.MethodPost, "/api/widgets", tr.AccessToken, `{"name":"x"}`); code != http.StatusForbidden {
		t.Errorf("write with a read-only token: %d %s", code, body)
	}
	// The refreshed token keeps the narrowed grant.
	next, _ := e.refresh(t, tr.RefreshToken, http.StatusOK)
	if next.Scope != "widgets:read" {
		t.Errorf("refreshed scope %q", next.Scope)
	}
}

func TestLogout(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	a := e.login(t, "demo", testPassword)
	b := e.login(t, "demo", testPassword)
	viewer := e.login(t, "viewer", testPassword)

	// Logout with a: the access token and its refresh family stop, b and
	// the viewer's refresh token (someone else's) are untouched.
	body, _ := json.Marshal(map[string]string{"refresh_token": a.RefreshToken})
	if code, resp := e.bearer(http.MethodPost, "/auth/logout", a.AccessToken, string(body)); code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", code, resp)
	}
	if got := e.status(t, a.AccessToken); got != 401 {
		t.Errorf("access token after logout: %d", got)
	}
	if _, oerr := e.refresh(t, a.RefreshToken, 400); oerr.Error != "invalid_grant" {
		t.Errorf("refresh token after logout: %+v", oerr)
	}
	if got := e.status(t, b.AccessToken); got != 200 {
		t.Errorf("another session after logout: %d", got)
	}
	body, _ = json.Marshal(map[string]string{"refresh_token": viewer.RefreshToken})
	if code, resp := e.bearer(http.MethodPost, "/auth/logout", b.AccessToken, string(body)); code != http.StatusNoContent {
		t.Fatalf("logout naming another user's refresh token: %d %s", code, resp)
	}
	e.refresh(t, viewer.RefreshToken, http.StatusOK)
	if got := e.status(t, b.AccessToken); got != 401 {
		t.Errorf("access token after the second logout: %d", got)
	}

	// A logged-out token cannot log out again; bad bodies are refused
	// before anything is revoked.
	if code, _ := e.bearer(http.MethodPost, "/auth/logout", a.AccessToken, ""); code != 401 {
		t.Errorf("logout with a revoked token: %d", code)
	}
	c := e.login(t, "demo", testPassword)
	for _, bad := range []string{`{"refresh_token":`, `[1]`, `{"refresh_token":"x"} {}`} {
		if code, _ := e.bearer(http.MethodPost, "/auth/logout", c.AccessToken, bad); code != 400 {
			t.Errorf("logout with body %s: %d, want 400", bad, code)
		}
	}
	if got := e.status(t, c.AccessToken); got != 200 {
		t.Errorf("a refused logout revoked the token: %d", got)
	}
	if code, _ := e.bearer(http.MethodPost, "/auth/logout", "", ""); code != 401 {
		t.Errorf("logout without a token: %d", code)
	}
}

// TestLogoutOfLongLivedTokens: tokens signed with the demo's own key but
// living longer than 24 h (a 72 h token would outlive "log out
// everywhere", one expiring in year 9999 could not be revoked) are refused
// with 401, at the API and at logout; one living exactly 24 h logs out.
// Logout never answers 500 for a token that verified.
func TestLogoutOfLongLivedTokens(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	u, err := e.store.UserByUsername(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	mint := func(life time.Duration, exp time.Time) string {
		iss, err := token.NewIssuer(e.keys, token.IssuerConfig{Issuer: e.cfg.Issuer, Audience: []string{e.cfg.Audience},
			MaxTokenLifetime: math.MaxInt64, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		c := token.Claims{Subject: u.ID, Scope: "widgets:read", ExpiresAt: exp}
		if exp.IsZero() {
			c.ExpiresAt = e.clock.Now().Add(life)
		}
		raw, _, err := iss.Issue(c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for name, tok := range map[string]string{
		"72 h":      mint(72*time.Hour, time.Time{}),
		"year 9999": mint(0, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)),
	} {
		if got := e.status(t, tok); got != 401 {
			t.Errorf("%s token at /api/me: %d, want 401", name, got)
		}
		if code, resp := e.bearer(http.MethodPost, "/auth/logout", tok, ""); code != 401 {
			t.Errorf("%s token at logout: %d %s, want 401", name, code, resp)
		}
	}
	day := mint(24*time.Hour, time.Time{})
	if code, resp := e.bearer(http.MethodPost, "/auth/logout", day, ""); code != http.StatusNoContent {
		t.Fatalf("logout of a 24 h token: %d %s", code, resp)
	}
	if got := e.status(t, day); got != 401 {
		t.Errorf("24 h token after logout: %d", got)
	}
}

func TestLogoutAll(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	a := e.login(t, "demo", testPassword)
	e.clock.Advance(300 * time.Millisecond)
	b := e.login(t, "demo", testPassword)
	viewer := e.login(t, "viewer", testPassword)
	e.clock.Advance(300 * time.Millisecond)
	if code, resp := e.bearer(http.MethodPost, "/auth/logout-all", b.AccessToken, ""); code != http.StatusNoContent {
		t.Fatalf("logout-all: %d %s", code, resp)
	}
	for _, tr := range []tokenResponse{a, b} {
		if got := e.status(t, tr.AccessToken); got != 401 {
			t.Errorf("access token after logout-all: %d", got)
		}
		if _, oerr := e.refresh(t, tr.RefreshToken, 400); oerr.Error != "invalid_grant" {
			t.Errorf("refresh token after logout-all: %+v", oerr)
		}
	}
	if got := e.status(t, viewer.AccessToken); got != 200 {
		t.Errorf("another user after logout-all: %d", got)
	}
	// Logging in again right away, within the same second, works: the
	// revocation compares iat to the millisecond.
	e.clock.Advance(time.Millisecond)
	again := e.login(t, "demo", testPassword)
	if got := e.status(t, again.AccessToken); got != 200 {
		t.Errorf("a login 1ms after logout-all: %d", got)
	}
	e.refresh(t, again.RefreshToken, http.StatusOK)
}

// TestOAuth2ClientRefreshes: a golang.org/x/oauth2 client gets tokens
// with the password grant, and when its access token expires its
// TokenSource refreshes it at /auth/token by itself.
func TestOAuth2ClientRefreshes(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	conf := &oauth2.Config{
		ClientID: clientID,
		Endpoint: oauth2.Endpoint{TokenURL: e.ts.URL + "/auth/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"widgets:read"},
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.ts.Client())
	tok, err := conf.PasswordCredentialsToken(ctx, "demo", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Fatalf("token %+v", tok)
	}
	src := conf.TokenSource(ctx, tok)
	client := oauth2.NewClient(ctx, src)
	get := func() int {
		resp, err := client.Get(e.ts.URL + "/api/widgets")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != 200 {
		t.Fatalf("first call: %d", got)
	}
	current, _ := src.Token()
	if current.AccessToken != tok.AccessToken {
		t.Fatal("refreshed before the access token expired")
	}

	// 16 minutes later the server rejects the access token, and the
	// client's own clock says it has expired: it refreshes by itself.
	e.clock.Advance(16 * time.Minute)
	if got := e.status(t, tok.AccessToken); got != 401 {
		t.Fatalf("expired access token: %d", got)
	}
	current.Expiry = time.Now().Add(-time.Second) // what the client's clock would see
	src = conf.TokenSource(ctx, current)
	client = oauth2.NewClient(ctx, src)
	if got := get(); got != 200 {
		t.Fatalf("call after expiry: %d", got)
	}
	refreshed, _ := src.Token()
	if refreshed.AccessToken == tok.AccessToken || refreshed.RefreshToken == tok.RefreshToken || refreshed.RefreshToken == "" {
		t.Fatalf("the token source did not refresh: %+v", refreshed)
	}
	// The old refresh token was rotated away: replaying it after the
	// grace period is reuse.
	e.clock.Advance(refresh.DefaultGracePeriod)
	if _, oerr := e.refresh(t, tok.RefreshToken, 400); oerr.Error != "invalid_grant" {
		t.Errorf("replaying the rotated refresh token: %+v", oerr)
	}
}

// TestParallelRefreshOfOneToken: concurrent uses of one refresh token
// (two tabs, an app's parallel calls) all get the same rotation within
// the grace period; a replay after it is reuse, which revokes the family.
func TestParallelRefreshOfOneToken(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	tr := e.login(t, "viewer", testPassword)
	var wg sync.WaitGroup
	got := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			resp, b := e.tokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}, nil)
			if resp.StatusCode != 200 {
				t.Errorf("status %d %s", resp.StatusCode, b)
				return
			}
			got <- decodeInto[tokenResponse](t, b).RefreshToken
		})
	}
	wg.Wait()
	close(got)
	var next []string
	for rt := range got {
		next = append(next, rt)
	}
	if len(next) != 4 || next[0] != next[1] || next[1] != next[2] || next[2] != next[3] {
		t.Fatalf("successors %q, want one", next)
	}
	e.clock.Advance(refresh.DefaultGracePeriod)
	if _, oerr := e.refresh(t, tr.RefreshToken, 400); oerr.Error != "invalid_grant" {
		t.Fatalf("replay after the grace period: %+v", oerr)
	}
	if _, oerr := e.refresh(t, next[0], 400); oerr.Error != "invalid_grant" {
		t.Fatalf("the family survived the reuse: %+v", oerr)
	}
}

func TestAuthStoreDown(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	tr := e.login(t, "demo", testPassword)
	e.store.Close()
	resp, b := e.tokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}, nil)
	if resp.StatusCode != 503 || !strings.Contains(string(b), "temporarily_unavailable") {
		t.Errorf("refresh with the database down: %s %s", resp.Status, b)
	}
	resp, b = e.tokenRequest(t, url.Values{"grant_type": {"password"}, "username": {"demo"}, "password": {testPassword}}, nil)
	if resp.StatusCode != 503 {
		t.Errorf("password grant with the database down: %s %s", resp.Status, b)
	}
	if code, body := e.bearer(http.MethodPost, "/auth/logout", tr.AccessToken, ""); code != 503 {
		t.Errorf("logout with the database down: %d %s", code, body)
	}
	if code, body := e.bearer(http.MethodPost, "/auth/logout-all", tr.AccessToken, ""); code != 503 {
		t.Errorf("logout-all with the database down: %d %s", code, body)
	}
}

// TestBrokenPasswordHashIs500: a stored hash that does not parse is a
// server fault (500), not an outage to retry (503) nor bad credentials.
func TestBrokenPasswordHashIs500(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	if err := e.store.CreateUsers(context.Background(), User{ID: "usr_broken", Username: "broken", PasswordHash: "$argon2id$garbage"}); err != nil {
		t.Fatal(err)
	}
	resp, b := e.do(t, http.MethodPost, "/auth/login", `{"username":"broken","password":"whatever-it-is"}`, nil)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("login with a broken hash: %s %s", resp.Status, b)
	}
	resp, b = e.tokenRequest(t, url.Values{"grant_type": {"password"}, "username": {"broken"}, "password": {"whatever-it-is"}}, nil)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("password grant with a broken hash: %s %s", resp.Status, b)
	}
}

// TestReadyzRevocationStale: a revocation list that cannot sync makes
// the instance not ready, unless the list fails open on purpose (ready,
// "stale, failing open").
func TestReadyzRevocationStale(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail-open=%v", failOpen), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.RevocationStaleness = 200 * time.Millisecond
			cfg.RevocationFailOpen = failOpen
			e := newTestEnv(t, cfg)
			tr := e.login(t, "demo", testPassword)
			e.store.db.Close() // the revocation list cannot sync
			testenv.Eventually(t, "the list to go stale", e.srv.revocations.Stale)
			resp, b := e.do(t, http.MethodGet, "/readyz", "", nil)
			want, wantMe := `"revocations":"stale"`, http.StatusServiceUnavailable
			if failOpen {
				want, wantMe = `"revocations":"stale, failing open"`, http.StatusOK
			}
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), want) {
				t.Errorf("readyz (the database is down too): %s %s, want 503 with %s", resp.Status, b, want)
			}
			rd := e.srv.authn.Ready(context.Background())
			delete(rd.Checks, "database")
			if got := rd.Checks["revocations"]; (got == "stale") == failOpen {
				t.Errorf("the revocations check: %q", got)
			}
			if got := e.status(t, tr.AccessToken); got != wantMe {
				t.Errorf("/api/me on a stale list: %d, want %d", got, wantMe)
			}
		})
	}
}

// TestRefreshGraceOff: with -refresh-grace 0s, presenting a rotated
// refresh token again at once is reuse.
func TestRefreshGraceOff(t *testing.T) {
	cfg := testConfig(t)
	cfg.RefreshGrace = 0
	e := newTestEnv(t, cfg)
	tr := e.login(t, "viewer", testPassword)
	next, _ := e.refresh(t, tr.RefreshToken, 200)
	if _, oerr := e.refresh(t, tr.RefreshToken, 400); oerr.Error != "invalid_grant" {
		t.Fatalf("replay at once: %+v", oerr)
	}
	if _, oerr := e.refresh(t, next.RefreshToken, 400); oerr.Error != "invalid_grant" {
		t.Fatalf("the family survived the reuse: %+v", oerr)
	}
}
