package dex_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dexidp/dex/server"
	"github.com/dexidp/dex/server/signer"
	"github.com/dexidp/dex/storage"
	"github.com/dexidp/dex/storage/memory"
	"golang.org/x/crypto/bcrypt"

	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/token"
)

const (
	clientID     = "sessionless-demo"
	clientSecret = "dex-client-secret"
	email        = "alice@example.com"
	password     = "alice-password"
)

// dexServer is an embedded Dex.
type dexServer struct {
	issuer   string
	redirect string // the client's registered redirect URI
}

// startDex runs Dex on a loopback port with one static client (redirect
// URI redirect) and one local user, the password grant enabled.
func startDex(t *testing.T, redirect string) *dexServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String() + "/dex"
	logger := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	hash, err := bcrypt.GenerateFromPassword([]byte(password), 10)
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New(logger)
	st = storage.WithStaticClients(st, []storage.Client{{ID: clientID, Secret: clientSecret, Name: "sessionless",
		RedirectURIs: []string{redirect}}})
	st = storage.WithStaticPasswords(st, []storage.Password{{Email: email, Hash: hash, Username: "alice", UserID: "alice-id"}}, logger)
	st = storage.WithStaticConnectors(st, []storage.Connector{{ID: server.LocalConnector, Name: "Email", Type: server.LocalConnector}})

	sig, err := (&signer.LocalConfig{KeysRotationPeriod: "6h"}).Open(ctx, st, 24*time.Hour, func() time.Time { return time.Now().UTC() }, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(ctx, server.Config{
		Issuer:             issuer,
		Storage:            st,
		SkipApprovalScreen: true,
		AllowedGrantTypes:  []string{"authorization_code", "refresh_token", "password"},
		PasswordConnector:  server.LocalConnector,
		Signer:             sig,
		Logger:             logger,
	})
	if err != nil {
		t.Fatalf("starting Dex: %v", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return &dexServer{issuer: issuer, redirect: redirect}
}

// passwordGrant logs alice in with the password grant and returns Dex's
// access token and ID token.
func (d *dexServer) passwordGrant(t *testing.T) (access, id string) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {password},
		"scope": {"openid profile email groups"}}
	req, _ := http.NewRequest("POST", d.issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var tr struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("Dex password grant: %d %s", resp.StatusCode, b)
	}
	return tr.AccessToken, tr.IDToken
}

// dexProvider verifies Dex's access tokens: Dex signs them like its ID
// tokens (RS256, typ absent, aud the client, no jti).
func dexProvider(t *testing.T, d *dexServer, edit func(*oidc.Config)) *oidc.Provider {
	t.Helper()
	cfg := oidc.Config{Issuer: d.issuer, Audiences: []string{clientID}} // the generic mapping and profile
	if edit != nil {
		edit(&cfg)
	}
	p, err := oidc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDexAccessTokens(t *testing.T) {
	d := startDex(t, "http://127.0.0.1:1/callback")
	access, _ := d.passwordGrant(t)
	ctx := context.Background()

	p := dexProvider(t, d, nil)
	pr, err := p.Authenticate(ctx, access)
	if err != nil {
		t.Fatalf("Dex's access token: %v", err)
	}
	if pr.Issuer != d.issuer || pr.Subject == "" || pr.ClientID != clientID && pr.ClientID != "" {
		t.Fatalf("principal %+v", pr)
	}
	t.Logf("Dex access token: sub %q, username %q", pr.Subject, pr.Claims.(*oidc.Claims).Username)

	// Through the middleware, by issuer.
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{d.issuer: p}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, access); err != nil {
		t.Fatalf("through the middleware: %v", err)
	}

	// Tampered: a changed payload, a changed signature.
	parts := strings.Split(access, ".")
	payload := []byte(parts[1])
	payload[5] ^= 1
	sig := []byte(parts[2])
	sig[10] ^= 1
	for name, raw := range map[string]string{
		"payload changed":   parts[0] + "." + string(payload) + "." + parts[2],
		"signature changed": parts[0] + "." + parts[1] + "." + string(sig),
		"no signature":      parts[0] + "." + parts[1] + ".",
	} {
		if _, err := p.Authenticate(ctx, raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Expired: the same token 25 hours later (Dex's tokens live 24 h).
	later := dexProvider(t, d, func(c *oidc.Config) { c.Now = func() time.Time { return time.Now().Add(25 * time.Hour) } })
	if _, err := later.Authenticate(ctx, access); !errors.Is(err, token.ErrExpired) {
		t.Errorf("25 h later: %v, want ErrExpired", err)
	}
	// Another audience.
	other := dexProvider(t, d, func(c *oidc.Config) { c.Audiences = []string{"another-api"} })
	if _, err := other.Authenticate(ctx, access); !errors.Is(err, token.ErrAudience) {
		t.Errorf("another audience: %v, want ErrAudience", err)
	}
	// A profile requiring jti refuses Dex's tokens: they have none.
	strict := dexProvider(t, d, func(c *oidc.Config) { c.Profile = &token.Profile{AnyType: true} })
	if _, err := strict.Authenticate(ctx, access); !errors.Is(err, token.ErrMissingClaim) {
		t.Errorf("a profile requiring jti on a token without one: %v", err)
	}
	// Without discovery: the JWKS URL alone.
	direct := dexProvider(t, d, func(c *oidc.Config) { c.JWKSURL = d.issuer + "/keys" })
	if _, err := direct.Authenticate(ctx, access); err != nil {
		t.Errorf("a provider from Dex's JWKS URL alone: %v", err)
	}
}
