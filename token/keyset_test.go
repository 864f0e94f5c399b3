package token_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

func TestKeySetErrors(t *testing.T) {
	a := tokentest.MustSigner(token.EdDSA).Key
	tests := []struct {
		name    string
		signing *token.Key
		others  []*token.Key
	}{
		{"empty", nil, nil},
		{"public signing key", a.Public(), nil},
		{"duplicate kid", a, []*token.Key{a.Public()}},
		{"nil key", a, []*token.Key{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := token.NewKeySet(tt.signing, tt.others...); !errors.Is(err, token.ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}

// TestRotation walks the rotation procedure: tokens signed by the old key
// stay valid until it is retired, new tokens use the new key.
func TestRotation(t *testing.T) {
	old, next := tokentest.MustSigner(token.EdDSA), tokentest.MustSigner(token.ES256)
	set, _ := token.NewKeySet(old.Key)
	ring, err := token.NewKeyRing(set)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := token.NewIssuer(ring, token.IssuerConfig{Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	v := tokentest.Verifier(ring, now)
	issue := func() string {
		raw, _, err := iss.Issue(token.Claims{Subject: "u"})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	kidOf := func(raw string) string {
		h, _, _ := split(raw)
		b, _ := tokentest.Decode(h)
		var m map[string]string
		json.Unmarshal(b, &m)
		return m["kid"]
	}
	before := issue()

	// 1. Publish the next key.
	set, err = set.WithVerificationKey(next.Key)
	if err != nil {
		t.Fatal(err)
	}
	ring.Store(set)
	if !strings.Contains(string(set.JWKS()), next.Key.ID()) {
		t.Fatal("next key not published")
	}
	if kidOf(issue()) != old.Key.ID() {
		t.Fatal("signing switched before step 2")
	}
	// 2. Switch signing.
	set, err = set.WithSigningKey(next.Key)
	if err != nil {
		t.Fatal(err)
	}
	ring.Store(set)
	after := issue()
	if kidOf(after) != next.Key.ID() || set.SigningKey() != next.Key {
		t.Fatal("not signing with the next key")
	}
	for _, raw := range []string{before, after} {
		if _, err := v.Verify(raw); err != nil {
			t.Fatalf("during rotation: %v", err)
		}
	}
	if _, err := set.Without(next.Key.ID()); !errors.Is(err, token.ErrConfig) {
		t.Fatalf("retiring the signing key: %v", err)
	}
	// 3. Retire the old key.
	set, err = set.Without(old.Key.ID())
	if err != nil {
		t.Fatal(err)
	}
	ring.Store(set)
	if _, err := v.Verify(before); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("retired key still accepted: %v", err)
	}
	if _, err := v.Verify(after); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys()) != 1 {
		t.Fatalf("keys = %v", set.Keys())
	}
}

func TestJWKSHandler(t *testing.T) {
	ed, ec, rs := tokentest.MustSigner(token.EdDSA), tokentest.MustSigner(token.ES256), tokentest.MustSigner(token.RS256)
	hs := tokentest.MustSigner(token.HS256)
	set, err := token.NewKeySet(ed.Key, ec.Key.Public(), rs.Key, hs.Key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(token.JWKSHandler(set, time.Hour))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=3600" ||
		resp.Header.Get("Content-Type") != "application/jwk-set+json" || resp.Header.Get("ETag") == "" {
		t.Fatalf("response %d %v", resp.StatusCode, resp.Header)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 3 {
		t.Fatalf("want the 3 asymmetric keys, got %s", body)
	}
	for _, k := range doc.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Fatalf("private member %q published: %s", private, body)
			}
		}
		if k["use"] != "sig" || k["kid"] == "" || k["alg"] == "" {
			t.Fatalf("key without use/kid/alg: %v", k)
		}
		// A published key verifies that key's tokens.
		raw, _ := json.Marshal(k)
		pk, err := token.ParseJWK(raw, token.KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		signer := map[string]*tokentest.Signer{ed.Key.ID(): ed, ec.Key.ID(): ec, rs.Key.ID(): rs}[pk.ID()]
		pset, _ := token.NewKeySet(nil, pk)
		if _, err := tokentest.Verifier(pset, now).Verify(signer.Mint(now, nil)); err != nil {
			t.Fatalf("published key %s: %v", pk.ID(), err)
		}
	}
	if strings.Contains(string(body), hs.Key.ID()) {
		t.Fatal("HMAC key listed")
	}

	for _, tt := range []struct {
		method, etag string
		want         int
	}{
		{http.MethodHead, "", 200},
		{http.MethodGet, resp.Header.Get("ETag"), http.StatusNotModified},
		{http.MethodGet, `"stale"`, 200},
		{http.MethodPost, "", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL, nil)
		if tt.etag != "" {
			req.Header.Set("If-None-Match", tt.etag)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != tt.want {
			t.Errorf("%s If-None-Match %q: %d, want %d", tt.method, tt.etag, r.StatusCode, tt.want)
		}
	}
}

// TestStillTrusted: verified claims stay trusted while the key that
// verified them is in the ring's current set (keys added around it or not),
// and stop being trusted once it is retired.
func TestStillTrusted(t *testing.T) {
	a, b := tokentest.MustSigner(token.EdDSA), tokentest.MustSigner(token.ES256)
	set := tokentest.KeySet(a)
	ring, err := token.NewKeyRing(set)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tokentest.Verifier(ring, now).Verify(a.Mint(now, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.StillTrusted() {
		t.Fatal("not trusted under the set that verified it")
	}
	both, _ := set.WithVerificationKey(b.Key)
	ring.Store(both)
	if !c.StillTrusted() {
		t.Fatal("not trusted after a key was added")
	}
	signing, _ := both.WithSigningKey(b.Key)
	retired, _ := signing.Without(a.Key.ID())
	ring.Store(retired)
	if c.StillTrusted() {
		t.Fatal("trusted after its key was retired")
	}
	ring.Store(both)
	if !c.StillTrusted() {
		t.Fatal("not trusted with its key back")
	}
	// Another key under the same kid is not the key that verified it.
	impostor, err := token.NewKey(tokentest.MustSigner(token.EdDSA).Private, token.KeyOptions{ID: a.Key.ID()})
	if err != nil {
		t.Fatal(err)
	}
	ring.Store(tokentest.KeySet(&tokentest.Signer{Key: impostor}))
	if c.StillTrusted() {
		t.Fatal("trusted under another key with its kid")
	}
	var none *token.Claims
	if !(&token.Claims{}).StillTrusted() || !none.StillTrusted() {
		t.Fatal("claims not from Verify are not trusted")
	}
}
