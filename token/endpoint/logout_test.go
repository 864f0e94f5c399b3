package endpoint_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/revocation"
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

func (f flakyRevocations) Add(ctx context.Context, e revocation.Entry) error {
	if f.down.Load() {
		return errors.New("revocations: store down")
	}
	return f.MemoryStore.Add(ctx, e)
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
// (its revocation did not happen) and a retry once the store is back
// finishes the job.
func TestStoresDown(t *testing.T) {
	var revDown, refDown atomic.Bool
	be := backend{"flaky", func(testing.TB) (refresh.Store, revocation.Store) {
		return flakyRefresh{refresh.NewMemoryStore(), &refDown}, flakyRevocations{revocation.NewMemoryStore(), &revDown}
	}}
	e := newEnv(t, be, nil)
	for _, tt := range []struct {
		name  string
		down  *atomic.Bool
		do    func(a, rt string) reply
		after int // status of a retry with the store back
	}{
		{"logout, revocations down", &revDown, func(a, _ string) reply { return e.do(t, "POST", "/auth/logout", "", "", bearer(a)) }, 204},
		{"logout with a refresh token, refresh store down", &refDown, func(a, rt string) reply {
			body, _ := json.Marshal(map[string]string{"refresh_token": rt})
			return e.do(t, "POST", "/auth/logout", "application/json", string(body), bearer(a))
		}, 204},
		{"logout-all, refresh store down", &refDown, func(a, _ string) reply { return e.do(t, "POST", "/auth/logout-all", "", "", bearer(a)) }, 204},
		{"logout-all, revocations down", &revDown, func(a, _ string) reply { return e.do(t, "POST", "/auth/logout-all", "", "", bearer(a)) }, 204},
		{"refresh, refresh store down", &refDown, func(_, rt string) reply {
			return e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil)
		}, 200},
		{"revoke a refresh token, refresh store down", &refDown, func(_, rt string) reply { return e.form(t, "/auth/revoke", vals("token", rt), nil) }, 200},
		{"revoke an access token, revocations down", &revDown, func(a, _ string) reply { return e.form(t, "/auth/revoke", vals("token", a), nil) }, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(time.Second) // after any earlier logout-all
			a, rt := e.tokens(t, "alice")
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
		})
	}
}
