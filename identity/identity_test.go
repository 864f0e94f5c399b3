package identity_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/sessionless/sessionless/identity"
)

type otherKey struct{}

func TestContext(t *testing.T) {
	if _, ok := identity.FromContext(context.Background()); ok {
		t.Fatal("principal in an empty context")
	}
	if _, ok := identity.FromContext(identity.NewContext(context.Background(), nil)); ok {
		t.Fatal("nil principal reported present")
	}
	p := &identity.Principal{Subject: "u", Scopes: []string{"a"}, Roles: []string{"r"}}
	got, ok := identity.FromContext(identity.NewContext(context.Background(), p))
	if !ok || got.Subject != "u" || !got.HasScope("a") || got.HasScope("b") || !got.HasRole("r") || got.HasRole("a") {
		t.Fatalf("FromContext = %v, %v", got, ok)
	}
	var none *identity.Principal
	if none.HasScope("a") || none.HasRole("r") {
		t.Fatal("nil principal has scopes")
	}

	// The context still carries its parent's values, deadline and
	// cancellation, and a nil principal hides an outer one.
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "v"))
	ctx := identity.NewContext(parent, p)
	if ctx.Value(otherKey{}) != "v" {
		t.Fatal("parent value lost")
	}
	cancel()
	<-ctx.Done()
	if ctx.Err() != context.Canceled {
		t.Fatalf("Err = %v", ctx.Err())
	}
	if _, ok := identity.FromContext(identity.NewContext(ctx, nil)); ok {
		t.Fatal("nil principal does not hide the outer one")
	}
}

// TestContextCopies: each context holds its own principal, so code that
// changes or appends to the one it reads cannot change what another
// request sees, even when the original has spare capacity (run with -race).
func TestContextCopies(t *testing.T) {
	scopes := make([]string, 1, 8) // spare capacity, as a decoder may leave
	scopes[0] = "read"
	shared := &identity.Principal{Subject: "alice", Scopes: scopes, Roles: []string{"user"}}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			p, _ := identity.FromContext(identity.NewContext(context.Background(), shared))
			p.Scopes = append(p.Scopes, "admin", string(rune('a'+i)))
			p.Roles = append(p.Roles, "admin")
			p.Subject = "mallory"
		})
	}
	wg.Wait()
	if shared.Subject != "alice" || !slices.Equal(shared.Scopes, []string{"read"}) || !slices.Equal(shared.Roles, []string{"user"}) {
		t.Fatalf("shared principal changed: %+v", shared)
	}
	if got := scopes[:2][1]; got != "" {
		t.Fatalf("an append wrote %q into the shared array", got)
	}
}
