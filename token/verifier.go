package token

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults and limits of [VerifierConfig].
const (
	DefaultLeeway         = 30 * time.Second
	MaxLeeway             = 5 * time.Minute
	DefaultMaxTokenLength = 8 << 10
)

// VerifierConfig configures a [Verifier]. Issuer and Audience are required.
type VerifierConfig struct {
	// Issuer is the exact "iss" a token must carry. Required.
	Issuer string
	// Audience must be one of the token's "aud" values. Required.
	Audience string
	// Leeway tolerates clock skew when checking exp, nbf and iat.
	// Zero means DefaultLeeway (30s); a negative value means none.
	// At most MaxLeeway.
	Leeway time.Duration
	// MaxTokenLength is the longest token accepted, in bytes, checked
	// before anything else. Zero means DefaultMaxTokenLength (8 KiB).
	MaxTokenLength int
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Verifier verifies access tokens signed by the keys of a [KeySource].
// It is safe for concurrent use; it does no I/O and never fetches keys.
type Verifier struct {
	keys   KeySource
	iss    string
	aud    string
	leeway time.Duration
	maxLen int
	now    func() time.Time

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
// a missing issuer or audience, an out-of-range leeway or length, or an
// empty key set is an error.
func NewVerifier(keys KeySource, cfg VerifierConfig) (*Verifier, error) {
	if keys == nil || keys.KeySet() == nil {
		return nil, fmt.Errorf("%w: no keys", ErrConfig)
	}
	if cfg.Issuer == "" {
		return nil, fmt.Errorf("%w: Issuer is required", ErrConfig)
	}
	if cfg.Audience == "" {
		return nil, fmt.Errorf("%w: Audience is required", ErrConfig)
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{keys: keys, iss: cfg.Issuer, aud: cfg.Audience, leeway: cfg.Leeway, maxLen: cfg.MaxTokenLength, now: cfg.Now}
	v.headers.Store(&map[string]*header{})
	return v, nil
}

// verified is allocated once per Verify: the decoding target and the
// returned claims side by side.
type verified struct {
	claims Claims
	wire   wireClaims
}

// Verify checks a compact JWS access token and returns its claims. Checks
// run cheapest first: length, structure and encoding, header (typ, crit,
// kid, alg), payload decoding; then the signature; then the claims. Every
// error wraps one of the package's sentinels; on error the claims are nil.
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
	if !h.typOK {
		return nil, fmt.Errorf("%w: typ is not at+jwt", ErrWrongType)
	}
	key, ok := v.keys.KeySet().byID[h.kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	if key.alg != h.alg {
		return nil, fmt.Errorf("%w: header says %q, key %q is %s", ErrAlgorithm, h.alg, key.id, key.alg)
	}

	// One allocation holds a copy of the token (the signing input) and the
	// decoded payload, and the claims hold on to it for Claims.Decode.
	plen := b64.DecodedLen(d2 - d1 - 1)
	buf := make([]byte, len(raw)+plen)
	copy(buf, raw)
	n, err := b64.Decode(buf[len(raw):], buf[d1+1:d2])
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	payload := buf[len(raw) : len(raw)+n]

	out := &verified{wire: wireClaims{Exp: math.NaN(), Nbf: math.NaN(), Iat: math.NaN()}}
	w := &out.wire
	if err := json.Unmarshal(payload, w); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	exp, hasExp, err1 := toTime(w.Exp)
	nbf, _, err2 := toTime(w.Nbf)
	iat, hasIat, err3 := toTime(w.Iat)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("%w: exp, nbf and iat must be numbers of seconds between 1970 and 9999", ErrMalformed)
	}

	if !key.verify(buf[:d2], buf[d2+1:len(raw)]) {
		return nil, ErrSignature
	}
	if !cached {
		v.cacheHeader(hseg, h)
	}

	switch {
	case w.Iss == "" || w.Sub == "" || len(w.Aud) == 0 || !hasExp || !hasIat || w.Jti == "":
		return nil, fmt.Errorf("%w: iss, sub, aud, exp, iat and jti are required", ErrMissingClaim)
	case w.Iss != v.iss:
		return nil, ErrIssuer
	case !w.Aud.Contains(v.aud):
		return nil, ErrAudience
	}
	now := v.now()
	switch {
	case !now.Before(exp.Add(v.leeway)):
		return nil, ErrExpired
	case !nbf.IsZero() && now.Add(v.leeway).Before(nbf):
		return nil, fmt.Errorf("%w: nbf is in the future", ErrNotYetValid)
	case now.Add(v.leeway).Before(iat):
		return nil, fmt.Errorf("%w: iat is in the future", ErrNotYetValid)
	}

	out.claims = Claims{
		Issuer: w.Iss, Subject: w.Sub, Audience: w.Aud,
		ExpiresAt: exp, NotBefore: nbf, IssuedAt: iat,
		ID: w.Jti, ClientID: w.ClientID, Scope: w.Scope, Roles: w.Roles,
		payload: payload,
	}
	return &out.claims, nil
}

// parseHeader decodes a JOSE header with exact member names.
func parseHeader(seg string) (*header, error) {
	b, err := b64.DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	str := func(name string) (string, error) {
		raw, ok := m[name]
		if !ok {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: header %q is not a string", ErrMalformed, name)
		}
		return s, nil
	}
	// RFC 7515 §4.1.11: extensions listed in crit must be understood; this
	// package understands none. b64 (RFC 7797) changes the signing input
	// and is refused with or without crit.
	for _, name := range []string{"crit", "b64"} {
		if _, ok := m[name]; ok {
			return nil, fmt.Errorf("%w: %q", ErrUnsupported, name)
		}
	}
	h := &header{}
	alg, err := str("alg")
	if err != nil {
		return nil, err
	}
	if alg == "" {
		return nil, fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	if h.kid, err = str("kid"); err != nil {
		return nil, err
	}
	typ, err := str("typ")
	if err != nil {
		return nil, err
	}
	// jku, x5u, jwk and x5c are ignored: keys come only from the KeySource.
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
