package oidc_test

import (
	"context"
	"crypto"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
	"github.com/sessionless/sessionless/token"
)

// BenchmarkVerify verifies one Keycloak-shaped RS256 access token with warm
// keys: oidc.Provider (Keycloak mapping included), token.Verifier alone on
// the same key (the floor the provider builds on), and go-oidc's
// IDTokenVerifier on the same token and key.
func BenchmarkVerify(b *testing.B) {
	f := oidctest.New(b)
	c := testenv.NewClock(t0)
	p := newProvider(b, f, c, oidc.Config{Mapping: oidc.Keycloak("api")})
	raw := keycloakToken(f, t0, nil)
	if _, err := p.Authenticate(ctx, raw); err != nil { // warms the keys
		b.Fatal(err)
	}
	pub, err := token.NewKey(&f.SigningKey().PublicKey, token.KeyOptions{ID: "k1", Algorithm: token.RS256})
	if err != nil {
		b.Fatal(err)
	}
	set, _ := token.NewKeySet(nil, pub)
	tv, err := token.NewVerifier(set, token.VerifierConfig{Issuer: f.Issuer(), Audience: "api", Profile: token.Profile{AnyType: true}, Now: c.Now})
	if err != nil {
		b.Fatal(err)
	}
	gv := gooidc.NewVerifier(f.Issuer(), &gooidc.StaticKeySet{PublicKeys: []crypto.PublicKey{&f.SigningKey().PublicKey}},
		&gooidc.Config{ClientID: "api", Now: c.Now})

	b.Run("Provider", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Authenticate(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("TokenVerify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tv.Verify(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GoOIDC", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := gv.Verify(context.Background(), raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
