package endpoint_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/refresh"
)

func TestLogout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		e := newEnv(t, be, nil)
		a, art := e.tokens(t, "alice")
		b, _ := e.tokens(t, "alice")
		_, bobRT := e.tokens(t, "bob")

		body, _ := json.Marshal(map[string]string{"refresh_token": art})
		if r := e.do(t, "POST", "/auth/logout", "application/json", string(body), bearer(a)); r.status != 204 {
			t.Fatalf("logout: %d %s", r.status, r.body)
		}
		if e.me(t, a) != 401 {
			t.Fatal("access token works after logout")
		}
		wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", art), nil), 400, "invalid_grant")
		if e.me(t, b) != 200 {
			t.Fatal("another session was logged out")
		}
		// Someone else's refresh token is ignored.
		body, _ = json.Marshal(map[string]string{"refresh_token": bobRT})
		if r := e.do(t, "POST", "/auth/logout", "application/json", string(body), bearer(b)); r.status != 204 {
			t.Fatalf("logout naming bob's token: %d", r.status)
		}
		if r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", bobRT), nil); r.status != 200 {
			t.Fatalf("bob's refresh token was revoked: %d", r.status)
		}
	})
}

func TestLogoutRefusals(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	c, _ := e.tokens(t, "alice")
	for _, tt := range []struct {
		name, ctype, body string
		status            int
	}{
		{"not JSON", "application/json", `{"refresh_token":`, 400},
		{"an array", "application/json", `[1]`, 400},
		{"two objects", "application/json", `{"refresh_token":"x"} {}`, 400},
		{"refresh_token twice", "application/json", `{"refresh_token":"a","refresh_token":"b"}`, 400},
		{"a number", "application/json", `{"refresh_token":1}`, 400},
		{"a form", "application/x-www-form-urlencoded", `refresh_token=x`, 415},
	} {
		r := e.do(t, "POST", "/auth/logout", tt.ctype, tt.body, bearer(c))
		wantError(t, r, tt.status, "invalid_request")
	}
	if e.me(t, c) != 200 {
		t.Fatal("a refused logout revoked the token")
	}
	if r := e.do(t, "POST", "/auth/logout", "", "", nil); r.status != 401 {
		t.Fatalf("logout without a token: %d", r.status)
	}
	if r := e.do(t, "POST", "/auth/logout", "", "", bearer(c)); r.status != 204 {
		t.Fatalf("logout with an empty body: %d", r.status)
	}
	if r := e.do(t, "POST", "/auth/logout", "", "", bearer(c)); r.status != 401 {
		t.Fatalf("a logged-out token logs out again: %d", r.status)
	}
}

func TestLogoutAll(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		e := newEnv(t, be, nil)
		a, art := e.tokens(t, "alice")
		e.clock.Advance(300 * time.Millisecond)
		b, brt := e.tokens(t, "alice")
		bob, _ := e.tokens(t, "bob")
		e.clock.Advance(300 * time.Millisecond)
		if r := e.do(t, "POST", "/auth/logout-all", "", "", bearer(b)); r.status != 204 {
			t.Fatalf("logout-all: %d %s", r.status, r.body)
		}
		for _, tok := range []string{a, b} {
			if e.me(t, tok) != 401 {
				t.Fatal("an access token works after logout-all")
			}
		}
		for _, rt := range []string{art, brt} {
			wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil), 400, "invalid_grant")
		}
		if e.me(t, bob) != 200 {
			t.Fatal("another user was logged out")
		}
		// A login right after, in the same second, works.
		e.clock.Advance(time.Millisecond)
		again, _ := e.tokens(t, "alice")
		if e.me(t, again) != 200 {
			t.Fatal("a login 1 ms after logout-all is refused")
		}
	})
}

// flakyRevocations is a revocation store whose writes fail when down.
type flakyRevocations struct {
	*revocation.MemoryStore
	down *atomic.Bool
}

func (f flakyRevocations) Create(ctx context.Context, e revocation.Entry) error {
	if f.down.Load() {
		return errors.New("revocations: store down")
	}
	return f.MemoryStore.Create(ctx, e)
}

// flakyRefresh is a refresh store that fails when down.
type flakyRefresh struct {
	refresh.Store
	down *atomic.Bool
}

func (f flakyRefresh) Get(ctx context.Context, h refresh.Hash) (refresh.Record, error) {
	if f.down.Load() {
		return refresh.Record{}, errors.New("refresh: store down")
	}
	return f.Store.Get(ctx, h)
}

func (f flakyRefresh) RevokeSubject(ctx context.Context, sub string, at time.Time) error {
	if f.down.Load() {
		return errors.New("refresh: store down")
	}
	return f.Store.RevokeSubject(ctx, sub, at)
}

// TestStoresDown: revocations or refresh tokens that cannot be stored are
// 503 with Retry-After, never 204 or 200; the access token keeps working
// (its revocation did not happen), and a retry once the store is back
// finishes the job, the access token included where the operation revokes
// it.
func TestStoresDown(t *testing.T) {
	var revDown, refDown atomic.Bool
	be := backend{"flaky", func(testing.TB) (refresh.Store, revocation.Store) {
		return flakyRefresh{refresh.NewMemoryStore(), &refDown}, flakyRevocations{revocation.NewMemoryStore(), &revDown}
	}}
	e := newEnv(t, be, nil)
	logoutWith := func(a, rt string) reply {
		body, _ := json.Marshal(map[string]string{"refresh_token": rt})
		return e.do(t, "POST", "/auth/logout", "application/json", string(body), bearer(a))
	}
	refreshWith := func(_, rt string) reply {
		return e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil)
	}
	for _, tt := range []struct {
		name    string
		down    *atomic.Bool
		prepare func(rt string) // before the store goes down
		do      func(a, rt string) reply
		after   int  // status of the retry with the store back
		revokes bool // the access token is refused after the retry
	}{
		{"logout, revocations down", &revDown, nil, func(a, _ string) reply { return e.do(t, "POST", "/auth/logout", "", "", bearer(a)) }, 204, true},
		{"logout with a refresh token, refresh store down", &refDown, nil, logoutWith, 204, true},
		{"logout with a refresh token, revocations down", &revDown, nil, logoutWith, 204, true},
		{"logout-all, refresh store down", &refDown, nil, func(a, _ string) reply { return e.do(t, "POST", "/auth/logout-all", "", "", bearer(a)) }, 204, true},
		{"logout-all, revocations down", &revDown, nil, func(a, _ string) reply { return e.do(t, "POST", "/auth/logout-all", "", "", bearer(a)) }, 204, true},
		{"refresh, refresh store down", &refDown, nil, refreshWith, 200, false},
		{"reuse, revocations down", &revDown, func(rt string) {
			refreshWith("", rt)
			e.clock.Advance(refresh.DefaultGracePeriod) // a reuse, not a second tab
		}, refreshWith, 400, true},
		{"revoke a refresh token, refresh store down", &refDown, nil, func(_, rt string) reply { return e.form(t, "/auth/revoke", vals("token", rt), nil) }, 200, true},
		{"revoke a refresh token, revocations down", &revDown, nil, func(_, rt string) reply { return e.form(t, "/auth/revoke", vals("token", rt), nil) }, 200, true},
		{"revoke an access token, revocations down", &revDown, nil, func(a, _ string) reply { return e.form(t, "/auth/revoke", vals("token", a), nil) }, 200, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(time.Second) // after any earlier logout-all
			a, rt := e.tokens(t, "alice")
			if tt.prepare != nil {
				tt.prepare(rt)
			}
			tt.down.Store(true)
			r := tt.do(a, rt)
			tt.down.Store(false)
			wantError(t, r, 503, "temporarily_unavailable")
			if r.header.Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
			if e.me(t, a) != 200 {
				t.Fatal("the access token stopped working")
			}
			if r := tt.do(a, rt); r.status != tt.after {
				t.Fatalf("retry: %d %s", r.status, r.body)
			}
			if got := e.me(t, a); tt.revokes && got != 401 || !tt.revokes && got != 200 {
				t.Fatalf("the access token after the retry: %d", got)
			}
		})
	}
}

// TestOtherIssuersTouchNoRefreshTokens: a token of another trusted issuer
// with the same sub logs out its own token only: refresh tokens belong to
// the subjects of this issuer. A principal without a token ID is logged
// out by subject.
func TestOtherIssuersTouchNoRefreshTokens(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	_, rt := e.tokens(t, "alice")
	srv, err := endpoint.New(endpoint.Config{Issuer: e.issuer, Verifier: e.verifier, Users: e.users,
		RefreshStore: e.refreshes, Revocation: e.list, ClientID: client, Passwords: e.passwords})
	if err != nil {
		t.Fatal(err)
	}
	partner := &identity.Principal{Issuer: "https://partner.example", Subject: "usr_alice", TokenID: "p1",
		ExpiresAt: e.clock.Now().Add(time.Hour), IssuedAt: e.clock.Now()}
	body, _ := json.Marshal(map[string]string{"refresh_token": rt})
	for _, h := range []http.Handler{srv.LogoutAll(), srv.Logout()} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(string(body))).WithContext(identity.NewContext(t.Context(), partner))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 204 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	if r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil); r.status != 200 {
		t.Fatalf("a partner's token revoked alice's refresh token: %d %s", r.status, r.body)
	}
	// A token without a jti (Auth0's) is logged out by subject: it and
	// the user's earlier tokens of that issuer, not the later ones.
	noJTI := &identity.Principal{Issuer: "https://tenant.auth0.example/", Subject: "auth0|1", IssuedAt: e.clock.Now().Add(-time.Minute),
		ExpiresAt: e.clock.Now().Add(time.Hour)}
	req := httptest.NewRequest("POST", "/", nil).WithContext(identity.NewContext(t.Context(), noJTI))
	w := httptest.NewRecorder()
	srv.Logout().ServeHTTP(w, req)
	if w.Code != 204 {
		t.Fatalf("logout of a token without jti: %d %s", w.Code, w.Body)
	}
	if revoked, err := e.list.Revoked(t.Context(), noJTI); !revoked || err != nil {
		t.Errorf("the token without jti is not revoked: %v, %v", revoked, err)
	}
	for _, d := range []time.Duration{time.Second, 300 * time.Millisecond, time.Nanosecond} {
		later := *noJTI
		later.IssuedAt = noJTI.IssuedAt.Add(d)
		if revoked, _ := e.list.Revoked(t.Context(), &later); revoked {
			t.Errorf("a token of the user issued %v later was revoked too", d)
		}
	}
	// Neither jti nor iat: it cannot be revoked alone.
	req = httptest.NewRequest("POST", "/", nil).WithContext(identity.NewContext(t.Context(),
		&identity.Principal{Issuer: "https://tenant.auth0.example/", Subject: "auth0|2"}))
	w = httptest.NewRecorder()
	srv.Logout().ServeHTTP(w, req)
	if w.Code != 400 {
		t.Errorf("logout of a token with neither jti nor iat: %d %s, want 400", w.Code, w.Body)
	}
}

// TestLogoutRefusesAPITokens: a request authenticated with an API token
// cannot log out: not the token (its database must revoke it), not its
// owner everywhere.
func TestLogoutRefusesAPITokens(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	c, _ := e.tokens(t, "alice")
	p := &identity.Principal{Subject: "usr_alice", Issuer: "sessionless:apitoken:sl_", Method: identity.APIToken, TokenID: "0123"}
	for _, h := range []http.Handler{e.srv.Logout(), e.srv.LogoutAll()} {
		req := httptest.NewRequest("POST", "/auth/logout", nil)
		req = req.WithContext(identity.NewContext(req.Context(), p))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), "invalid_request") {
			t.Errorf("logout with an API token: %d %s, want 400 invalid_request", rec.Code, rec.Body)
		}
	}
	if e.me(t, c) != 200 {
		t.Fatal("an API token's refused logout-all revoked its owner's access token")
	}
}

// apiTokens records the subjects whose API tokens are revoked, or fails.
type apiTokens struct {
	mu       sync.Mutex
	subjects []string
	down     bool
}

func (a *apiTokens) RevokeSubjectBefore(_ context.Context, subject string, _ time.Time) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down {
		return 0, errors.New("store down")
	}
	a.subjects = append(a.subjects, subject)
	return 1, nil
}

func (a *apiTokens) SubjectIssuer() string { return issuer }

// TestLogoutAllAPITokens: with Config.APITokens, logging out everywhere
// revokes the user's API tokens too; a store that cannot answer is 503,
// and the retry completes.
func TestLogoutAllAPITokens(t *testing.T) {
	api := &apiTokens{}
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.APITokens = api })
	access, _ := e.tokens(t, "alice")
	api.down = true
	if r := e.do(t, "POST", "/auth/logout-all", "", "", bearer(access)); r.status != 503 {
		t.Fatalf("logout-all with the API token store down: %d %s", r.status, r.body)
	}
	api.down = false
	// The retry, with the same access token, completes the job.
	if r := e.do(t, "POST", "/auth/logout-all", "", "", bearer(access)); r.status != 204 {
		t.Fatalf("logout-all: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/api/me", "", "", bearer(access)); r.status != 401 {
		t.Errorf("the access token after logging out everywhere: %d", r.status)
	}
	if !slices.Equal(api.subjects, []string{"usr_alice"}) {
		t.Errorf("API tokens revoked for %v, want usr_alice", api.subjects)
	}
}

// TestLogoutAllStolenTokenMintsNothing: logging out everywhere with
// Config.APITokens (a real apitoken.Manager) revokes the user's API
// tokens, and the stolen access token, still good on an instance whose
// revocation list has not heard of the logout (its verifier alone here),
// can mint no API token there afterwards; a new login can.
func TestLogoutAllStolenTokenMintsNothing(t *testing.T) {
	ctx := context.Background()
	var api *apitoken.Manager
	e := newEnv(t, backends[0], func(c *endpoint.Config) {
		var err error
		api, err = apitoken.New(apitoken.Config{Store: apitoken.NewMemoryStore(), SubjectIssuer: issuer, CreatorAudiences: []string{audience}, Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { api.Close() })
		c.APITokens = api
	})
	access, _ := e.tokens(t, "alice")
	stolen, err := e.verifier.Authenticate(ctx, access) // what an instance not yet synced accepts
	if err != nil {
		t.Fatal(err)
	}
	req := apitoken.CreateRequest{Name: "ci"}
	raw, _, err := api.CreateFor(ctx, stolen, req)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if r := e.do(t, "POST", "/auth/logout-all", "", "", bearer(access)); r.status != 204 {
		t.Fatalf("logout-all: %d %s", r.status, r.body)
	}
	if _, err := api.Authenticate(ctx, raw); !errors.Is(err, apitoken.ErrRevoked) {
		t.Errorf("an API token after logging out everywhere: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, _, err := api.CreateFor(ctx, stolen, req); !errors.Is(err, apitoken.ErrRevoked) {
		t.Errorf("the stolen access token minted an API token after logging out everywhere: %v", err)
	}
	access, _ = e.tokens(t, "alice")
	fresh, err := e.verifier.Authenticate(ctx, access)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.CreateFor(ctx, fresh, req); err != nil {
		t.Errorf("a new login's token: %v", err)
	}

	// A manager of another issuer's subjects is refused.
	other, err := apitoken.New(apitoken.Config{Store: apitoken.NewMemoryStore(), SubjectIssuer: "https://other.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	cfg := endpoint.Config{Issuer: e.issuer, Verifier: e.verifier, Users: e.users, Revocation: e.list, ClientID: client, APITokens: other}
	if _, err := endpoint.New(cfg); err == nil || !strings.Contains(err.Error(), "APITokens") {
		t.Errorf("APITokens of another issuer: %v", err)
	}
}
