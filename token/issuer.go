package token

import (
	"crypto/rand"
	"fmt"
	"time"
)

// DefaultTTL is the access-token lifetime when [IssuerConfig.TTL] is zero.
const DefaultTTL = 15 * time.Minute

// IssuerConfig configures an [Issuer]. Issuer and Audience are required.
type IssuerConfig struct {
	// Issuer is written to "iss". Required.
	Issuer string
	// Audience is written to "aud" when the claims name none. Required.
	Audience []string
	// TTL is the lifetime of tokens whose ExpiresAt is zero.
	// Zero means DefaultTTL (15 minutes). At most MaxTokenLifetime.
	TTL time.Duration
	// MaxTokenLifetime is the longest lifetime (exp − iat) Issue writes:
	// a longer TTL is refused by NewIssuer, a longer ExpiresAt by Issue.
	// Zero means DefaultMaxTokenLifetime (24h), what verifiers accept by
	// default.
	MaxTokenLifetime time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Issuer signs access tokens with the signing key of a [KeySource].
// It is safe for concurrent use.
type Issuer struct {
	keys KeySource
	cfg  IssuerConfig
}

// NewIssuer returns an issuer signing with the current signing key of keys.
func NewIssuer(keys KeySource, cfg IssuerConfig) (*Issuer, error) {
	if keys == nil || keys.KeySet() == nil || keys.KeySet().SigningKey() == nil {
		return nil, fmt.Errorf("%w: no signing key", ErrConfig)
	}
	if cfg.Issuer == "" {
		return nil, fmt.Errorf("%w: Issuer is required", ErrConfig)
	}
	if len(cfg.Audience) == 0 {
		return nil, fmt.Errorf("%w: Audience is required", ErrConfig)
	}
	if !validID(cfg.Issuer) {
		return nil, fmt.Errorf("%w: Issuer is longer than %d bytes or contains NUL", ErrConfig, MaxIDLength)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("%w: negative TTL", ErrConfig)
	}
	var err error
	if cfg.MaxTokenLifetime, err = maxLifetime(cfg.MaxTokenLifetime); err != nil {
		return nil, err
	}
	if cfg.TTL > cfg.MaxTokenLifetime {
		return nil, fmt.Errorf("%w: TTL %v exceeds MaxTokenLifetime %v", ErrConfig, cfg.TTL, cfg.MaxTokenLifetime)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Audience = append([]string(nil), cfg.Audience...)
	return &Issuer{keys: keys, cfg: cfg}, nil
}

// Name returns the "iss" the issuer writes.
func (i *Issuer) Name() string { return i.cfg.Issuer }

// NewID returns a random token ID: 128 bits, base64url.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// Issue signs an access token for c and returns it with the claims as
// issued. Subject is required. Issue fills in what c leaves zero: Issuer
// (a different one is an error), Audience, IssuedAt (now), ExpiresAt
// (IssuedAt + TTL) and ID (random). IssuedAt is written with millisecond
// precision ("iat":1795348800.123, RFC 7519 allows fractions), the other
// dates in whole seconds. The header is
// {"alg":…,"kid":…,"typ":"at+jwt"}.
func (i *Issuer) Issue(c Claims) (string, Claims, error) {
	key := i.keys.KeySet().SigningKey()
	if key == nil {
		return "", Claims{}, fmt.Errorf("%w: the key set has no signing key", ErrConfig)
	}
	if c.Subject == "" {
		return "", Claims{}, fmt.Errorf("%w: Subject is required", ErrConfig)
	}
	switch c.Issuer {
	case "":
		c.Issuer = i.cfg.Issuer
	case i.cfg.Issuer:
	default:
		return "", Claims{}, fmt.Errorf("%w: issuer %q is not %q", ErrConfig, c.Issuer, i.cfg.Issuer)
	}
	if len(c.Audience) == 0 {
		c.Audience = i.cfg.Audience
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = i.cfg.Now()
	}
	// iat keeps milliseconds, so that a revocation of every token of the
	// subject issued before a moment (revocation.List.RevokeSubject) spares
	// tokens issued later in the same second.
	c.IssuedAt = c.IssuedAt.Truncate(time.Millisecond)
	if c.ExpiresAt.IsZero() {
		// Whole seconds, rounded up: the token lives at least TTL, so
		// expires_in = exp - iat in whole seconds is the TTL; rounded down
		// where up would exceed MaxTokenLifetime.
		exp := c.IssuedAt.Add(i.cfg.TTL)
		if t := exp.Truncate(time.Second); t.Before(exp) && t.Add(time.Second).Sub(c.IssuedAt) <= i.cfg.MaxTokenLifetime {
			exp = t.Add(time.Second)
		}
		c.ExpiresAt = exp
	}
	c.ExpiresAt = c.ExpiresAt.Truncate(time.Second)
	if !c.ExpiresAt.After(c.IssuedAt) {
		return "", Claims{}, fmt.Errorf("%w: ExpiresAt is not after IssuedAt", ErrConfig)
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt); life > i.cfg.MaxTokenLifetime {
		return "", Claims{}, fmt.Errorf("%w: lifetime %v exceeds MaxTokenLifetime %v", ErrConfig, life, i.cfg.MaxTokenLifetime)
	}
	if c.ID == "" {
		c.ID = NewID()
	}
	if !validID(c.Subject) || !validID(c.ID) {
		return "", Claims{}, fmt.Errorf("%w: Subject and ID must be at most %d bytes, without NUL", ErrConfig, MaxIDLength)
	}
	c.payload, c.keys, c.set, c.key = "", nil, nil, nil
	payload, err := c.MarshalJSON()
	if err != nil {
		return "", Claims{}, err
	}
	input := key.header + "." + b64.EncodeToString(payload)
	sig, err := key.sign(input)
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: signing with %q: %w", key.id, err)
	}
	return input + "." + b64.EncodeToString(sig), c, nil
}
