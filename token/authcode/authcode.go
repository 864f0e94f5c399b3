package authcode

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sessionless/sessionless/internal/token32"
)

// Bounds and defaults of [Config].
const (
	// MaxLifetime is the longest lifetime of a code: OAuth 2.1 §4.1.2
	// recommends at most 10 minutes, the codes of this package's one
	// authorization server are redeemed within seconds of their issue,
	// and a short life bounds what a leaked code is worth.
	MaxLifetime = 60 * time.Second
	// DefaultLifetime is the lifetime of a Config that sets none.
	DefaultLifetime = MaxLifetime
	// DefaultKeepUsed is how long after its redemption a code's record is
	// kept by a Config that sets no KeepUsed: a replay within it revokes
	// the tokens issued from the code.
	DefaultKeepUsed = 24 * time.Hour
)

// Code format: Prefix and 43 base64url characters (32 random bytes).
const (
	Prefix  = "ac_"
	codeLen = len(Prefix) + 43
)

// Bounds of a PKCE code verifier (RFC 7636 §4.1).
const (
	MinVerifierLen = 43
	MaxVerifierLen = 128
)

// Errors of a [Manager]. Every refusal of a presented code wraps
// ErrInvalidGrant (RFC 6749 §5.2 "invalid_grant") and one of the more
// precise errors below or of the [Store] (ErrNotFound, ErrUsed); store
// failures wrap neither, and mean "try again later" (HTTP 503).
var (
	ErrInvalidGrant = errors.New("authcode: invalid grant")
	// ErrMalformed: the string is not shaped like a code. It is refused
	// before any store access.
	ErrMalformed = errors.New("authcode: malformed authorization code")
	// ErrExpired: the code is past its lifetime.
	ErrExpired = errors.New("authcode: authorization code expired")
	// ErrReused: the code was presented again after it was redeemed
	// (RFC 6749 §4.1.2). What its redemption issued has been revoked
	// through Config.Revoker.
	ErrReused = errors.New("authcode: authorization code reused; the tokens issued from it are revoked")
	// ErrMismatch: the client ID or the redirect URI of the token request
	// is not the one the code was issued for.
	ErrMismatch = errors.New("authcode: the authorization code was issued for another client or redirect URI")
	// ErrPKCE: the code verifier is malformed (refused before any store
	// access), or its S256 challenge is not the code's (RFC 7636 §4.6).
	ErrPKCE = errors.New("authcode: code verifier does not match the code challenge")
	// ErrDPoP: the code is bound to a DPoP key (Grant.JKT) and the token
	// request proved possession of no key or of another (RFC 9449 §10.1).
	ErrDPoP = errors.New("authcode: DPoP key does not match the authorization code's dpop_jkt")

	// ErrInvalidRequest: Issue was given a grant it cannot bind a code
	// to: no client, redirect URI or subject, or a code challenge that is
	// not an S256 digest. The authorization endpoint should have refused
	// the request first (RFC 6749 §4.1.2.1 "invalid_request").
	ErrInvalidRequest = errors.New("authcode: invalid authorization request")
)

// Revoker revokes what the redemption of a code issued, when the code is
// presented again. *refresh.Manager's RevokeFamily and a revocation
// list's RevokeToken do the work; [RevokerFunc] adapts a function.
type Revoker interface {
	RevokeIssued(ctx context.Context, issued Issued) error
}

// RevokerFunc is a [Revoker] that is a function.
type RevokerFunc func(ctx context.Context, issued Issued) error

// RevokeIssued implements [Revoker].
func (f RevokerFunc) RevokeIssued(ctx context.Context, issued Issued) error { return f(ctx, issued) }

// Config configures a [Manager].
type Config struct {
	// Store keeps the hashed codes. Nil means a new [MemoryStore].
	Store Store
	// Lifetime is how long a code can be redeemed after its issue. Zero
	// means DefaultLifetime (60 seconds); New refuses a negative one and
	// one longer than MaxLifetime (60 seconds).
	Lifetime time.Duration
	// KeepUsed is how long the record of a redeemed code is kept (see
	// [Manager.Purge]): a replay within it is detected and revokes the
	// tokens issued from the code; a later one is refused as an unknown
	// code and revokes nothing. Zero means DefaultKeepUsed (24 hours);
	// New refuses one shorter than Lifetime. Keep it at least as long as
	// the access tokens issued from a code live.
	KeepUsed time.Duration
	// Revoker revokes the tokens issued from a code presented again. Nil
	// revokes nothing: the replay is refused, and the tokens stay valid
	// until they expire.
	Revoker Revoker
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Manager issues and redeems authorization codes. It is safe for
// concurrent use, across instances too when they share the Store.
type Manager struct {
	cfg Config
}

// New returns a Manager for cfg.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Lifetime < 0 || cfg.Lifetime > MaxLifetime {
		return nil, fmt.Errorf("authcode: Lifetime %v is not within (0, MaxLifetime = %v]", cfg.Lifetime, MaxLifetime)
	}
	if cfg.KeepUsed == 0 {
		cfg.KeepUsed = DefaultKeepUsed
	}
	if cfg.KeepUsed < cfg.Lifetime {
		return nil, fmt.Errorf("authcode: KeepUsed %v is shorter than the Lifetime %v", cfg.KeepUsed, cfg.Lifetime)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg}, nil
}

// Lifetime returns the lifetime of the codes the Manager issues, for the
// authorization response's bookkeeping.
func (m *Manager) Lifetime() time.Duration { return m.cfg.Lifetime }

// Check reports whether raw is shaped like an authorization code, without
// touching the store: the prefix, the length and the base64url alphabet,
// canonically encoded. A refusal wraps ErrInvalidGrant and ErrMalformed.
func Check(raw string) error {
	if len(raw) != codeLen || !strings.HasPrefix(raw, Prefix) || !token32.Valid(raw[len(Prefix):]) {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, ErrMalformed)
	}
	return nil
}

// CheckVerifier reports whether v is shaped like a PKCE code verifier
// (RFC 7636 §4.1): 43 to 128 characters of the unreserved set
// [A-Za-z0-9-._~]. A refusal wraps ErrInvalidGrant and ErrPKCE.
func CheckVerifier(v string) error {
	if len(v) < MinVerifierLen || len(v) > MaxVerifierLen {
		return fmt.Errorf("%w: %w: the verifier has %d characters, want %d to %d",
			ErrInvalidGrant, ErrPKCE, len(v), MinVerifierLen, MaxVerifierLen)
	}
	for i := range len(v) {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return fmt.Errorf("%w: %w: the verifier has a character outside [A-Za-z0-9-._~]", ErrInvalidGrant, ErrPKCE)
		}
	}
	return nil
}

// Challenge returns the S256 code challenge of verifier (RFC 7636 §4.2):
// base64url(SHA-256(verifier)), without padding.
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Issue returns a new code for g, valid for Config.Lifetime. It refuses,
// with an error wrapping ErrInvalidRequest, a grant without ClientID,
// RedirectURI or Subject, or whose CodeChallenge is not an S256
// challenge (43 base64url characters): PKCE is required, and the plain
// method is not supported.
func (m *Manager) Issue(ctx context.Context, g Grant) (string, error) {
	switch {
	case g.ClientID == "":
		return "", fmt.Errorf("%w: no client ID", ErrInvalidRequest)
	case g.RedirectURI == "":
		return "", fmt.Errorf("%w: no redirect URI", ErrInvalidRequest)
	case g.Subject == "":
		return "", fmt.Errorf("%w: no subject", ErrInvalidRequest)
	case !token32.Valid(g.CodeChallenge):
		return "", fmt.Errorf("%w: the code challenge is not an S256 challenge (43 base64url characters)", ErrInvalidRequest)
	}
	raw := token32.New(Prefix)
	now := m.cfg.Now()
	rec := Record{Hash: HashCode(raw), Grant: g, IssuedAt: now, ExpiresAt: now.Add(m.cfg.Lifetime)}
	if err := m.cfg.Store.Create(ctx, rec); err != nil {
		return "", fmt.Errorf("authcode: storing a new code: %w", err)
	}
	return raw, nil
}

// IssueFunc mints the tokens of a redeemed code for g and returns what it
// issued, which the Manager records for revocation on a replay. Its
// errors pass through Redeem unchanged.
type IssueFunc func(ctx context.Context, g Grant) (Issued, error)

// A RedeemOption adds a check to Redeem.
type RedeemOption func(*redeemOptions)

type redeemOptions struct {
	jkt   string
	check func(Grant) error
}

// DPoPKey gives Redeem the thumbprint (RFC 7638) of the key the token
// request's DPoP proof was signed with, checked already by the caller;
// "" when the request carries no proof. A code bound to a key
// (Grant.JKT) is refused with ErrDPoP unless jkt is that key's, before
// the code is spent (RFC 9449 §10.1). A code not bound takes any proof.
func DPoPKey(jkt string) RedeemOption { return func(o *redeemOptions) { o.jkt = jkt } }

// CheckGrant gives Redeem a check of the caller's on the code's grant,
// run after Redeem's own checks and before the code is spent: its error
// is returned unchanged and the code stays good (a token request that
// names another resource than the code's, say, is the request's
// mistake, not a use of the code).
func CheckGrant(check func(Grant) error) RedeemOption {
	return func(o *redeemOptions) { o.check = check }
}

// Redeem redeems the code raw for the token request of clientID (the
// authenticated client, or the client_id of a public one), carrying
// redirectURI and the PKCE verifier, and returns its grant and what issue
// issued for it.
//
// In order, it refuses (wrapping ErrInvalidGrant):
//   - a malformed code (ErrMalformed) or verifier (ErrPKCE), before any
//     store access;
//   - an unknown code (ErrNotFound);
//   - a code redeemed already (ErrReused): whatever the client, verifier
//     or expiry, this is a second use, and the tokens issued from the
//     first are revoked through Config.Revoker (RFC 6749 §4.1.2);
//   - an expired code (ErrExpired);
//   - another client ID or redirect URI than the grant's, compared
//     exactly (ErrMismatch), a verifier whose S256 challenge is not the
//     grant's, compared in constant time (ErrPKCE), or a DPoP key that is
//     not the grant's (ErrDPoP, see [DPoPKey]).
//
// None of these refusals spends the code (see the package documentation
// for why that is safe). Then it spends the code in one atomic step of
// the store, so that of concurrent redemptions exactly one goes on (the
// others are second uses, ErrReused), calls issue, and records what issue
// returned. If issue fails, the code stays spent and its error is
// returned unchanged: the client starts the authorization over. If the
// code was presented again while issue ran, what issue issued is revoked
// and Redeem returns ErrReused too: a code presented twice yields no
// live tokens, whatever the timing.
func (m *Manager) Redeem(ctx context.Context, raw, clientID, redirectURI, verifier string, issue IssueFunc, opts ...RedeemOption) (Grant, Issued, error) {
	var o redeemOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := Check(raw); err != nil {
		return Grant{}, Issued{}, err
	}
	if err := CheckVerifier(verifier); err != nil {
		return Grant{}, Issued{}, err
	}
	h := HashCode(raw)
	rec, err := m.cfg.Store.Get(ctx, h)
	if err != nil {
		return Grant{}, Issued{}, m.refusal(err)
	}
	now := m.cfg.Now()
	if !rec.UsedAt.IsZero() {
		return Grant{}, Issued{}, m.reused(ctx, h, now)
	}
	if err := m.check(rec, now, clientID, redirectURI, verifier, o); err != nil {
		return Grant{}, Issued{}, err
	}
	if err := m.cfg.Store.Redeem(ctx, h, now); err != nil {
		if errors.Is(err, ErrUsed) { // a concurrent redemption won
			return Grant{}, Issued{}, m.reused(ctx, h, now)
		}
		return Grant{}, Issued{}, m.refusal(err)
	}
	issued, err := issue(ctx, rec.Grant)
	if err != nil {
		return Grant{}, Issued{}, err
	}
	after, err := m.cfg.Store.SetIssued(ctx, h, issued)
	if err != nil {
		// Tokens a replay could not revoke are never handed out.
		if rerr := m.revoke(ctx, issued); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return Grant{}, Issued{}, fmt.Errorf("authcode: recording the tokens issued from a code: %w", err)
	}
	if !after.ReusedAt.IsZero() {
		// Presented again while issue ran: that presentation found no
		// tokens to revoke, so they are revoked here.
		if err := m.revoke(ctx, issued); err != nil {
			return Grant{}, Issued{}, fmt.Errorf("authcode: revoking the tokens of a reused code: %w", err)
		}
		return Grant{}, Issued{}, fmt.Errorf("%w: %w", ErrInvalidGrant, ErrReused)
	}
	return rec.Grant, issued, nil
}

// check checks the token request against rec, a code not used yet: its
// expiry, client, redirect URI, PKCE verifier and DPoP key.
func (m *Manager) check(rec Record, now time.Time, clientID, redirectURI, verifier string, o redeemOptions) error {
	// A record is bounded by its ExpiresAt, and by MaxLifetime after its
	// IssuedAt whatever ExpiresAt says. An instance whose clock runs
	// ahead issues codes "in the future": their ExpiresAt bounds them
	// all the same.
	if !now.Before(rec.ExpiresAt) || !now.Before(rec.IssuedAt.Add(MaxLifetime)) {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, ErrExpired)
	}
	g := rec.Grant
	if clientID != g.ClientID {
		return fmt.Errorf("%w: %w: another client ID", ErrInvalidGrant, ErrMismatch)
	}
	if redirectURI != g.RedirectURI {
		return fmt.Errorf("%w: %w: another redirect URI", ErrInvalidGrant, ErrMismatch)
	}
	if subtle.ConstantTimeCompare([]byte(Challenge(verifier)), []byte(g.CodeChallenge)) != 1 {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, ErrPKCE)
	}
	if g.JKT != "" && o.jkt != g.JKT {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, ErrDPoP)
	}
	if o.check != nil {
		return o.check(g)
	}
	return nil
}

// reused answers a second use of the code with hash h: it marks the
// record reused, revokes what its redemption issued (if recorded yet;
// otherwise the redemption revokes it, see Store.Reuse), and returns
// ErrReused.
func (m *Manager) reused(ctx context.Context, h Hash, now time.Time) error {
	rec, err := m.cfg.Store.Reuse(ctx, h, now)
	if err != nil {
		return m.refusal(err)
	}
	if err := m.revoke(ctx, rec.Issued); err != nil {
		return fmt.Errorf("authcode: revoking the tokens of a reused code: %w", err)
	}
	return fmt.Errorf("%w: %w", ErrInvalidGrant, ErrReused)
}

// revoke revokes issued through Config.Revoker, if it records anything.
func (m *Manager) revoke(ctx context.Context, issued Issued) error {
	if m.cfg.Revoker == nil || issued.IsZero() {
		return nil
	}
	return m.cfg.Revoker.RevokeIssued(ctx, issued)
}

// refusal wraps the store's refusals in ErrInvalidGrant and passes other
// errors through.
func (m *Manager) refusal(err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	}
	return fmt.Errorf("authcode: %w", err)
}

// Purge deletes the records of codes that expired unused (at once: they
// issued nothing, and presenting them again is ErrNotFound instead of
// ErrExpired) and those of codes redeemed more than Config.KeepUsed ago
// (a replay is no longer detected then), and returns how many it deleted.
// Run it periodically.
func (m *Manager) Purge(ctx context.Context) (int64, error) {
	now := m.cfg.Now()
	n, err := m.cfg.Store.Purge(ctx, now, now.Add(-m.cfg.KeepUsed))
	if err != nil {
		return 0, fmt.Errorf("authcode: purging: %w", err)
	}
	return n, nil
}
