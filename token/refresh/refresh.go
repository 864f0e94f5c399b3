package refresh

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sessionless/sessionless/internal/token32"
)

// Defaults and bounds of [Config].
const (
	DefaultAbsoluteLifetime = 30 * 24 * time.Hour
	DefaultIdleLifetime     = 7 * 24 * time.Hour
	// DefaultGracePeriod is the grace period of a Config that sets none:
	// enough for the tabs of one browser, and for a client retrying a
	// refresh whose response it lost, not for a replay much later.
	DefaultGracePeriod = 10 * time.Second
	// MaxGracePeriod is the longest grace period [New] accepts: longer,
	// a stolen token would be worth too much.
	MaxGracePeriod = time.Minute
)

// MaxFamilies is the most families [Manager.Families] lists.
const MaxFamilies = 100

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
	// ErrReused: a spent token was presented again, and the grace period
	// (Config.GracePeriod) did not cover it. Its family, and the access
	// tokens issued from it, have been revoked.
	ErrReused = errors.New("refresh: refresh token reused; its family is revoked")
	// ErrMint: the mint callback of a reissue returned an access token
	// without Minting.Reissue's ID (a bug of the caller's: HTTP 500, not
	// a store that cannot answer).
	ErrMint = errors.New("refresh: the reissued access token must have Minting.Reissue's ID")
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
	// GracePeriod is how long after a token was rotated presenting it
	// again still succeeds, with the same successor, instead of being
	// taken for reuse. Zero means DefaultGracePeriod (10 seconds); a
	// negative one turns the grace off; New refuses more than
	// MaxGracePeriod (1 minute).
	//
	// Why: the tabs of one browser share its refresh token, and two of
	// them often refresh at the same moment (waking from sleep, a
	// focused window); a client may also lose the response to a refresh
	// and retry it. Without a grace period the second request is reuse
	// and logs the user out everywhere. This is Auth0's reuse interval
	// and Okta's grace period.
	//
	// How: a token's successor is not random but derived from the raw
	// token and a secret seed stored with it (see Record.Seed), so a
	// second rotation within the period, on any instance, finds the
	// successor the first one stored, and returns that very token with
	// an access token minted again (see Minting.Reissue). Nothing is
	// written: the presented token stays spent, and the family has one
	// live token still. The grace applies only while that successor is
	// itself unspent and the family unrevoked and within its lifetimes:
	// presenting the token once its successor was rotated, or after the
	// period, is reuse as ever.
	//
	// The trade-off: within the period, a thief presenting a token the
	// legitimate client has just rotated gets the client's successor,
	// and no reuse is detected then. The thief needs the raw token within
	// seconds of its use, and detection is postponed, not lost: whichever
	// of the two rotates the shared successor first, the other's later
	// use of it is reuse and revokes the family. Turn the grace off where
	// a single client per family is certain.
	GracePeriod time.Duration
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
	if cfg.GracePeriod == 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.GracePeriod > MaxGracePeriod {
		return nil, fmt.Errorf("refresh: GracePeriod %v is longer than MaxGracePeriod (%v)", cfg.GracePeriod, MaxGracePeriod)
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
	raw := token32.New(Prefix)
	return raw, HashToken(raw)
}

// newSeed returns a new Record.Seed.
func newSeed() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// successor returns the successor of the token raw whose record has seed,
// and its hash: Prefix and the base64url HMAC-SHA256 of seed keyed with
// raw (32 bytes, a token [Check] accepts). Deriving it takes both the raw
// token, which the store never sees, and the seed, which only the store
// holds. A record without a seed gets a random successor.
func successor(raw string, seed []byte) (string, Hash) {
	if len(seed) == 0 {
		return newToken()
	}
	mac := hmac.New(sha256.New, []byte(raw))
	mac.Write(seed)
	next := Prefix + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	return next, HashToken(next)
}

// newFamily returns a new random family ID.
func newFamily() string { return "fam_" + strings.ToLower(rand.Text()) }

// Check reports whether raw is shaped like a refresh token, without
// touching the store: the prefix, the length and canonical base64url.
func Check(raw string) error {
	if len(raw) != tokenLen || !strings.HasPrefix(raw, Prefix) || !token32.Valid(raw[len(Prefix):]) {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, ErrMalformed)
	}
	return nil
}

// Minting is what an access token minted with a refresh token is for:
// what a [Mint] is given.
type Minting struct {
	// Grant is the grant of the family: of the presented token on a
	// rotation (unbound still when BindTo binds the successor), of the
	// successor on a reissue (see Reissue).
	Grant Grant
	// Family is the family's ID, for the access token's "sid" claim: it
	// is what a devices page lists and ends ([Manager.Families]).
	Family string
	// Created is when the family started: its absolute lifetime counts
	// from it.
	Created time.Time
	// Reissue, when its ID is set, is the access token recorded with the
	// successor that a rotation of the same token made within the grace
	// period: mint one with this ID (jti) and ExpiresAt, so that revoking
	// the family revokes it too. Rotate fails with ErrMint if the access
	// token minted has another ID.
	Reissue AccessToken
}

// Mint mints the access token that goes with a refresh token, for m, and
// returns what the store records of it. Its errors pass through Rotate
// and Start unchanged.
type Mint func(ctx context.Context, m Minting) (AccessToken, error)

// Issue starts a new family for g and returns its first token. access is
// the access token issued alongside, recorded so that revoking the
// family revokes it too. g.UserAgent is cleaned by [CleanUserAgent].
// [Manager.Start] does the same with an access token that can name the
// family.
func (m *Manager) Issue(ctx context.Context, g Grant, access AccessToken) (string, error) {
	if g.Subject == "" {
		return "", errors.New("refresh: the grant has no subject")
	}
	g.UserAgent = CleanUserAgent(g.UserAgent)
	return m.create(ctx, g, newFamily(), m.cfg.Now(), access)
}

// Start starts a new family for g and returns its first token and the
// family's ID. It picks the ID first and then calls mint, with the grant,
// the ID and the family's start, so that the access token issued with
// the token can carry the family (as "sid"), and records that access
// token so that revoking the family revokes it too. g.UserAgent is
// cleaned by [CleanUserAgent]. mint's errors are returned unchanged, and
// nothing is stored then.
func (m *Manager) Start(ctx context.Context, g Grant, mint Mint) (raw, family string, err error) {
	if g.Subject == "" {
		return "", "", errors.New("refresh: the grant has no subject")
	}
	g.UserAgent = CleanUserAgent(g.UserAgent)
	family, now := newFamily(), m.cfg.Now()
	access, err := mint(ctx, Minting{Grant: g, Family: family, Created: now})
	if err != nil {
		return "", "", err
	}
	if raw, err = m.create(ctx, g, family, now, access); err != nil {
		return "", "", err
	}
	return raw, family, nil
}

// create stores the first token of a new family and returns it.
func (m *Manager) create(ctx context.Context, g Grant, family string, now time.Time, access AccessToken) (string, error) {
	raw, h := newToken()
	rec := Record{Hash: h, Family: family, Grant: g, FamilyCreated: now, IssuedAt: now, Access: access, Seed: newSeed()}
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
//
// Within the grace period (Config.GracePeriod), presenting a token
// rotated already returns the successor that rotation stored, the same
// token, with its grant (bound by then, if that rotation bound it), and
// calls mint with Minting.Reissue set to the successor's access token;
// nothing is written. So two concurrent rotations of one token, on any
// instances, both succeed with one successor: the one that loses the
// race in the store has called mint once already, discards that access
// token, which was never handed out, and calls mint again with Reissue.
func (m *Manager) Rotate(ctx context.Context, raw string, mint Mint, opts ...RotateOption) (string, Grant, error) {
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
		return m.spent(ctx, raw, rec, now, mint)
	case !rec.RevokedAt.IsZero():
		return "", Grant{}, fmt.Errorf("%w: %w", ErrInvalidGrant, ErrRevoked)
	case m.expired(rec.FamilyCreated, rec.IssuedAt, now):
		return "", Grant{}, fmt.Errorf("%w: %w", ErrInvalidGrant, ErrExpired)
	}
	access, err := mint(ctx, Minting{Grant: rec.Grant, Family: rec.Family, Created: rec.FamilyCreated})
	if err != nil {
		return "", Grant{}, err
	}
	next, nh := successor(raw, rec.Seed)
	succ := rec
	succ.Hash, succ.IssuedAt, succ.SpentAt, succ.Access, succ.Seed = nh, now, time.Time{}, access, newSeed()
	if succ.Grant.JKT == "" {
		succ.Grant.JKT = o.jkt
	}
	if err := m.cfg.Store.Rotate(ctx, h, now, succ); err != nil {
		if !errors.Is(err, ErrSpent) {
			return "", Grant{}, m.refusal(err)
		}
		// A concurrent rotation of the same token won the race: read
		// when it spent the token, for the grace period.
		if rec, err = m.cfg.Store.Get(ctx, h); err != nil {
			return "", Grant{}, m.refusal(err)
		}
		return m.spent(ctx, raw, rec, now, mint)
	}
	return next, succ.Grant, nil
}

// expired reports whether a family created at created whose newest token
// was issued at issued is past its absolute or idle lifetime at now.
func (m *Manager) expired(created, issued, now time.Time) bool {
	return !now.Before(created.Add(m.cfg.AbsoluteLifetime)) || !now.Before(issued.Add(m.cfg.IdleLifetime))
}

// spent answers the presentation of raw, whose record rec is spent: with
// its successor, minted again, within the grace period; as reuse
// otherwise.
func (m *Manager) spent(ctx context.Context, raw string, rec Record, now time.Time, mint Mint) (string, Grant, error) {
	next, succ, err := m.graced(ctx, raw, rec, now)
	if err != nil {
		return "", Grant{}, err
	}
	if next == "" {
		// Reuse, also in a family revoked already: revoking it again
		// repeats the revocation of its access tokens, in case an earlier
		// attempt failed half-way (the store of revocations was down).
		return "", Grant{}, m.reused(ctx, rec.Family)
	}
	access, err := mint(ctx, Minting{Grant: succ.Grant, Family: succ.Family, Created: succ.FamilyCreated, Reissue: succ.Access})
	if err != nil {
		return "", Grant{}, err
	}
	if succ.Access.ID != "" && access.ID != succ.Access.ID {
		// That access token would escape the revocation of its family.
		return "", Grant{}, fmt.Errorf("%w: got %q, want %q", ErrMint, access.ID, succ.Access.ID)
	}
	return next, succ.Grant, nil
}

// graced returns the successor of raw, whose record rec is spent, when
// the grace period covers presenting raw again, and "" otherwise. It
// covers it when rec has a seed (older records have none), its family is
// not revoked, it was spent less than the grace period before or after
// now (the clocks of instances differ a little; one stepped back far
// does not get more grace), and the successor derived from it is stored,
// in the same family, unspent, unrevoked and within the family's
// lifetimes. Store failures are returned.
func (m *Manager) graced(ctx context.Context, raw string, rec Record, now time.Time) (string, Record, error) {
	grace, since := m.cfg.GracePeriod, now.Sub(rec.SpentAt)
	if grace <= 0 || len(rec.Seed) == 0 || !rec.RevokedAt.IsZero() || since <= -grace || since >= grace {
		return "", Record{}, nil
	}
	next, nh := successor(raw, rec.Seed)
	succ, err := m.cfg.Store.Get(ctx, nh)
	switch {
	case errors.Is(err, ErrNotFound):
		return "", Record{}, nil
	case err != nil:
		return "", Record{}, fmt.Errorf("refresh: reading the successor of a spent token: %w", err)
	case succ.Family != rec.Family, !succ.SpentAt.IsZero(), !succ.RevokedAt.IsZero(),
		m.expired(succ.FamilyCreated, succ.IssuedAt, now):
		return "", Record{}, nil
	}
	return next, succ, nil
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

// Families returns the live families of subject (within their absolute
// and idle lifetimes, not revoked), newest use first: the devices and
// browsers the subject is signed in on, for a devices page. It lists at
// most MaxFamilies: the live ones among the MaxFamilies used last.
func (m *Manager) Families(ctx context.Context, subject string) ([]Family, error) {
	fams, err := m.cfg.Store.Families(ctx, subject, MaxFamilies)
	if err != nil {
		return nil, fmt.Errorf("refresh: listing families: %w", err)
	}
	now := m.cfg.Now()
	return slices.DeleteFunc(fams, func(f Family) bool { return m.expired(f.Created, f.LastUsed, now) }), nil
}

// EndFamily revokes family, one of the families [Manager.Families] lists
// for subject: its refresh tokens stop at once, and its access tokens
// through Config.Revoker ("sign out this device"). Any other family (of
// another subject, revoked, expired or unknown) is an error wrapping
// ErrInvalidGrant and ErrNotFound, and nothing is revoked. When revoking
// the access tokens fails, the refresh tokens are revoked already, and a
// second EndFamily finds no such family: the access tokens then last
// until they expire. [Manager.Revoke] with a token of the family retries.
func (m *Manager) EndFamily(ctx context.Context, subject, family string) error {
	fams, err := m.Families(ctx, subject)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(fams, func(f Family) bool { return f.ID == family }) {
		return fmt.Errorf("%w: %w: no such live family of the subject", ErrInvalidGrant, ErrNotFound)
	}
	if err := m.revokeFamily(ctx, family); err != nil {
		return fmt.Errorf("refresh: ending a family: %w", err)
	}
	return nil
}

// RevokeFamily revokes the family with this ID, whoever's it is, and its
// access tokens through Config.Revoker: for a family the caller vouches
// for, such as the "sid" of an access token it signed (logout). Revoking
// a revoked family again revokes its access tokens again, so a call that
// failed half-way can be retried; an unknown family is no error.
func (m *Manager) RevokeFamily(ctx context.Context, family string) error {
	if family == "" {
		return errors.New("refresh: no family")
	}
	if err := m.revokeFamily(ctx, family); err != nil {
		return fmt.Errorf("refresh: revoking a family: %w", err)
	}
	return nil
}

// MaxUserAgentLength is the most bytes of a User-Agent [CleanUserAgent]
// keeps.
const MaxUserAgentLength = 256

// CleanUserAgent returns s fit for Grant.UserAgent: valid UTF-8 (each
// invalid byte replaced by U+FFFD), without control characters (C0 and
// C1, NUL and DEL included: no line breaks or terminal escapes in what a
// devices page or a log shows), and cut to at most MaxUserAgentLength
// bytes at a character boundary. A User-Agent is what the client says,
// any length and bytes; the store holds UTF-8 text without NUL.
func CleanUserAgent(s string) string {
	var b strings.Builder
	for _, r := range s { // an invalid byte is utf8.RuneError, U+FFFD
		if unicode.IsControl(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > MaxUserAgentLength {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
