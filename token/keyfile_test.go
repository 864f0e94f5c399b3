package token_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// writeFile writes data to path with exactly mode, whatever the umask.
func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// skipModeOnWindows skips a test of Unix permission bits.
func skipModeOnWindows(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
}

// checkKeyFileError checks that err wraps want and names path; for
// ErrKeyFileMode, that it carries the key of wantID and the mode.
func checkKeyFileError(t *testing.T, err error, want error, path, wantID string, mode os.FileMode) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file %s", err, path)
	}
	if want != token.ErrKeyFileMode {
		return
	}
	var loose *token.KeyFileModeError
	if !errors.As(err, &loose) || loose.Key == nil || loose.Key.ID() != wantID || loose.Mode != mode || loose.Path != path {
		t.Fatalf("err = %#v, want a KeyFileModeError for %s, mode %#o, key %s", err, path, mode, wantID)
	}
	if msg := err.Error(); !strings.Contains(msg, "chmod 600") || !strings.Contains(msg, fmt.Sprintf("%#o", mode)) {
		t.Errorf("error %q does not say the mode and chmod 600", msg)
	}
}

func TestReadKeyFile(t *testing.T) {
	ed := tokentest.MustSigner(token.EdDSA)
	ec := tokentest.MustSigner(token.ES256)
	rs := tokentest.MustSigner(token.RS256)
	private := must(ed.Key.MarshalPEM())
	padded := func(n int) []byte { return append(bytes.Clone(private), bytes.Repeat([]byte("\n"), n-len(private))...) }
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	const dir = "<dir>" // the test's directory itself
	tests := []struct {
		name   string
		data   []byte // nil: no file; the string dir: a directory
		mode   os.FileMode
		wantID string // the key read, or the key of a KeyFileModeError
		public bool
		err    error
	}{
		// Keys read.
		{"PKCS#8 private, 0600", private, 0o600, ed.Key.ID(), false, nil},
		{"SEC 1 private, 0400", pemOf(t, "EC PRIVATE KEY", must(x509.MarshalECPrivateKey(ec.Private.(*ecdsa.PrivateKey))), nil), 0o400, ec.Key.ID(), false, nil},
		{"PKCS#1 private", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rs.Private.(*rsa.PrivateKey)), nil), 0o600, rs.Key.ID(), false, nil},
		{"SPKI public, 0644", must(ed.Key.Public().MarshalPEM()), 0o644, ed.Key.ID(), true, nil},
		{"exactly MaxKeyFileSize", padded(token.MaxKeyFileSize), 0o600, ed.Key.ID(), false, nil},

		// Files refused.
		{"missing", nil, 0, "", false, fs.ErrNotExist},
		{"directory", []byte(dir), 0, "", false, token.ErrInvalidKey},
		{"one byte over MaxKeyFileSize", padded(token.MaxKeyFileSize + 1), 0o600, "", false, token.ErrInvalidKey},
		{"empty", []byte{}, 0o600, "", false, token.ErrInvalidKey},
		{"garbage", []byte("not a key"), 0o600, "", false, token.ErrInvalidKey},
		{"RSA 1024", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(weak), nil), 0o600, "", false, token.ErrWeakKey},

		// Private keys that group or others may read or write.
		{"private, 0644", private, 0o644, ed.Key.ID(), false, token.ErrKeyFileMode},
		{"private, 0640", private, 0o640, ed.Key.ID(), false, token.ErrKeyFileMode},
		{"private, 0620", private, 0o620, ed.Key.ID(), false, token.ErrKeyFileMode},
		{"private, 0604", private, 0o604, ed.Key.ID(), false, token.ErrKeyFileMode},
		{"private, 0602", private, 0o602, ed.Key.ID(), false, token.ErrKeyFileMode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key.pem")
			switch {
			case tt.err == token.ErrKeyFileMode:
				skipModeOnWindows(t)
			case string(tt.data) == dir:
				path = filepath.Dir(path)
			}
			if tt.data != nil && string(tt.data) != dir {
				writeFile(t, path, tt.data, tt.mode)
			}
			key, err := token.ReadKeyFile(path)
			if tt.err != nil {
				if key != nil {
					t.Errorf("returned the key %v beside the error", key)
				}
				checkKeyFileError(t, err, tt.err, path, tt.wantID, tt.mode)
				return
			}
			if err != nil || key.ID() != tt.wantID || key.CanSign() == tt.public {
				t.Fatalf("ReadKeyFile() = %v, %v; want key %s, public %v", key, err, tt.wantID, tt.public)
			}
		})
	}
}

// keyFileState is what a test expects to find at a key file path
// afterwards: the same bytes, and nothing else in the directory.
func keyFileState(t *testing.T, path string) func() {
	t.Helper()
	before, _ := os.ReadFile(path)
	return func() {
		t.Helper()
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Errorf("the file changed:\n%s\nbecame\n%s", before, after)
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		for _, e := range entries {
			if e.Name() != filepath.Base(path) {
				t.Errorf("stray file %s left in the key directory", e.Name())
			}
		}
	}
}

func TestLoadOrCreateKeyFileCreates(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "signing-key.pem")
	k1, created, err := token.LoadOrCreateKeyFile(path, token.ES256)
	if err != nil || !created || k1.Algorithm() != token.ES256 || !k1.CanSign() {
		t.Fatalf("LoadOrCreateKeyFile() = %v, created %v, %v", k1, created, err)
	}
	if runtime.GOOS != "windows" {
		for name, want := range map[string]os.FileMode{filepath.Join(root, "a"): 0o700, filepath.Dir(path): 0o700, path: 0o600} {
			if info, err := os.Stat(name); err != nil || info.Mode().Perm() != want {
				t.Errorf("%s: mode %v, %v; want %#o", name, info.Mode(), err, want)
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(data); block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key file is not PKCS#8 PEM:\n%s", data)
	} else if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Fatal(err)
	}
	check := keyFileState(t, path)
	k2, created, err := token.LoadOrCreateKeyFile(path, token.ES256)
	if err != nil || created || k2.ID() != k1.ID() || k2.Algorithm() != k1.Algorithm() {
		t.Errorf("second call: %v, created %v, %v; want %v again", k2, created, err, k1)
	}
	if k3, err := token.ReadKeyFile(path); err != nil || k3.ID() != k1.ID() {
		t.Errorf("ReadKeyFile() = %v, %v; want %v", k3, err, k1)
	}
	check()
}

func TestLoadOrCreateKeyFileExisting(t *testing.T) {
	ed := tokentest.MustSigner(token.EdDSA)
	rs := tokentest.MustSigner(token.RS256)
	private := must(ed.Key.MarshalPEM())
	rsaPEM := must(rs.Key.MarshalPEM())
	tests := []struct {
		name    string
		data    []byte
		mode    os.FileMode
		alg     token.Algorithm
		wantID  string
		wantAlg token.Algorithm
		err     error
	}{
		// The key in the file is used.
		{"private key", private, 0o600, token.EdDSA, ed.Key.ID(), token.EdDSA, nil},
		{"RSA key for PS256 becomes PS256", rsaPEM, 0o600, token.PS256, rs.Key.ID(), token.PS256, nil},
		{"RSA key for EdDSA stays RS256", rsaPEM, 0o600, token.EdDSA, rs.Key.ID(), token.RS256, nil},

		// Never overwritten.
		{"public key", must(ed.Key.Public().MarshalPEM()), 0o600, token.EdDSA, "", "", token.ErrInvalidKey},
		{"garbage", []byte("not a key"), 0o600, token.EdDSA, "", "", token.ErrInvalidKey},
		{"empty, as after a crash", []byte{}, 0o600, token.EdDSA, "", "", token.ErrInvalidKey},
		{"private key, 0644", private, 0o644, token.EdDSA, ed.Key.ID(), "", token.ErrKeyFileMode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == token.ErrKeyFileMode {
				skipModeOnWindows(t)
			}
			path := filepath.Join(t.TempDir(), "key.pem")
			writeFile(t, path, tt.data, tt.mode)
			check := keyFileState(t, path)
			key, created, err := token.LoadOrCreateKeyFile(path, tt.alg)
			defer check()
			if created {
				t.Error("created a key over an existing file")
			}
			if tt.err != nil {
				if key != nil {
					t.Errorf("returned the key %v beside the error", key)
				}
				checkKeyFileError(t, err, tt.err, path, tt.wantID, tt.mode)
				return
			}
			if err != nil || key.ID() != tt.wantID || key.Algorithm() != tt.wantAlg || !key.CanSign() {
				t.Fatalf("LoadOrCreateKeyFile() = %v, %v; want kid %s, alg %s", key, err, tt.wantID, tt.wantAlg)
			}
		})
	}
}

func TestLoadOrCreateKeyFileRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (path string)
		alg   token.Algorithm
		err   error // nil: any error
	}{
		{"HMAC algorithm", func(t *testing.T, dir string) string { return filepath.Join(dir, "new", "key.pem") }, token.HS256, token.ErrInvalidKey},
		{"alg none", func(t *testing.T, dir string) string { return filepath.Join(dir, "new", "key.pem") }, "none", token.ErrInvalidKey},
		{"directory", func(t *testing.T, dir string) string { return dir }, token.EdDSA, token.ErrInvalidKey},
		{"a path that ends in a separator", func(t *testing.T, dir string) string { return filepath.Join(dir, "new") + string(os.PathSeparator) },
			token.EdDSA, token.ErrInvalidKey},
		{"parent is a file", func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, "file"), nil, 0o600)
			return filepath.Join(dir, "file", "key.pem")
		}, token.EdDSA, nil},
		{"unwritable directory", func(t *testing.T, dir string) string {
			if runtime.GOOS == "windows" || os.Geteuid() == 0 {
				t.Skip("directory permissions are not enforced")
			}
			ro := filepath.Join(dir, "ro")
			if err := os.Mkdir(ro, 0o500); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(ro, "key.pem")
		}, token.EdDSA, fs.ErrPermission},
		{"dangling symbolic link", func(t *testing.T, dir string) string {
			if runtime.GOOS == "windows" {
				t.Skip("symbolic links need privileges")
			}
			path := filepath.Join(dir, "key.pem")
			if err := os.Symlink(filepath.Join(dir, "target.pem"), path); err != nil {
				t.Fatal(err)
			}
			return path
		}, token.EdDSA, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.setup(t, dir)
			before, _ := os.ReadDir(dir)
			key, created, err := token.LoadOrCreateKeyFile(path, tt.alg)
			if err == nil || key != nil || created || tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("LoadOrCreateKeyFile() = %v, created %v, %v; want %v", key, created, err, tt.err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file %s", err, path)
			}
			if after, _ := os.ReadDir(dir); len(after) != len(before) {
				t.Errorf("files before: %v, after: %v", before, after)
			}
		})
	}
}

// TestLoadOrCreateKeyFileConcurrent: goroutines (or processes) starting
// together all get the one key that was created.
func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "key.pem")
	const n = 8
	keys := make([]*token.Key, n)
	created := make([]bool, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			keys[i], created[i], errs[i] = token.LoadOrCreateKeyFile(path, token.EdDSA)
		})
	}
	close(start)
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if keys[i].ID() != keys[0].ID() {
			t.Errorf("goroutine %d got %v, goroutine 0 %v", i, keys[i], keys[0])
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d goroutines created the key, want 1", creators)
	}
	keyFileState(t, path)()
}
