package consent

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Bounds of what [Check] accepts.
const (
	// MaxSubjectLen bounds a subject, in bytes.
	MaxSubjectLen = 255
	// MaxClientIDLen bounds a client ID, in bytes: a Client ID Metadata
	// Document's is its https URL, the longest kind.
	MaxClientIDLen = 2048
	// MaxScopes bounds the scopes of one Grant, and those of a consent
	// after any number of them (see [Union]).
	MaxScopes = 64
	// MaxScopeLen bounds a scope, in bytes.
	MaxScopeLen = 128
)

// Check validates the arguments that every [Store] method checks before
// any store access, and refuses them with an error wrapping ErrInvalid:
//   - subject: 1 to MaxSubjectLen bytes of UTF-8 without NUL (see
//     [CheckSubject]);
//   - clientID: 1 to MaxClientIDLen bytes of UTF-8 without NUL;
//   - scopes: at most MaxScopes, each a scope-token of RFC 6749 §3.3 (one
//     or more of %x21 / %x23-5B / %x5D-7E: printable ASCII but for space,
//     '"' and '\') of at most MaxScopeLen bytes. Duplicates are allowed:
//     a Store drops them.
//
// The rule on strings is what every backend can store and compare alike
// (PostgreSQL's text holds no NUL and only UTF-8); the bounds keep what a
// client puts in an authorization request from growing the store without
// limit.
func Check(subject, clientID string, scopes []string) error {
	if err := CheckSubject(subject); err != nil {
		return err
	}
	if !text(clientID, MaxClientIDLen) {
		return fmt.Errorf("%w: the client ID must be 1 to %d bytes of UTF-8 without NUL", ErrInvalid, MaxClientIDLen)
	}
	if len(scopes) > MaxScopes {
		return fmt.Errorf("%w: %d scopes, more than %d", ErrInvalid, len(scopes), MaxScopes)
	}
	for _, s := range scopes {
		if !scopeToken(s) {
			return fmt.Errorf("%w: scope %q is not an RFC 6749 scope-token of at most %d bytes", ErrInvalid, s, MaxScopeLen)
		}
	}
	return nil
}

// CheckSubject is the rule of [Check] on a subject alone, which
// [Store.List] and [Store.RevokeSubject] apply.
func CheckSubject(subject string) error {
	if !text(subject, MaxSubjectLen) {
		return fmt.Errorf("%w: the subject must be 1 to %d bytes of UTF-8 without NUL", ErrInvalid, MaxSubjectLen)
	}
	return nil
}

// text reports whether s is 1 to max bytes of UTF-8 without NUL.
func text(s string, max int) bool {
	return s != "" && len(s) <= max && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// scopeToken reports whether s is an RFC 6749 §3.3 scope-token of at most
// MaxScopeLen bytes.
func scopeToken(s string) bool {
	if s == "" || len(s) > MaxScopeLen {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Covers reports whether c consents to every one of scopes, so that the
// authorization endpoint need not ask the user again. A zero Consent (what
// [Store.Get] returns with ErrNotFound) covers nothing, not even no
// scopes; any other covers no scopes.
func Covers(c Consent, scopes []string) bool {
	if c.Subject == "" || c.ClientID == "" {
		return false
	}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return false
		}
	}
	return true
}

// Union returns the scopes of a consent that had have and to which a Grant
// adds add: their union, sorted and without duplicates, nil when empty. It
// refuses, with an error wrapping ErrInvalid, a union of more than
// MaxScopes: a consent stays as small as one Grant may be. Stores use it
// so that they all merge alike; neither argument is modified.
func Union(have, add []string) ([]string, error) {
	u := make([]string, 0, len(have)+len(add))
	u = append(append(u, have...), add...)
	slices.Sort(u)
	u = slices.Compact(u)
	if len(u) > MaxScopes {
		return nil, fmt.Errorf("%w: the consent would have %d scopes, more than %d (revoke it first)", ErrInvalid, len(u), MaxScopes)
	}
	if len(u) == 0 {
		return nil, nil
	}
	return slices.Clip(u), nil
}
