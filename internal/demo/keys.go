package demo

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/sessionless/sessionless/token"
)

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
		k, err := token.ReadKeyFile(path)
		if k, err = warnKeyFileMode(log, k, err); err != nil {
			return nil, fmt.Errorf("verification key: %w", err)
		}
		if seen[k.ID()] {
			log.Warn("verification key listed twice or equal to the signing key; ignoring it", "file", path, "key", k)
			continue
		}
		seen[k.ID()] = true
		verify = append(verify, k.Public()) // a retired key no longer signs
	}
	return token.NewKeySet(signing, verify...)
}

// loadSigningKey reads the PEM private key at path; when there is no
// file, it generates an Ed25519 key and writes it there (PKCS#8 PEM, mode
// 0600, missing directories 0700): token.LoadOrCreateKeyFile.
func loadSigningKey(path string, log *slog.Logger) (*token.Key, bool, error) {
	key, created, err := token.LoadOrCreateKeyFile(path, token.EdDSA)
	key, err = warnKeyFileMode(log, key, err)
	return key, created, err
}

// warnKeyFileMode turns the refusal of a private key file that group or
// others may read into a warning: the demo runs on developers' machines,
// where a key copied with the wrong mode should not stop it.
func warnKeyFileMode(log *slog.Logger, key *token.Key, err error) (*token.Key, error) {
	var loose *token.KeyFileModeError
	if errors.As(err, &loose) {
		log.Warn("private key file is accessible to group or others; chmod 600 it",
			"file", loose.Path, "mode", fmt.Sprintf("%#o", loose.Mode))
		return loose.Key, nil
	}
	return key, err
}
