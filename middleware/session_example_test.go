package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// phpSessions stands for bridge/phpsession: session id → user id.
type phpSessions map[string]string

func (s phpSessions) Session(_ context.Context, id string) (*identity.Principal, error) {
	if user, ok := s[id]; ok {
		return &identity.Principal{Subject: user, Scopes: []string{"widgets:read"}}, nil
	}
	return nil, errors.New("no such session")
}

// During a migration, routes take a token or the legacy session cookie,
// and the principal says which; a token always wins.
func ExampleSessionConfig() {
	signer := tokentest.MustSigner(token.EdDSA)
	auth, _ := middleware.New(middleware.Config{
		JWT: map[string]middleware.Verifier{tokentest.Issuer: tokentest.Verifier(tokentest.KeySet(signer), now)},
		Session: middleware.SessionConfig{
			CookieName: "PHPSESSID",
			Source:     phpSessions{"q8mv0s3c5dd1l6tbg8a2u7k0rj": "42"},
		},
	})
	srv := httptest.NewServer(auth.Middleware(auth.RequireScopes("widgets:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "%s (%s)", p.Subject, p.Method)
	}))))
	defer srv.Close()

	call := func(method, bearer, session string) {
		req, _ := http.NewRequest(method, srv.URL, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if session != "" {
			req.AddCookie(&http.Cookie{Name: "PHPSESSID", Value: session})
		}
		req.Header.Set("Sec-Fetch-Site", "cross-site") // as a page on another site makes a browser send
		resp, _ := http.DefaultClient.Do(req)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			body = []byte(resp.Header.Get("WWW-Authenticate"))
		}
		fmt.Println(resp.StatusCode, string(body))
	}
	good := signer.Mint(now, nil)
	call("GET", "", "q8mv0s3c5dd1l6tbg8a2u7k0rj")       // the session
	call("GET", good, "q8mv0s3c5dd1l6tbg8a2u7k0rj")     // the token wins
	call("GET", good+"x", "q8mv0s3c5dd1l6tbg8a2u7k0rj") // a bad token is refused, not downgraded
	call("GET", "", "0123456789abcdefghijklmnop")       // a session that ended
	call("POST", "", "q8mv0s3c5dd1l6tbg8a2u7k0rj")      // cross-site, unsafe: CSRF
	// Output:
	// 200 42 (session)
	// 200 user-1 (jwt)
	// 401 Bearer realm="api", error="invalid_token", error_description="the access token is invalid, expired or revoked"
	// 401 Bearer realm="api"
	// 403 Bearer realm="api", error="cross_origin", error_description="a request from another origin cannot use this browser's cookies: send a bearer token"
}
