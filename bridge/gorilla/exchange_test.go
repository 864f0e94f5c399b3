package gorilla_test

import (
	"context"
	"testing"

	"github.com/gorilla/sessions"

	"github.com/sessionless/sessionless/bridge"
	"github.com/sessionless/sessionless/bridge/gorilla"
	"github.com/sessionless/sessionless/bridge/internal/bridgetest"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/tokentest"
)

type users map[string]endpoint.User

func (u users) UserByName(context.Context, string) (endpoint.User, error) {
	return endpoint.User{}, endpoint.ErrUnknownUser
}

func (u users) UserBySubject(_ context.Context, sub string) (endpoint.User, error) {
	if x, ok := u[sub]; ok {
		return x, nil
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

// TestExchange is a user's migration from a Go application on
// gorilla/sessions' FilesystemStore: the API accepts the session, the
// client exchanges it for tokens and ends it, the application no longer
// knows the user, and the tokens work and refresh at the token
// endpoint.
func TestExchange(t *testing.T) {
	store := sessions.NewFilesystemStore(t.TempDir(), hashKey, blockKey)
	app := legacy(t, store)
	_, value := call(t, app, "POST", "/login", "")

	src, err := gorilla.New(store, "session", gorilla.Config{Principal: gorilla.UserID("user_id"),
		Scopes: []string{"widgets:read"}, Issuer: tokentest.Issuer})
	if err != nil {
		t.Fatal(err)
	}
	us := users{"42": {Subject: "42", Scopes: []string{"widgets:read", "widgets:write"}}}
	api := bridgetest.NewAPI(t, us, bridge.Config{CookieName: "session", Source: src, Users: us})

	if code, body := api.Me(t, "", value); code != 200 || body != "42 session widgets:read " {
		t.Fatalf("the session at the API: %d %q", code, body)
	}
	a := api.Post(t, `{"destroy_session": true}`, value, nil)
	if a.Status != 200 || a.Body["scope"] != "widgets:read widgets:write" {
		t.Fatalf("exchange: %d %s", a.Status, a.Raw)
	}
	if who, _ := call(t, app, "GET", "/whoami", value); who != "<nil>" {
		t.Fatalf("the application still knows %q", who)
	}
	if code, _ := api.Me(t, "", value); code != 401 {
		t.Fatalf("the destroyed session at the API: %d", code)
	}
	if code, body := api.Me(t, a.Body["access_token"].(string), ""); code != 200 || body != "42 jwt widgets:read,widgets:write " {
		t.Fatalf("the access token: %d %q", code, body)
	}
	if r := api.Refresh(t, a.Body["refresh_token"].(string)); r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Raw)
	}
}
