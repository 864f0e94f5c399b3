package endpoint_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"

	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/token/endpoint"
)

// myUsers is the application's user store: here a map, usually a table.
type myUsers map[string]endpoint.User

func (u myUsers) UserByName(_ context.Context, name string) (endpoint.User, error) {
	if x, ok := u[name]; ok {
		return x, nil
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

func (u myUsers) UserBySubject(_ context.Context, sub string) (endpoint.User, error) {
	for _, x := range u {
		if x.Subject == sub {
			return x, nil
		}
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

// Mount login, token, revocation and logout endpoints beside an API.
func Example() {
	ctx := context.Background()
	auth, err := sessionless.New(sessionless.Config{Issuer: "https://api.example", Audience: "api",
		HMACSecret: []byte(os.Getenv("TOKEN_SECRET"))})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	passwords, _ := password.New(password.Config{})
	hash, _ := passwords.Hash(ctx, "correct horse battery staple") // at sign-up
	users := myUsers{"alice": {Subject: "usr_1", PasswordHash: hash, Scopes: []string{"widgets:read"}}}

	// Refresh tokens in memory: with several instances, a shared
	// RefreshStore (token/refresh/sqlstore).
	srv, err := endpoint.New(endpoint.Config{Issuer: auth.Issuer, Verifier: auth.Verifier, Users: users,
		Revocation: auth.Revocations, Passwords: passwords, ClientID: "my-app"})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux, "/auth", auth.Middleware)
	mux.Handle("GET /widgets", auth.Middleware(auth.RequireScopes("widgets:read")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "widgets") }))))

	ts := httptest.NewServer(mux)
	defer ts.Close()
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"correct horse battery staple"}}
	resp, err := http.Post(ts.URL+"/auth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
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
	fmt.Println(resp.StatusCode, tokens.TokenType, tokens.ExpiresIn, tokens.Scope, strings.HasPrefix(tokens.RefreshToken, "rt_"))

	call := func(method, path string) int {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tokens.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(call("GET", "/widgets"), call("POST", "/auth/logout"), call("GET", "/widgets"))
	// Output:
	// 200 Bearer 900 widgets:read true
	// 200 204 401
}
