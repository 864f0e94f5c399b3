package authcode

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

// Hash is the SHA-256 of an authorization code: all a [Store] keeps of
// it. A code carries 256 random bits, so a fast hash is as strong as a
// slow one here, and a stolen database yields no usable code.
type Hash [sha256.Size]byte

// HashCode returns the hash of a raw authorization code.
func HashCode(raw string) Hash { return sha256.Sum256([]byte(raw)) }

// Grant is what an authorization code is bound to: what the user granted
// at the authorization endpoint, and what the token request must match.
type Grant struct {
	// ClientID is the client the code was issued to (RFC 6749 §4.1.3:
	// the token request must come from it). Required.
	ClientID string
	// RedirectURI is the redirect_uri of the authorization request; the
	// token request must carry the identical string (RFC 6749 §4.1.3).
	// Required.
	RedirectURI string
	// Subject is the user who logged in and consented. Required.
	Subject string
	// Scope is the scope granted, space-separated.
	Scope string
	// Resource, when not empty, is the resource indicator (RFC 8707) of
	// the authorization request: the tokens minted from the code are for
	// that resource.
	Resource string
	// JKT, when not empty, is the dpop_jkt of the authorization request
	// (RFC 9449 §10): the token request must carry a DPoP proof by the
	// key with this thumbprint (see [DPoPKey]).
	JKT string
	// CodeChallenge is the PKCE code_challenge (RFC 7636 §4.2) with the
	// S256 method: base64url(SHA-256(code_verifier)), 43 characters.
	// Required; the plain method is not supported (RFC 9700 §2.1.1).
	CodeChallenge string
	// AuthTime is when the user authenticated, for an ID token's
	// auth_time claim; zero when unknown.
	AuthTime time.Time
}

// Issued is what the redemption of a code issued, recorded so that a
// replay of the code can revoke it (RFC 6749 §4.1.2). Every field may be
// empty: what is empty is not revoked.
type Issued struct {
	// RefreshFamily is the family of the refresh token issued (see
	// package token/refresh), if one was.
	RefreshFamily string
	// AccessIssuer, AccessID (its jti) and AccessExpiresAt name the
	// access token issued, for a revocation list.
	AccessIssuer    string
	AccessID        string
	AccessExpiresAt time.Time
}

// IsZero reports whether i records nothing.
func (i Issued) IsZero() bool {
	return i.RefreshFamily == "" && i.AccessIssuer == "" && i.AccessID == "" && i.AccessExpiresAt.IsZero()
}

// Record is one authorization code as stored.
type Record struct {
	Hash  Hash
	Grant Grant
	// IssuedAt is when the code was issued.
	IssuedAt time.Time
	// ExpiresAt is when the code stops being redeemable: IssuedAt plus
	// Config.Lifetime, at most MaxLifetime.
	ExpiresAt time.Time
	// UsedAt is when the code was redeemed (see [Store.Redeem]); zero
	// while it is not.
	UsedAt time.Time
	// ReusedAt is when the code was first presented again after UsedAt
	// (see [Store.Reuse]); zero while it was not.
	ReusedAt time.Time
	// Issued is what the redemption issued (see [Store.SetIssued]).
	Issued Issued
}

// Errors of a [Store].
var (
	// ErrNotFound: no code has this hash (or it was purged).
	ErrNotFound = errors.New("authcode: unknown authorization code")
	// ErrUsed: the code was redeemed already.
	ErrUsed = errors.New("authcode: authorization code already used")
	// ErrExists: a record with this hash exists already.
	ErrExists = errors.New("authcode: authorization code exists")
)

// Store keeps authorization code records. storetest is its conformance
// suite; [MemoryStore] and sqlstore (SQLite, PostgreSQL) implement it.
// Implementations must be safe for concurrent use, and every method must
// be atomic across every instance sharing the store: each one reads and
// writes one record in one step.
type Store interface {
	// Create stores rec as it is, or fails with ErrExists.
	Create(ctx context.Context, rec Record) error
	// Get returns the record with hash h, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, h Hash) (Record, error)
	// Redeem marks the record with hash h used at now, a time that is
	// not zero. It fails, changing nothing, with ErrNotFound, or with
	// ErrUsed when the record was used already: of concurrent Redeems of
	// one code exactly one succeeds.
	Redeem(ctx context.Context, h Hash, now time.Time) error
	// SetIssued records issued in the record with hash h and returns the
	// record as it is then, or fails with ErrNotFound. Whether the
	// returned record has a ReusedAt tells the redemption whether the
	// code was presented again before its tokens were recorded.
	SetIssued(ctx context.Context, h Hash, issued Issued) (Record, error)
	// Reuse notes that the record with hash h, used already, was
	// presented again at now: it sets ReusedAt to now unless it is set
	// already, and returns the record as it is then, with what its
	// redemption issued so far. A record not used yet is returned
	// unchanged. It fails with ErrNotFound.
	//
	// SetIssued and Reuse are the two sides of one handshake: of a
	// SetIssued and a Reuse of one record, whichever runs second sees
	// what the first wrote, so that the tokens of a code presented twice
	// are revoked whatever the timing.
	Reuse(ctx context.Context, h Hash, now time.Time) (Record, error)
	// Purge deletes the records not used whose ExpiresAt is at or before
	// expiredBefore, and the used ones whose UsedAt is at or before
	// usedBefore, and returns how many it deleted.
	Purge(ctx context.Context, expiredBefore, usedBefore time.Time) (int64, error)
}
