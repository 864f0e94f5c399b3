package refresh

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

// Hash is the SHA-256 of a refresh token: all a Store keeps of it. A
// token carries 256 bits that cannot be guessed (random, or an HMAC keyed
// with the token before it), so a fast hash is as strong as a slow one
// here, and a stolen database yields no usable token.
type Hash [sha256.Size]byte

// HashToken returns the hash of a raw refresh token.
func HashToken(raw string) Hash { return sha256.Sum256([]byte(raw)) }

// Grant is what a family of refresh tokens grants: the access tokens
// minted from it are for Subject, ClientID and Scope.
type Grant struct {
	Subject  string
	ClientID string
	Scope    string // space-separated
	// JKT, when not empty, binds the family to a DPoP key (RFC 9449 §5):
	// the thumbprint every refresh must prove possession of.
	JKT string
	// Resource, when not empty, is the resource indicator (RFC 8707) the
	// family was granted for: its access tokens are for that resource
	// alone, also after a refresh.
	Resource string
	// UserAgent is the User-Agent of the login that started the family,
	// cleaned by [CleanUserAgent], for a devices page to tell a subject's
	// families apart. It is what the client claimed, never checked: show
	// it escaped, and decide nothing on it.
	UserAgent string
}

// AccessToken names an access token issued together with a refresh token,
// so that revoking the family revokes it too.
type AccessToken struct {
	Issuer    string
	ID        string // jti
	ExpiresAt time.Time
}

// Record is one refresh token as stored. Every token of a family has a
// record; rotating spends the presented one and adds its successor, so
// the spent records are what detects reuse.
type Record struct {
	Hash   Hash
	Family string
	Grant  Grant
	// FamilyCreated is when the family's first token was issued: the
	// absolute lifetime counts from it.
	FamilyCreated time.Time
	// IssuedAt is when this token was issued, which is when its family was
	// last used: the idle lifetime counts from the newest token's.
	IssuedAt time.Time
	// SpentAt is when the token was rotated; zero while it is usable.
	SpentAt time.Time
	// RevokedAt is when the family was revoked; zero while it is not.
	RevokedAt time.Time
	// Access is the access token issued with this refresh token.
	Access AccessToken
	// Seed is the secret, 32 random bytes, that the successor of this
	// token is derived from: HMAC-SHA256 keyed with the raw token. Only
	// who holds the raw token and the seed can derive it, which is what
	// lets a rotation lost to a concurrent one of the same token find the
	// winner's successor (see Config.GracePeriod) while the store keeps
	// no usable token. Empty in the records of releases before seeds: such
	// a token's successor is random, and it has no grace period.
	Seed []byte
}

// Family is what a [Store] reports of a family of refresh tokens, from
// its newest token: one signed-in device or browser of its subject, for a
// devices page.
type Family struct {
	// ID is the family's ID (Record.Family).
	ID string
	// Grant is the grant of the family's newest token, UserAgent included.
	Grant Grant
	// Created is when the family's first token was issued
	// (Record.FamilyCreated): the absolute lifetime counts from it.
	Created time.Time
	// LastUsed is when the family's newest token was issued
	// (Record.IssuedAt), which is when the family was last used: the idle
	// lifetime counts from it.
	LastUsed time.Time
}

// Errors of a [Store].
var (
	// ErrNotFound: no token has this hash (or its family was purged).
	ErrNotFound = errors.New("refresh: unknown refresh token")
	// ErrSpent: the token was rotated already. Presenting it again is
	// reuse (RFC 9700 §4.14): its family must be revoked.
	ErrSpent = errors.New("refresh: refresh token already used")
	// ErrRevoked: the token's family was revoked.
	ErrRevoked = errors.New("refresh: refresh token revoked")
	// ErrExists: a record with this hash exists already.
	ErrExists = errors.New("refresh: refresh token exists")
)

// Store keeps refresh token records. storetest is its conformance suite;
// [MemoryStore] and sqlstore (SQLite, PostgreSQL) implement it.
// Implementations must be safe for concurrent use, and Rotate must be
// atomic across every instance sharing the store: of two concurrent
// rotations of one token exactly one succeeds.
type Store interface {
	// Create stores rec, the first token of a new family, or fails with
	// ErrExists.
	Create(ctx context.Context, rec Record) error
	// Get returns the record with hash h, spent and revoked ones included,
	// or an error wrapping ErrNotFound.
	Get(ctx context.Context, h Hash) (Record, error)
	// Rotate spends the token with hash old at now and stores next (same
	// family, not spent) in one atomic step. It fails, changing nothing,
	// with ErrNotFound, ErrRevoked (family revoked) or ErrSpent (spent
	// already, even by a concurrent Rotate), or ErrExists when old is
	// live but next's hash is taken. A spent old is ErrSpent even when
	// next is stored already: successors are derived from the token, so
	// the loser of a race presents the winner's. In the same step it
	// empties the Seed of the family's other spent tokens: their
	// successors are spent, so their grace is over, and a copy of the
	// store together with one of those old tokens must yield no later
	// token.
	Rotate(ctx context.Context, old Hash, now time.Time, next Record) error
	// RevokeFamily marks every token of family that is not revoked yet
	// revoked at now, and returns the access tokens issued with every
	// token of the family, revoked before or now: revoking them again is
	// harmless, and a caller whose revocation of them failed can retry.
	// An unknown family returns nothing and no error. It must not miss a
	// token stored by a concurrent Rotate in the family: either the
	// rotation fails with ErrRevoked, or its successor is revoked too.
	RevokeFamily(ctx context.Context, family string, now time.Time) ([]AccessToken, error)
	// RevokeSubject marks every token of every family of subject revoked
	// at now; like RevokeFamily, it must not miss a concurrent rotation.
	RevokeSubject(ctx context.Context, subject string, now time.Time) error
	// Families returns the families of subject that have no revoked
	// record, each as its newest record (the highest IssuedAt; of equal
	// ones an unspent one, then the lowest Hash) reports it, ordered by
	// that record's IssuedAt, newest first (then by its Hash), at most
	// limit of them: none for a limit below 1.
	Families(ctx context.Context, subject string, limit int) ([]Family, error)
	// Purge deletes the families created at or before createdBefore, and
	// those whose newest token was issued at or before lastUsedBefore:
	// they are past their absolute or idle lifetime. It returns how many
	// tokens (records) it deleted.
	Purge(ctx context.Context, createdBefore, lastUsedBefore time.Time) (int64, error)
}
