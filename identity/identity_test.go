package identity_test

import (
	"context"
	"testing"

	"github.com/sessionless/sessionless/identity"
)

func TestContext(t *testing.T) {
	if _, ok := identity.FromContext(context.Background()); ok {
		t.Fatal("principal in an empty context")
	}
	if _, ok := identity.FromContext(identity.NewContext(context.Background(), nil)); ok {
		t.Fatal("nil principal reported present")
	}
	p := &identity.Principal{Subject: "u", Scopes: []string{"a"}, Roles: []string{"r"}}
	got, ok := identity.FromContext(identity.NewContext(context.Background(), p))
	if !ok || got != p || !got.HasScope("a") || got.HasScope("b") || !got.HasRole("r") || got.HasRole("a") {
		t.Fatalf("FromContext = %v, %v", got, ok)
	}
	var none *identity.Principal
	if none.HasScope("a") || none.HasRole("r") {
		t.Fatal("nil principal has scopes")
	}
}
