package revocation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind says what an [Entry] revokes.
type Kind uint8

// Kinds of entries.
const (
	// KindToken revokes one token: the one with jti Key from Issuer.
	KindToken Kind = 1
	// KindSubject revokes every token of subject Key from Issuer that was
	// issued before Entry.Before: "log out everywhere".
	KindSubject Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindToken:
		return "token"
	case KindSubject:
		return "subject"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Limits on the strings of an [Entry].
const (
	MaxIssuerLen = 1024
	MaxKeyLen    = 1024
)

// Entry is one revocation. Entries never key on the raw token: one ECDSA
// signature has two valid encodings and base64 has non-canonical
// variants, while (iss, jti) and (iss, sub) name the token and the
// subject whatever the encoding.
type Entry struct {
	Kind Kind
	// Issuer is the "iss" of the tokens revoked. It may be empty for
	// credentials without an issuer.
	Issuer string
	// Key is the "jti" of the token (KindToken) or the "sub" of the
	// subject (KindSubject).
	Key string
	// Before, for KindSubject, is the moment before which the subject's
	// tokens were issued: a token is revoked when its "iat" is before it.
	// It keeps nanoseconds. Zero for KindToken.
	Before time.Time
	// Expires is when the entry can be forgotten because no token it
	// names can still be valid: for KindToken the token's "exp" plus the
	// verifiers' leeway, for KindSubject Before plus the longest token
	// lifetime plus the leeway.
	Expires time.Time
}

// ErrInvalidEntry is returned for an entry a store refuses to keep.
var ErrInvalidEntry = errors.New("revocation: invalid entry")

// Validate reports whether e can be stored: a known kind, a key, strings
// of valid UTF-8 within the limits, an expiry, and a Before only (and
// always) for KindSubject.
func (e Entry) Validate() error {
	switch {
	case e.Kind != KindToken && e.Kind != KindSubject:
		return fmt.Errorf("%w: unknown kind %d", ErrInvalidEntry, e.Kind)
	case e.Key == "":
		return fmt.Errorf("%w: no key", ErrInvalidEntry)
	case len(e.Key) > MaxKeyLen || len(e.Issuer) > MaxIssuerLen:
		return fmt.Errorf("%w: issuer or key too long", ErrInvalidEntry)
	case !utf8.ValidString(e.Key) || !utf8.ValidString(e.Issuer):
		return fmt.Errorf("%w: issuer or key is not UTF-8", ErrInvalidEntry)
	case strings.IndexByte(e.Key, 0) >= 0 || strings.IndexByte(e.Issuer, 0) >= 0:
		// PostgreSQL text cannot hold NUL: refuse it on every backend alike.
		return fmt.Errorf("%w: issuer or key contains NUL", ErrInvalidEntry)
	case e.Expires.IsZero():
		return fmt.Errorf("%w: no expiry", ErrInvalidEntry)
	case !inRange(e.Expires) || (!e.Before.IsZero() && !inRange(e.Before)):
		return fmt.Errorf("%w: times must be between 1970 and 2261", ErrInvalidEntry)
	case e.Kind == KindSubject && e.Before.IsZero():
		return fmt.Errorf("%w: a subject entry needs Before", ErrInvalidEntry)
	case e.Kind == KindToken && !e.Before.IsZero():
		return fmt.Errorf("%w: a token entry has no Before", ErrInvalidEntry)
	}
	return nil
}

// inRange reports whether t is between 1970 and 2261, so that its Unix
// nanoseconds fit an int64 on every backend.
func inRange(t time.Time) bool { y := t.UTC().Year(); return y >= 1970 && y <= 2261 }

// lastStorable is the latest moment inRange accepts, to the second.
var lastStorable = time.Date(2261, 12, 31, 23, 59, 59, 0, time.UTC)

// Store keeps revocation entries where every instance of a service sees
// them. The backends are [MemoryStore] (one process), sqlstore (SQLite,
// PostgreSQL) and redisstore (Redis); storetest checks them all the same
// way. A [List] keeps a local mirror of a Store for the per-request
// check, so a Store is only read when the mirror syncs. Implementations
// must be safe for concurrent use.
type Store interface {
	// Create stores e durably and delivers it to the subscriptions of every
	// instance, this one included. It refuses an entry that fails
	// [Entry.Validate] with that error. Adding an entry twice is harmless.
	// Times keep nanoseconds.
	Create(ctx context.Context, e Entry) error
	// Snapshot returns every stored entry whose Expires is after now. It
	// may return several entries for the same kind, issuer and key; the
	// List merges them (latest Before, latest Expires).
	Snapshot(ctx context.Context, now time.Time) ([]Entry, error)
	// Subscribe starts watching for added entries: every entry added
	// after Subscribe returns is delivered by the subscription.
	Subscribe(ctx context.Context) (Subscription, error)
	// Purge deletes the entries whose Expires is at or before before, and
	// returns how many it deleted.
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// Subscription delivers the entries added to a Store.
type Subscription interface {
	// Next returns the next entry added by any instance, with ok true.
	// When none arrives within about wait, it confirms that the
	// connection to the store is alive and returns ok false and a nil
	// error: every entry added before the call began has been delivered.
	// Any error means the subscription is broken and may have lost
	// entries: the caller closes it, subscribes again and takes a new
	// snapshot.
	Next(ctx context.Context, wait time.Duration) (e Entry, ok bool, err error)
	// Close ends the subscription.
	Close() error
}
