package zitadel_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"

	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/oidc/oidctest"
	"github.com/sessionless/sessionless/token"
)

const (
	clientID     = "web"
	clientSecret = "secret"
	username     = "test-user2" // a user of the example's store
	password     = "verysecure"
	userID       = "id2"
)

// roles are the user's roles on the client's project, as Zitadel asserts
// them: role name to the organisations granting it (id to domain).
var roles = map[string]any{
	"admin":  map[string]string{"312909075212468631": "acme.zitadel.cloud"},
	"reader": map[string]string{"312909075212468631": "acme.zitadel.cloud"},
}

// zitadelStorage is the example's storage with what a Zitadel application
// of auth token type JWT gets: JWT access tokens, and the project's roles
// in them.
type zitadelStorage struct{ *storage.Storage }

// jwtClient is a client of the example whose access tokens are JWTs.
type jwtClient struct{ op.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

func (s zitadelStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return jwtClient{c}, nil
}

// GetPrivateClaimsFromScopes adds the claims of a JWT access token.
func (s zitadelStorage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	claims, err := s.Storage.GetPrivateClaimsFromScopes(ctx, userID, clientID, scopes)
	if err != nil {
		return nil, err
	}
	if claims == nil {
		claims = map[string]any{}
	}
	claims[oidc.ZitadelRolesClaim] = roles
	return claims, nil
}

// startZitadel runs the example provider on an httptest server, with the
// web client (its secret, the redirect URI redirect) and the example's
// users, and returns its issuer: the server's URL.
func startZitadel(t *testing.T, redirect string) (issuer string) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	st := zitadelStorage{storage.NewStorageWithClients(storage.NewUserStore(srv.URL),
		map[string]*storage.Client{clientID: storage.WebClient(clientID, clientSecret, redirect)})}
	// The example makes its logger the process's default: discard.
	mux.Handle("/", exampleop.SetupServer(srv.URL, st, slog.New(slog.DiscardHandler), false))
	return srv.URL
}

// tokens logs the user in at issuer with the code flow (PKCE, a nonce;
// the client's redirect URI redirect, never reached) and returns the
// access token and the ID token of the answer.
func tokens(t *testing.T, issuer, redirect string) (access, id string) {
	t.Helper()
	ctx := context.Background()
	gp, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirect, Endpoint: gp.Endpoint(),
		Scopes: []string{gooidc.ScopeOpenID, "profile", "email"}}
	verifier := oauth2.GenerateVerifier()
	var callback *url.URL
	c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirect) {
			callback = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(conf.AuthCodeURL("state-1", gooidc.Nonce("nonce-1"), oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp = loginForm(t, c, resp)
	resp.Body.Close()
	if callback == nil || callback.Query().Get("state") != "state-1" || callback.Query().Get("code") == "" {
		t.Fatalf("no callback with a code: %d %v", resp.StatusCode, callback)
	}
	tok, err := conf.Exchange(ctx, callback.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	id, _ = tok.Extra("id_token").(string)
	if strings.Count(tok.AccessToken, ".") != 2 || id == "" {
		t.Fatalf("want a JWT access token and an ID token: %q, %q", tok.AccessToken, id)
	}
	return tok.AccessToken, id
}

// payload decodes a JWT's payload, unverified, for the log.
func payload(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	var m map[string]any
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("not a JWT: %q", raw)
	}
	return m
}

func names(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// provider verifies the example's access tokens: their aud is the client.
func provider(t *testing.T, issuer string, edit func(*oidc.Config)) *oidc.Provider {
	t.Helper()
	cfg := oidc.Config{Issuer: issuer, Audiences: []string{clientID}, Mapping: oidc.Zitadel(""), AuthorizedParties: []string{clientID}}
	if edit != nil {
		edit(&cfg)
	}
	p, err := oidc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestZitadelTokens(t *testing.T) {
	const redirect = "http://127.0.0.1:1/callback" // never reached: the test takes the code
	issuer := startZitadel(t, redirect)
	access, id := tokens(t, issuer, redirect)
	ctx := context.Background()
	at, it := payload(t, access), payload(t, id)
	t.Logf("access token claims: %v", names(at))
	t.Logf("ID token claims:     %v", names(it))
	if at["scope"] != nil || at["jti"] == nil || it["jti"] != nil || it["nonce"] != "nonce-1" || it["at_hash"] == nil {
		t.Fatalf("not the tokens Zitadel writes: access %v, ID %v", at, it)
	}

	p := provider(t, issuer, nil)
	pr, err := p.Authenticate(ctx, access)
	if err != nil {
		t.Fatalf("the access token: %v", err)
	}
	if pr.Issuer != issuer || pr.Subject != userID || strings.Join(pr.Roles, " ") != "admin reader" || pr.ClientID != clientID ||
		pr.TokenID == "" || len(pr.Scopes) != 0 {
		t.Fatalf("principal %+v", pr)
	}
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{issuer: p}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, access); err != nil {
		t.Fatalf("through the middleware: %v", err)
	}

	// The ID token of the same login has the same aud: refused under the
	// Zitadel mapping (no jti), and under the generic one for what only ID
	// tokens carry.
	if _, err := p.Authenticate(ctx, id); err == nil {
		t.Error("the ID token accepted under the Zitadel mapping")
	}
	generic := provider(t, issuer, func(c *oidc.Config) { c.Mapping = oidc.Generic() })
	if _, err := generic.Authenticate(ctx, access); err != nil {
		t.Errorf("the access token under the generic mapping: %v", err)
	}
	if _, err := generic.Authenticate(ctx, id); !errors.Is(err, oidc.ErrNotAccessToken) {
		t.Errorf("the ID token under the generic mapping: %v, want ErrNotAccessToken", err)
	}
	// Over HTTP, as the demo's /api/me with its generic mapping, where the
	// ID token got 200.
	gauth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{issuer: generic}})
	if err != nil {
		t.Fatal(err)
	}
	me := gauth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tc := range []struct {
		name, raw string
		want      int
	}{{"access token", access, 200}, {"ID token", id, 401}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+tc.raw)
		me.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("GET /api/me with the %s: %d, want %d", tc.name, rec.Code, tc.want)
		}
	}

	tampered := oidctest.Tampered(access)
	if len(tampered) == 0 {
		t.Fatal("no tampered variants")
	}
	for name, raw := range tampered {
		if _, err := p.Authenticate(ctx, raw); err == nil {
			t.Errorf("tampered, %s: accepted", name)
		}
	}
	// Expired, for another audience or client; from the JWKS URL alone.
	for name, tc := range map[string]struct {
		edit func(*oidc.Config)
		want error
	}{
		"10 minutes later (the example's live 5)": {func(c *oidc.Config) { c.Now = func() time.Time { return time.Now().Add(10 * time.Minute) } }, token.ErrExpired},
		"another audience":                        {func(c *oidc.Config) { c.Audiences = []string{"another-api"} }, token.ErrAudience},
		"another client allowed only":             {func(c *oidc.Config) { c.AuthorizedParties = []string{"mallory"} }, oidc.ErrUnauthorizedParty},
		"without discovery, the JWKS URL alone":   {func(c *oidc.Config) { c.JWKSURL = issuer + "/keys" }, nil},
	} {
		if _, err := provider(t, issuer, tc.edit).Authenticate(ctx, access); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}
