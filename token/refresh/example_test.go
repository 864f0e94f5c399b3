package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionless/sessionless/token/refresh"
)

// Example: a login starts a family, each refresh rotates it, a second
// tab refreshing with the same token at once gets the same successor,
// and a replay of a spent token later revokes the whole family.
func Example() {
	ctx := context.Background()
	m, _ := refresh.New(refresh.Config{}) // memory store; pass Revoker to revoke access tokens too
	n := 0
	mint := func(_ context.Context, m refresh.Minting) (refresh.AccessToken, error) {
		n++
		at := refresh.AccessToken{Issuer: "https://api.example", ID: fmt.Sprint("jti-", n), ExpiresAt: time.Now().Add(15 * time.Minute)}
		if m.Reissue.ID != "" { // the successor's access token, again
			at.ID, at.ExpiresAt = m.Reissue.ID, m.Reissue.ExpiresAt
		}
		// Sign the access token for m.Grant.Subject and m.Grant.Scope,
		// with m.Family as "sid", here.
		return at, nil
	}

	first, _ := m.Issue(ctx, refresh.Grant{Subject: "usr_1", ClientID: "app", Scope: "read"},
		refresh.AccessToken{Issuer: "https://api.example", ID: "jti-0", ExpiresAt: time.Now().Add(15 * time.Minute)})
	second, g, err := m.Rotate(ctx, first, mint)
	fmt.Println(g.Subject, second != first, err)

	again, _, err := m.Rotate(ctx, first, mint) // another tab, at the same moment
	fmt.Println(again == second, err)

	third, _, _ := m.Rotate(ctx, second, mint)
	_, _, err = m.Rotate(ctx, first, mint) // the first token again once its successor was used: reuse
	fmt.Println(errors.Is(err, refresh.ErrReused), errors.Is(err, refresh.ErrInvalidGrant))
	_, _, err = m.Rotate(ctx, third, mint) // the family is gone
	fmt.Println(errors.Is(err, refresh.ErrRevoked))
	// Output:
	// usr_1 true <nil>
	// true <nil>
	// true true
	// true
}

// ExampleManager_Families: a devices page lists the subject's families
// and signs one out.
func ExampleManager_Families() {
	ctx := context.Background()
	m, _ := refresh.New(refresh.Config{})
	mint := func(_ context.Context, m refresh.Minting) (refresh.AccessToken, error) {
		// Sign the access token here, with m.Family as "sid".
		return refresh.AccessToken{Issuer: "https://api.example", ID: "jti-" + m.Family, ExpiresAt: time.Now().Add(15 * time.Minute)}, nil
	}
	_, laptop, _ := m.Start(ctx, refresh.Grant{Subject: "usr_1", ClientID: "app", UserAgent: "Firefox on the laptop"}, mint)
	phone, _, _ := m.Start(ctx, refresh.Grant{Subject: "usr_1", ClientID: "app", UserAgent: "Safari on the phone"}, mint)

	if err := m.EndFamily(ctx, "usr_1", laptop); err != nil { // "sign out the laptop"
		fmt.Println(err)
	}
	families, _ := m.Families(ctx, "usr_1")
	for _, f := range families {
		fmt.Println(f.Grant.UserAgent)
	}
	_, _, err := m.Rotate(ctx, phone, mint)
	fmt.Println(err)
	// Output:
	// Safari on the phone
	// <nil>
}
