package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sessionless/sessionless/bridge"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/refresh"
	"github.com/sessionless/sessionless/token/tokentest"
)

// legacy is the session store of the application being replaced.
type legacy map[string]string // session id → user id

func (l legacy) Session(_ context.Context, id string) (*identity.Principal, error) {
	user, ok := l[id]
	if !ok {
		return nil, errors.New("no such session") // never the id: errors are logged
	}
	return &identity.Principal{Subject: user, Scopes: []string{"widgets:read"}}, nil
}

func (l legacy) Destroy(_ context.Context, id string) error { delete(l, id); return nil }

// A browser with a live session trades it for tokens, ending the session.
func Example() {
	sessions := legacy{"q8mv0s3c5dd1l6tbg8a2u7k0rj": "42"}
	issuer, err := token.NewIssuer(tokentest.KeySet(tokentest.MustSigner(token.EdDSA)),
		token.IssuerConfig{Issuer: "https://api.example", Audience: []string{"api"}})
	if err != nil {
		log.Fatal(err)
	}
	refreshes, err := refresh.New(refresh.Config{}) // in production: the token endpoints' (endpoint.Server.Refresh)
	if err != nil {
		log.Fatal(err)
	}
	exchange, err := bridge.New(bridge.Config{
		CookieName: "PHPSESSID",
		Source:     sessions,
		Issuer:     issuer,
		Refresh:    refreshes,
		ClientID:   "web",
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /auth/session/exchange", exchange)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// What the browser's fetch sends: JSON, with the cookie.
	req, _ := http.NewRequest("POST", srv.URL+"/auth/session/exchange", strings.NewReader(`{"destroy_session": true}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: "PHPSESSID", Value: "q8mv0s3c5dd1l6tbg8a2u7k0rj"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var tokens struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
		Scope        string `json:"scope"`
	}
	json.NewDecoder(resp.Body).Decode(&tokens)
	fmt.Println(resp.StatusCode, resp.Header.Get("Cache-Control"), tokens.TokenType, tokens.ExpiresIn, tokens.Scope)
	fmt.Println(resp.Header.Get("Set-Cookie"))
	fmt.Println("sessions left:", len(sessions))
	// Output:
	// 200 no-store Bearer 900 widgets:read
	// PHPSESSID=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly
	// sessions left: 0
}
