package demo

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/token"
)

func writePEM(t *testing.T, path, typ string, der []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
}

func TestSigningKeyCreatedOnceAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "signing-key.pem")
	log := testLogger(io.Discard)

	k1, created, err := loadSigningKey(path, log)
	if err != nil || !created {
		t.Fatalf("first load: created %v, err %v", created, err)
	}
	if k1.Algorithm() != token.EdDSA || !k1.CanSign() {
		t.Errorf("generated %v", k1)
	}
	if runtime.GOOS != "windows" {
		for name, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
			if info, err := os.Stat(name); err != nil || info.Mode().Perm() != want {
				t.Errorf("%s: mode %v, %v; want %#o", name, info.Mode(), err, want)
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key file is not PKCS#8 PEM:\n%s", data)
	}
	if priv, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Fatal(err)
	} else if _, ok := priv.(ed25519.PrivateKey); !ok {
		t.Fatalf("key file holds a %T", priv)
	}

	k2, created, err := loadSigningKey(path, log)
	if err != nil || created || k2.ID() != k1.ID() {
		t.Errorf("second load: %v created %v err %v; want the key %v again", k2, created, err, k1)
	}
}

func TestKeyFileModeWarning(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	var logs testenv.SyncBuffer
	if _, _, err := loadSigningKey(path, testLogger(&logs)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "chmod") {
		t.Errorf("warned about a 0600 key file: %s", logs.String())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadSigningKey(path, testLogger(&logs)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "chmod 600") || !strings.Contains(logs.String(), "0644") {
		t.Errorf("no warning for a 0644 key file: %s", logs.String())
	}
}

func TestKeyFileTypePicksAlgorithm(t *testing.T) {
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sec1 := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name, typ string
		der       []byte
		want      token.Algorithm
	}{
		{"RSA PKCS#1", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), token.RS256},
		{"RSA PKCS#8", "PRIVATE KEY", pkcs8(rsaKey), token.RS256},
		{"P-256 SEC1", "EC PRIVATE KEY", sec1(p256), token.ES256},
		{"P-384 PKCS#8", "PRIVATE KEY", pkcs8(p384), token.ES384},
		{"P-521 SEC1", "EC PRIVATE KEY", sec1(p521), token.ES512},
		{"Ed25519 PKCS#8", "PRIVATE KEY", pkcs8(ed), token.EdDSA},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.KeyFile = filepath.Join(dir, "key"+string(rune('a'+i))+".pem")
			writePEM(t, cfg.KeyFile, tt.typ, tt.der, 0o600)
			e := newTestEnv(t, cfg)
			if got := e.keys.SigningKey().Algorithm(); got != tt.want {
				t.Errorf("algorithm = %s, want %s", got, tt.want)
			}
			tok := e.login(t, "demo", testPassword).AccessToken
			if h := header(t, tok); h["alg"] != string(tt.want) {
				t.Errorf("token header %v, want alg %s", h, tt.want)
			}
			if resp, b := e.me(t, "Bearer "+tok); resp.StatusCode != 200 {
				t.Errorf("/api/me: %s %s", resp.Status, b)
			}
		})
	}
}

func TestKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	log := testLogger(io.Discard)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(ed.Public())
	public := filepath.Join(dir, "public.pem")
	writePEM(t, public, "PUBLIC KEY", pubDER, 0o600)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a key"), 0o600)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakFile := filepath.Join(dir, "weak.pem")
	writePEM(t, weakFile, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(weak), 0o600)

	for _, path := range []string{public, garbage, weakFile, dir} {
		if k, _, err := loadSigningKey(path, log); err == nil {
			t.Errorf("loadSigningKey(%s) = %v, want an error", path, k)
		}
	}
	cfg := testConfig(t)
	cfg.VerifyKeyFiles = []string{filepath.Join(dir, "missing.pem")}
	if _, err := loadKeys(cfg, log); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing verification key file: err = %v", err)
	}
	if _, err := os.Stat(cfg.VerifyKeyFiles[0]); err == nil {
		t.Error("a missing verification key file was created")
	}
}

// TestRotation: the previous signing key, given with -verify-key-file,
// still verifies the tokens it signed, and is published, while new tokens
// are signed with the new key.
func TestRotation(t *testing.T) {
	before := newTestEnv(t, testConfig(t))
	oldToken := before.login(t, "demo", testPassword).AccessToken
	oldKID := before.keys.SigningKey().ID()

	// The old key as a private key file, and as a public key file.
	oldPublic := filepath.Join(t.TempDir(), "old-public.pem")
	pemBytes, err := before.keys.SigningKey().Public().MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(oldPublic, pemBytes, 0o644)

	for _, verifyFile := range []string{before.cfg.KeyFile, oldPublic} {
		t.Run(filepath.Base(verifyFile), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.DatabaseURL = before.cfg.DatabaseURL // same users
			cfg.VerifyKeyFiles = []string{verifyFile, cfg.KeyFile}
			after := newTestEnv(t, cfg)
			newKID := after.keys.SigningKey().ID()
			if newKID == oldKID {
				t.Fatal("no new key")
			}
			if len(after.keys.Keys()) != 2 {
				t.Errorf("key set %v: want the new and the old key; the signing key listed again is ignored", after.keys.Keys())
			}
			if k, ok := after.keys.Key(oldKID); !ok || k.CanSign() {
				t.Errorf("old key %v in the set: %v; want it verification-only", k, ok)
			}
			if resp, b := after.me(t, "Bearer "+oldToken); resp.StatusCode != 200 {
				t.Errorf("token of the old key: %s %s", resp.Status, b)
			}
			_, kids := fetchJWKS(t, after)
			if !slices.Contains(kids, oldKID) || !slices.Contains(kids, newKID) {
				t.Errorf("JWKS kids %v, want %s and %s", kids, oldKID, newKID)
			}
			newToken := after.login(t, "demo", testPassword).AccessToken
			if h := header(t, newToken); h["kid"] != newKID {
				t.Errorf("new token signed by %s, want %s", h["kid"], newKID)
			}
		})
	}

	t.Run("retired", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.DatabaseURL = before.cfg.DatabaseURL
		without := newTestEnv(t, cfg)
		if resp, b := without.me(t, "Bearer "+oldToken); resp.StatusCode != 401 {
			t.Errorf("token of a key no longer configured: %s %s", resp.Status, b)
		}
	})
}
