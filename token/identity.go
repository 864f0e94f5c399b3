package token

import (
	"context"

	"github.com/sessionless/sessionless/identity"
)

// Authenticate verifies raw and returns its principal, so a [Verifier]
// plugs into the middleware package as a credential verifier. The
// principal's Claims are the *Claims.
func (v *Verifier) Authenticate(_ context.Context, raw string) (*identity.Principal, error) {
	c, err := v.Verify(raw)
	if err != nil {
		return nil, err
	}
	return c.Principal(), nil
}

// Principal returns the principal the claims describe.
func (c *Claims) Principal() *identity.Principal {
	return &identity.Principal{
		Subject: c.Subject, Issuer: c.Issuer, Method: identity.JWT,
		Scopes: c.Scopes(), Roles: c.Roles, TokenID: c.ID,
		IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt, ClientID: c.ClientID,
		Claims: c,
	}
}
