package token_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sessionless/sessionless/token"
)

func ExampleLoadOrCreateKeyFile() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "data", "signing-key.pem")

	// The first start creates the key file; the next ones read it.
	for range 2 {
		key, created, err := token.LoadOrCreateKeyFile(path, token.EdDSA)
		var loose *token.KeyFileModeError
		if errors.As(err, &loose) {
			// To only warn about a key file that others may read:
			fmt.Println("warning:", loose)
			key, err = loose.Key, nil
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(created, key.Algorithm(), key.CanSign())
	}
	// Output:
	// true EdDSA true
	// false EdDSA true
}

func ExampleReadKeyFile() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	// The public key of another service, which keeps the private one.
	path := filepath.Join(dir, "verify-key.pem")
	pemBytes, _ := exampleKey().Public().MarshalPEM()
	if err := os.WriteFile(path, pemBytes, 0o644); err != nil {
		panic(err)
	}

	key, err := token.ReadKeyFile(path)
	fmt.Println(key, err)
	_, err = token.ReadKeyFile(filepath.Join(dir, "missing.pem"))
	fmt.Println(errors.Is(err, fs.ErrNotExist))
	// Output:
	// token.Key{kid: "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", alg: EdDSA, public} <nil>
	// true
}
