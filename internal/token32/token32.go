// Package token32 makes and checks the shape the secrets of sessionless
// share: a prefix and 32 random bytes in unpadded base64url (43
// characters, 256 bits, which no one guesses, so that a fast hash stores
// them as safely as a slow one). Refresh tokens, authorization codes and
// client secrets use it.
package token32

import (
	"crypto/rand"
	"encoding/base64"
)

// Len is the length of 32 bytes in unpadded base64url.
const Len = 43

// New returns prefix and 32 new random bytes in unpadded base64url.
func New(prefix string) string {
	var b [32]byte
	rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Valid reports whether s is 32 bytes in canonical unpadded base64url:
// 43 characters of the alphabet, the last of which holds 4 bits, so its
// 2 low bits must be zero (one encoding per value).
func Valid(s string) bool {
	if len(s) != Len {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}
