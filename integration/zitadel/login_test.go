package zitadel_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/oidc"
)

// TestZitadelLogin: package oidc's login flow through the provider's own
// login form: PKCE, state, nonce, the response's iss when sent, and the
// ID token's aud and azp (the client) checked.
func TestZitadelLogin(t *testing.T) {
	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)
	issuer := startZitadel(t, app.URL+"/callback")
	login, err := oidc.NewLogin(oidc.LoginConfig{
		Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret, RedirectURL: app.URL + "/callback", CookieKey: make([]byte, 32),
		Complete: func(w http.ResponseWriter, r *http.Request, id *oidc.Identity) {
			json.NewEncoder(w).Encode(map[string]string{"iss": id.Issuer, "sub": id.Subject, "username": id.Username})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET /login", login.Start())
	mux.Handle("GET /callback", login.Callback())

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	resp, err := c.Get(app.URL + "/login") // → the provider → its login form
	if err != nil {
		t.Fatal(err)
	}
	resp = loginForm(t, c, resp) // → the provider's callback → ours
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"sub":"`+userID+`"`) || !strings.Contains(string(body), `"iss":"`+issuer+`"`) {
		t.Fatalf("login through the provider: %d %s", resp.StatusCode, body)
	}
}
