package endpoint_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// TestXOAuth2: golang.org/x/oauth2, as a Go CLI would use it, runs the
// code flow with PKCE (AuthCodeURL with S256ChallengeOption, Exchange
// with VerifierOption), then refreshes through its TokenSource, as the
// public CLI client and as the confidential client (Basic, which
// x/oauth2 tries first).
func TestXOAuth2(t *testing.T) {
	e := newAuthzEnv(t, nil)
	for _, c := range []struct {
		id, secret, redirect string
	}{
		{"cli", "", "http://127.0.0.1:50123/callback"},
		{"server", serverSecret, serverRedirect},
	} {
		t.Run(c.id, func(t *testing.T) {
			conf := &oauth2.Config{ClientID: c.id, ClientSecret: c.secret, RedirectURL: c.redirect, Scopes: []string{"read"},
				Endpoint: oauth2.Endpoint{AuthURL: e.ts.URL + "/auth/authorize", TokenURL: e.ts.URL + "/auth/token"}}
			verifier := oauth2.GenerateVerifier()
			u, err := url.Parse(conf.AuthCodeURL("state-x", oauth2.S256ChallengeOption(verifier)))
			if err != nil {
				t.Fatal(err)
			}
			cb := e.authorize(t, u.Query(), "alice")
			if cb.Get("state") != "state-x" {
				t.Fatalf("state %q", cb.Get("state"))
			}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.ts.Client())
			tok, err := conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Extra("scope") != "read" {
				t.Fatalf("%+v", tok)
			}
			if st := e.me(t, tok.AccessToken); st != http.StatusOK {
				t.Fatalf("me: %d", st)
			}
			// An expired token makes the TokenSource refresh.
			tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
			fresh, err := conf.TokenSource(ctx, tok).Token()
			if err != nil {
				t.Fatal(err)
			}
			if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
				t.Fatal("not refreshed")
			}
			// Without the verifier the exchange fails.
			cb = e.authorize(t, u.Query(), "alice")
			if _, err := conf.Exchange(ctx, cb.Get("code")); err == nil {
				t.Fatal("a code redeemed without its verifier")
			}
		})
	}
}
