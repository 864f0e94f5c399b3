package token_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

func newIssuer(t *testing.T, s *tokentest.Signer) *token.Issuer {
	t.Helper()
	iss, err := token.NewIssuer(tokentest.KeySet(s), token.IssuerConfig{
		Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience}, TTL: 10 * time.Minute,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func TestIssue(t *testing.T) {
	s := tokentest.MustSigner(token.EdDSA)
	iss := newIssuer(t, s)
	raw, issued, err := iss.Issue(token.Claims{Subject: "u1", Scope: "a b", Roles: []string{"r"}, ClientID: "c",
		Extra: map[string]any{"tenant_id": "t1"}})
	if err != nil {
		t.Fatal(err)
	}
	h, p, _ := split(raw)
	hb, _ := tokentest.Decode(h)
	if string(hb) != `{"alg":"EdDSA","kid":"`+s.Key.ID()+`","typ":"at+jwt"}` {
		t.Fatalf("header %s", hb)
	}
	pb, _ := tokentest.Decode(p)
	var m map[string]any
	json.Unmarshal(pb, &m)
	if m["iss"] != tokentest.Issuer || m["aud"] != tokentest.Audience || m["exp"] != float64(now.Add(10*time.Minute).Unix()) ||
		m["iat"] != float64(now.Unix()) || m["tenant_id"] != "t1" || m["scope"] != "a b" || m["client_id"] != "c" {
		t.Fatalf("payload %s", pb)
	}
	jti, _ := tokentest.Decode(issued.ID)
	if len(jti) < 16 || m["jti"] != issued.ID {
		t.Fatalf("jti %q has %d bytes", issued.ID, len(jti))
	}
	c, err := tokentest.Verifier(tokentest.KeySet(s), now).Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	var custom struct {
		TenantID string `json:"tenant_id"`
	}
	if err := c.Decode(&custom); err != nil || custom.TenantID != "t1" {
		t.Fatalf("Decode: %v, %+v", err, custom)
	}
	if c.ID != issued.ID || !c.ExpiresAt.Equal(issued.ExpiresAt) || c.Extra != nil {
		t.Fatalf("verified %+v, issued %+v", c, issued)
	}
	// IDs are unique.
	seen := map[string]bool{}
	for range 100 {
		_, c, _ := iss.Issue(token.Claims{Subject: "u"})
		if seen[c.ID] {
			t.Fatal("duplicate jti")
		}
		seen[c.ID] = true
	}
}

func TestIssueRefuses(t *testing.T) {
	iss := newIssuer(t, tokentest.MustSigner(token.EdDSA))
	tests := []struct {
		name   string
		claims token.Claims
	}{
		{"no subject", token.Claims{}},
		{"other issuer", token.Claims{Subject: "u", Issuer: "https://other"}},
		{"expired at issue", token.Claims{Subject: "u", ExpiresAt: now.Add(-time.Second)}},
		{"custom exp", token.Claims{Subject: "u", Extra: map[string]any{"exp": 1}}},
		{"custom EXP in upper case", token.Claims{Subject: "u", Extra: map[string]any{"EXP": 9999999999}}},
		{"custom Scope", token.Claims{Subject: "u", Extra: map[string]any{"Scope": "admin"}}},
		{"lives over 24 h", token.Claims{Subject: "u", ExpiresAt: now.Add(24*time.Hour + time.Second)}},
		{"subject of 1025 bytes", token.Claims{Subject: strings.Repeat("u", token.MaxIDLength+1)}},
		{"ID with NUL", token.Claims{Subject: "u", ID: "a\x00b"}},
		{"subject with NUL", token.Claims{Subject: "u\x00"}},
		{"ID not UTF-8", token.Claims{Subject: "u", ID: "\xff"}},
		{"subject not UTF-8", token.Claims{Subject: "a\xfe"}},
		{"custom names differing in case", token.Claims{Subject: "u", Extra: map[string]any{"tenant": "a", "TENANT": "b"}}},
		{"custom nested names differing in case", token.Claims{Subject: "u", Extra: map[string]any{"cnf": map[string]any{"jkt": "a", "JKT": "b"}}}},
		{"expires in year 9999", token.Claims{Subject: "u", ExpiresAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raw, _, err := iss.Issue(tt.claims); !errors.Is(err, token.ErrConfig) || raw != "" {
				t.Fatalf("Issue() = %q, %v; want ErrConfig", raw, err)
			}
		})
	}
	if _, _, err := iss.Issue(token.Claims{Subject: "u", Extra: map[string]any{"f": func() {}}}); err == nil {
		t.Fatal("unencodable custom claim accepted")
	}
}

func TestIssuerConfig(t *testing.T) {
	s := tokentest.MustSigner(token.EdDSA)
	pub, _ := token.NewKeySet(nil, s.Key.Public())
	tests := []struct {
		name string
		keys token.KeySource
		cfg  token.IssuerConfig
	}{
		{"no keys", nil, token.IssuerConfig{Issuer: "i", Audience: []string{"a"}}},
		{"verification keys only", pub, token.IssuerConfig{Issuer: "i", Audience: []string{"a"}}},
		{"no issuer", tokentest.KeySet(s), token.IssuerConfig{Audience: []string{"a"}}},
		{"no audience", tokentest.KeySet(s), token.IssuerConfig{Issuer: "i"}},
		{"negative TTL", tokentest.KeySet(s), token.IssuerConfig{Issuer: "i", Audience: []string{"a"}, TTL: -time.Second}},
		{"TTL over the default 24 h maximum", tokentest.KeySet(s), token.IssuerConfig{Issuer: "i", Audience: []string{"a"}, TTL: 72 * time.Hour}},
		{"TTL over MaxTokenLifetime", tokentest.KeySet(s), token.IssuerConfig{Issuer: "i", Audience: []string{"a"}, TTL: 2 * time.Hour, MaxTokenLifetime: time.Hour}},
		{"negative MaxTokenLifetime", tokentest.KeySet(s), token.IssuerConfig{Issuer: "i", Audience: []string{"a"}, MaxTokenLifetime: -time.Hour}},
		{"issuer with NUL", tokentest.KeySet(s), token.IssuerConfig{Issuer: "i\x00", Audience: []string{"a"}}},
		{"issuer of 1025 bytes", tokentest.KeySet(s), token.IssuerConfig{Issuer: strings.Repeat("i", 1025), Audience: []string{"a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := token.NewIssuer(tt.keys, tt.cfg); !errors.Is(err, token.ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}

func TestClaimsHelpers(t *testing.T) {
	c := token.Claims{Scope: "a  widgets:read b", Roles: []string{"admin"}}
	for _, tt := range []struct {
		scope string
		want  bool
	}{{"a", true}, {"widgets:read", true}, {"b", true}, {"widgets", false}, {"", false}, {"a b", false}} {
		if c.HasScope(tt.scope) != tt.want {
			t.Errorf("HasScope(%q) = %v", tt.scope, !tt.want)
		}
	}
	if got := strings.Join(c.Scopes(), ","); got != "a,widgets:read,b" {
		t.Errorf("Scopes() = %q", got)
	}
	if !c.HasRole("admin") || c.HasRole("Admin") {
		t.Error("HasRole")
	}
	if err := c.Decode(&struct{}{}); err == nil {
		t.Error("Decode on unverified claims")
	}
	for _, tt := range []struct {
		in   string
		want token.Audience
		ok   bool
	}{
		{`"a"`, token.Audience{"a"}, true},
		{`"a\u0062"`, token.Audience{"ab"}, true},
		{`["a","b"]`, token.Audience{"a", "b"}, true},
		{`null`, nil, true},
		{`1`, nil, false},
		{`["a",1]`, nil, false},
	} {
		var a token.Audience
		err := json.Unmarshal([]byte(tt.in), &a)
		if (err == nil) != tt.ok || strings.Join(a, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Unmarshal(%s) = %v, %v", tt.in, a, err)
		}
	}
	for _, tt := range []struct {
		a    token.Audience
		want string
	}{{token.Audience{"x"}, `"x"`}, {token.Audience{"x", "y"}, `["x","y"]`}} {
		if b, _ := json.Marshal(tt.a); string(b) != tt.want {
			t.Errorf("Marshal(%v) = %s", tt.a, b)
		}
	}
}

// iat keeps milliseconds through issue and verification, so that a
// subject revocation can tell tokens of the same second apart.
func TestIssueSubSecondIat(t *testing.T) {
	s := tokentest.MustSigner(token.ES256)
	iss := newIssuer(t, s)
	tests := []struct {
		at      time.Time
		wantIat string
	}{
		{now.Add(123*time.Millisecond + 456*time.Microsecond), fmt.Sprintf("%d.123", now.Unix())},
		{now.Add(999 * time.Millisecond), fmt.Sprintf("%d.999", now.Unix())},
		{now.Add(100 * time.Millisecond), fmt.Sprintf("%d.1", now.Unix())},
		{now.Add(7 * time.Millisecond), fmt.Sprintf("%d.007", now.Unix())},
		{now, fmt.Sprint(now.Unix())},
	}
	for _, tt := range tests {
		raw, issued, err := iss.Issue(token.Claims{Subject: "u", IssuedAt: tt.at})
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := split(raw)
		pb, _ := tokentest.Decode(p)
		var m map[string]json.RawMessage
		json.Unmarshal(pb, &m)
		if string(m["iat"]) != tt.wantIat {
			t.Errorf("iat = %s, want %s", m["iat"], tt.wantIat)
		}
		if want := tt.at.Truncate(time.Millisecond); !issued.IssuedAt.Equal(want) {
			t.Errorf("issued IssuedAt = %v, want %v", issued.IssuedAt, want)
		}
		c, err := tokentest.Verifier(tokentest.KeySet(s), now.Add(time.Second)).Verify(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !c.IssuedAt.Equal(issued.IssuedAt) {
			t.Errorf("verified IssuedAt = %v, want exactly %v", c.IssuedAt, issued.IssuedAt)
		}
		if c.ExpiresAt.Nanosecond() != 0 {
			t.Errorf("exp %v is not whole seconds", c.ExpiresAt)
		}
		if life := c.ExpiresAt.Sub(c.IssuedAt); life < 10*time.Minute || life >= 10*time.Minute+time.Second {
			t.Errorf("lifetime %v, want the TTL (10m) rounded up to whole seconds", life)
		}
	}
}

// TestIssueLongestLifetime: a TTL of exactly MaxTokenLifetime issues
// tokens a verifier with the same maximum accepts, even when iat has
// milliseconds (exp is rounded down then, not up past the maximum), and a
// raised maximum on both sides allows longer tokens.
func TestIssueLongestLifetime(t *testing.T) {
	s := tokentest.MustSigner(token.EdDSA)
	at := now.Add(123 * time.Millisecond)
	for _, max := range []time.Duration{0, 72 * time.Hour} {
		ttl := max
		if ttl == 0 {
			ttl = token.DefaultMaxTokenLifetime
		}
		iss, err := token.NewIssuer(tokentest.KeySet(s), token.IssuerConfig{Issuer: tokentest.Issuer,
			Audience: []string{tokentest.Audience}, TTL: ttl, MaxTokenLifetime: max, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		raw, c, err := iss.Issue(token.Claims{Subject: "u"})
		if err != nil {
			t.Fatal(err)
		}
		if life := c.ExpiresAt.Sub(c.IssuedAt); life > ttl || life < ttl-time.Second {
			t.Fatalf("lifetime %v, want within a second below %v", life, ttl)
		}
		v, err := token.NewVerifier(tokentest.KeySet(s), token.VerifierConfig{Issuer: tokentest.Issuer, Audience: tokentest.Audience,
			MaxTokenLifetime: max, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(raw); err != nil {
			t.Fatalf("MaxTokenLifetime %v: %v", max, err)
		}
		if max > token.DefaultMaxTokenLifetime {
			if _, err := tokentest.Verifier(tokentest.KeySet(s), at).Verify(raw); !errors.Is(err, token.ErrLifetime) {
				t.Fatalf("a default verifier accepted a %v token: %v", ttl, err)
			}
		}
	}
}
