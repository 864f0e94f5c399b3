package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionless/sessionless/token/refresh"
)

// Example: a login starts a family, each refresh rotates it, and a replay
// of a spent token revokes the whole family.
func Example() {
	ctx := context.Background()
	m, _ := refresh.New(refresh.Config{}) // memory store; pass Revoker to revoke access tokens too
	n := 0
	mint := func(_ context.Context, g refresh.Grant) (refresh.AccessToken, error) {
		n++ // issue the access token for g.Subject and g.Scope here
		return refresh.AccessToken{Issuer: "https://api.example", ID: fmt.Sprint("jti-", n), ExpiresAt: time.Now().Add(15 * time.Minute)}, nil
	}

	first, _ := m.Issue(ctx, refresh.Grant{Subject: "usr_1", ClientID: "app", Scope: "read"},
		refresh.AccessToken{Issuer: "https://api.example", ID: "jti-0", ExpiresAt: time.Now().Add(15 * time.Minute)})
	second, g, err := m.Rotate(ctx, first, mint)
	fmt.Println(g.Subject, second != first, err)

	_, _, err = m.Rotate(ctx, first, mint) // the first token again: reuse
	fmt.Println(errors.Is(err, refresh.ErrReused), errors.Is(err, refresh.ErrInvalidGrant))
	_, _, err = m.Rotate(ctx, second, mint) // the family is gone
	fmt.Println(errors.Is(err, refresh.ErrRevoked))
	// Output:
	// usr_1 true <nil>
	// true true
	// true
}
