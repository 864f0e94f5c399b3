package token_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// TestProfile: what a profile lets a token leave out, and what it never
// does.
func TestProfile(t *testing.T) {
	s := tokentest.MustSigner(token.ES256)
	keys := tokentest.KeySet(s)
	mk := func(p token.Profile, auds ...string) *token.Verifier {
		cfg := token.VerifierConfig{Issuer: tokentest.Issuer, Audience: tokentest.Audience, Profile: p, Now: func() time.Time { return now }}
		if len(auds) > 0 {
			cfg.Audience, cfg.Audiences = "", auds
		}
		v, err := token.NewVerifier(keys, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	jwtTyp := s.Mint(now, set(map[string]any{"typ": "JWT"}, nil))
	noTyp := s.Mint(now, set(map[string]any{"typ": nil}, nil))
	noJTI := s.Mint(now, set(nil, map[string]any{"jti": nil}))
	noIAT := s.Mint(now, set(nil, map[string]any{"iat": nil}))
	noIATLong := s.Mint(now, set(nil, map[string]any{"iat": nil, "exp": now.Add(25 * time.Hour).Unix()}))
	noSub := s.Mint(now, set(nil, map[string]any{"sub": nil}))
	noSubNoJTI := s.Mint(now, set(nil, map[string]any{"sub": nil, "jti": nil}))
	for _, tc := range []struct {
		name    string
		profile token.Profile
		raw     string
		want    error
	}{
		{"strict: typ JWT", token.Profile{}, jwtTyp, token.ErrWrongType},
		{"strict: no typ", token.Profile{}, noTyp, token.ErrWrongType},
		{"strict: no jti", token.Profile{}, noJTI, token.ErrMissingClaim},
		{"strict: no iat", token.Profile{}, noIAT, token.ErrMissingClaim},
		{"strict: no sub", token.Profile{}, noSub, token.ErrMissingClaim},
		{"AnyType: typ JWT", token.Profile{AnyType: true}, jwtTyp, nil},
		{"AnyType: no typ", token.Profile{AnyType: true}, noTyp, nil},
		{"NoJTI", token.Profile{NoJTI: true}, noJTI, nil},
		{"NoIAT", token.Profile{NoIAT: true}, noIAT, nil},
		{"NoIAT: exp 25 h away", token.Profile{NoIAT: true}, noIATLong, token.ErrLifetime},
		{"NoSub with a jti", token.Profile{NoSub: true}, noSub, nil},
		{"NoSub and NoJTI, neither: unrevocable", token.Profile{NoSub: true, NoJTI: true}, noSubNoJTI, token.ErrMissingClaim},
	} {
		_, err := mk(tc.profile).Verify(tc.raw)
		if !errors.Is(err, tc.want) || tc.want == nil && err != nil {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Several audiences: any one will do; none of them: refused.
	both := mk(token.Profile{}, "other-api", tokentest.Audience)
	if _, err := both.Verify(s.Mint(now, nil)); err != nil {
		t.Errorf("one of two audiences: %v", err)
	}
	arr := s.Mint(now, set(nil, map[string]any{"aud": []string{"x", "other-api"}}))
	if _, err := both.Verify(arr); err != nil {
		t.Errorf("aud array holding the second audience: %v", err)
	}
	if _, err := mk(token.Profile{}, "a", "b").Verify(s.Mint(now, nil)); !errors.Is(err, token.ErrAudience) {
		t.Errorf("none of the audiences: %v", err)
	}
	if _, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: tokentest.Issuer, Audiences: []string{"a", ""}}); err == nil {
		t.Error("an empty audience accepted")
	}
	if _, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: tokentest.Issuer, Audience: "a",
		Profile: token.Profile{NoJTI: true, NoIAT: true}}); !errors.Is(err, token.ErrConfig) {
		t.Errorf("NoJTI with NoIAT: %v, want ErrConfig", err)
	}
}

// TestClaimsMember reads custom claims by exact name.
func TestClaimsMember(t *testing.T) {
	s := tokentest.MustSigner(token.EdDSA)
	v := tokentest.Verifier(tokentest.KeySet(s), now)
	c, err := v.Verify(s.Mint(now, set(nil, map[string]any{"realm_access": map[string]any{"roles": []string{"a"}}, "Tenant": "x", "nothing": nil})))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c.Member("realm_access")); got != `{"roles":["a"]}` {
		t.Errorf("Member(realm_access) = %s", got)
	}
	if c.Member("tenant") != nil || c.Member("nothing") != nil || c.Member("absent") != nil {
		t.Error("Member matched a name by case, or returned null or an absent member")
	}
	if !strings.Contains(c.Payload(), `"Tenant":"x"`) {
		t.Errorf("Payload = %s", c.Payload())
	}
}

// TestConfirmation: cnf.jkt (RFC 9449 §6) round-trips through Issue and
// Verify; another confirmation method is refused.
func TestConfirmation(t *testing.T) {
	s := tokentest.MustSigner(token.EdDSA)
	keys := tokentest.KeySet(s)
	iss, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience},
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	v := tokentest.Verifier(keys, now)
	raw, _, err := iss.Issue(token.Claims{Subject: "alice", JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(raw)
	if err != nil || c.JKT != "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" {
		t.Fatalf("cnf.jkt round trip: %v, %q", err, c.JKT)
	}
	for name, cnf := range map[string]any{
		"x5t#S256":     map[string]any{"x5t#S256": "abc"},
		"jkt and more": map[string]any{"jkt": "abc", "jwk": map[string]any{}},
		"empty":        map[string]any{},
		"a string":     "abc",
	} {
		if _, err := v.Verify(s.Mint(now, set(nil, map[string]any{"cnf": cnf}))); !errors.Is(err, token.ErrMalformed) {
			t.Errorf("cnf %s: %v, want ErrMalformed", name, err)
		}
	}
	if _, _, err := iss.Issue(token.Claims{Subject: "a", Extra: map[string]any{"CNF": 1}}); err == nil {
		t.Error("Issue accepted an Extra claim named like cnf")
	}
}
