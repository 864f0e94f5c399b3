package consent

import (
	"context"
	"errors"
	"time"
)

// Consent is what a user consented to for one client: the scopes the
// authorization server may grant the client on the user's behalf without
// asking again.
type Consent struct {
	// Subject is the user's stable identifier (the "sub" of the tokens),
	// never a username or an email address, which can change hands.
	Subject string
	// ClientID is the client_id of the client consented to.
	ClientID string
	// Scopes are the scopes consented to, sorted (byte order) and without
	// duplicates: the union of every Grant since the consent was created
	// or last revoked. Nil when a Grant named none.
	Scopes []string
	// GrantedAt is the time of the latest Grant: the latest now any Grant
	// gave, so that instances with skewed clocks or racing Grants never
	// move it back.
	GrantedAt time.Time
}

// DefaultListLimit is how many consents [Store.List] returns when given
// no limit.
const DefaultListLimit = 100

// Errors of a [Store]. Any other error means that the store cannot answer
// now: the caller answers 503 and may try again.
var (
	// ErrNotFound: the subject has not consented to the client, or the
	// consent was revoked.
	ErrNotFound = errors.New("consent: not found")
	// ErrInvalid: the arguments are refused by [Check] or [CheckSubject]
	// (before any store access), a Grant's time is zero or one the store
	// cannot hold, or a Grant would make a consent of more than MaxScopes
	// scopes (see [Union]).
	ErrInvalid = errors.New("consent: invalid argument")
)

// Store keeps consents, one per subject and client. storetest is its
// conformance suite; [MemoryStore] and sqlstore (SQLite, PostgreSQL)
// implement it. Implementations must be safe for concurrent use, and
// every method must be atomic across every instance sharing the store.
//
// Every method first validates its arguments with [Check] (or
// [CheckSubject]) and refuses those it rejects with ErrInvalid, before any
// store access. Any error other than ErrNotFound and ErrInvalid means the
// store cannot answer now.
type Store interface {
	// Grant records that subject consented to scopes for clientID at now,
	// a time that is not zero: the consent's scopes become the union of
	// those consented already and these ([Union]), and its GrantedAt the
	// later of its own and now. Concurrent Grants for one subject and
	// client lose none of their scopes. A Grant whose union would exceed
	// MaxScopes is refused with ErrInvalid and changes nothing.
	Grant(ctx context.Context, subject, clientID string, scopes []string, now time.Time) error
	// Get returns subject's consent to clientID, or ErrNotFound.
	Get(ctx context.Context, subject, clientID string) (Consent, error)
	// List returns subject's consents, the latest GrantedAt first (and,
	// for equal ones, by ClientID in byte order), at most limit of them;
	// a limit of zero or less means DefaultListLimit. A subject without
	// consents has an empty list, not ErrNotFound.
	List(ctx context.Context, subject string, limit int) ([]Consent, error)
	// Revoke deletes subject's consent to clientID, and reports whether
	// there was one. It does not revoke the tokens issued under it.
	Revoke(ctx context.Context, subject, clientID string) (bool, error)
	// RevokeSubject deletes every consent of subject and returns how many
	// it deleted: for the deletion of the account. Logging out, even
	// everywhere, is not a reason to forget what the user consented to.
	RevokeSubject(ctx context.Context, subject string) (int, error)
}
