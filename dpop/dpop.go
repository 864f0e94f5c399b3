// Package dpop checks DPoP proofs (RFC 9449): a JWS the client signs with
// a key it holds, for each request, binding the request (method and URL),
// the moment (iat) and the access token (ath) to that key. A token bound
// to the key (its cnf.jkt, the key's RFC 7638 thumbprint) is useless
// without it: a stolen token cannot be replayed from elsewhere.
//
// [Verifier.CheckProof] checks one proof, cheapest checks first, and records
// its jti in a [ReplayCache] until it could no longer be accepted, so that
// a proof is accepted once. The cache is in memory ([MemoryCache]) or in
// Redis (dpop/redisreplay) for instances that share it;
// dpop/replaytest is the conformance suite of both.
package dpop

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/strictjson"
	"github.com/sessionless/sessionless/token"
)

// Errors. CheckProof wraps ErrInvalidProof (with the reason; a
// [*AlgorithmError] for an alg it does not accept), ErrReplayed, or
// identity.ErrUnavailable when the replay cache cannot answer.
var (
	// ErrInvalidProof: the proof is malformed, badly signed, for another
	// request or moment, or for another token. RFC 9449 §7:
	// invalid_dpop_proof.
	ErrInvalidProof = errors.New("dpop: invalid proof")
	// ErrReplayed: the proof's jti was seen before.
	ErrReplayed = errors.New("dpop: proof replayed")
	// ErrUseNonce: the server requires a nonce (Config.NonceKey) and the
	// proof has none, or a stale one. RFC 9449 §8: use_dpop_nonce, with a
	// fresh nonce in the DPoP-Nonce header ([Verifier.Nonce]). It has a
	// method NonceRequired() bool, by which the middleware and the token
	// endpoint tell it without importing this package.
	ErrUseNonce error = nonceError{}
)

type nonceError struct{}

func (nonceError) Error() string       { return "dpop: use the server's nonce" }
func (nonceError) NonceRequired() bool { return true }

// AlgorithmError is the [ErrInvalidProof] of a proof whose alg the
// verifier does not accept ("none", HS256, or one not configured). It
// names the accepted algorithms, which a client can be told in an
// error_description; its method AcceptedAlgorithms() []string lets the
// middleware and the token endpoint read them without importing this
// package.
type AlgorithmError struct {
	// Alg is the proof's alg as the client wrote it: for logs, never
	// for the client's response unescaped.
	Alg string
	// Accepted are the accepted algorithms, as [Verifier.AlgNames] lists
	// them.
	Accepted []string
}

func (e *AlgorithmError) Error() string {
	return fmt.Sprintf("%v: alg %q is not accepted (accepted: %s)", ErrInvalidProof, e.Alg, strings.Join(e.Accepted, " "))
}

// Unwrap returns [ErrInvalidProof].
func (e *AlgorithmError) Unwrap() error { return ErrInvalidProof }

// AcceptedAlgorithms returns Accepted: the algorithms a proof may use.
func (e *AlgorithmError) AcceptedAlgorithms() []string { return e.Accepted }

// Defaults of a [Config].
const (
	// DefaultWindow is how old a proof's iat may be.
	DefaultWindow = time.Minute
	// DefaultLeeway is how far in the future a proof's iat may be (clock
	// skew).
	DefaultLeeway = 5 * time.Second
	// MaxProofLength bounds a proof, checked before anything else.
	MaxProofLength = 8 << 10
	// MaxJTILength bounds a proof's jti.
	MaxJTILength = 256
)

// DefaultAlgorithms are the algorithms a proof may use by default: ES256
// and EdDSA, which a proof may also name Ed25519 (RFC 9864).
var DefaultAlgorithms = []token.Algorithm{token.ES256, token.EdDSA}

// Config configures a [Verifier].
type Config struct {
	// Algorithms are the accepted proof algorithms, asymmetric only.
	// EdDSA and Ed25519, EdDSA's fully-specified name (RFC 9864), are
	// one algorithm: either accepts proofs that name either
	// ([token.Algorithm.Equal]). Default DefaultAlgorithms (ES256,
	// EdDSA).
	Algorithms []token.Algorithm
	// Window: a proof is accepted while its iat is less than Window old.
	// Default DefaultWindow (1 min).
	Window time.Duration
	// Leeway: a proof whose iat is further than this in the future is
	// refused. It is also the clock skew allowed between the instances
	// sharing a replay cache: a jti is remembered until iat + Window +
	// Leeway, so an instance whose clock is up to Leeway behind the one
	// that saw a proof first still finds it. Default DefaultLeeway (5 s).
	Leeway time.Duration
	// Replay records the proofs seen. Required.
	Replay ReplayCache
	// FailOpen accepts a proof whose jti cannot be checked because the
	// replay cache cannot answer (Redis down). Default false: such a
	// proof is refused with identity.ErrUnavailable (a 503).
	FailOpen bool
	// NonceKey, when set (at least 32 bytes, the same on every instance),
	// makes the server require nonces (RFC 9449 §8): a proof must carry a
	// nonce the server issued in the last two NonceIntervals, or it is
	// refused with ErrUseNonce and the client retries with the fresh one
	// of the DPoP-Nonce header. The nonces are stateless: an HMAC of the
	// time interval. Nil: no nonces.
	NonceKey []byte
	// NonceInterval is how long a nonce is fresh. Default 1 min.
	NonceInterval time.Duration
	// Now returns the current time. Nil: time.Now.
	Now func() time.Time
}

// Verifier checks DPoP proofs. It is safe for concurrent use.
type Verifier struct {
	cfg   Config
	names []string // AlgNames

	// keys caches the parsed jwks of recent proofs (a client signs all
	// its proofs with one key): parsing and checking an EC point costs
	// more than the rest of a proof. Bounded: cleared when full.
	mu   sync.Mutex
	keys map[string]cachedKey
}

type cachedKey struct {
	key *token.Key
	jkt string
	alg string // the header's alg it was parsed for
}

// maxCachedKeys bounds Verifier.keys.
const maxCachedKeys = 4096

// New checks cfg and returns a verifier.
func New(cfg Config) (*Verifier, error) {
	if cfg.Replay == nil {
		return nil, errors.New("dpop: Config.Replay is required: a proof must be accepted once")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms
	}
	var names []string
	for _, a := range cfg.Algorithms {
		if !a.Asymmetric() {
			return nil, fmt.Errorf("dpop: algorithm %q: want an asymmetric one", a)
		}
		// Both names of EdDSA, once each, the configured one first.
		for _, n := range []token.Algorithm{a, token.EdDSA, token.Ed25519} {
			if n.Equal(a) && !slices.Contains(names, string(n)) {
				names = append(names, string(n))
			}
		}
	}
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NonceKey != nil && len(cfg.NonceKey) < 32 {
		return nil, errors.New("dpop: Config.NonceKey must be at least 32 bytes")
	}
	if cfg.NonceInterval <= 0 {
		cfg.NonceInterval = time.Minute
	}
	return &Verifier{cfg: cfg, names: names, keys: map[string]cachedKey{}}, nil
}

// Nonce returns a fresh nonce for the DPoP-Nonce header (RFC 9449 §8),
// or "" when the verifier requires none.
func (v *Verifier) Nonce() string {
	if v.cfg.NonceKey == nil {
		return ""
	}
	return v.nonceAt(v.cfg.Now().UnixNano() / int64(v.cfg.NonceInterval))
}

func (v *Verifier) nonceAt(interval int64) string {
	m := hmac.New(sha256.New, v.cfg.NonceKey)
	m.Write([]byte(strconv.FormatInt(interval, 10)))
	return b64.EncodeToString(m.Sum(nil)[:18])
}

// validNonce reports whether nonce is the one of the current or the
// previous interval.
func (v *Verifier) validNonce(nonce string, now time.Time) bool {
	if nonce == "" {
		return false
	}
	i := now.UnixNano() / int64(v.cfg.NonceInterval)
	return subtle.ConstantTimeCompare([]byte(nonce), []byte(v.nonceAt(i))) == 1 ||
		subtle.ConstantTimeCompare([]byte(nonce), []byte(v.nonceAt(i-1))) == 1
}

// AlgNames returns the names of the accepted algorithms, for the
// WWW-Authenticate challenge (RFC 9449 §7.1: algs="ES256 EdDSA Ed25519")
// and the metadata (dpop_signing_alg_values_supported): those of
// Config.Algorithms, in order, with EdDSA and Ed25519 side by side
// whichever of the two was configured, since a proof may name either. It
// implements middleware.ProofChecker and endpoint.ProofChecker with
// CheckProof.
func (v *Verifier) AlgNames() []string { return slices.Clone(v.names) }

var b64 = base64.RawURLEncoding

// CheckProof verifies proof for a request of method (such as "GET") to
// requestURL, the request's absolute URL as the client used it (behind a proxy,
// the public URL; its query and fragment are ignored), carrying
// accessToken ("" at the token endpoint), and returns the RFC 7638
// thumbprint of the proof's key: what a bound token's cnf.jkt must equal.
//
// It checks the proof's size and shape, its header (typ dpop+jwt, an
// accepted asymmetric alg, a public jwk and nothing naming another key),
// its claims (jti, htm equal to method, htu equal to requestURL after RFC 3986
// normalisation, iat inside the window, ath equal to the SHA-256 of
// accessToken when there is one, the nonce when required), then its
// signature under the jwk, and last that its jti was never seen: a stale
// or misdirected proof costs no signature check, and only a proof that
// verifies fills a cache. Errors wrap ErrInvalidProof, ErrUseNonce or
// ErrReplayed, or identity.ErrUnavailable when the replay cache cannot
// answer. It implements middleware.ProofChecker and
// endpoint.ProofChecker.
func (v *Verifier) CheckProof(ctx context.Context, proof, method, requestURL, accessToken string) (string, error) {
	if len(proof) > MaxProofLength {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidProof, MaxProofLength)
	}
	d1 := strings.IndexByte(proof, '.')
	d2 := strings.LastIndexByte(proof, '.')
	if d1 <= 0 || d2 <= d1+1 || d2 == len(proof)-1 || strings.Count(proof, ".") != 2 {
		return "", fmt.Errorf("%w: not a compact JWS", ErrInvalidProof)
	}
	hb, err := b64.DecodeString(proof[:d1])
	if err != nil {
		return "", fmt.Errorf("%w: header is not base64url", ErrInvalidProof)
	}
	key, jkt, cacheKey, err := v.header(hb)
	if err != nil {
		return "", err
	}
	pb, err := b64.DecodeString(proof[d1+1 : d2])
	if err != nil {
		return "", fmt.Errorf("%w: payload is not base64url", ErrInvalidProof)
	}
	c, err := claims(pb)
	if err != nil {
		return "", err
	}
	now := v.cfg.Now()
	switch {
	case c.htm != method:
		return "", fmt.Errorf("%w: htm is not the request's method", ErrInvalidProof)
	case !sameURL(c.htu, requestURL):
		return "", fmt.Errorf("%w: htu is not the request's URL", ErrInvalidProof)
	case !c.iat.After(now.Add(-v.cfg.Window)): // at iat + Window, too old
		return "", fmt.Errorf("%w: iat is too old", ErrInvalidProof)
	case c.iat.After(now.Add(v.cfg.Leeway)):
		return "", fmt.Errorf("%w: iat is in the future", ErrInvalidProof)
	}
	if accessToken != "" || c.ath != "" {
		sum := sha256.Sum256([]byte(accessToken))
		var enc [43]byte // base64url of 32 bytes, on the stack
		b64.Encode(enc[:], sum[:])
		if accessToken == "" || subtle.ConstantTimeCompare([]byte(c.ath), enc[:]) != 1 {
			return "", fmt.Errorf("%w: ath is not the hash of the access token", ErrInvalidProof)
		}
	}
	if v.cfg.NonceKey != nil && !v.validNonce(c.nonce, now) {
		return "", ErrUseNonce
	}
	if !key.VerifySignature(proof[:d2], proof[d2+1:]) {
		return "", fmt.Errorf("%w: bad signature", ErrInvalidProof)
	}
	if cacheKey != "" { // a key seen for the first time, and it signed: keep it parsed
		v.mu.Lock()
		if len(v.keys) >= maxCachedKeys {
			clear(v.keys)
		}
		v.keys[cacheKey] = cachedKey{key, jkt, string(key.Algorithm())}
		v.mu.Unlock()
	}
	// Last, once everything else holds: a forged proof fills no cache.
	// The entry lives until the proof could no longer be accepted, here
	// (iat + Window) or on an instance whose clock is up to Leeway behind.
	fresh, err := v.cfg.Replay.Remember(ctx, jkt+" "+c.jti, c.iat.Add(v.cfg.Window+v.cfg.Leeway))
	switch {
	case err != nil && v.cfg.FailOpen:
		// Configured to accept: the proof is checked but for its jti.
	case err != nil:
		return "", fmt.Errorf("%w: the DPoP replay cache: %w", identity.ErrUnavailable, err)
	case !fresh:
		return "", ErrReplayed
	}
	return jkt, nil
}

// header reads the proof's JOSE header and returns its key and the key's
// thumbprint, and, for a key not in the cache, the key to cache it under
// once the proof's signature verifies.
func (v *Verifier) header(hb []byte) (*token.Key, string, string, error) {
	var typ, alg string
	var jwk []byte
	m := strictjson.Object(hb)
	for m.Next() {
		var err error
		switch name := string(m.Name()); name {
		case "typ":
			typ, err = str(m.Value())
		case "alg":
			alg, err = str(m.Value())
		case "jwk":
			jwk = m.Value()
		case "kid", "jku", "x5u", "x5c", "crit", "b64":
			// The key is the jwk and nothing else (RFC 9449 §4.2).
			return nil, "", "", fmt.Errorf("%w: header member %q", ErrInvalidProof, name)
		}
		if err != nil {
			return nil, "", "", fmt.Errorf("%w: header %q is not a string", ErrInvalidProof, m.Name())
		}
	}
	switch {
	case m.Err() != nil:
		return nil, "", "", fmt.Errorf("%w: header: %w", ErrInvalidProof, m.Err())
	case typ != "dpop+jwt":
		return nil, "", "", fmt.Errorf("%w: typ is not dpop+jwt", ErrInvalidProof)
	case !slices.ContainsFunc(v.cfg.Algorithms, token.Algorithm(alg).Equal):
		return nil, "", "", &AlgorithmError{Alg: alg, Accepted: v.AlgNames()}
	case len(jwk) == 0 || jwk[0] != '{':
		return nil, "", "", fmt.Errorf("%w: no jwk", ErrInvalidProof)
	}
	v.mu.Lock()
	c, ok := v.keys[string(jwk)] // no copy for a lookup
	v.mu.Unlock()
	if ok && c.alg == alg {
		return c.key, c.jkt, "", nil
	}
	if err := publicOnly(jwk, alg); err != nil {
		return nil, "", "", err
	}
	key, err := token.ParseJWK(jwk, token.KeyOptions{ID: "dpop", Algorithm: token.Algorithm(alg)})
	if err != nil {
		return nil, "", "", fmt.Errorf("%w: jwk: %w", ErrInvalidProof, err)
	}
	if key.CanSign() || key.Symmetric() {
		return nil, "", "", fmt.Errorf("%w: the jwk holds private or secret material", ErrInvalidProof)
	}
	jkt, err := key.Thumbprint()
	if err != nil {
		return nil, "", "", fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	return key, jkt, string(jwk), nil
}

// publicOnly refuses a jwk with any private or secret member, present at
// all, empty or not (RFC 9449 §4.3: the jwk must not contain a private
// key), and one whose own alg is not the header's (EdDSA and Ed25519
// being one).
func publicOnly(jwk []byte, alg string) error {
	m := strictjson.Object(jwk)
	for m.Next() {
		switch name := string(m.Name()); name {
		case "d", "p", "q", "dp", "dq", "qi", "oth", "k":
			return fmt.Errorf("%w: the jwk has the private or secret member %q", ErrInvalidProof, name)
		case "alg":
			if a, err := str(m.Value()); err != nil || !token.Algorithm(a).Equal(token.Algorithm(alg)) {
				return fmt.Errorf("%w: the jwk's alg is not the header's", ErrInvalidProof)
			}
		}
	}
	if m.Err() != nil {
		return fmt.Errorf("%w: jwk: %w", ErrInvalidProof, m.Err())
	}
	return nil
}

type proofClaims struct {
	jti, htm, htu, ath, nonce string
	iat                       time.Time
}

// claims reads the proof's claims: exact names, none repeated.
func claims(pb []byte) (proofClaims, error) {
	var c proofClaims
	hasIat := false
	m := strictjson.Object(pb)
	for m.Next() {
		var err error
		switch string(m.Name()) {
		case "jti":
			c.jti, err = str(m.Value())
		case "htm":
			c.htm, err = str(m.Value())
		case "htu":
			c.htu, err = str(m.Value())
		case "ath":
			c.ath, err = str(m.Value())
		case "nonce":
			c.nonce, err = str(m.Value())
		case "iat":
			var f float64
			if f, err = strictjson.Float(m.Value()); err == nil {
				if f < 0 || f > 9e9 {
					err = errors.New("out of range")
				}
				c.iat, hasIat = time.Unix(0, int64(f*1e9)), true
			}
		}
		if err != nil {
			return c, fmt.Errorf("%w: claim %q: %v", ErrInvalidProof, m.Name(), err)
		}
	}
	switch {
	case m.Err() != nil:
		return c, fmt.Errorf("%w: claims: %w", ErrInvalidProof, m.Err())
	case c.jti == "" || c.htm == "" || c.htu == "" || !hasIat:
		return c, fmt.Errorf("%w: jti, htm, htu and iat are required", ErrInvalidProof)
	case len(c.jti) > MaxJTILength || !utf8.ValidString(c.jti) || strings.IndexByte(c.jti, 0) >= 0:
		return c, fmt.Errorf("%w: jti longer than %d bytes, or not UTF-8", ErrInvalidProof, MaxJTILength)
	}
	return c, nil
}

func str(v []byte) (string, error) {
	s, err := strictjson.String(v)
	return string(s), err
}

// sameURL compares a proof's htu with the request's URL after RFC 3986
// §6.2.2 and §6.2.3 normalisation (scheme and host in lower case, the
// default port dropped, an empty path as "/", percent-encoding
// normalised), ignoring query and fragment (RFC 9449 §4.3).
func sameURL(htu, req string) bool {
	if htu == req && req != "" {
		// The usual case: the client wrote the URL as the server knows
		// it. Equal strings normalise alike; req, built by the server
		// from its public URL, need not be parsed to be compared.
		return true
	}
	a, ok1 := normalURL(htu)
	b, ok2 := normalURL(req)
	return ok1 && ok2 && a == b
}

func normalURL(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", false
	}
	port := u.Port()
	if port == "" || scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path, ok := normalPath(rawPath(s))
	if !ok {
		return "", false
	}
	return scheme + "://" + host + path, true
}

// rawPath returns the path of the absolute URL s as written (url.URL's
// EscapedPath rebuilds it from the decoded path when the raw one has a
// character it would escape, and %2F would become /), with the bytes a
// path may not hold percent-encoded.
func rawPath(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return ""
	}
	rest := s[i+3:]
	j := strings.IndexAny(rest, "/?#")
	if j < 0 || rest[j] != '/' {
		return ""
	}
	p := rest[j:]
	if k := strings.IndexAny(p, "?#"); k >= 0 {
		p = p[:k]
	}
	clean := true
	for k := 0; k < len(p); k++ {
		if !pathByte(p[k]) {
			clean = false
			break
		}
	}
	if clean {
		return p
	}
	var b strings.Builder
	for k := 0; k < len(p); k++ {
		if c := p[k]; pathByte(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// pathByte reports whether c may stand in a path as written (RFC 3986
// pchar, "/" and the "%" of an escape).
func pathByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@/%", c) >= 0
}

// normalPath normalises an escaped path as RFC 3986 §6.2.2 does: percent-
// encodings of unreserved characters decoded, the others' hex digits in
// upper case (reserved ones stay encoded: /a%2Fb is not /a/b), dot
// segments removed (§5.2.4), and "" as "/".
func normalPath(p string) (string, bool) {
	if strings.IndexByte(p, '%') < 0 { // the usual path: nothing to decode, no allocation
		return removeDotSegments(p), true
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || unhex(p[i+1]) < 0 || unhex(p[i+2]) < 0 {
			return "", false
		}
		d := byte(unhex(p[i+1])<<4 | unhex(p[i+2]))
		if 'a' <= d && d <= 'z' || 'A' <= d && d <= 'Z' || '0' <= d && d <= '9' || strings.IndexByte("-._~", d) >= 0 {
			b.WriteByte(d)
		} else {
			b.WriteString(strings.ToUpper(p[i : i+3]))
		}
		i += 2
	}
	return removeDotSegments(b.String()), true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// removeDotSegments removes "." and ".." segments (RFC 3986 §5.2.4),
// keeping empty segments and a trailing slash.
func removeDotSegments(p string) string {
	if p == "" {
		return "/"
	}
	if !strings.Contains(p, ".") {
		return p
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
			continue
		}
		if last {
			out = append(out, "")
		}
	}
	return "/" + strings.Join(out, "/")
}
