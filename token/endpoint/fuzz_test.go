package endpoint_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
)

// fuzzServer is the endpoints over memory stores, called without a
// network round trip and without goroutines running beside them.
func fuzzServer(f *testing.F) *endpoint.Server {
	key, _ := token.GenerateKey(token.EdDSA)
	keys, _ := token.NewKeySet(key)
	iss, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: issuer, Audience: []string{audience}})
	ver, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: issuer, Audience: audience})
	list, err := revocation.Open(context.Background(), revocation.Config{})
	if err != nil {
		f.Fatal(err)
	}
	// Closed at once: its background sync would make coverage unstable,
	// and no fuzzed input gets as far as revoking a valid token.
	list.Close()
	pw, _ := password.New(testenv.CheapPasswords)
	hash, _ := pw.Hash(context.Background(), secret)
	u := &users{byName: map[string]endpoint.User{"alice": {Subject: "usr_alice", PasswordHash: hash, Scopes: []string{"read"}}}}
	srv, err := endpoint.New(endpoint.Config{Issuer: iss, Verifier: ver, Users: u, Revocation: list,
		ClientID: client, Passwords: pw})
	if err != nil {
		f.Fatal(err)
	}
	return srv
}

// checkRefusal fails unless a response is a 4xx with an RFC 6749 error
// member, or a 200: never a 5xx, never a panic.
func checkRefusal(t *testing.T, w *httptest.ResponseRecorder, body, contentType string) {
	if w.Code >= 500 || w.Code >= 400 && !strings.Contains(w.Body.String(), `"error":"`) {
		t.Fatalf("%q (%s): %d %s", body, contentType, w.Code, w.Body)
	}
}

// FuzzTokenEndpoint: whatever the body, the token and revocation
// endpoints answer with a client error, never a server error.
func FuzzTokenEndpoint(f *testing.F) {
	srv := fuzzServer(f)
	for _, seed := range []string{
		"grant_type=refresh_token&refresh_token=rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"grant_type=password&username=alice&password=x",
		"grant_type=refresh_token&refresh_token=%ZZ",
		"grant_type=password&grant_type=password",
		"client_id=app&client_secret=&grant_type=",
		"scope=a+b&grant_type=password&username=bob&password=" + strings.Repeat("p", 100),
		"token=eyJ.eyJ.x&token_type_hint=access_token",
		"token=rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"",
	} {
		f.Add(seed, "application/x-www-form-urlencoded")
	}
	f.Add(`{"grant_type":"password"}`, "application/json")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		for _, h := range []http.Handler{srv.Token(), srv.Revoke()} {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			req.Header.Set("Content-Type", contentType)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			checkRefusal(t, w, body, contentType)
		}
	})
}

// FuzzLogin: whatever the JSON body, the login endpoint answers with a
// client error (or logs in), never a server error.
func FuzzLogin(f *testing.F) {
	srv := fuzzServer(f)
	for _, seed := range []string{
		`{"username":"alice","password":"x"}`, `{"username":"alice","username":"bob","password":"x"}`,
		`{"username":"\u0061lice","password":"x"}`, `{"username":1}`, `[]`, `null`, `{"password":"` + strings.Repeat("x", 1000) + `"}`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.Login().ServeHTTP(w, req)
		checkRefusal(t, w, body, "application/json")
	})
}
