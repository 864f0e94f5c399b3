package clients_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/token/clients"
)

func TestValidate(t *testing.T) {
	_, hash := clients.NewSecret()
	ok := clients.Client{ID: "app", RedirectURIs: []string{"https://app.example/cb"}}
	with := func(f func(*clients.Client)) clients.Client {
		c := ok
		f(&c)
		return c
	}
	for _, c := range []struct {
		name string
		c    clients.Client
		ok   bool
	}{
		{"public", ok, true},
		{"confidential", with(func(c *clients.Client) {
			c.AuthMethod, c.SecretHashes = clients.AuthSecretBasic, []clients.SecretHash{hash}
		}), true},
		{"loopback and private-use redirects", with(func(c *clients.Client) {
			c.RedirectURIs = []string{"http://127.0.0.1/cb", "http://[::1]/cb", "http://localhost/cb", "com.example.app:/cb"}
		}), true},
		{"first-party password client without redirect", clients.Client{ID: "web", FirstParty: true,
			GrantTypes: []string{clients.GrantPassword, clients.GrantRefreshToken}}, true},
		{"no ID", with(func(c *clients.Client) { c.ID = "" }), false},
		{"colon in ID", with(func(c *clients.Client) { c.ID = "a:b" }), false},
		{"space in ID", with(func(c *clients.Client) { c.ID = "a b" }), false},
		{"ID too long", with(func(c *clients.Client) { c.ID = strings.Repeat("a", 256) }), false},
		{"confidential without secret", with(func(c *clients.Client) { c.AuthMethod = clients.AuthSecretPost }), false},
		{"public with secret", with(func(c *clients.Client) { c.SecretHashes = []clients.SecretHash{hash} }), false},
		{"unknown auth method", with(func(c *clients.Client) { c.AuthMethod = "private_key_jwt" }), false},
		{"http redirect off loopback", with(func(c *clients.Client) { c.RedirectURIs = []string{"http://app.example/cb"} }), false},
		{"javascript redirect", with(func(c *clients.Client) { c.RedirectURIs = []string{"javascript:alert(1)"} }), false},
		{"redirect with fragment", with(func(c *clients.Client) { c.RedirectURIs = []string{"https://app.example/cb#x"} }), false},
		{"code grant without redirect", with(func(c *clients.Client) { c.RedirectURIs = nil }), false},
		{"password grant, third party", with(func(c *clients.Client) { c.GrantTypes = []string{clients.GrantPassword} }), false},
		{"implicit grant", with(func(c *clients.Client) { c.GrantTypes = []string{"implicit"} }), false},
		{"bad scope", with(func(c *clients.Client) { c.Scopes = []string{"a b"} }), false},
		{"control character in name", with(func(c *clients.Client) { c.Name = "App\x00" }), false},
		{"bidi override in name", with(func(c *clients.Client) { c.Name = "Official \u202eppa tfosorciM" }), false},
		{"registered first-party", with(func(c *clients.Client) { c.Kind, c.FirstParty = clients.Registered, true }), false},
		{"document client with a secret", clients.Client{ID: "https://app.example/client.json", Kind: clients.Document,
			AuthMethod: clients.AuthSecretBasic, SecretHashes: []clients.SecretHash{hash}, RedirectURIs: ok.RedirectURIs}, false},
		{"document client", clients.Client{ID: "https://app.example/client.json", Kind: clients.Document, RedirectURIs: ok.RedirectURIs}, true},
		{"document client without path", clients.Client{ID: "https://app.example", Kind: clients.Document, RedirectURIs: ok.RedirectURIs}, false},
		{"document client with dot segment", clients.Client{ID: "https://app.example/a/../c", Kind: clients.Document, RedirectURIs: ok.RedirectURIs}, false},
		{"document client with a non-ASCII host", clients.Client{ID: "https://аpple.com/client.json", Kind: clients.Document, RedirectURIs: ok.RedirectURIs}, false},
		{"redirect with a non-ASCII host", with(func(c *clients.Client) { c.RedirectURIs = []string{"https://аpple.com/cb"} }), false},
		{"document client with query", clients.Client{ID: "https://app.example/c?x=1", Kind: clients.Document, RedirectURIs: ok.RedirectURIs}, false},
	} {
		err := c.c.Validate()
		if (err == nil) != c.ok || err != nil && !errors.Is(err, clients.ErrInvalidClient) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestStatic(t *testing.T) {
	raw, hash := clients.NewSecret()
	st, err := clients.NewStatic(
		clients.Client{ID: "pub", RedirectURIs: []string{"http://127.0.0.1/cb"}},
		clients.Client{ID: "conf", AuthMethod: clients.AuthSecretBasic, SecretHashes: []clients.SecretHash{hash},
			RedirectURIs: []string{"https://app.example/cb"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pub, err := st.Client(ctx, "pub")
	if err != nil || !pub.Public() || pub.Kind != clients.Configured || pub.VerifySecret("") {
		t.Fatalf("%+v %v", pub, err)
	}
	if !pub.MatchRedirectURI("http://127.0.0.1:5555/cb") || pub.MatchRedirectURI("http://127.0.0.1:5555/cb/x") {
		t.Error("loopback port matching")
	}
	conf, _ := st.Client(ctx, "conf")
	if !conf.VerifySecret(raw) || conf.VerifySecret(raw+"x") || conf.VerifySecret("") {
		t.Error("VerifySecret")
	}
	if _, err := st.Client(ctx, "nobody"); !errors.Is(err, clients.ErrUnknownClient) {
		t.Errorf("unknown: %v", err)
	}
	// The copy handed out does not change the stored client.
	conf.RedirectURIs[0] = "https://evil.example/cb"
	if again, _ := st.Client(ctx, "conf"); again.RedirectURIs[0] != "https://app.example/cb" {
		t.Error("Static hands out its own slices")
	}
	if _, err := clients.NewStatic(clients.Client{ID: "a", RedirectURIs: []string{"https://a.example/cb"}},
		clients.Client{ID: "a", RedirectURIs: []string{"https://a.example/cb"}}); err == nil {
		t.Error("a duplicate ID was accepted")
	}
	if _, err := clients.NewStatic(clients.Client{ID: "a", Kind: clients.Registered, RedirectURIs: []string{"https://a.example/cb"}}); err == nil {
		t.Error("a configured client of another kind was accepted")
	}
}

func TestRegistryOrder(t *testing.T) {
	st, _ := clients.NewStatic(clients.Client{ID: "rc_configured", Name: "configured", RedirectURIs: []string{"https://a.example/cb"}})
	mem := clients.NewMemoryStore()
	ctx := context.Background()
	if err := mem.Create(ctx, clients.Client{ID: "rc_configured", Kind: clients.Registered, Name: "registered",
		RedirectURIs: []string{"https://b.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	reg := &clients.Registry{Static: st, Registered: mem}
	if c, err := reg.Client(ctx, "rc_configured"); err != nil || c.Name != "configured" {
		t.Fatalf("a registration shadowed a configured client: %+v %v", c, err)
	}
	if _, err := reg.Client(ctx, "https://app.example/client.json"); !errors.Is(err, clients.ErrUnknownClient) {
		t.Fatalf("a document URL without Documents: %v", err)
	}
}
