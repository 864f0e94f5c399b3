package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// TestCacheDropsRetiredKeys: a token verified and cached while its key
// was trusted is refused as soon as the key leaves the key ring, not
// served from the cache until its exp, also when the verifier is wrapped
// (here in a VerifierFunc that counts); adding a key keeps the entry.
func TestCacheDropsRetiredKeys(t *testing.T) {
	old, next := tokentest.MustSigner(token.EdDSA), tokentest.MustSigner(token.ES256)
	set := tokentest.KeySet(old)
	ring, err := token.NewKeyRing(set)
	if err != nil {
		t.Fatal(err)
	}
	v := tokentest.Verifier(ring, now)
	var calls atomic.Int64
	wrapped := middleware.VerifierFunc(func(ctx context.Context, raw string) (*identity.Principal, error) {
		calls.Add(1)
		return v.Authenticate(ctx, raw)
	})
	a, err := middleware.New(middleware.Config{
		JWT: map[string]middleware.Verifier{tokentest.Issuer: wrapped},
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := old.Mint(now, nil)
	authenticate := func(want int64) {
		t.Helper()
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if calls.Load() != want {
			t.Fatalf("%d verifications, want %d", calls.Load(), want)
		}
	}
	authenticate(1)
	authenticate(1) // cached

	both, _ := set.WithVerificationKey(next.Key)
	ring.Store(both) // rotation step 1: the old key stays trusted
	authenticate(1)

	signing, _ := both.WithSigningKey(next.Key)
	ring.Store(signing) // step 2: signing switches, the old key still verifies
	authenticate(1)

	retired, _ := signing.Without(old.Key.ID())
	ring.Store(retired) // step 3: the old key is retired
	if _, err := a.Authenticate(ctx, tok); !errors.Is(err, middleware.ErrInvalidToken) || !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("token of a retired key: %v, want ErrInvalidToken (unknown key)", err)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d verifications, want 2 (verified again after the retirement)", calls.Load())
	}
	if _, err := a.Authenticate(ctx, next.Mint(now, nil)); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
}

// opaque is a custom opaque-token verifier; its principals expire in a
// year. With age >= 0 it states its cache age.
type opaque struct {
	calls atomic.Int64
	age   time.Duration
}

func (o *opaque) Authenticate(_ context.Context, raw string) (*identity.Principal, error) {
	o.calls.Add(1)
	return &identity.Principal{Subject: raw, Method: "custom", ExpiresAt: now.Add(365 * 24 * time.Hour)}, nil
}

type opaqueWithAge struct{ *opaque }

func (o opaqueWithAge) MaxCacheAge() time.Duration { return o.age }

// TestCacheAgePerVerifier: an opaque-token verifier says how long its
// answers may be cached (CachePolicy); without saying, at most a minute,
// whatever the principal's method and expiry.
func TestCacheAgePerVerifier(t *testing.T) {
	tests := []struct {
		name  string
		age   time.Duration // -1: no CachePolicy
		calls []int64       // verifications after requests at 0s, 5s, 30s, 59s, 61s, 10m
	}{
		{"no policy: one minute", -1, []int64{1, 1, 1, 1, 2, 3}},
		{"10 seconds", 10 * time.Second, []int64{1, 1, 2, 3, 3, 4}},
		{"never cached", 0, []int64{1, 2, 3, 4, 5, 6}},
		{"an hour", time.Hour, []int64{1, 1, 1, 1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &opaque{age: tt.age}
			var v middleware.Verifier = o
			if tt.age >= 0 {
				v = opaqueWithAge{o}
			}
			clock := now
			a, err := middleware.New(middleware.Config{Prefixes: map[string]middleware.Verifier{"cu_": v}, Now: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			for i, at := range []time.Duration{0, 5 * time.Second, 30 * time.Second, 59 * time.Second, 61 * time.Second, 10 * time.Minute} {
				clock = now.Add(at)
				if _, err := a.Authenticate(context.Background(), "cu_token"); err != nil {
					t.Fatal(err)
				}
				if got := o.calls.Load(); got != tt.calls[i] {
					t.Fatalf("after the request at %v: %d verifications, want %d", at, got, tt.calls[i])
				}
			}
		})
	}
}

// TestPrincipalCopies: handlers that change or append to the principal of
// a cached token (on many goroutines) do not change what the next request
// of that token sees (run with -race).
func TestPrincipalCopies(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.signer.Mint(now, nil)
	var seen sync.Map
	h := e.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		seen.Store(strings.Join(p.Scopes, " ")+"|"+strings.Join(p.Roles, " ")+"|"+p.Subject, true)
		p.Scopes = append(p.Scopes, "admin:all")
		p.Roles = append(p.Roles, "root")
		p.Subject = "mallory"
		if len(p.Scopes) > 0 {
			p.Scopes[len(p.Scopes)-1] = "changed"
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { get(t, srv, "/", bearer(tok)) })
	}
	wg.Wait()
	var views []string
	seen.Range(func(k, _ any) bool { views = append(views, k.(string)); return true })
	if want := []string{"widgets:read widgets:write|admin|user-1"}; !slices.Equal(views, want) {
		t.Fatalf("handlers saw %q, want only %q", views, want)
	}
	p, err := e.auth.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	p.Scopes = append(p.Scopes, "x")
	if q, _ := e.auth.Authenticate(context.Background(), tok); len(q.Scopes) != 2 || q == p {
		t.Fatalf("Authenticate shares its principal: %v", q.Scopes)
	}
}

// TestVerifierUnavailableFromIdentity: a verifier that cannot tell (its
// database down) wraps identity.ErrUnavailable, without importing the
// middleware, and the answer is 503, never 401.
func TestVerifierUnavailableFromIdentity(t *testing.T) {
	down := middleware.VerifierFunc(func(context.Context, string) (*identity.Principal, error) {
		return nil, fmt.Errorf("apitokens: %w", identity.ErrUnavailable)
	})
	e := newEnv(t, func(c *middleware.Config) { c.Prefixes = map[string]middleware.Verifier{"sl_": down} })
	r := get(t, e.mux, "/me", bearer("sl_abc"))
	if r.status != http.StatusServiceUnavailable || r.challenge != "" {
		t.Fatalf("got %d %q, want 503 without a challenge", r.status, r.challenge)
	}
	if !errors.Is(middleware.ErrUnavailable, identity.ErrUnavailable) {
		t.Fatal("middleware.ErrUnavailable is not identity.ErrUnavailable")
	}
}
