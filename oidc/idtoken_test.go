package oidc_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
	"github.com/sessionless/sessionless/token"
)

// zitadelAccessToken is a JWT access token as Zitadel writes it (its
// op.CreateJWT): aud the project and the client, client_id, jti, no scope,
// the roles an object.
func zitadelAccessToken(f *oidctest.Provider, now time.Time, edit func(map[string]any)) string {
	c := map[string]any{
		"iss": f.Issuer(), "sub": "312909075212468632", "aud": []string{"api", "web"}, "client_id": "web", "azp": "web",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(12 * time.Hour).Unix(), "jti": "V2_312909075212468632-at_3129",
		oidc.ZitadelRolesClaim: map[string]any{
			"admin":  map[string]string{"312909075212468631": "acme.zitadel.cloud"},
			"reader": map[string]string{"312909075212468631": "acme.zitadel.cloud"},
		},
	}
	return mint(f, c, edit)
}

// zitadelIDToken is the ID token of the same login: the same aud, but
// nonce, at_hash, c_hash, auth_time, amr, azp, and no jti.
func zitadelIDToken(f *oidctest.Provider, now time.Time, edit func(map[string]any)) string {
	c := map[string]any{
		"iss": f.Issuer(), "sub": "312909075212468632", "aud": []string{"api", "web"}, "client_id": "web", "azp": "web",
		"iat": now.Unix(), "exp": now.Add(12 * time.Hour).Unix(), "auth_time": now.Add(-time.Minute).Unix(),
		"nonce": "n-0S6_WzA2Mj", "amr": []string{"pwd"}, "at_hash": "x3ZLVyzMHmAM5Zq8f3r8ow", "c_hash": "LDktKdoQak3Pk0cnXxCltA",
		"preferred_username": "alice",
	}
	return mint(f, c, edit)
}

// noop is a custom mapping that maps nothing.
func noop(*oidc.Claims, *identity.Principal) error { return nil }

// TestIDTokensRefused: a token carrying what only ID tokens carry is
// refused under every mapping, whatever its audience; access tokens that
// carry some of it for their own reasons are not.
func TestIDTokensRefused(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	mappings := map[string]oidc.Mapping{
		"keycloak": oidc.Keycloak("api"),
		"auth0":    oidc.Auth0("https://example.com/"),
		"generic":  oidc.Generic(),
		"func":     oidc.Func("custom", token.Profile{AnyType: true, NoJTI: true}, noop),
		"zitadel":  oidc.Zitadel(""),
	}
	// An access token of no provider in particular, with the API's
	// audience and a jti (so that every profile accepts it), that each
	// case changes.
	base := func(edit func(map[string]any)) string {
		return f.Mint(func() map[string]any {
			m := map[string]any{"iss": f.Issuer(), "sub": "alice", "aud": []string{"api", "web"}, "iat": t0.Unix(),
				"exp": t0.Add(time.Hour).Unix(), "jti": "j-1"}
			edit(m)
			return m
		}())
	}
	refused := map[string]string{
		"a Zitadel ID token with a jti": zitadelIDToken(f, t0, func(m map[string]any) { m["jti"] = "j-2" }),
		"c_hash":                        base(func(m map[string]any) { m["c_hash"] = "LDktKdoQak3Pk0cnXxCltA" }),
		"nonce":                         base(func(m map[string]any) { m["nonce"] = "n" }),
		"an empty nonce":                base(func(m map[string]any) { m["nonce"] = "" }),
		"auth_time, and azp in aud":     base(func(m map[string]any) { m["auth_time"] = t0.Unix(); m["azp"] = "web" }),
		"c_hash, typ Bearer":            base(func(m map[string]any) { m["c_hash"] = "LDktKdoQak3Pk0cnXxCltA"; m["typ"] = "Bearer" }),
	}
	// at_hash marks an ID token unless the mapping says the provider
	// writes it in access tokens (Generic: Dex does).
	atHash := base(func(m map[string]any) { m["at_hash"] = "x3ZLVyzMHmAM5Zq8f3r8ow" })
	accepted := map[string]string{
		"Zitadel's access token (azp in aud, no auth_time)": zitadelAccessToken(f, t0, nil),
		"auth_time, azp not in aud (Keycloak, Okta)":        base(func(m map[string]any) { m["aud"] = "api"; m["auth_time"] = t0.Unix(); m["azp"] = "web" }),
		"Keycloak 24: typ Bearer, nonce, auth_time, azp in aud": base(func(m map[string]any) {
			m["typ"], m["nonce"], m["auth_time"], m["azp"] = "Bearer", "n", t0.Unix(), "web"
		}),
	}
	for mname, m := range mappings {
		p := newProvider(t, f, c, oidc.Config{Mapping: m, MaxTokenLifetime: 24 * time.Hour})
		for name, raw := range refused {
			if _, err := p.Authenticate(ctx, raw); !errors.Is(err, oidc.ErrNotAccessToken) {
				t.Errorf("%s, %s: %v, want ErrNotAccessToken", mname, name, err)
			}
		}
		for name, raw := range accepted {
			if _, err := p.Authenticate(ctx, raw); err != nil {
				t.Errorf("%s, %s: %v", mname, name, err)
			}
		}
		if _, err := p.Authenticate(ctx, atHash); errors.Is(err, oidc.ErrNotAccessToken) == m.ATHashInAccessTokens {
			t.Errorf("%s (ATHashInAccessTokens %v), at_hash: %v", mname, m.ATHashInAccessTokens, err)
		}
	}
	// Zitadel's ID token as it is (no jti): refused under the generic
	// mapping by what it carries, under Zitadel's by its profile too.
	for mname, m := range mappings {
		p := newProvider(t, f, c, oidc.Config{Mapping: m, MaxTokenLifetime: 24 * time.Hour})
		_, err := p.Authenticate(ctx, zitadelIDToken(f, t0, nil))
		if err == nil || m.Profile.NoJTI && !errors.Is(err, oidc.ErrNotAccessToken) {
			t.Errorf("%s: Zitadel's ID token: %v", mname, err)
		}
	}
}

// TestDexTokens: Dex's access tokens are ID tokens with the at_hash of a
// random id, and the nonce of the login when it sent one: the generic
// mapping accepts the first kind, NonceInAccessTokens the second too.
// Dex's ID tokens of a code flow carry c_hash: refused. (Those of the
// password and refresh grants are its access tokens in all but name.)
func TestDexTokens(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	dex := func(edit func(map[string]any)) string {
		m := map[string]any{"iss": f.Issuer(), "sub": "CgVhbGljZRIFbG9jYWw", "aud": "web", "iat": t0.Unix(),
			"exp": t0.Add(24 * time.Hour).Unix(), "at_hash": "LITUlLyYiYuwcSI651eSpQ", "email": "alice@example.com",
			"email_verified": true, "name": "alice", "preferred_username": "alice"}
		edit(m)
		return f.Mint(m, map[string]any{"alg": "RS256", "kid": "k1"}) // Dex writes no typ
	}
	passwordGrant := dex(func(map[string]any) {})
	codeFlow := dex(func(m map[string]any) { m["nonce"] = "n-1" })
	idToken := dex(func(m map[string]any) { m["nonce"], m["c_hash"] = "n-1", "LDktKdoQak3Pk0cnXxCltA" })

	generic := newProvider(t, f, c, oidc.Config{Audiences: []string{"web"}})
	if pr, err := generic.Authenticate(ctx, passwordGrant); err != nil || pr.Claims.(*oidc.Claims).Username != "alice" {
		t.Errorf("a Dex access token (password grant), generic mapping: %v", err)
	}
	if _, err := generic.Authenticate(ctx, codeFlow); !errors.Is(err, oidc.ErrNotAccessToken) {
		t.Errorf("a Dex access token with a nonce, generic mapping: %v, want ErrNotAccessToken", err)
	}
	dexMapping := newProvider(t, f, c, oidc.Config{Audiences: []string{"web"}, Mapping: oidc.Dex()})
	for name, raw := range map[string]string{"password grant": passwordGrant, "code flow, a nonce": codeFlow} {
		if _, err := dexMapping.Authenticate(ctx, raw); err != nil {
			t.Errorf("a Dex access token (%s), the Dex mapping: %v", name, err)
		}
	}
	if _, err := dexMapping.Authenticate(ctx, idToken); !errors.Is(err, oidc.ErrNotAccessToken) {
		t.Errorf("a Dex ID token of a code flow, the Dex mapping: %v, want ErrNotAccessToken", err)
	}
}

// TestZitadelToken: the Zitadel mapping reads the roles of the client's
// project, or of one project, from their objects' keys.
func TestZitadelToken(t *testing.T) {
	f := oidctest.New(t)
	c := testenv.NewClock(t0)
	onProject := func(m map[string]any) {
		m[oidc.ZitadelProjectRolesClaim("3129")] = map[string]any{"widgets-admin": map[string]string{"1": "acme"}}
	}
	for name, tc := range map[string]struct {
		project string // Zitadel(project)
		raw     string
		want    error
		roles   string
	}{
		"the client's project":            {"", zitadelAccessToken(f, t0, onProject), nil, "admin reader"},
		"project 3129":                    {"3129", zitadelAccessToken(f, t0, onProject), nil, "widgets-admin"},
		"project 3129, only the client's": {"3129", zitadelAccessToken(f, t0, nil), nil, ""},
		"roles not an object":             {"", zitadelAccessToken(f, t0, func(m map[string]any) { m[oidc.ZitadelRolesClaim] = []string{"admin"} }), nil, ""},
		"no jti (Zitadel writes one)":     {"", zitadelAccessToken(f, t0, func(m map[string]any) { delete(m, "jti") }), token.ErrMissingClaim, ""},
		"another client":                  {"", zitadelAccessToken(f, t0, func(m map[string]any) { m["client_id"], m["azp"] = "mallory", "mallory" }), oidc.ErrUnauthorizedParty, ""},
		"expired":                         {"", zitadelAccessToken(f, t0.Add(-13*time.Hour), nil), token.ErrExpired, ""},
		"the ID token, with a jti":        {"", zitadelIDToken(f, t0, func(m map[string]any) { m["jti"] = "j" }), oidc.ErrNotAccessToken, ""},
	} {
		p := newProvider(t, f, c, oidc.Config{Mapping: oidc.Zitadel(tc.project), AuthorizedParties: []string{"web"}})
		pr, err := p.Authenticate(ctx, tc.raw)
		switch {
		case !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		case err == nil && (strings.Join(pr.Roles, " ") != tc.roles || len(pr.Scopes) != 0 || pr.ClientID != "web" ||
			pr.Subject != "312909075212468632" || pr.TokenID != "V2_312909075212468632-at_3129"):
			t.Errorf("%s: principal %+v, want roles %q", name, pr, tc.roles)
		}
	}
}
