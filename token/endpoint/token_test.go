package endpoint_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/refresh"
)

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestPasswordGrant(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		e := newEnv(t, be, nil)
		r := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret, "scope", "read"), nil)
		if r.status != 200 || r.json["scope"] != "read" || r.json["refresh_token"] == nil {
			t.Fatalf("%d %s", r.status, r.body)
		}
		wantError(t, e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", "nope"), nil), 400, "invalid_grant")
		wantError(t, e.form(t, "/auth/token", vals("grant_type", "password", "username", "bob", "password", secret, "scope", "write"), nil), 400, "invalid_scope")
	})
}

// TestRefreshRotation: a refresh token is spent and replaced; replaying
// the spent one revokes the family and the access tokens issued from it,
// on the API too (RFC 9700 §4.14).
func TestRefreshRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		e := newEnv(t, be, nil)
		access, rt := e.tokens(t, "alice")
		r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil)
		if r.status != 200 || r.json["refresh_token"] == rt || r.json["scope"] != "read write" {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		access2, rt2 := r.json["access_token"].(string), r.json["refresh_token"].(string)
		if e.me(t, access2) != 200 {
			t.Fatal("the refreshed access token does not work")
		}
		// Narrowing, not widening.
		r = e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt2, "scope", "read"), nil)
		if r.status != 200 || r.json["scope"] != "read" {
			t.Fatalf("narrowed refresh: %d %s", r.status, r.body)
		}
		rt3 := r.json["refresh_token"].(string)
		wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt3, "scope", "admin"), nil), 400, "invalid_scope")

		// Reuse of the first token: the family and its access tokens go.
		r = e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil)
		wantError(t, r, 400, "invalid_grant")
		if r.json["error_description"] != "the refresh token was already used; its family has been revoked" {
			t.Fatalf("%s", r.body)
		}
		testenv.Eventually(t, "the family's access tokens are revoked", func() bool { return e.me(t, access) == 401 && e.me(t, access2) == 401 })
		wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt3), nil), 400, "invalid_grant")
		if !slices.Contains(e.eventKinds(), endpoint.RefreshReused) {
			t.Fatalf("events %v", e.eventKinds())
		}
	})
}

// TestRefreshFollowsTheUser: a refreshed token carries the user's current
// scopes (only those still held) and roles; a deleted user's refresh
// token is refused.
func TestRefreshFollowsTheUser(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	_, rt := e.tokens(t, "alice")
	u, _ := e.users.UserByName(t.Context(), "alice")
	u.Scopes, u.Roles = []string{"read"}, []string{"viewer"}
	e.users.set("alice", u)
	r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil)
	if r.status != 200 || r.json["scope"] != "read" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	c, err := e.verifier.Verify(r.json["access_token"].(string))
	if err != nil || !c.HasRole("viewer") || c.HasRole("admin") {
		t.Fatalf("%+v %v", c, err)
	}
	e.users.remove("alice")
	r = e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", r.json["refresh_token"].(string)), nil)
	wantError(t, r, 400, "invalid_grant")
}

func TestRefreshExpiry(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	_, rt := e.tokens(t, "alice")
	e.clock.Advance(8 * 24 * time.Hour) // past the 7-day idle lifetime
	r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil)
	wantError(t, r, 400, "invalid_grant")
	if r.json["error_description"] != "the refresh token has expired" {
		t.Fatal(r.body)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	_, rt := e.tokens(t, "alice")
	basic := func(id, pw string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(id, pw) } }
	tests := []struct {
		name   string
		form   url.Values
		edit   func(*http.Request)
		ctype  string
		status int
		code   string
	}{
		{"no grant_type", vals("refresh_token", rt), nil, "", 400, "invalid_request"},
		{"unknown grant_type", vals("grant_type", "client_credentials"), nil, "", 400, "unsupported_grant_type"},
		{"authorization_code", vals("grant_type", "authorization_code", "code", "x"), nil, "", 400, "unsupported_grant_type"},
		{"no refresh_token", vals("grant_type", "refresh_token"), nil, "", 400, "invalid_request"},
		{"unknown refresh token", vals("grant_type", "refresh_token", "refresh_token", "rt_"+rt[3:len(rt)-2]+"AA"), nil, "", 400, "invalid_grant"},
		{"malformed refresh token", vals("grant_type", "refresh_token", "refresh_token", "x"), nil, "", 400, "invalid_grant"},
		{"repeated parameter", vals("grant_type", "refresh_token", "refresh_token", rt, "refresh_token", rt), nil, "", 400, "invalid_request"},
		// Without an Authorization header: 400, no challenge (RFC 6749
		// §5.2: a strict client would report the challenge instead).
		{"other client_id", vals("grant_type", "refresh_token", "refresh_token", rt, "client_id", "evil"), nil, "", 400, "invalid_client"},
		{"a client secret", vals("grant_type", "refresh_token", "refresh_token", rt, "client_id", client, "client_secret", "s"), nil, "", 400, "invalid_client"},
		{"Basic with another client", vals("grant_type", "refresh_token", "refresh_token", rt), basic("evil", ""), "", 401, "invalid_client"},
		{"Basic and client_id", vals("grant_type", "refresh_token", "refresh_token", rt, "client_id", client), basic(client, ""), "", 400, "invalid_request"},
		// A malformed Basic header is a client that tried the header.
		{"malformed Basic", vals("grant_type", "refresh_token", "refresh_token", rt, "client_id", "evil"),
			func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }, "", 401, "invalid_client"},
		{"malformed basic, any case", vals("grant_type", "refresh_token", "refresh_token", rt),
			func(r *http.Request) { r.Header.Set("Authorization", "bAsIc bm9jb2xvbg==") }, "", 401, "invalid_client"},
		{"Basic not form-urlencoded", vals("grant_type", "refresh_token", "refresh_token", rt), basic("%zz", ""), "", 401, "invalid_client"},
		{"JSON body", nil, nil, "application/json", 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctype := tt.ctype
			if ctype == "" {
				ctype = "application/x-www-form-urlencoded"
			}
			r := e.do(t, "POST", "/auth/token", ctype, tt.form.Encode(), tt.edit)
			wantError(t, r, tt.status, tt.code)
			if want := map[bool]string{true: `Basic realm="api"`}[tt.status == 401]; r.header.Get("WWW-Authenticate") != want {
				t.Fatalf("challenge %q, want %q", r.header.Get("WWW-Authenticate"), want)
			}
		})
	}
	// None of the refusals spent the token; the client may name itself.
	r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), basic(client, ""))
	if r.status != 200 {
		t.Fatalf("refresh after refusals: %d %s", r.status, r.body)
	}
}

// TestOtherClientsRefreshTokens: a refresh token issued to another client
// is neither rotated nor revoked here.
func TestOtherClientsRefreshTokens(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	rt, err := e.refresh.Issue(t.Context(), refresh.Grant{Subject: "usr_alice", ClientID: "other-app", Scope: "read"}, refresh.AccessToken{})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil), 400, "invalid_grant")
	wantError(t, e.form(t, "/auth/revoke", vals("token", rt), nil), 400, "invalid_request")
	if _, _, err := e.refresh.Rotate(t.Context(), rt, func(context.Context, refresh.Minting) (refresh.AccessToken, error) {
		return refresh.AccessToken{}, nil
	}); err != nil {
		t.Fatalf("the token was spent or revoked here: %v", err)
	}
}

// TestClientIDForms: a client id in Basic credentials is form-urlencoded
// (RFC 6749 §2.3.1); scopes asked twice are granted once; a username that
// is not UTF-8 or holds NUL is refused before any store sees it.
func TestClientIDForms(t *testing.T) {
	e := newEnv(t, backends[0], func(c *endpoint.Config) { c.ClientID = "my app" })
	basic := func(r *http.Request) { r.SetBasicAuth("my+app", "") }
	r := e.form(t, "/auth/token", vals("grant_type", "password", "username", "alice", "password", secret, "scope", "read read"), basic)
	if r.status != 200 || r.json["scope"] != "read" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for _, name := range []string{"\xff", "a\x00b"} {
		before := e.passwords.Verifications()
		wantError(t, e.form(t, "/auth/token", vals("grant_type", "password", "username", name, "password", "x"), nil), 400, "invalid_request")
		if e.passwords.Verifications() != before {
			t.Fatal("a password was checked")
		}
	}
}

// TestRefreshStoreDown: a refresh store that cannot answer is 503.
func TestRefreshStoreDown(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	_, rt := e.tokens(t, "alice")
	e.users.down.Store(true)
	r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil)
	wantError(t, r, 503, "temporarily_unavailable")
	e.users.down.Store(false)
	if r := e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil); r.status != 200 {
		t.Fatalf("the token was spent by a failed refresh: %d %s", r.status, r.body)
	}
}
