package endpoint_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
)

// TestRevoke: RFC 7009 for refresh tokens (the family and its access
// tokens go) and access tokens (refused at once), 200 for tokens that are
// invalid, unknown or expired.
func TestRevoke(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		e := newEnv(t, be, nil)
		a, rt := e.tokens(t, "alice")
		r := e.form(t, "/auth/revoke", vals("token", rt, "token_type_hint", "refresh_token"), nil)
		if r.status != 200 || r.body != "" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("revoke a refresh token: %d %q %v", r.status, r.body, r.header)
		}
		wantError(t, e.form(t, "/auth/token", vals("grant_type", "refresh_token", "refresh_token", rt), nil), 400, "invalid_grant")
		testenv.Eventually(t, "the family's access token is revoked", func() bool { return e.me(t, a) == 401 })

		b, _ := e.tokens(t, "alice")
		// A wrong hint does not stop the search (§2.1).
		if r := e.form(t, "/auth/revoke", vals("token", b, "token_type_hint", "refresh_token"), nil); r.status != 200 {
			t.Fatalf("revoke an access token: %d %s", r.status, r.body)
		}
		if e.me(t, b) != 401 {
			t.Fatal("the access token works after its revocation")
		}
		if !slices.Contains(e.eventKinds(), endpoint.Revoked) {
			t.Fatalf("events %v", e.eventKinds())
		}
	})
}

func TestRevokeInvalidTokens(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	a, rt := e.tokens(t, "alice")
	other, _ := token.GenerateKey(token.EdDSA)
	otherSet, _ := token.NewKeySet(other)
	otherIss, _ := token.NewIssuer(otherSet, token.IssuerConfig{Issuer: issuer, Audience: []string{audience}, Now: e.clock.Now})
	forged, _, _ := otherIss.Issue(token.Claims{Subject: "usr_alice", ClientID: client})
	for _, tok := range []string{"x", "rt_" + rt[3:len(rt)-2] + "AA", forged, a + "x", "a.b.c"} {
		if r := e.form(t, "/auth/revoke", vals("token", tok), nil); r.status != 200 {
			t.Errorf("revoke %q: %d %s", tok, r.status, r.body)
		}
	}
	if e.me(t, a) != 200 {
		t.Fatal("revoking invalid tokens revoked a valid one")
	}
	// An expired access token: nothing to revoke.
	e.clock.Advance(time.Hour)
	if r := e.form(t, "/auth/revoke", vals("token", a), nil); r.status != 200 {
		t.Fatalf("revoke an expired token: %d", r.status)
	}
	wantError(t, e.form(t, "/auth/revoke", vals(), nil), 400, "invalid_request")
	wantError(t, e.form(t, "/auth/revoke", vals("token", rt, "client_id", "evil"), nil), 400, "invalid_client")
	wantError(t, e.form(t, "/auth/revoke", vals("token", rt, "token", rt), nil), 400, "invalid_request")
	wantError(t, e.do(t, "POST", "/auth/revoke", "application/json", `{"token":"x"}`, nil), 400, "invalid_request")
}

// TestRevokeOtherClient: a token issued to another client is not revoked.
func TestRevokeOtherClient(t *testing.T) {
	e := newEnv(t, backends[0], nil)
	a, _, err := e.issuer.Issue(token.Claims{Subject: "usr_alice", ClientID: "other-app"})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, e.form(t, "/auth/revoke", vals("token", a), nil), 400, "invalid_request")
	if e.me(t, a) != 200 {
		t.Fatal("another client's token was revoked")
	}
}
