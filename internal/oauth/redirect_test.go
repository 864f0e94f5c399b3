package oauth_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/internal/oauth"
)

func TestCheckRedirectURI(t *testing.T) {
	for uri, ok := range map[string]bool{
		"https://app.example/callback":             true,
		"https://app.example:8443/cb?x=1":          true,
		"http://127.0.0.1/callback":                true,
		"http://127.0.0.1:53124/callback":          true,
		"http://[::1]:53124/cb":                    true,
		"http://localhost:6274/oauth/callback":     true, // what MCP clients register
		"com.example.app:/oauth2redirect":          true,
		"http://app.example/callback":              false, // plain http elsewhere
		"http://127.1/cb":                          false, // not the loopback literal
		"http://127.0.0.2/cb":                      false,
		"http://localhost.evil.example/cb":         false,
		"https://app.example/cb#frag":              false,
		"https://app.example/cb#":                  false,
		"https://user@app.example/cb":              false,
		"https:///cb":                              false,
		"/callback":                                false,
		"javascript:alert(1)":                      false,
		"data:text/html,<script>alert(1)</script>": false,
		"file:///etc/passwd":                       false,
		"myapp:/cb":                                false, // a private-use scheme needs a dot
		"com.example.app:callback":                 false, // opaque
		"com.example.app://host/cb":                false, // an authority
		"https://app.example/c b":                  false,
		"https://app.example/\tcb":                 false,
		"https://app.example\\@evil.example/":      false,
		"":                                         false,
		"https://app.example/" + strings.Repeat("a", oauth.MaxRedirectURI): false,
	} {
		err := oauth.CheckRedirectURI(uri)
		if (err == nil) != ok {
			t.Errorf("CheckRedirectURI(%q) = %v, want ok %v", uri, err, ok)
		}
		if err != nil && !errors.Is(err, oauth.ErrRedirectURI) {
			t.Errorf("CheckRedirectURI(%q): %v does not wrap ErrRedirectURI", uri, err)
		}
	}
}

func TestMatchRedirectURI(t *testing.T) {
	registered := []string{"https://app.example/callback", "http://127.0.0.1/cli/done", "http://[::1]:8080/cb?a=1", "http://localhost/mcp/cb",
		"com.example.app:/oauth2redirect"}
	for uri, want := range map[string]bool{
		"https://app.example/callback":        true,
		"https://app.example/callback/":       false, // a trailing slash
		"https://app.example/callback/x":      false, // an extra path
		"https://app.example/callback?x=1":    false, // an extra query
		"https://App.example/callback":        false, // letter case
		"https://app.example:443/callback":    false, // a default port written out
		"https://app.example/callback#x":      false,
		"http://127.0.0.1/cli/done":           true,
		"http://127.0.0.1:51234/cli/done":     true, // the native app's port (RFC 8252 §7.3)
		"http://127.0.0.1:51234/cli/done?x=1": false,
		"http://127.0.0.1:51234/cli/other":    false,
		"http://127.0.0.1:0/cli/done":         false,
		"http://127.0.0.1:070/cli/done":       false,
		"http://127.0.0.1:65536/cli/done":     false,
		"HTTP://127.0.0.1:7777/cli/done":      false, // the scheme's case as registered
		"Http://127.0.0.1/cli/done":           false,
		"http://127.0.0.1:/cli/done":          false, // a colon without a port
		"http://localhost:51234/cli/done":     false, // another host than registered
		"http://[::1]:8080/cb?a=1":            true,
		"http://[::1]:9999/cb?a=1":            false, // registered with a port: that port
		"http://[::1]:9999/cb":                false,
		"http://localhost:6274/mcp/cb":        true,
		"http://localhost:6274/mcp/cb#x":      false,
		"http://user@localhost:6274/mcp/cb":   false,
		"https://localhost:6274/mcp/cb":       false, // the scheme is part of it
		"com.example.app:/oauth2redirect":     true,
		"com.example.app:/oauth2redirect/x":   false,
		"":                                    false,
	} {
		if got := oauth.MatchRedirectURI(registered, uri); got != want {
			t.Errorf("MatchRedirectURI(%q) = %v, want %v", uri, got, want)
		}
	}
	if oauth.MatchRedirectURI(nil, "https://app.example/callback") {
		t.Error("matched with nothing registered")
	}
}

// FuzzMatchRedirectURI: a match is the registered URI itself, or the same
// loopback URI with another port; never another host, scheme, path or
// query.
func FuzzMatchRedirectURI(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:1/cb", "http://127.0.0.1/cb#x", "https://app.example/cb", "http://[::1]:80/cb", "http://localhost:5/cb?"} {
		f.Add(s)
	}
	registered := []string{"https://app.example/cb", "http://127.0.0.1/cb", "http://localhost:80/cb"}
	f.Fuzz(func(t *testing.T, uri string) {
		if !oauth.MatchRedirectURI(registered, uri) {
			return
		}
		got, err := url.Parse(uri)
		if err != nil {
			t.Fatalf("matched %q, which does not parse", uri)
		}
		for _, r := range registered {
			reg, _ := url.Parse(r)
			if uri == r || got.Scheme == reg.Scheme && got.Hostname() == reg.Hostname() && got.EscapedPath() == reg.EscapedPath() &&
				got.RawQuery == reg.RawQuery && got.Fragment == "" && got.User == nil {
				return
			}
		}
		t.Fatalf("matched %q, which is none of %q", uri, registered)
	})
}

func TestSecrets(t *testing.T) {
	raw, hash := oauth.NewSecret()
	other, _ := oauth.NewSecret()
	if !strings.HasPrefix(raw, oauth.SecretPrefix) || len(raw) != len(oauth.SecretPrefix)+43 || raw == other {
		t.Fatalf("secret %q", raw)
	}
	if !oauth.VerifySecret(hash, raw) || oauth.VerifySecret(hash, other) || oauth.VerifySecret(hash, raw+"x") || oauth.VerifySecret(hash, "") {
		t.Fatal("VerifySecret")
	}
	if oauth.HashSecret(raw) != hash {
		t.Fatal("HashSecret")
	}
}
