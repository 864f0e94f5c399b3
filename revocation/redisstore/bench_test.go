package redisstore_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/revocation/redisstore"
	"github.com/sessionless/sessionless/revocation/storetest"
)

// BenchmarkPropagation: a revocation on one instance until another
// instance rejects the token, through Redis pub/sub.
func BenchmarkPropagation(b *testing.B) {
	opt, err := redis.ParseURL(testenv.RedisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	prefix := "sessionless-bench:" + rand.Text()
	var stores []revocation.Store
	for range 2 {
		c := redis.NewClient(opt)
		b.Cleanup(func() { c.Close() })
		s, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		stores = append(stores, s)
	}
	b.Cleanup(func() {
		c := redis.NewClient(opt)
		defer c.Close()
		c.Del(context.Background(), prefix+":entries", prefix+":expiry")
	})
	storetest.BenchmarkPropagation(b, func(*testing.B) (revocation.Store, revocation.Store) { return stores[0], stores[1] })
}
