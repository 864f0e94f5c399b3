package token

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/sessionless/sessionless/internal/strictjson"
)

// Defaults and limits of [VerifierConfig].
const (
	DefaultLeeway         = 30 * time.Second
	MaxLeeway             = 5 * time.Minute
	DefaultMaxTokenLength = 8 << 10
	// DefaultMaxTokenLifetime bounds exp − iat of the tokens a Verifier
	// accepts and an Issuer issues. It is also the revocation list's
	// default (revocation.DefaultMaxTokenLifetime), so that "log out
	// everywhere" covers every token that can still be valid.
	DefaultMaxTokenLifetime = 24 * time.Hour
	// MaxIDLength is the longest "iss", "sub" and "jti" accepted (and
	// written by an Issuer), which must be valid UTF-8 without NUL: what a
	// revocation entry can name (revocation.MaxKeyLen), so that every
	// token that verifies can be revoked.
	MaxIDLength = 1024
)

// VerifierConfig configures a [Verifier]. Issuer and an audience are
// required.
type VerifierConfig struct {
	// Issuer is the exact "iss" a token must carry. Required.
	Issuer string
	// Audience must be one of the token's "aud" values. Required, unless
	// Audiences is set.
	Audience string
	// Audiences, when set, are accepted besides Audience: a token is for
	// this verifier when its "aud" holds any of them (an API known under
	// two identifiers, a provider's "account" audience).
	Audiences []string
	// Profile says what a token may leave out, for tokens minted by other
	// issuers (OpenID Connect providers, gateways, other libraries). The
	// zero value requires all of it: first-party access tokens (RFC 9068).
	Profile Profile
	// Leeway tolerates clock skew when checking exp, nbf and iat.
	// Zero means DefaultLeeway (30s); a negative value means none.
	// At most MaxLeeway.
	Leeway time.Duration
	// MaxTokenLength is the longest token accepted, in bytes, checked
	// before anything else. Zero means DefaultMaxTokenLength (8 KiB).
	MaxTokenLength int
	// MaxTokenLifetime is the longest lifetime accepted: a token whose exp
	// is more than this after its iat fails with ErrLifetime. Since iat
	// may be at most Leeway in the future, no accepted token expires more
	// than MaxTokenLifetime + Leeway from now. Zero means
	// DefaultMaxTokenLifetime (24h). A revocation list checked with this
	// verifier must keep entries at least as long
	// (revocation.Config.MaxTokenLifetime).
	MaxTokenLifetime time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Profile lists what a [Verifier] lets a token leave out. The zero value
// requires everything; set only what the issuer of the tokens really
// omits.
type Profile struct {
	// AnyType accepts a "typ" header other than "at+jwt", or none
	// (Keycloak and Auth0 write "JWT"). An ID token can then be told from
	// an access token only by its audience and claims.
	AnyType bool
	// NoJTI accepts tokens without "jti" (Auth0's often have none): they
	// can be revoked by subject only.
	NoJTI bool
	// NoIAT accepts tokens without "iat": the lifetime bound then applies
	// to exp − now. Not with NoJTI: a token with neither could be revoked
	// only with its subject's later tokens.
	NoIAT bool
	// NoSub accepts tokens without "sub" that carry a "jti", so that each
	// can still be revoked.
	NoSub bool
}

// Verifier verifies access tokens signed by the keys of a [KeySource].
// It is safe for concurrent use; it does no I/O and never fetches keys.
type Verifier struct {
	keys    KeySource
	iss     string
	aud     string
	auds    []string // Audiences
	profile Profile
	leeway  time.Duration
	maxLen  int
	maxLife time.Duration
	now     func() time.Time

	// headers caches parsed header segments of tokens that verified, so
	// the common case skips decoding the header. Copy-on-write, bounded.
	headers atomic.Pointer[map[string]*header]
	mu      sync.Mutex
}

const maxCachedHeaders = 64

type header struct {
	alg   Algorithm
	kid   string
	typOK bool
}

// NewVerifier returns a verifier for tokens from keys. It checks cfg once:
// a missing issuer or audience, an out-of-range leeway, length or
// lifetime, or an empty key set is an error.
func NewVerifier(keys KeySource, cfg VerifierConfig) (_ *Verifier, err error) {
	if keys == nil || keys.KeySet() == nil {
		return nil, fmt.Errorf("%w: no keys", ErrConfig)
	}
	if cfg.Issuer == "" {
		return nil, fmt.Errorf("%w: Issuer is required", ErrConfig)
	}
	if cfg.Audience == "" && len(cfg.Audiences) == 0 {
		return nil, fmt.Errorf("%w: Audience is required", ErrConfig)
	}
	if slices.Contains(cfg.Audiences, "") {
		return nil, fmt.Errorf("%w: an empty audience", ErrConfig)
	}
	if cfg.Profile.NoJTI && cfg.Profile.NoIAT {
		// Such a token could be revoked only with every later token of its
		// subject (a revocation by subject counts it as issued before).
		return nil, fmt.Errorf("%w: Profile NoJTI with NoIAT: a token needs a jti or an iat to be revoked alone", ErrConfig)
	}
	if !validID(cfg.Issuer) {
		return nil, fmt.Errorf("%w: Issuer is longer than %d bytes or contains NUL", ErrConfig, MaxIDLength)
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	case cfg.Leeway > MaxLeeway:
		return nil, fmt.Errorf("%w: Leeway %v exceeds %v", ErrConfig, cfg.Leeway, MaxLeeway)
	}
	if cfg.MaxTokenLength == 0 {
		cfg.MaxTokenLength = DefaultMaxTokenLength
	}
	if cfg.MaxTokenLength < 64 {
		return nil, fmt.Errorf("%w: MaxTokenLength %d is too small", ErrConfig, cfg.MaxTokenLength)
	}
	if cfg.MaxTokenLifetime, err = maxLifetime(cfg.MaxTokenLifetime); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{keys: keys, iss: cfg.Issuer, aud: cfg.Audience, auds: slices.Clone(cfg.Audiences), profile: cfg.Profile,
		leeway: cfg.Leeway, maxLen: cfg.MaxTokenLength, maxLife: cfg.MaxTokenLifetime, now: cfg.Now}
	v.headers.Store(&map[string]*header{})
	return v, nil
}

// maxLifetime applies the default to a configured maximum lifetime.
func maxLifetime(d time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return DefaultMaxTokenLifetime, nil
	case d < 0:
		return 0, fmt.Errorf("%w: negative MaxTokenLifetime", ErrConfig)
	}
	return d, nil
}

// Verify checks a compact JWS access token and returns its claims. Checks
// run cheapest first: length, structure and encoding, header (typ, crit,
// kid, alg), payload decoding; then the signature; then the claims. Every
// error wraps one of the package's sentinels; on error the claims are nil.
// The claims keep the decoded payload (for [Claims.Decode]) but not the
// token.
func (v *Verifier) Verify(raw string) (*Claims, error) {
	if len(raw) > v.maxLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, v.maxLen)
	}
	// Exactly three non-empty segments, found without allocating.
	d1 := strings.IndexByte(raw, '.')
	if d1 <= 0 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	d2 := strings.IndexByte(raw[d1+1:], '.') + d1 + 1
	if d2 <= d1+1 || d2 == len(raw)-1 || strings.IndexByte(raw[d2+1:], '.') >= 0 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	// The base64 decoder skips CR and LF; nothing else outside the
	// base64url alphabet gets past it, padding included.
	if strings.IndexByte(raw, '\n') >= 0 || strings.IndexByte(raw, '\r') >= 0 {
		return nil, fmt.Errorf("%w: line break inside the token", ErrMalformed)
	}

	hseg := raw[:d1]
	h, cached := (*v.headers.Load())[hseg]
	if !cached {
		var err error
		if h, err = parseHeader(hseg); err != nil {
			return nil, err
		}
	}
	if err := v.checkType(h); err != nil {
		return nil, err
	}
	set := v.keys.KeySet()
	key, err := keyFor(set, h)
	if err != nil {
		return nil, err
	}

	// The payload is decoded into its own allocation, which the claims
	// keep; their strings are slices of it.
	pseg := readOnly(raw[d1+1 : d2])
	buf := make([]byte, b64.DecodedLen(len(pseg)))
	n, err := b64.Decode(buf, pseg)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	c := &Claims{keys: v.keys, set: set, key: key}
	hasExp, hasIat, err := decodeClaims(c, buf[:n])
	if err != nil {
		return nil, err
	}
	if err := checkIDs(c); err != nil {
		return nil, err
	}

	if !key.verify(readOnly(raw[:d2]), readOnly(raw[d2+1:])) {
		return nil, ErrSignature
	}
	if !cached {
		v.cacheHeader(hseg, h)
	}

	if err := v.checkClaims(c, hasExp, hasIat); err != nil {
		return nil, err
	}
	return c, nil
}

// The guards below hold one rule each, in the order Verify applies them.
// Each returns nil or an error wrapping one sentinel.

// checkType: the "typ" header says "at+jwt" (RFC 9068 §4), unless the
// profile accepts any type.
func (v *Verifier) checkType(h *header) error {
	if !h.typOK && !v.profile.AnyType {
		return fmt.Errorf("%w: typ is not at+jwt", ErrWrongType)
	}
	return nil
}

// keyFor: "kid" names a key of set, and "alg" is that key's algorithm
// (under either of its names: EdDSA or Ed25519, [Algorithm.Equal]): the
// header never chooses the algorithm.
func keyFor(set *KeySet, h *header) (*Key, error) {
	key, ok := set.byID[h.kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	if !key.alg.Equal(h.alg) {
		return nil, fmt.Errorf("%w: header says %q, key %q is %s", ErrAlgorithm, h.alg, key.id, key.alg)
	}
	return key, nil
}

// checkIDs: "sub" and "jti" are what a revocation entry can name (see
// [validID]). Checked before the signature, as part of decoding.
func checkIDs(c *Claims) error {
	if !validID(c.Subject) || !validID(c.ID) {
		return fmt.Errorf("%w: sub and jti must be at most %d bytes, without NUL", ErrMalformed, MaxIDLength)
	}
	return nil
}

// checkClaims applies the claim rules of a token whose signature
// verified: presence first, then iss and aud, then the times against one
// reading of the clock. hasExp and hasIat say whether the payload carried
// exp and iat.
func (v *Verifier) checkClaims(c *Claims, hasExp, hasIat bool) error {
	if err := v.checkRequired(c, hasExp, hasIat); err != nil {
		return err
	}
	if err := v.checkIssuer(c.Issuer); err != nil {
		return err
	}
	if err := v.checkAudience(c.Audience); err != nil {
		return err
	}
	now := v.now()
	if err := v.checkExpiry(c.ExpiresAt, now); err != nil {
		return err
	}
	if err := v.checkNotBefore(c.NotBefore, now); err != nil {
		return err
	}
	if err := v.checkIssuedAt(c.IssuedAt, hasIat, now); err != nil {
		return err
	}
	return v.checkLifetime(c, hasIat, now)
}

// checkRequired: iss, aud and exp are always required; sub, iat and jti
// too, unless the profile lets the token leave them out (sub only when a
// jti names the token instead).
func (v *Verifier) checkRequired(c *Claims, hasExp, hasIat bool) error {
	p := &v.profile
	switch {
	case c.Issuer == "" || len(c.Audience) == 0 || !hasExp,
		c.Subject == "" && (!p.NoSub || c.ID == ""),
		!hasIat && !p.NoIAT,
		c.ID == "" && !p.NoJTI:
		return fmt.Errorf("%w: iss, sub, aud, exp, iat and jti are required", ErrMissingClaim)
	}
	return nil
}

// checkIssuer: "iss" is exactly the configured issuer.
func (v *Verifier) checkIssuer(iss string) error {
	if iss != v.iss {
		return ErrIssuer
	}
	return nil
}

// checkAudience: "aud" holds one of the configured audiences.
func (v *Verifier) checkAudience(aud Audience) error {
	if !v.forUs(aud) {
		return ErrAudience
	}
	return nil
}

// checkExpiry: now is before exp + leeway.
func (v *Verifier) checkExpiry(exp, now time.Time) error {
	if !now.Before(exp.Add(v.leeway)) {
		return ErrExpired
	}
	return nil
}

// checkNotBefore: "nbf", when present, is not after now + leeway.
func (v *Verifier) checkNotBefore(nbf, now time.Time) error {
	if !nbf.IsZero() && now.Add(v.leeway).Before(nbf) {
		return fmt.Errorf("%w: nbf is in the future", ErrNotYetValid)
	}
	return nil
}

// checkIssuedAt: "iat", when present, is not after now + leeway.
func (v *Verifier) checkIssuedAt(iat time.Time, hasIat bool, now time.Time) error {
	if hasIat && now.Add(v.leeway).Before(iat) {
		return fmt.Errorf("%w: iat is in the future", ErrNotYetValid)
	}
	return nil
}

// checkLifetime: exp − iat is at most the configured MaxTokenLifetime;
// without iat, exp − now is. With iat at most now + leeway, exp is at
// most now + leeway + MaxTokenLifetime: no accepted token outlives what
// a revocation list keeps.
func (v *Verifier) checkLifetime(c *Claims, hasIat bool, now time.Time) error {
	if hasIat && c.ExpiresAt.Sub(c.IssuedAt) > v.maxLife {
		return fmt.Errorf("%w: exp is more than %v after iat", ErrLifetime, v.maxLife)
	}
	if !hasIat && c.ExpiresAt.Sub(now) > v.maxLife {
		return fmt.Errorf("%w: exp is more than %v from now", ErrLifetime, v.maxLife)
	}
	return nil
}

// forUs reports whether aud holds one of the verifier's audiences.
func (v *Verifier) forUs(aud Audience) bool {
	if v.aud != "" && aud.Contains(v.aud) {
		return true
	}
	for _, a := range v.auds {
		if aud.Contains(a) {
			return true
		}
	}
	return false
}

// validID reports whether an iss, sub or jti can be named by a
// revocation entry: valid UTF-8 (what JSON carries unchanged), at most
// MaxIDLength bytes, no NUL.
func validID(s string) bool {
	return len(s) <= MaxIDLength && strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// readOnly returns the bytes of s without copying them. The slice must
// never be written to: it is only handed to decoders and to signature
// checks, which read their input.
func readOnly(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// parseHeader decodes a JOSE header with exact member names, refusing a
// member named twice (RFC 7515 §4).
func parseHeader(seg string) (*header, error) {
	b, err := b64.DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	h := &header{}
	var alg, typ string
	m := strictjson.Object(b)
	for m.Next() {
		var err error
		switch name := string(m.Name()); name {
		// RFC 7515 §4.1.11: extensions listed in crit must be understood;
		// this package understands none. b64 (RFC 7797) changes the
		// signing input and is refused with or without crit.
		case "crit", "b64":
			return nil, fmt.Errorf("%w: %q", ErrUnsupported, name)
		case "alg":
			alg, err = str(m.Value())
		case "kid":
			h.kid, err = str(m.Value())
		case "typ":
			typ, err = str(m.Value())
		}
		// jku, x5u, jwk and x5c are ignored: keys come only from the
		// KeySource.
		if err != nil {
			return nil, fmt.Errorf("%w: header %q is not a string", ErrMalformed, m.Name())
		}
	}
	if err := m.Err(); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if alg == "" {
		return nil, fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	h.alg = Algorithm(alg)
	h.typOK = strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
	return h, nil
}

func (v *Verifier) cacheHeader(seg string, h *header) {
	v.mu.Lock()
	defer v.mu.Unlock()
	old := *v.headers.Load()
	if len(old) >= maxCachedHeaders {
		return
	}
	m := make(map[string]*header, len(old)+1)
	for k, x := range old {
		m[k] = x
	}
	m[strings.Clone(seg)] = h
	v.headers.Store(&m)
}
