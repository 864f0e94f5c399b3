package refresh

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of [Config].
const (
	DefaultAbsoluteLifetime = 30 * 24 * time.Hour
	DefaultIdleLifetime     = 7 * 24 * time.Hour
)

// Token format: Prefix and 43 base64url characters (32 random bytes).
const (
	Prefix   = "rt_"
	tokenLen = len(Prefix) + 43
)

// Errors of a [Manager]. Every refusal of a presented refresh token wraps
// ErrInvalidGrant (RFC 6749 §5.2 "invalid_grant") and one of the more
// precise errors; store failures wrap neither, and mean "try again later"
// (HTTP 503).
var (
	ErrInvalidGrant = errors.New("refresh: invalid grant")
	// ErrMalformed: the string is not shaped like a refresh token. It is
	// refused before any store access.
	ErrMalformed = errors.New("refresh: malformed refresh token")
	// ErrExpired: the family is past its absolute or idle lifetime.
	ErrExpired = errors.New("refresh: refresh token expired")
	// ErrReused: a spent token was presented again. Its family, and the
	// access tokens issued from it, have been revoked.
	ErrReused = errors.New("refresh: refresh token reused; its family is revoked")
)

// Revoker revokes an access token by issuer and jti until it expires;
// *revocation.List implements it.
type Revoker interface {
	RevokeToken(ctx context.Context, issuer, jti string, exp time.Time) error
}

// Config configures a [Manager].
type Config struct {
	// Store keeps the hashed tokens. Nil means a new [MemoryStore].
	Store Store
	// AbsoluteLifetime bounds a family from its first token; zero means
	// DefaultAbsoluteLifetime (30 days).
	AbsoluteLifetime time.Duration
	// IdleLifetime bounds a family from its newest token; zero means
	// DefaultIdleLifetime (7 days).
	IdleLifetime time.Duration
	// Revoker revokes the access tokens of a family when the family is
	// revoked (reuse, logout). Nil leaves them valid until they expire.
	Revoker Revoker
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Manager issues, rotates and revokes refresh tokens. It is safe for
// concurrent use, across instances too when they share the Store.
type Manager struct {
	cfg Config
}

// New returns a Manager for cfg.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.AbsoluteLifetime == 0 {
		cfg.AbsoluteLifetime = DefaultAbsoluteLifetime
	}
	if cfg.IdleLifetime == 0 {
		cfg.IdleLifetime = DefaultIdleLifetime
	}
	if cfg.AbsoluteLifetime < 0 || cfg.IdleLifetime < 0 {
		return nil, errors.New("refresh: negative lifetime")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg}, nil
}

// Revoker returns Config.Revoker: nil when the access tokens of revoked
// families are not revoked with them.
func (m *Manager) Revoker() Revoker { return m.cfg.Revoker }

// Lifetimes returns the absolute and idle lifetimes of families.
func (m *Manager) Lifetimes() (absolute, idle time.Duration) {
	return m.cfg.AbsoluteLifetime, m.cfg.IdleLifetime
}

// newToken returns a new random token and its hash.
func newToken() (string, Hash) {
	var b [32]byte
	rand.Read(b[:])
	raw := Prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return raw, HashToken(raw)
}

// newFamily returns a new random family ID.
func newFamily() string { return "fam_" + strings.ToLower(rand.Text()) }

// Check reports whether raw is shaped like a refresh token, without
// touching the store: the prefix, the length and the base64url alphabet.
func Check(raw string) error {
	if len(raw) != tokenLen || !strings.HasPrefix(raw, Prefix) {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, ErrMalformed)
	}
	for i := len(Prefix); i < len(raw); i++ {
		c := raw[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %w", ErrInvalidGrant, ErrMalformed)
		}
	}
	// 43 characters carry 258 bits: the last one holds 4 bits, so only
	// canonical encodings are accepted.
	if _, err := base64.RawURLEncoding.Strict().DecodeString(raw[len(Prefix):]); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, ErrMalformed)
	}
	return nil
}

// Issue starts a new family for g and returns its first token. access is
// the access token issued alongside, recorded so that revoking the
// family revokes it too.
func (m *Manager) Issue(ctx context.Context, g Grant, access AccessToken) (string, error) {
	if g.Subject == "" {
		return "", errors.New("refresh: the grant has no subject")
	}
	raw, h := newToken()
	now := m.cfg.Now()
	rec := Record{Hash: h, Family: newFamily(), Grant: g, FamilyCreated: now, IssuedAt: now, Access: access}
	if err := m.cfg.Store.Create(ctx, rec); err != nil {
		return "", fmt.Errorf("refresh: storing a new token: %w", err)
	}
	return raw, nil
}

// Rotate spends raw and returns its successor in the same family, with
// the grant. mint issues the access token that goes with the successor;
// it is called once the token has been checked, and its token is wasted
// if the rotation then fails. Presenting a spent token revokes its family
// (and, through Config.Revoker, the family's access tokens) and returns
// ErrReused. Refusals wrap ErrInvalidGrant. The grant returned is the
// successor's: with BindTo, an unbound family is bound from it on.
func (m *Manager) Rotate(ctx context.Context, raw string, mint func(context.Context, Grant) (AccessToken, error), opts ...RotateOption) (string, Grant, error) {
	var o rotateOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := Check(raw); err != nil {
		return "", Grant{}, err
	}
	h := HashToken(raw)
	rec, err := m.cfg.Store.Get(ctx, h)
	if err != nil {
		return "", Grant{}, m.refusal(err)
	}
	now := m.cfg.Now()
	switch {
	case !rec.SpentAt.IsZero():
		// Reuse, also in a family revoked already: revoking it again
		// repeats the revocation of its access tokens, in case an earlier
		// attempt failed half-way (the store of revocations was down).
		return "", Grant{}, m.reused(ctx, rec.Family)
	case !rec.RevokedAt.IsZero():
		return "", Grant{}, fmt.Errorf("%w: %w", ErrInvalidGrant, ErrRevoked)
	case !now.Before(rec.FamilyCreated.Add(m.cfg.AbsoluteLifetime)), !now.Before(rec.IssuedAt.Add(m.cfg.IdleLifetime)):
		return "", Grant{}, fmt.Errorf("%w: %w", ErrInvalidGrant, ErrExpired)
	}
	access, err := mint(ctx, rec.Grant)
	if err != nil {
		return "", Grant{}, err
	}
	next, nh := newToken()
	succ := rec
	succ.Hash, succ.IssuedAt, succ.SpentAt, succ.Access = nh, now, time.Time{}, access
	if succ.Grant.JKT == "" {
		succ.Grant.JKT = o.jkt
	}
	if err := m.cfg.Store.Rotate(ctx, h, now, succ); err != nil {
		if errors.Is(err, ErrSpent) { // a concurrent use won the race
			return "", Grant{}, m.reused(ctx, rec.Family)
		}
		return "", Grant{}, m.refusal(err)
	}
	return next, succ.Grant, nil
}

// A RotateOption changes how Rotate makes the successor.
type RotateOption func(*rotateOptions)

type rotateOptions struct{ jkt string }

// BindTo binds the successor of a family that is not bound yet to the
// DPoP key with thumbprint jkt (RFC 9449 §5: a refresh token issued to a
// public client that presents a proof is bound to its key): every later
// refresh of the family then needs a proof by that key. A family bound
// already keeps its key; "" binds nothing. The mint callback sees the
// grant as stored (unbound) and must check the proof itself.
func BindTo(jkt string) RotateOption { return func(o *rotateOptions) { o.jkt = jkt } }

// refusal wraps the store's refusals in ErrInvalidGrant and passes other
// errors through.
func (m *Manager) refusal(err error) error {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrRevoked) {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	}
	return fmt.Errorf("refresh: %w", err)
}

// reused revokes the family of a reused token.
func (m *Manager) reused(ctx context.Context, family string) error {
	if err := m.revokeFamily(ctx, family); err != nil {
		return fmt.Errorf("refresh: revoking the family of a reused token: %w", err)
	}
	return fmt.Errorf("%w: %w", ErrInvalidGrant, ErrReused)
}

func (m *Manager) revokeFamily(ctx context.Context, family string) error {
	access, err := m.cfg.Store.RevokeFamily(ctx, family, m.cfg.Now())
	if err != nil {
		return err
	}
	if m.cfg.Revoker == nil {
		return nil
	}
	for _, a := range access {
		if a.ID == "" {
			continue
		}
		if err := m.cfg.Revoker.RevokeToken(ctx, a.Issuer, a.ID, a.ExpiresAt); err != nil {
			return err
		}
	}
	return nil
}

// Revoke revokes the family of raw, spent or not, and its access tokens:
// logout. subject must own the token; otherwise, and for an unknown or
// malformed token, it returns an error wrapping ErrInvalidGrant and
// revokes nothing.
func (m *Manager) Revoke(ctx context.Context, raw, subject string) error {
	if err := Check(raw); err != nil {
		return err
	}
	rec, err := m.cfg.Store.Get(ctx, HashToken(raw))
	if err != nil {
		return m.refusal(err)
	}
	if rec.Grant.Subject != subject {
		return fmt.Errorf("%w: the refresh token belongs to another subject", ErrInvalidGrant)
	}
	if err := m.revokeFamily(ctx, rec.Family); err != nil {
		return fmt.Errorf("refresh: revoking a family: %w", err)
	}
	return nil
}

// Lookup returns the grant of raw, a refresh token of any state (spent,
// revoked or expired families included), without changing anything: for
// a revocation endpoint (RFC 7009) that must check whose token it is
// before revoking it with [Manager.Revoke]. An unknown or malformed token
// is an error wrapping ErrInvalidGrant.
func (m *Manager) Lookup(ctx context.Context, raw string) (Grant, error) {
	if err := Check(raw); err != nil {
		return Grant{}, err
	}
	rec, err := m.cfg.Store.Get(ctx, HashToken(raw))
	if err != nil {
		return Grant{}, m.refusal(err)
	}
	return rec.Grant, nil
}

// RevokeSubject revokes every refresh token of subject ("log out
// everywhere"). Revoke the subject's access tokens with the revocation
// list.
func (m *Manager) RevokeSubject(ctx context.Context, subject string) error {
	if err := m.cfg.Store.RevokeSubject(ctx, subject, m.cfg.Now()); err != nil {
		return fmt.Errorf("refresh: revoking a subject: %w", err)
	}
	return nil
}

// Purge deletes the families past their absolute or idle lifetime, and
// returns how many tokens it deleted.
func (m *Manager) Purge(ctx context.Context) (int64, error) {
	now := m.cfg.Now()
	return m.cfg.Store.Purge(ctx, now.Add(-m.cfg.AbsoluteLifetime), now.Add(-m.cfg.IdleLifetime))
}
