package authcode_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/sessionless/sessionless/token/authcode"
)

// Example: the authorization endpoint issues a code bound to the client,
// its redirect URI and its PKCE challenge; the token endpoint redeems it
// once; a second use is refused and revokes the tokens of the first.
func Example() {
	ctx := context.Background()
	m, _ := authcode.New(authcode.Config{ // a memory store, codes living 60 s
		Revoker: authcode.RevokerFunc(func(_ context.Context, i authcode.Issued) error {
			// Revoke the refresh family (refresh.Manager.RevokeFamily) and
			// the access token (revocation.List.RevokeToken) here.
			fmt.Println("revoking", i.RefreshFamily, i.AccessID)
			return nil
		}),
	})

	// The client: a random verifier, and its S256 challenge in the
	// authorization request.
	b := make([]byte, 32)
	rand.Read(b)
	verifier := base64.RawURLEncoding.EncodeToString(b)
	challenge := authcode.Challenge(verifier)

	// The authorization endpoint, once the user has logged in and
	// consented: the code goes to the redirect URI.
	code, err := m.Issue(ctx, authcode.Grant{
		ClientID: "cli", RedirectURI: "http://127.0.0.1:8765/callback", Subject: "usr_1",
		Scope: "widgets:read", CodeChallenge: challenge, AuthTime: time.Now(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The token endpoint: grant_type=authorization_code.
	issue := func(_ context.Context, g authcode.Grant) (authcode.Issued, error) {
		// Mint the access and refresh tokens for g.Subject, g.Scope and
		// g.Resource here, and say what was minted.
		return authcode.Issued{RefreshFamily: "fam_1", AccessIssuer: "https://auth.example", AccessID: "jti_1",
			AccessExpiresAt: time.Now().Add(15 * time.Minute)}, nil
	}
	g, _, err := m.Redeem(ctx, code, "cli", "http://127.0.0.1:8765/callback", verifier, issue)
	fmt.Println(g.Subject, g.Scope, err)

	// The same code again, say from an attacker who read it in a log.
	_, _, err = m.Redeem(ctx, code, "cli", "http://127.0.0.1:8765/callback", verifier, issue)
	fmt.Println(errors.Is(err, authcode.ErrInvalidGrant), errors.Is(err, authcode.ErrReused))
	// Output:
	// usr_1 widgets:read <nil>
	// revoking fam_1 jti_1
	// true true
}
