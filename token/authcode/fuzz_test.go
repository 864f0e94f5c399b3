package authcode_test

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/token/authcode"
)

// FuzzCheck: Check accepts exactly the prefix and the canonical unpadded
// base64url encoding of 32 bytes.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"ac_" + strings.Repeat("A", 43), "ac_" + strings.Repeat("_", 42) + "w",
		"ac_" + strings.Repeat("A", 42) + "B", "rt_" + strings.Repeat("A", 43), "ac_", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := authcode.Check(raw)
		b, derr := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(raw, authcode.Prefix))
		want := strings.HasPrefix(raw, authcode.Prefix) && derr == nil && len(b) == 32 &&
			authcode.Prefix+base64.RawURLEncoding.EncodeToString(b) == raw
		if (err == nil) != want {
			t.Fatalf("Check(%q) = %v, want accepted %v", raw, err, want)
		}
		if err != nil && (!errors.Is(err, authcode.ErrInvalidGrant) || !errors.Is(err, authcode.ErrMalformed)) {
			t.Fatalf("Check(%q) = %v, want ErrInvalidGrant and ErrMalformed", raw, err)
		}
	})
}

var verifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// FuzzCheckVerifier: CheckVerifier accepts exactly RFC 7636 §4.1's
// code verifiers.
func FuzzCheckVerifier(f *testing.F) {
	for _, s := range []string{strings.Repeat("a", 43), strings.Repeat("~", 128), strings.Repeat("a", 42),
		strings.Repeat("a", 129), strings.Repeat("a", 42) + "+", strings.Repeat("a", 42) + "\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		err := authcode.CheckVerifier(v)
		if want := verifierRE.MatchString(v); (err == nil) != want {
			t.Fatalf("CheckVerifier(%q) = %v, want accepted %v", v, err, want)
		}
		if err != nil && (!errors.Is(err, authcode.ErrInvalidGrant) || !errors.Is(err, authcode.ErrPKCE)) {
			t.Fatalf("CheckVerifier(%q) = %v, want ErrInvalidGrant and ErrPKCE", v, err)
		}
	})
}
