package redisstore_test

import (
	"context"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/revocation/redisstore"
)

// A service opens one client and store per process; every instance uses
// the same prefix. (This example needs a Redis server, so it is not run.)
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close() // the caller owns the client
	store, err := redisstore.New(client, redisstore.Config{Prefix: "myapp:revocation"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// Revoke one token until it expires, in every instance.
	err = store.Create(ctx, revocation.Entry{
		Kind:    revocation.KindToken,
		Issuer:  "https://issuer.example",
		Key:     "jti-123",
		Expires: time.Now().Add(15 * time.Minute),
	})
	if err != nil {
		log.Fatal(err)
	}

	// Forget what has expired, from time to time.
	if _, err := store.Purge(ctx, time.Now()); err != nil {
		log.Print(err)
	}
}
