package redisstore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/bridge/phpsession"
	"github.com/sessionless/sessionless/bridge/phpsession/redisstore"
)

// A Go service reads the sessions phpredis keeps for the PHP
// application (session.save_handler = redis, session.save_path =
// "tcp://localhost:6379?database=0"). (This example needs a Redis server,
// so it is not run.)
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379", DB: 0})
	defer client.Close() // the caller owns the client

	// Keys "PHPREDIS_SESSION:<id>", phpredis's default prefix.
	store, err := redisstore.New(client, redisstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := phpsession.New(store, phpsession.Config{
		Format:    phpsession.FormatPHPSerialize, // session.serialize_handler
		Principal: phpsession.UserID("user_id"),
	})
	if err != nil {
		log.Fatal(err)
	}
	p, err := sessions.Session(context.Background(), "q8mv0s3c5dd1l6tbg8a2u7k0rj") // the PHPSESSID cookie
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Subject, p.ExpiresAt) // the key's TTL: gc_maxlifetime after PHP last saw the user
}
