// Package storetest is the conformance suite of [clients.Store]: every
// backend runs it, so that they all behave the same.
//
//	func TestMemoryStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) (a, b clients.Store) {
//			s := clients.NewMemoryStore()
//			return s, s
//		})
//	}
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token/clients"
)

// Open returns two handles on one fresh, empty backing store, as two
// instances of a service would have them (they may be the same value for
// an in-process store). It registers their cleanup with t.
type Open func(t *testing.T) (a, b clients.Store)

// Base is the moment the suite's registrations are built around.
var Base = time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Open) {
	t.Run("CreateGet", func(t *testing.T) { testCreateGet(t, open) })
	t.Run("CreateExisting", func(t *testing.T) { testCreateExisting(t, open) })
	t.Run("ConcurrentCreate", func(t *testing.T) { testConcurrentCreate(t, open) })
	t.Run("MarkUsed", func(t *testing.T) { testMarkUsed(t, open) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, open) })
}

// NewClient returns a new confidential registration created at at and
// expiring a day later, with a random ID and every field set: two secret
// hashes, two redirect URIs, scopes, grant types, a name with non-ASCII
// letters and quotes.
func NewClient(at time.Time) clients.Client {
	_, h1 := clients.NewSecret()
	_, h2 := clients.NewSecret()
	return clients.Client{
		ID:           "rc_" + rand.Text(),
		Name:         `Café "Ünïcode" 'app' ` + rand.Text(),
		Kind:         clients.Registered,
		AuthMethod:   clients.AuthSecretPost,
		SecretHashes: []clients.SecretHash{h1, h2},
		RedirectURIs: []string{"https://app.example/cb?x='ü'", "http://127.0.0.1:8765/callback"},
		Scopes:       []string{"a:read", "b:write", "openid"},
		GrantTypes:   []string{clients.GrantAuthorizationCode, clients.GrantRefreshToken},
		FirstParty:   true,
		CreatedAt:    at,
		ExpiresAt:    at.Add(24*time.Hour + 7),
	}
}

// NewPublic returns a new public registration created at at, expiring
// after life (never when life is 0), with the fewest fields set: no name,
// secrets, scopes or grant types.
func NewPublic(at time.Time, life time.Duration) clients.Client {
	c := clients.Client{
		ID:           "rc_" + rand.Text(),
		Kind:         clients.Registered,
		AuthMethod:   clients.AuthNone,
		RedirectURIs: []string{"com.example.app:/callback"},
		CreatedAt:    at,
	}
	if life != 0 {
		c.ExpiresAt = at.Add(life)
	}
	return c
}

// SameClient reports whether a and b are the same registration: the same
// fields, times to the nanosecond (whatever their locations), nil and
// empty slices alike.
func SameClient(a, b clients.Client) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Kind == b.Kind && a.AuthMethod == b.AuthMethod &&
		slices.Equal(a.SecretHashes, b.SecretHashes) && slices.Equal(a.RedirectURIs, b.RedirectURIs) &&
		slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.GrantTypes, b.GrantTypes) &&
		a.FirstParty == b.FirstParty && a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func show(c clients.Client) string {
	return fmt.Sprintf("%+v", c)
}

func create(t *testing.T, s clients.Store, cs ...clients.Client) {
	t.Helper()
	for _, c := range cs {
		if err := s.Create(context.Background(), c); err != nil {
			t.Fatalf("Create(%s): %v", c.ID, err)
		}
	}
}

func get(t *testing.T, s clients.Store, id string) clients.Client {
	t.Helper()
	c, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return c
}

func wantClient(t *testing.T, s clients.Store, want clients.Client) {
	t.Helper()
	if got := get(t, s, want.ID); !SameClient(got, want) {
		t.Errorf("Get = %s\nwant  %s (times to the nanosecond)", show(got), show(want))
	}
}

func wantUnknown(t *testing.T, s clients.Store, id string) {
	t.Helper()
	if c, err := s.Get(context.Background(), id); !errors.Is(err, clients.ErrUnknownClient) {
		t.Errorf("Get(%s) = %s, %v; want ErrUnknownClient", id, show(c), err)
	}
}

func testCreateGet(t *testing.T, open Open) {
	a, b := open(t)
	full := NewClient(Base)
	public := NewPublic(Base.Add(time.Second), 0)
	first := NewPublic(Base.Add(2*time.Second+1), time.Hour)
	first.Kind, first.FirstParty, first.GrantTypes = clients.Configured, false, []string{clients.GrantPassword}
	create(t, a, full, public, first)
	for _, c := range []clients.Client{full, public, first} {
		wantClient(t, a, c)
		wantClient(t, b, c)
	}
	got := get(t, b, public.ID)
	if len(got.SecretHashes) != 0 || len(got.Scopes) != 0 || len(got.GrantTypes) != 0 || got.Name != "" ||
		!got.ExpiresAt.IsZero() || got.FirstParty {
		t.Errorf("empty fields read back as %s", show(got))
	}

	// What the caller does with its values afterwards changes nothing
	// stored, and what one Get returns, nothing another returns.
	want := NewClient(Base)
	c := want
	c.SecretHashes, c.RedirectURIs = slices.Clone(want.SecretHashes), slices.Clone(want.RedirectURIs)
	c.Scopes, c.GrantTypes = slices.Clone(want.Scopes), slices.Clone(want.GrantTypes)
	create(t, a, c)
	c.SecretHashes[0][0]++
	c.RedirectURIs[0], c.Scopes[0], c.GrantTypes[0] = "https://evil.example/", "admin", clients.GrantPassword
	g1 := get(t, a, want.ID)
	g1.SecretHashes[0][0]++
	g1.RedirectURIs[0], g1.Scopes[0] = "https://evil.example/", "admin"
	wantClient(t, a, want)
	wantClient(t, b, want)

	wantUnknown(t, a, "rc_unknown")
	wantUnknown(t, b, "")
}

func testCreateExisting(t *testing.T, open Open) {
	a, b := open(t)
	c := NewClient(Base)
	create(t, a, c)
	dup := NewPublic(Base.Add(time.Hour), time.Hour)
	dup.ID = c.ID
	if err := b.Create(context.Background(), dup); !errors.Is(err, clients.ErrClientExists) {
		t.Errorf("Create of an existing ID = %v, want ErrClientExists", err)
	}
	wantClient(t, a, c)
	wantClient(t, b, c)
}

func testConcurrentCreate(t *testing.T, open Open) {
	a, b := open(t)
	id := "rc_" + rand.Text()
	const n = 16
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		c := NewPublic(Base.Add(time.Duration(i)*time.Second), time.Hour)
		c.ID = id
		wg.Go(func() { errs <- s.Create(context.Background(), c) })
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, clients.ErrClientExists):
			t.Errorf("concurrent Create: %v, want nil or ErrClientExists", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent Creates of one ID succeeded, want exactly 1", ok, n)
	}
}

func testMarkUsed(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	c, other := NewClient(Base), NewClient(Base)
	create(t, a, c, other)
	if err := b.MarkUsed(ctx, c.ID); err != nil {
		t.Fatalf("MarkUsed: %v", err)
	}
	used := c
	used.ExpiresAt = time.Time{}
	wantClient(t, a, used)
	wantClient(t, b, other) // only the one
	// Again: nothing changes.
	if err := a.MarkUsed(ctx, c.ID); err != nil {
		t.Errorf("MarkUsed again: %v", err)
	}
	wantClient(t, b, used)
	if err := a.MarkUsed(ctx, "rc_unknown"); !errors.Is(err, clients.ErrUnknownClient) {
		t.Errorf("MarkUsed of an unknown ID = %v, want ErrUnknownClient", err)
	}
	wantUnknown(t, a, "rc_unknown") // and created nothing
}

func testDelete(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	c, other := NewClient(Base), NewPublic(Base, 0)
	create(t, a, c, other)
	if ok, err := b.Delete(ctx, c.ID); !ok || err != nil {
		t.Fatalf("Delete = %v, %v; want true", ok, err)
	}
	wantUnknown(t, a, c.ID)
	wantClient(t, a, other)
	if ok, err := a.Delete(ctx, c.ID); ok || err != nil {
		t.Errorf("Delete again = %v, %v; want false", ok, err)
	}
	if ok, err := a.Delete(ctx, "rc_unknown"); ok || err != nil {
		t.Errorf("Delete of an unknown ID = %v, %v; want false", ok, err)
	}
	// The ID may be registered again.
	create(t, b, c)
	wantClient(t, a, c)
}

func testPurge(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	expired := NewPublic(Base.Add(-2*time.Hour), time.Hour) // expired at Base-1h
	atBound := NewPublic(Base.Add(-time.Hour), time.Hour)   // expires at Base exactly
	live := NewPublic(Base.Add(-time.Hour), time.Hour+1)    // a nanosecond after Base
	never := NewPublic(Base.Add(-48*time.Hour), 0)          // used: never expires
	used := NewClient(Base.Add(-48 * time.Hour))            // expired, then used
	create(t, a, expired, atBound, live, never, used)
	if err := a.MarkUsed(ctx, used.ID); err != nil {
		t.Fatal(err)
	}
	n, err := b.Purge(ctx, Base)
	if n != 2 || err != nil {
		t.Fatalf("Purge = %d, %v; want 2 registrations deleted", n, err)
	}
	for _, c := range []clients.Client{expired, atBound} {
		wantUnknown(t, a, c.ID)
	}
	used.ExpiresAt = time.Time{}
	for _, c := range []clients.Client{live, never, used} {
		wantClient(t, a, c)
	}
	if n, err := a.Purge(ctx, Base); n != 0 || err != nil {
		t.Errorf("Purge again = %d, %v; want 0", n, err)
	}
	// Far in the future, only the one that had an expiry goes; the zero
	// ExpiresAt is "never", not "long ago".
	if n, err := a.Purge(ctx, Base.Add(1000*time.Hour)); n != 1 || err != nil {
		t.Errorf("Purge later = %d, %v; want 1", n, err)
	}
	wantUnknown(t, b, live.ID)
	wantClient(t, b, never)
	wantClient(t, b, used)
	// Before any time a store can hold: nothing.
	if n, err := a.Purge(ctx, time.Time{}); n != 0 || err != nil {
		t.Errorf("Purge at the zero time = %d, %v; want 0", n, err)
	}
}
