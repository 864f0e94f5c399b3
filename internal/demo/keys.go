package demo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/sessionless/sessionless/token"
)

// maxKeyFileSize bounds what is read from a key file.
const maxKeyFileSize = 1 << 20

// loadKeys returns the key set of cfg: the signing key of cfg.KeyFile,
// created if missing, plus the public halves of cfg.VerifyKeyFiles.
func loadKeys(cfg Config, log *slog.Logger) (*token.KeySet, error) {
	signing, created, err := loadSigningKey(cfg.KeyFile, log)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("generated a signing key", "file", cfg.KeyFile, "key", signing)
	}
	var verify []*token.Key
	seen := map[string]bool{signing.ID(): true}
	for _, path := range cfg.VerifyKeyFiles {
		k, err := readKeyFile(path, log)
		if err != nil {
			return nil, fmt.Errorf("verification key: %w", err)
		}
		if seen[k.ID()] {
			log.Warn("verification key listed twice or equal to the signing key; ignoring it", "file", path, "key", k)
			continue
		}
		seen[k.ID()] = true
		verify = append(verify, k.Public()) // a retired key no longer signs
	}
	set, err := token.NewKeySet(signing, verify...)
	if err != nil {
		return nil, err
	}
	return set, nil
}

// loadSigningKey reads the PEM private key at path. When there is no file,
// it generates an Ed25519 key and writes it there as PKCS#8 PEM with mode
// 0600, creating missing directories with mode 0700.
func loadSigningKey(path string, log *slog.Logger) (key *token.Key, created bool, err error) {
	key, err = readKeyFile(path, log)
	if err == nil {
		if !key.CanSign() {
			return nil, false, fmt.Errorf("key file %s: holds a public key; the signing key must be private", path)
		}
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if key, err = token.GenerateKey(token.EdDSA); err != nil {
		return nil, false, err
	}
	pem, err := key.MarshalPEM()
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("key file directory: %w", err)
	}
	// O_EXCL: never overwrite a key another process wrote meanwhile.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadSigningKey(path, log)
	}
	if err != nil {
		return nil, false, fmt.Errorf("key file: %w", err)
	}
	_, err = f.Write(pem)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("key file: %w", err)
	}
	return key, true, nil
}

// readKeyFile parses the first PEM key of the file at path, warning when a
// private key file is readable or writable by group or others.
func readKeyFile(path string, log *slog.Logger) (*token.Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("key file %s: is a directory", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize))
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	key, err := token.ParsePEM(data, token.KeyOptions{})
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if key.CanSign() && info.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		log.Warn("private key file is accessible to group or others; chmod 600 it",
			"file", path, "mode", fmt.Sprintf("%#o", info.Mode().Perm()))
	}
	return key, nil
}
