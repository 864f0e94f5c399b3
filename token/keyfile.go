package token

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// MaxKeyFileSize is the largest key file [ReadKeyFile] and
// [LoadOrCreateKeyFile] read: 1 MiB. A larger file is refused, not cut.
const MaxKeyFileSize = 1 << 20

// KeyFileModeError reports a private key file that group or others may
// read or write. It wraps [ErrKeyFileMode]. The key in the file was read
// and is valid: a caller that chooses to only warn takes it from Key (the
// functions returning this error return a nil key beside it).
type KeyFileModeError struct {
	Path string      // the file, as given
	Mode fs.FileMode // its permission bits, such as 0o644
	Key  *Key        // the private key the file holds
}

// Error names the file and its mode, never the key.
func (e *KeyFileModeError) Error() string {
	return fmt.Sprintf("%v: %s has mode %#o", ErrKeyFileMode, e.Path, e.Mode)
}

// Unwrap returns [ErrKeyFileMode].
func (e *KeyFileModeError) Unwrap() error { return ErrKeyFileMode }

// ReadKeyFile reads the first key of the PEM file at path as [ParsePEM]
// does with KeyOptions{}: a private key (PKCS#8, SEC 1, PKCS#1) or a
// public key (PKIX, PKCS#1). A directory and a file larger than
// [MaxKeyFileSize] are refused. Errors name the file and wrap their
// cause: [fs.ErrNotExist] for a missing file, [ErrInvalidKey] or
// [ErrWeakKey] for a file that holds no usable key.
//
// Like ssh, it refuses a private key file that group or others may read
// or write (mode & 0o077 != 0; not checked on Windows) with a
// [*KeyFileModeError], which wraps [ErrKeyFileMode]: chmod 600 the file.
// That error carries the key, for a caller that chooses to only warn:
//
//	key, err := token.ReadKeyFile(path)
//	var loose *token.KeyFileModeError
//	if errors.As(err, &loose) {
//		log.Warn("private key file is accessible to group or others; chmod 600 it",
//			"file", loose.Path, "mode", fmt.Sprintf("%#o", loose.Mode))
//		key, err = loose.Key, nil
//	}
//
// On every error the returned key is nil.
func ReadKeyFile(path string) (*Key, error) {
	key, mode, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if err := checkKeyFileMode(path, mode, key); err != nil {
		return nil, err
	}
	return key, nil
}

// LoadOrCreateKeyFile returns the private signing key of the PEM file at
// path, read as by [ReadKeyFile], with the same refusals and the same
// [*KeyFileModeError]; a file that holds a public key is refused with
// [ErrInvalidKey]. When there is no file, it generates a key for alg
// ([GenerateKey]), writes it there as PKCS#8 PEM ([Key.MarshalPEM]) with
// mode 0600, creating missing directories with mode 0700, and reports
// created. HMAC algorithms have no PEM form: they are refused.
//
// A file at path is never overwritten, whatever it holds, and a new key
// file appears whole or not at all: the key is written and synced to a
// temporary file beside path, then linked to path, which fails when a
// file is already there (then that file's key is read and returned, so
// that processes or goroutines starting together all get the same key),
// and the temporary file is removed.
//
// The key is returned with alg when it fits alg (an RSA key for PS256
// stays a PS256 key when read again); a key that does not fit alg (an
// ECDSA key for EdDSA) keeps the default algorithm of its type, as with
// ParsePEM: the key in the file decides.
func LoadOrCreateKeyFile(path string, alg Algorithm) (key *Key, created bool, err error) {
	if path == "" || os.IsPathSeparator(path[len(path)-1]) {
		return nil, false, fmt.Errorf("%w: key file %q names no file", ErrInvalidKey, path)
	}
	key, err = readSigningKeyFile(path, alg)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key, err = createKeyFile(path, alg)
	switch {
	case errors.Is(err, fs.ErrExist):
		// Another process wrote a key file meanwhile: use its key.
		key, err = readSigningKeyFile(path, alg)
		return key, false, err
	case err != nil:
		return nil, false, fmt.Errorf("token: creating key file %s: %w", path, err)
	}
	return key, true, nil
}

// readKeyFile parses the first PEM key of the file at path and returns it
// with the file's permission bits.
func readKeyFile(path string) (*Key, fs.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("token: key file: %w", err) // an *fs.PathError names the file
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("token: key file: %w", err)
	}
	if info.IsDir() {
		return nil, 0, fmt.Errorf("%w: key file %s is a directory", ErrInvalidKey, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("token: key file: %w", err)
	}
	if len(data) > MaxKeyFileSize {
		return nil, 0, fmt.Errorf("%w: key file %s is larger than %d bytes", ErrInvalidKey, path, MaxKeyFileSize)
	}
	key, err := ParsePEM(data, KeyOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("token: key file %s: %w", path, err)
	}
	return key, info.Mode().Perm(), nil
}

// checkKeyFileMode refuses a private key whose file group or others may
// read or write. Windows has no such permission bits.
func checkKeyFileMode(path string, mode fs.FileMode, key *Key) error {
	if key.CanSign() && mode&0o077 != 0 && runtime.GOOS != "windows" {
		return &KeyFileModeError{Path: path, Mode: mode, Key: key}
	}
	return nil
}

// readSigningKeyFile reads the private key of the file at path, with alg
// when it fits the key.
func readSigningKeyFile(path string, alg Algorithm) (*Key, error) {
	key, mode, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if !key.CanSign() {
		return nil, fmt.Errorf("%w: key file %s holds a public key; a signing key must be private", ErrInvalidKey, path)
	}
	key = key.withAlgorithm(alg)
	if err := checkKeyFileMode(path, mode, key); err != nil {
		return nil, err
	}
	return key, nil
}

// withAlgorithm returns the key of k's material and ID for alg, or k
// itself when the material does not fit alg.
func (k *Key) withAlgorithm(alg Algorithm) *Key {
	if k.alg == alg {
		return k
	}
	if fit, err := NewKey(k.priv, KeyOptions{ID: k.id, Algorithm: alg}); err == nil {
		return fit
	}
	return k
}

// createKeyFile generates a key for alg and links its PEM file, complete
// and synced, to path. An error wrapping [fs.ErrExist] means that a file
// is already there.
func createKeyFile(path string, alg Algorithm) (*Key, error) {
	key, err := GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	pemBytes, err := key.MarshalPEM()
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := writeTempFile(dir, "."+filepath.Base(path)+".*.tmp", pemBytes)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil { // never replaces a file
		return nil, err
	}
	return key, nil
}

// writeTempFile writes data to a new file of mode 0600 in dir, named
// after pattern as by [os.CreateTemp], and syncs it before closing it. It
// returns the file's name, or removes the file on failure.
func writeTempFile(dir, pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
