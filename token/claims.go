package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/sessionless/sessionless/internal/strictjson"
)

// Claims are the claims of an access token in the JWT profile for OAuth 2.0
// access tokens (RFC 9068), plus roles and custom claims.
type Claims struct {
	Issuer    string    // "iss"
	Subject   string    // "sub": who the token is about
	Audience  Audience  // "aud": who the token is for
	ExpiresAt time.Time // "exp"
	NotBefore time.Time // "nbf"; zero when absent
	IssuedAt  time.Time // "iat"
	ID        string    // "jti": unique per token, at least 128 random bits when Issue picks it
	ClientID  string    // "client_id": the OAuth client the token was issued to
	Scope     string    // "scope": space-delimited scopes (RFC 6749 §3.3)
	Roles     []string  // "roles"
	// JKT is "cnf": {"jkt": …} (RFC 9449 §6): the RFC 7638 thumbprint of
	// the key a DPoP-bound token must be presented with; "" for a bearer
	// token.
	JKT string

	// Extra holds custom claims for [Issuer.Issue] and [Claims.MarshalJSON].
	// Names of the registered claims above are refused, in any letter case.
	// Verify leaves Extra nil: read custom claims with [Claims.Decode].
	Extra map[string]any

	// payload is the verified JSON payload, in its own allocation: the
	// strings above are slices of it, and the token itself is not kept.
	payload string
	// keys, set and key are where the key that verified the claims came
	// from: see StillTrusted.
	keys KeySource
	set  *KeySet
	key  *Key
}

// StillTrusted reports whether the key that verified these claims is
// still in the current key set of the verifier's [KeySource] (a
// [KeyRing] may have retired it since). A cache of verified tokens serves
// the claims only while it holds (the middleware checks it on every hit),
// so a token signed by a retired key is refused at once. "That key" is the
// same *Key value: build new sets from old ones ([KeySet.WithSigningKey],
// [KeySet.Without], ...) rather than from keys parsed anew. Claims that
// did not come from [Verifier.Verify] are trusted.
func (c *Claims) StillTrusted() bool {
	if c == nil || c.keys == nil {
		return true
	}
	cur := c.keys.KeySet()
	if cur == c.set {
		return true
	}
	k, ok := cur.byID[c.key.id]
	return ok && k == c.key
}

// registered are the claim names Claims owns; Extra may not use them in
// any letter case (encoding/json matches field names case-insensitively).
var registered = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "roles", "cnf"}

// BoundKey returns cnf.jkt, the thumbprint of the key the token is bound
// to (RFC 9449), or "" for a bearer token: a middleware that sees a bound
// token requires a DPoP proof by that key with it.
func (c *Claims) BoundKey() string { return c.JKT }

// Audiences returns the "aud" claim, for a middleware that tells a token
// asked for one resource (RFC 8707) from a token for the whole API.
func (c *Claims) Audiences() []string { return c.Audience }

// HasScope reports whether the space-delimited scope claim contains s.
// It does not allocate.
func (c *Claims) HasScope(s string) bool {
	if s == "" {
		return false
	}
	for f := range strings.SplitSeq(c.Scope, " ") {
		if f == s {
			return true
		}
	}
	return false
}

// Scopes returns the scope claim split on spaces.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// HasRole reports whether the roles claim contains r.
func (c *Claims) HasRole(r string) bool { return slices.Contains(c.Roles, r) }

// Decode unmarshals the verified payload into v with encoding/json, for
// custom claims:
//
//	var custom struct{ TenantID string `json:"tenant_id"` }
//	err := claims.Decode(&custom)
//
// encoding/json matches member names to struct fields case-insensitively,
// so Decode refuses (ErrMalformed) a payload with two member names in one
// object that differ only in case or Unicode folding ("tenant_id" and
// "TENANT_ID"): either could end up in the field. It fails on Claims that
// did not come from [Verifier.Verify].
func (c *Claims) Decode(v any) error {
	if c.payload == "" {
		return errors.New("token: claims have no verified payload")
	}
	p := []byte(c.payload)
	if err := strictjson.FoldCollision(p); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return json.Unmarshal(p, v)
}

// Payload returns the verified JSON payload the claims were read from, or
// "" for claims that did not come from [Verifier.Verify].
func (c *Claims) Payload() string { return c.payload }

// Member returns the raw JSON value of the payload's top-level member
// name, matched exactly, or nil when there is none (or it is null). The
// bytes share the claims' memory: read them, never write them. It walks
// the payload, without allocating: for custom claims read one at a time
// (a provider's "realm_access"); [Claims.Decode] reads many into a
// struct.
func (c *Claims) Member(name string) []byte {
	if c.payload == "" {
		return nil
	}
	m := strictjson.Object(readOnly(c.payload))
	for m.Next() {
		if string(m.Name()) == name {
			if v := m.Value(); !strictjson.IsNull(v) {
				return v
			}
			return nil
		}
	}
	return nil
}

// decodeClaims reads the registered claims of a JSON payload into c with
// exact member names (RFC 7519 §4: "EXP" is not "exp"), refusing a name
// given twice at any depth. The strings of c are slices of payload, which
// must not change afterwards. A claim that is null counts as absent.
func decodeClaims(c *Claims, payload []byte) (hasExp, hasIat bool, err error) {
	m := strictjson.Object(payload)
	var exp, nbf, iat float64
	hasNbf := false
	for m.Next() {
		v := m.Value()
		if strictjson.IsNull(v) {
			continue
		}
		switch string(m.Name()) {
		case "iss":
			c.Issuer, err = str(v)
		case "sub":
			c.Subject, err = str(v)
		case "jti":
			c.ID, err = str(v)
		case "client_id":
			c.ClientID, err = str(v)
		case "scope":
			c.Scope, err = str(v)
		case "aud":
			if v[0] == '"' {
				var a string
				a, err = str(v)
				c.Audience = Audience{a}
			} else {
				c.Audience, err = strs(v)
			}
		case "roles":
			c.Roles, err = strs(v)
		case "cnf":
			c.JKT, err = confirmation(v)
		case "exp":
			exp, err = strictjson.Float(v)
			hasExp = true
		case "nbf":
			nbf, err = strictjson.Float(v)
			hasNbf = true
		case "iat":
			iat, err = strictjson.Float(v)
			hasIat = true
		}
		if err != nil {
			return false, false, fmt.Errorf("%w: claim %q: %w", ErrMalformed, m.Name(), err)
		}
	}
	if err := m.Err(); err != nil {
		return false, false, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	var err1, err2, err3 error
	if hasExp {
		c.ExpiresAt, err1 = toTime(exp)
	}
	if hasNbf {
		c.NotBefore, err2 = toTime(nbf)
	}
	if hasIat {
		c.IssuedAt, err3 = toTime(iat)
	}
	if err1 != nil || err2 != nil || err3 != nil {
		return false, false, fmt.Errorf("%w: exp, nbf and iat must be numbers of seconds between 1970 and 9999", ErrMalformed)
	}
	if len(payload) > 0 {
		c.payload = unsafe.String(&payload[0], len(payload))
	}
	return hasExp, hasIat, nil
}

// str returns the string value v as a string sharing v's memory (or that
// of its unescaped copy).
func str(v []byte) (string, error) {
	b, err := strictjson.String(v)
	if err != nil || len(b) == 0 {
		return "", err
	}
	return unsafe.String(&b[0], len(b)), nil
}

// strs returns an array of strings, with no spare capacity.
func strs(v []byte) ([]string, error) {
	n := strictjson.Len(v)
	if n < 0 {
		return nil, errors.New("not an array of strings")
	}
	out := make([]string, 0, n)
	e := strictjson.Array(v)
	for e.Next() {
		s, err := str(e.Value())
		if err != nil {
			return nil, errors.New("not an array of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

// confirmation reads a "cnf" object's "jkt" (RFC 9449 §6.1). A cnf
// without jkt (another confirmation method, RFC 7800) is refused: the
// token would be bound to something this package cannot check.
func confirmation(v []byte) (string, error) {
	var jkt string
	m := strictjson.Object(v)
	for m.Next() {
		if string(m.Name()) != "jkt" {
			return "", fmt.Errorf("confirmation method %q is not supported", m.Name())
		}
		var err error
		if jkt, err = str(m.Value()); err != nil {
			return "", err
		}
	}
	if err := m.Err(); err != nil {
		return "", err
	}
	if jkt == "" || len(jkt) > 128 {
		return "", errors.New("cnf without a jkt")
	}
	return jkt, nil
}

// maxDate is 9999-12-31T23:59:59Z. Dates outside [0, maxDate] are
// malformed, so a huge "nbf" cannot wrap around into the past.
const maxDate = 253402300799

func toTime(f float64) (time.Time, error) {
	if !(f >= 0 && f <= maxDate) {
		return time.Time{}, fmt.Errorf("%w: date %g out of range", ErrMalformed, f)
	}
	// A float64 near today's dates resolves about 0.2µs: round the
	// fraction to whole microseconds, so 1795348800.123 is exactly .123.
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), nil
}

type cnf struct {
	JKT string `json:"jkt"`
}

// MarshalJSON encodes the claims as a JWT payload: dates as seconds since
// the epoch, whole for exp and nbf, with up to three decimals for iat, a one-element audience as a string, Extra merged in.
func (c Claims) MarshalJSON() ([]byte, error) {
	type out struct {
		Iss      string      `json:"iss,omitempty"`
		Sub      string      `json:"sub,omitempty"`
		Aud      Audience    `json:"aud,omitempty"`
		Exp      int64       `json:"exp,omitempty"`
		Nbf      int64       `json:"nbf,omitempty"`
		Iat      json.Number `json:"iat,omitempty"`
		Jti      string      `json:"jti,omitempty"`
		ClientID string      `json:"client_id,omitempty"`
		Scope    string      `json:"scope,omitempty"`
		Roles    []string    `json:"roles,omitempty"`
		Cnf      *cnf        `json:"cnf,omitempty"`
	}
	unix := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.Unix()
	}
	var conf *cnf
	if c.JKT != "" {
		conf = &cnf{c.JKT}
	}
	b, err := json.Marshal(out{c.Issuer, c.Subject, c.Audience, unix(c.ExpiresAt), unix(c.NotBefore), millis(c.IssuedAt),
		c.ID, c.ClientID, c.Scope, c.Roles, conf})
	if err != nil || len(c.Extra) == 0 {
		return b, err
	}
	for name := range c.Extra {
		for _, r := range registered {
			if strings.EqualFold(name, r) {
				return nil, fmt.Errorf("%w: custom claim %q collides with the registered claim %q", ErrConfig, name, r)
			}
		}
	}
	extra, err := json.Marshal(c.Extra)
	if err != nil {
		return nil, fmt.Errorf("token: custom claims: %w", err)
	}
	if len(b) > 2 { // not "{}"
		extra = append(append(b[:len(b)-1], ','), extra[1:]...)
	}
	// Custom names that differ only in case ("tenant", "TENANT"), at any
	// depth, would make Claims.Decode refuse the token.
	if err := strictjson.FoldCollision(extra); err != nil {
		return nil, fmt.Errorf("%w: custom claims: %w", ErrConfig, err)
	}
	return extra, nil
}

// Audience is the "aud" claim: a list of recipients, encoded as a string
// when it has one element and decoded from a string or an array of strings.
type Audience []string

// Contains reports whether a lists aud.
func (a Audience) Contains(aud string) bool { return slices.Contains(a, aud) }

// MarshalJSON encodes one audience as a string, several as an array.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON accepts a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) >= 2 && b[0] == '"':
		// Fast path: the decoder has already checked the syntax, so a
		// string without escapes is its bytes between the quotes.
		if bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
			*a = Audience{string(b[1 : len(b)-1])}
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	case string(b) == "null":
		*a = nil
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("%w: aud must be a string or an array of strings", ErrMalformed)
	}
	*a = list
	return nil
}

// millis formats t as seconds since the epoch with the milliseconds as up
// to three decimals (none when whole), for "iat". Empty for the zero time.
func millis(t time.Time) json.Number {
	if t.IsZero() {
		return ""
	}
	ms := t.UnixMilli()
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	if frac == 0 {
		return json.Number(strconv.FormatInt(sec, 10))
	}
	return json.Number(strings.TrimRight(fmt.Sprintf("%d.%03d", sec, frac), "0"))
}
