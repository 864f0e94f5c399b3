package consent_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionless/sessionless/token/consent"
)

// Example: the authorization endpoint asks the user only for scopes not
// consented to yet, remembers what the user approved, and the account
// page lists and revokes consents.
func Example() {
	ctx := context.Background()
	consents := consent.NewMemoryStore() // or a sqlstore.Store in the users' database
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

	// The authorization endpoint, once the user has logged in: must the
	// consent page be shown?
	mustAsk := func(subject, clientID string, scopes []string) (bool, error) {
		c, err := consents.Get(ctx, subject, clientID)
		if err != nil && !errors.Is(err, consent.ErrNotFound) {
			return false, err // answer 503: the store cannot answer now
		}
		return !consent.Covers(c, scopes), nil
	}
	fmt.Println(mustAsk("usr_1", "photo-app", []string{"openid", "photos:read"}))

	// The user approves on the consent page.
	if err := consents.Grant(ctx, "usr_1", "photo-app", []string{"photos:read", "openid"}, now); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(mustAsk("usr_1", "photo-app", []string{"openid", "photos:read"}))
	fmt.Println(mustAsk("usr_1", "photo-app", []string{"openid"}))

	// Later the client asks for more: the user is asked again, and the
	// consent grows.
	fmt.Println(mustAsk("usr_1", "photo-app", []string{"photos:write"}))
	consents.Grant(ctx, "usr_1", "photo-app", []string{"photos:write"}, now.Add(time.Hour))
	consents.Grant(ctx, "usr_1", "https://notes.example/client.json", []string{"notes"}, now.Add(time.Minute))

	// The account page: the user's consents, the latest first.
	list, _ := consents.List(ctx, "usr_1", 0)
	for _, c := range list {
		fmt.Println(c.ClientID, c.Scopes, c.GrantedAt.Format(time.Kitchen))
	}
	// The user withdraws one.
	revoked, _ := consents.Revoke(ctx, "usr_1", "photo-app")
	fmt.Println(revoked)
	fmt.Println(mustAsk("usr_1", "photo-app", []string{"openid"}))
	// Output:
	// true <nil>
	// false <nil>
	// false <nil>
	// true <nil>
	// photo-app [openid photos:read photos:write] 1:00PM
	// https://notes.example/client.json [notes] 12:01PM
	// true
	// true <nil>
}
