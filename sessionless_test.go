package sessionless_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
)

func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	pub := filepath.Join(dir, "public.pem")
	key, _ := token.GenerateKey(token.EdDSA)
	pubPEM, _ := key.Public().MarshalPEM()
	os.WriteFile(pub, pubPEM, 0o600)
	secret := []byte(strings.Repeat("s", 32))
	for name, cfg := range map[string]sessionless.Config{
		"no key":             {Issuer: "i", Audience: "a"},
		"two keys":           {Issuer: "i", Audience: "a", HMACSecret: secret, Key: key},
		"no issuer":          {Audience: "a", HMACSecret: secret},
		"no audience":        {Issuer: "i", HMACSecret: secret},
		"short HMAC secret":  {Issuer: "i", Audience: "a", HMACSecret: []byte("short")},
		"missing key file":   {Issuer: "i", Audience: "a", KeyFile: filepath.Join(dir, "nope.pem")},
		"public key file":    {Issuer: "i", Audience: "a", KeyFile: pub},
		"TTL over 24 h":      {Issuer: "i", Audience: "a", HMACSecret: secret, TTL: 25 * 3600e9},
		"JWT routes set":     {Issuer: "i", Audience: "a", HMACSecret: secret, Middleware: middleware.Config{JWT: map[string]middleware.Verifier{"x": nil}}},
		"revocation set":     {Issuer: "i", Audience: "a", HMACSecret: secret, Middleware: middleware.Config{Revocation: &revocation.List{}}},
		"bad middleware cfg": {Issuer: "i", Audience: "a", HMACSecret: secret, Middleware: middleware.Config{Realm: `a"b`}},
		"public key as Key":  {Issuer: "i", Audience: "a", Key: key.Public()},
		"empty HMAC secret":  {Issuer: "i", Audience: "a", HMACSecret: []byte{}},
		"key file not a key": {Issuer: "i", Audience: "a", KeyFile: filepath.Join(dir)},
	} {
		if _, err := sessionless.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := sessionless.New(sessionless.Config{Issuer: "i", Audience: "a", HMACSecret: secret}); err != nil {
		t.Fatal(err)
	}
}

// TestIssuedTokensVerify: the parts agree: what Issuer signs, Verifier
// and the middleware accept; the middleware settings pass through.
func TestIssuedTokensVerify(t *testing.T) {
	key, _ := token.GenerateKey(token.ES256)
	auth, err := sessionless.New(sessionless.Config{Issuer: "https://api.example", Audience: "api", Key: key,
		Middleware: middleware.Config{Realm: "widgets"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := auth.Issuer.Issue(token.Claims{Subject: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Verifier.Verify(raw); err != nil {
		t.Fatal(err)
	}
	if p, err := auth.Authenticate(t.Context(), raw); err != nil || p.Subject != "u" {
		t.Fatalf("%v %v", p, err)
	}
	if _, err := auth.Authenticate(t.Context(), raw+"x"); !errors.Is(err, middleware.ErrInvalidToken) {
		t.Fatal(err)
	}
	if auth.Keys.KeySet().SigningKey() != key {
		t.Fatal("another signing key")
	}
	// The middleware checks the list New opened: a logout works.
	c, _ := auth.Verifier.Verify(raw)
	if err := auth.Revocations.RevokeToken(t.Context(), c.Issuer, c.ID, c.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(t.Context(), raw); !errors.Is(err, middleware.ErrRevoked) {
		t.Fatalf("revoked token: %v", err)
	}
	if err := auth.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReadmeShowsTheExample: the README's short path is the code of
// Example (three credentials), so that it compiles and runs in go test.
func TestReadmeShowsTheExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_three_test.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)func Example\\(\\) \\{\n.*?\n\n(\tauth, err := sessionless.New.*?)\n\n\tsrv := httptest").FindSubmatch(src)
	if m == nil {
		t.Fatal("Example not found")
	}
	body := strings.ReplaceAll(string(m[1]), "\n\t", "\n")
	body = strings.TrimPrefix(body, "\t")
	if !strings.Contains(string(readme), body) {
		t.Fatalf("README.md does not show Example's code:\n%s", body)
	}
}
