package redisthrottle_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/endpoint/limitertest"
	"github.com/sessionless/sessionless/token/endpoint/redisthrottle"
)

func client(t testing.TB, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1 // a test of a Redis that stops wants the error at once
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func newLimiter(t testing.TB, c *redis.Client, prefix string, now func() time.Time) *redisthrottle.Limiter {
	t.Helper()
	l, err := redisthrottle.New(c, redisthrottle.Config{Prefix: prefix, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestConformance on a real Redis, two clients as two instances, on the
// suite's clock.
func TestConformance(t *testing.T) {
	url := testenv.RedisURL(t)
	limitertest.Run(t, func(t *testing.T, now func() time.Time) (endpoint.Limiter, endpoint.Limiter) {
		prefix := "test:" + rand.Text() + ":"
		return newLimiter(t, client(t, url), prefix, now), newLimiter(t, client(t, url), prefix, now)
	})
}

// TestLayout: a bucket is one key under the prefix, holding the moment
// it is full again in microseconds, expiring then; a value that is not a
// time counts as an empty bucket and is written anew.
func TestLayout(t *testing.T) {
	ctx := context.Background()
	c := client(t, testenv.RedisURL(t))
	clock := testenv.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	prefix := "test:" + rand.Text() + ":"
	l := newLimiter(t, c, prefix, clock.Now)
	r := endpoint.Rate{Burst: 10, Every: 6 * time.Second}
	if wait, err := l.Take(ctx, "u:abc", r); wait != 0 || err != nil {
		t.Fatalf("Take: %v, %v", wait, err)
	}
	v, err := c.Get(ctx, prefix+"u:abc").Result()
	if want := clock.Now().Add(6 * time.Second).UnixMicro(); err != nil || v != fmt.Sprint(want) {
		t.Fatalf("stored %q (%v), want %d", v, err, want)
	}
	if ttl := c.PTTL(ctx, prefix+"u:abc").Val(); ttl <= 5*time.Second || ttl > 6*time.Second {
		t.Fatalf("expires in %v, want 6s", ttl)
	}
	for _, junk := range []string{"soon", "1e15", "-5", ""} {
		c.Set(ctx, prefix+"u:junk", junk, 0)
		if wait, err := l.Take(ctx, "u:junk", r); err != nil || wait != r.Every {
			t.Fatalf("a bucket holding %q: wait %v, %v; want an empty bucket", junk, wait, err)
		}
		if ttl := c.PTTL(ctx, prefix+"u:junk").Val(); ttl <= 0 || ttl > time.Minute {
			t.Fatalf("a bucket holding %q was not written anew: expires in %v", junk, ttl)
		}
	}
	for _, bad := range []endpoint.Rate{{}, {Burst: 1}, {Burst: 1, Every: -time.Second}, {Burst: 1 << 40, Every: time.Hour}} {
		if _, err := l.Take(ctx, "u:x", bad); err == nil {
			t.Errorf("rate %+v accepted", bad)
		}
	}
	if _, err := redisthrottle.New(nil, redisthrottle.Config{}); err == nil {
		t.Error("a nil client accepted")
	}
}

// instance is the endpoints of one instance of a service, over HTTP,
// its login budgets in shared (none when nil). Users: alice, password
// "secret".
type instance struct {
	ts   *httptest.Server
	logs *testenv.SyncBuffer
}

func newInstance(t *testing.T, shared endpoint.Limiter, now func() time.Time, failClosed bool) *instance {
	t.Helper()
	ctx := context.Background()
	pw, err := password.New(testenv.CheapPasswords)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := pw.Hash(ctx, "secret")
	key, _ := token.GenerateKey(token.EdDSA)
	keys, _ := token.NewKeySet(key)
	iss, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: "https://api.test", Audience: []string{"api"}, Now: now})
	ver, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: "https://api.test", Audience: "api", Now: now})
	list, err := revocation.Open(ctx, revocation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { list.Close() })
	in := &instance{logs: &testenv.SyncBuffer{}}
	srv, err := endpoint.New(endpoint.Config{Issuer: iss, Verifier: ver, Revocation: list, ClientID: "app", Passwords: pw,
		Users:    users{"alice": {Subject: "usr_alice", PasswordHash: hash}},
		Throttle: endpoint.ThrottleConfig{Shared: shared, FailClosed: failClosed},
		Logger:   slog.New(slog.NewTextHandler(in.logs, nil)), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux, "/auth", func(h http.Handler) http.Handler { return h })
	in.ts = httptest.NewServer(mux)
	t.Cleanup(in.ts.Close)
	return in
}

// login tries alice's password and returns the status and error code.
func (in *instance) login(t *testing.T, pw string) (int, string) {
	t.Helper()
	resp, err := in.ts.Client().Post(in.ts.URL+"/auth/login", "application/json", strings.NewReader(`{"username":"alice","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error
}

// stranger sends a password attempt for a username of its own: a request
// whose only spent budget is the address's.
func (in *instance) stranger(t *testing.T) int {
	t.Helper()
	resp, err := in.ts.Client().Post(in.ts.URL+"/auth/login", "application/json", strings.NewReader(`{"username":"`+rand.Text()+`","password":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

type users map[string]endpoint.User

func (u users) UserByName(_ context.Context, name string) (endpoint.User, error) {
	if x, ok := u[name]; ok {
		return x, nil
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

func (u users) UserBySubject(_ context.Context, sub string) (endpoint.User, error) {
	for _, x := range u {
		if x.Subject == sub {
			return x, nil
		}
	}
	return endpoint.User{}, endpoint.ErrUnknownUser
}

// floodBoth sends n wrong passwords for alice, alternating between the
// instances, and counts the statuses.
func floodBoth(t *testing.T, n int, ins ...*instance) map[int]int {
	t.Helper()
	statuses := map[int]int{}
	for i := range n {
		s, _ := ins[i%len(ins)].login(t, "wrong")
		statuses[s]++
	}
	return statuses
}

// TestTwoInstances: two instances on one Redis give a client one budget
// between them, per username and per address; without the shared
// limiter each gives its own (the control).
func TestTwoInstances(t *testing.T) {
	url := testenv.RedisURL(t)
	clock := testenv.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	prefix := "test:" + rand.Text() + ":"
	a := newInstance(t, newLimiter(t, client(t, url), prefix, clock.Now), clock.Now, false)
	b := newInstance(t, newLimiter(t, client(t, url), prefix, clock.Now), clock.Now, false)
	if got := floodBoth(t, 3*endpoint.DefaultUsernameBurst, a, b); got[401] != endpoint.DefaultUsernameBurst || got[429] != 2*endpoint.DefaultUsernameBurst {
		t.Fatalf("two instances on one Redis: %v, want %d 401 and the rest 429", got, endpoint.DefaultUsernameBurst)
	}
	// The address: 30 logins so far, the burst: both refuse now.
	if sa, sb := a.stranger(t), b.stranger(t); sa != 429 || sb != 429 {
		t.Fatalf("the address budget, spent on both: %d and %d", sa, sb)
	}
	clock.Advance(endpoint.DefaultUsernameEvery)
	if s, _ := b.login(t, "secret"); s != 200 {
		t.Fatalf("after a refill of the username and 12 of the address: %d", s)
	}

	a = newInstance(t, nil, clock.Now, false)
	b = newInstance(t, nil, clock.Now, false)
	if got := floodBoth(t, 3*endpoint.DefaultUsernameBurst, a, b); got[401] != 2*endpoint.DefaultUsernameBurst {
		t.Fatalf("two instances without Redis: %v, want %d 401 (a budget each)", got, 2*endpoint.DefaultUsernameBurst)
	}
}

// TestRedisDownAndBack: while Redis is down each instance decides on its
// own budgets (logins go on, still throttled, the log says so once), or,
// FailClosed, answers 503; once Redis is back (a second later on the
// instance's clock) the budgets are shared again, as Redis kept them.
func TestRedisDownAndBack(t *testing.T) {
	rs := testenv.StartRedis(t)
	clock := testenv.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	prefix := "test:" + rand.Text() + ":"
	a := newInstance(t, newLimiter(t, client(t, rs.URL()), prefix, clock.Now), clock.Now, false)
	b := newInstance(t, newLimiter(t, client(t, rs.URL()), prefix, clock.Now), clock.Now, false)
	closed := newInstance(t, newLimiter(t, client(t, rs.URL()), prefix, clock.Now), clock.Now, true)
	if got := floodBoth(t, 4, a, b); got[401] != 4 {
		t.Fatalf("Redis up: %v", got)
	}
	rs.Stop()
	// Each instance: the 2 its own bucket took, then 8 more, then 429.
	if got := floodBoth(t, 20, a, b); got[401] != 16 || got[429] != 4 {
		t.Fatalf("Redis down: %v, want 16 401 (each instance's own budget) and 4 429", got)
	}
	if s, code := closed.login(t, "secret"); s != 503 || code != "temporarily_unavailable" {
		t.Fatalf("FailClosed, Redis down: %d %s", s, code)
	}
	for _, in := range []*instance{a, b} {
		if n := strings.Count(in.logs.String(), "the shared limiter cannot answer"); n != 1 {
			t.Fatalf("%d warnings: %s", n, in.logs.String())
		}
	}
	rs.Start()
	if s, _ := a.login(t, "secret"); s != 429 {
		t.Fatalf("within the second after the failure: %d (the instance's own budget decides)", s)
	}
	clock.Advance(time.Second)
	// Redis kept alice's bucket: 4 taken, 6 left (and a sixth of a
	// refill). b's own bucket is spent; a new instance's is not.
	c := newInstance(t, newLimiter(t, client(t, rs.URL()), prefix, clock.Now), clock.Now, false)
	if got := floodBoth(t, 10, closed, c); got[401] != 6 || got[429] != 4 {
		t.Fatalf("Redis back: %v, want the 6 attempts Redis had left", got)
	}
	if !strings.Contains(closed.logs.String(), "the shared limiter answers again") {
		t.Fatalf("logs: %s", closed.logs.String())
	}
}
