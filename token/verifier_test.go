package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// sentinels is every error Verify may wrap.
var sentinels = []error{
	token.ErrMalformed, token.ErrUnsupported, token.ErrWrongType, token.ErrUnknownKey,
	token.ErrAlgorithm, token.ErrSignature, token.ErrMissingClaim, token.ErrIssuer,
	token.ErrAudience, token.ErrExpired, token.ErrNotYetValid, token.ErrLifetime,
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func TestVerifyAlgorithms(t *testing.T) {
	for _, alg := range token.Algorithms {
		t.Run(string(alg), func(t *testing.T) {
			s := tokentest.MustSigner(alg)
			v := tokentest.Verifier(tokentest.KeySet(s), now)
			c, err := v.Verify(s.Mint(now, nil))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "user-1" || c.Issuer != tokentest.Issuer || !c.Audience.Contains(tokentest.Audience) ||
				!c.HasScope("widgets:write") || !c.HasRole("admin") || c.ClientID != "client-1" ||
				!c.ExpiresAt.Equal(now.Add(time.Hour)) || !c.IssuedAt.Equal(now) || c.ID == "" {
				t.Fatalf("claims = %+v", c)
			}
		})
	}
}

// set applies member assignments to the header (h) or the claims (c).
func set(h, c map[string]any) func(header, claims map[string]any) {
	return func(header, claims map[string]any) {
		for k, v := range h {
			header[k] = v
		}
		for k, v := range c {
			claims[k] = v
		}
	}
}

func TestVerify(t *testing.T) {
	s := tokentest.MustSigner(token.ES256)
	other := tokentest.MustSigner(token.ES256) // same algorithm, other key
	hs := tokentest.MustSigner(token.HS256)
	v := tokentest.Verifier(tokentest.KeySet(s, hs), now)
	good := s.Mint(now, nil)
	h, p, sig := split(good)
	enc := tokentest.Encode
	mint := func(edit func(h, c map[string]any)) string { return s.Mint(now, edit) }
	// signWith signs the good header and payload under another key but with s's kid.
	signWith := func(o *tokentest.Signer) string { return h + "." + p + "." + enc(o.Signature(h+"."+p)) }
	leeway := token.DefaultLeeway

	tests := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"valid", good, nil},

		// Structure and size.
		{"empty", "", token.ErrMalformed},
		{"one segment", h, token.ErrMalformed},
		{"two segments", h + "." + p, token.ErrMalformed},
		{"four segments", good + ".x", token.ErrMalformed},
		{"JWE five segments", h + "." + p + "." + sig + ".a.b", token.ErrMalformed},
		{"empty header", "." + p + "." + sig, token.ErrMalformed},
		{"empty payload", h + ".." + sig, token.ErrMalformed},
		{"empty signature (unsecured JWS)", h + "." + p + ".", token.ErrMalformed},
		{"only dots", "..", token.ErrMalformed},
		{"over 8 KiB", mint(set(nil, map[string]any{"pad": strings.Repeat("a", 8<<10)})), token.ErrMalformed},
		{"over 8 KiB of dots", strings.Repeat(".", 9000), token.ErrMalformed},

		// Strict base64url.
		{"padding in payload", h + "." + p + "==." + sig, token.ErrMalformed},
		{"padding in signature", good + "=", token.ErrSignature},
		{"LF inside payload", h + "." + p[:10] + "\n" + p[10:] + "." + sig, token.ErrMalformed},
		{"CRLF inside signature", h + "." + p + "." + sig[:10] + "\r\n" + sig[10:], token.ErrMalformed},
		{"space inside payload", h + "." + p[:10] + " " + p[10:] + "." + sig, token.ErrMalformed},
		{"standard base64 alphabet", h + "." + strings.NewReplacer("-", "+", "_", "/").Replace(p) + "+/." + sig, token.ErrMalformed},
		{"non-canonical trailing bits in signature", h + "." + p + "." + sig[:len(sig)-1] + bump(sig[len(sig)-1]), token.ErrSignature},
		{"header not base64", "!!!." + p + "." + sig, token.ErrMalformed},

		// Header.
		{"header not JSON", enc([]byte("alg")) + "." + p + "." + sig, token.ErrMalformed},
		{"header JSON array", enc([]byte(`["alg"]`)) + "." + p + "." + sig, token.ErrMalformed},
		{"no alg", mint(set(map[string]any{"alg": nil}, nil)), token.ErrMalformed},
		{"alg not a string", mint(set(map[string]any{"alg": 256}, nil)), token.ErrMalformed},
		{"alg none, signed", s.SignJSON(map[string]any{"alg": "none", "kid": s.Key.ID(), "typ": "at+jwt"}, tokentest.Claims(now)), token.ErrAlgorithm},
		{"alg none, junk signature", enc([]byte(`{"alg":"none","kid":"`+s.Key.ID()+`","typ":"at+jwt"}`)) + "." + p + ".x", token.ErrAlgorithm},
		{"alg none, unsigned (RFC 7519 §6)", enc([]byte(`{"alg":"none","kid":"`+s.Key.ID()+`","typ":"at+jwt"}`)) + "." + p + ".", token.ErrMalformed},
		{"alg of another family", mint(set(map[string]any{"alg": "RS256"}, nil)), token.ErrAlgorithm},
		{"alg of the same family", mint(set(map[string]any{"alg": "ES384"}, nil)), token.ErrAlgorithm},
		{"HMAC header naming an ECDSA key", hs.Mint(now, set(map[string]any{"kid": s.Key.ID()}, nil)), token.ErrAlgorithm},
		{"no kid", mint(set(map[string]any{"kid": nil}, nil)), token.ErrUnknownKey},
		{"unknown kid", mint(set(map[string]any{"kid": "nope"}, nil)), token.ErrUnknownKey},
		{"kid not a string", mint(set(map[string]any{"kid": 1}, nil)), token.ErrMalformed},
		{"no typ", mint(set(map[string]any{"typ": nil}, nil)), token.ErrWrongType},
		{"typ JWT (an ID token)", mint(set(map[string]any{"typ": "JWT"}, nil)), token.ErrWrongType},
		{"typ refresh", mint(set(map[string]any{"typ": "rt+jwt"}, nil)), token.ErrWrongType},
		{"typ application/at+jwt", mint(set(map[string]any{"typ": "application/at+jwt"}, nil)), nil},
		{"typ in upper case", mint(set(map[string]any{"typ": "AT+JWT"}, nil)), nil},
		{"typ not a string", mint(set(map[string]any{"typ": true}, nil)), token.ErrMalformed},
		{"crit with unknown extension", mint(set(map[string]any{"crit": []string{"exp"}, "exp": 1}, nil)), token.ErrUnsupported},
		{"empty crit", mint(set(map[string]any{"crit": []string{}}, nil)), token.ErrUnsupported},
		{"b64 false", mint(set(map[string]any{"b64": false}, nil)), token.ErrUnsupported},
		{"jku, x5u ignored", mint(set(map[string]any{"jku": "http://127.0.0.1:1/jwks", "x5u": "http://127.0.0.1:1/x"}, nil)), nil},
		{"embedded jwk of the attacker's key", other.Mint(now, set(map[string]any{"kid": s.Key.ID(), "jwk": other.Key}, nil)), token.ErrSignature},
		{"embedded jwk without kid", other.Mint(now, set(map[string]any{"kid": nil, "jwk": other.Key}, nil)), token.ErrUnknownKey},
		{"header null", s.Sign([]byte(`null`), []byte(payloadJSON(""))), token.ErrMalformed},
		{"header names alg twice", s.Sign([]byte(`{"alg":"`+string(s.Key.Algorithm())+`","kid":"`+s.Key.ID()+`","typ":"at+jwt","alg":"`+string(s.Key.Algorithm())+`"}`), []byte(payloadJSON(""))), token.ErrMalformed},
		{"header names kid twice", s.Sign([]byte(`{"alg":"`+string(s.Key.Algorithm())+`","kid":"nope","typ":"at+jwt","kid":"`+s.Key.ID()+`"}`), []byte(payloadJSON(""))), token.ErrMalformed},
		{"header names typ twice through an escape", s.Sign([]byte(`{"alg":"`+string(s.Key.Algorithm())+`","kid":"`+s.Key.ID()+`","typ":"JWT","\u0074yp":"at+jwt"}`), []byte(payloadJSON(""))), token.ErrMalformed},
		{"header ALG in upper case only", s.Sign([]byte(`{"ALG":"`+string(s.Key.Algorithm())+`","kid":"`+s.Key.ID()+`","typ":"at+jwt"}`), []byte(payloadJSON(""))), token.ErrMalformed},
		{"header TYP beside typ JWT", s.Sign([]byte(`{"alg":"`+string(s.Key.Algorithm())+`","kid":"`+s.Key.ID()+`","typ":"JWT","TYP":"at+jwt"}`), []byte(payloadJSON(""))), token.ErrWrongType},
		{"header CRIT in upper case is not crit", s.Sign([]byte(`{"alg":"`+string(s.Key.Algorithm())+`","kid":"`+s.Key.ID()+`","typ":"at+jwt","CRIT":["x"]}`), []byte(payloadJSON(""))), nil},

		// Payload.
		{"payload not JSON", h + "." + enc([]byte("sub=x")) + "." + sig, token.ErrMalformed},
		{"payload JSON array", s.Sign([]byte(mustHeader(s)), []byte(`[1]`)), token.ErrMalformed},
		{"payload JSON string", s.Sign([]byte(mustHeader(s)), []byte(`"x"`)), token.ErrMalformed},
		{"trailing data after payload", s.Sign([]byte(mustHeader(s)), []byte(`{"sub":"x"} {}`)), token.ErrMalformed},
		{"payload null", s.Sign([]byte(mustHeader(s)), []byte(`null`)), token.ErrMalformed},
		{"payload empty", s.Sign([]byte(mustHeader(s)), []byte(` `)), token.ErrMalformed},
		{"payload invalid UTF-8", s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(`,"name":"`+"\xff"+`"`))), token.ErrMalformed},
		{"payload nested 100 deep", s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(`,"x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)))), token.ErrMalformed},

		// Claim names are exact and unique (RFC 7519 §4).
		{"exp past, EXP future", s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(fmt.Sprintf(`,"exp":%d,"EXP":%d`, now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix())))), token.ErrExpired},
		{"EXP future, exp past", s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(fmt.Sprintf(`,"EXP":%d,"exp":%d`, now.Add(time.Hour).Unix(), now.Add(-time.Hour).Unix())))), token.ErrExpired},
		{"only EXP", s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(fmt.Sprintf(`,"EXP":%d`, now.Add(time.Hour).Unix())))), token.ErrMissingClaim},
		{"exp twice", s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(fmt.Sprintf(`,"exp":%d,"exp":%d`, now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix())))), token.ErrMalformed},
		{"exp twice through an escape", s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(fmt.Sprintf(`,"exp":%d,"\u0065xp":%d`, now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix())))), token.ErrMalformed},
		{"sub twice", s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(`,"sub":"alice","sub":"admin"`))), token.ErrMalformed},
		{"custom claim twice", s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(`,"sub":"alice","tenant":"a","tenant":"b"`))), token.ErrMalformed},
		{"nested member twice", s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(`,"sub":"alice","cnf":{"jkt":"a","jkt":"b"}`))), token.ErrMalformed},
		{"only ISS", s.Sign([]byte(mustHeader(s)), []byte(strings.Replace(payloadJSON(`,"sub":"alice"`), `"iss"`, `"ISS"`, 1))), token.ErrMissingClaim},

		// Every sub and jti that verifies can be revoked: at most 1024
		// bytes, no NUL (revocation.MaxKeyLen; PostgreSQL text has no NUL).
		{"sub of 1024 bytes", mint(set(nil, map[string]any{"sub": strings.Repeat("s", 1024)})), nil},
		{"sub of 1025 bytes", mint(set(nil, map[string]any{"sub": strings.Repeat("s", 1025)})), token.ErrMalformed},
		{"jti of 1025 bytes", mint(set(nil, map[string]any{"jti": strings.Repeat("j", 1025)})), token.ErrMalformed},
		{"jti with NUL", mint(set(nil, map[string]any{"jti": "a\x00b"})), token.ErrMalformed},
		{"sub with an escaped NUL", s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(`,"sub":"a\u0000"`))), token.ErrMalformed},

		// Lifetimes are bounded (default 24 h).
		{"lives 24 h", mint(set(nil, map[string]any{"exp": now.Add(24 * time.Hour).Unix()})), nil},
		{"lives 24 h and 1 s", mint(set(nil, map[string]any{"exp": now.Add(24*time.Hour + time.Second).Unix()})), token.ErrLifetime},
		{"lives 72 h", mint(set(nil, map[string]any{"exp": now.Add(72 * time.Hour).Unix()})), token.ErrLifetime},
		{"expires in year 9999", mint(set(nil, map[string]any{"exp": 253402300799})), token.ErrLifetime},
		{"issued 30 days ago, expires in an hour", mint(set(nil, map[string]any{"iat": now.Add(-30 * 24 * time.Hour).Unix()})), token.ErrLifetime},
		{"issued at the leeway's edge, lives 24 h", mint(set(nil, map[string]any{"iat": now.Add(leeway).Unix(), "exp": now.Add(leeway + 24*time.Hour).Unix()})), nil},
		{"exp as a string", mint(set(nil, map[string]any{"exp": "9999999999"})), token.ErrMalformed},
		{"exp as a boolean", mint(set(nil, map[string]any{"exp": true})), token.ErrMalformed},
		{"exp 1e300", mint(set(nil, map[string]any{"exp": 1e300})), token.ErrMalformed},
		{"exp 1e400 overflows float64", s.Sign([]byte(mustHeader(s)), []byte(`{"exp":1e400}`)), token.ErrMalformed},
		{"nbf 1e300", mint(set(nil, map[string]any{"nbf": 1e300})), token.ErrMalformed},
		{"nbf 2^63", mint(set(nil, map[string]any{"nbf": uint64(1) << 63})), token.ErrMalformed},
		{"iat 2^63", mint(set(nil, map[string]any{"iat": uint64(1) << 63})), token.ErrMalformed},
		{"iat -2^63", mint(set(nil, map[string]any{"iat": -(1 << 62) * 2})), token.ErrMalformed},
		{"negative exp", mint(set(nil, map[string]any{"exp": -1})), token.ErrMalformed},
		{"exp past year 9999", mint(set(nil, map[string]any{"exp": 253402300800})), token.ErrMalformed},
		{"fractional dates", mint(set(nil, map[string]any{"iat": float64(now.Unix()) + 0.5, "exp": float64(now.Unix()) + 60.25})), nil},
		{"aud a number", mint(set(nil, map[string]any{"aud": 1})), token.ErrMalformed},
		{"aud an array with a number", mint(set(nil, map[string]any{"aud": []any{tokentest.Audience, 1}})), token.ErrMalformed},
		{"aud an object", mint(set(nil, map[string]any{"aud": map[string]any{}})), token.ErrMalformed},
		{"roles a string", mint(set(nil, map[string]any{"roles": "admin"})), token.ErrMalformed},
		{"scope an array", mint(set(nil, map[string]any{"scope": []string{"a"}})), token.ErrMalformed},

		// Required claims.
		{"no exp", mint(set(nil, map[string]any{"exp": nil})), token.ErrMissingClaim},
		{"exp null", s.Sign([]byte(mustHeader(s)), []byte(`{"iss":"`+tokentest.Issuer+`","sub":"s","aud":"`+tokentest.Audience+`","jti":"j","iat":1795000000,"exp":null}`)), token.ErrMissingClaim},
		{"no iat", mint(set(nil, map[string]any{"iat": nil})), token.ErrMissingClaim},
		{"no jti", mint(set(nil, map[string]any{"jti": nil})), token.ErrMissingClaim},
		{"empty jti", mint(set(nil, map[string]any{"jti": ""})), token.ErrMissingClaim},
		{"no iss", mint(set(nil, map[string]any{"iss": nil})), token.ErrMissingClaim},
		{"no sub", mint(set(nil, map[string]any{"sub": nil})), token.ErrMissingClaim},
		{"no aud", mint(set(nil, map[string]any{"aud": nil})), token.ErrMissingClaim},
		{"empty aud array", mint(set(nil, map[string]any{"aud": []string{}})), token.ErrMissingClaim},

		// Issuer and audience.
		{"other issuer", mint(set(nil, map[string]any{"iss": "https://evil.test"})), token.ErrIssuer},
		{"issuer with trailing slash", mint(set(nil, map[string]any{"iss": tokentest.Issuer + "/"})), token.ErrIssuer},
		{"issuer in upper case", mint(set(nil, map[string]any{"iss": strings.ToUpper(tokentest.Issuer)})), token.ErrIssuer},
		{"other audience", mint(set(nil, map[string]any{"aud": "other"})), token.ErrAudience},
		{"audience array with ours", mint(set(nil, map[string]any{"aud": []string{"other", tokentest.Audience}})), nil},
		{"audience array without ours", mint(set(nil, map[string]any{"aud": []string{"other", "third"}})), token.ErrAudience},
		{"audience prefix", mint(set(nil, map[string]any{"aud": tokentest.Audience[:3]})), token.ErrAudience},
		{"audience with escapes", mint(set(nil, map[string]any{"aud": "api\u002etest"})), nil},

		// Time, with the default 30 s leeway.
		{"expired beyond leeway", mint(set(nil, map[string]any{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-leeway - time.Second).Unix()})), token.ErrExpired},
		{"expired exactly at leeway", mint(set(nil, map[string]any{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-leeway).Unix()})), token.ErrExpired},
		{"expired within leeway", mint(set(nil, map[string]any{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-leeway + time.Second).Unix()})), nil},
		{"nbf beyond leeway", mint(set(nil, map[string]any{"nbf": now.Add(leeway + time.Second).Unix()})), token.ErrNotYetValid},
		{"nbf within leeway", mint(set(nil, map[string]any{"nbf": now.Add(leeway).Unix()})), nil},
		{"nbf in the past", mint(set(nil, map[string]any{"nbf": now.Add(-time.Minute).Unix()})), nil},
		{"iat in the future beyond leeway", mint(set(nil, map[string]any{"iat": now.Add(leeway + time.Second).Unix()})), token.ErrNotYetValid},
		{"iat in the future within leeway", mint(set(nil, map[string]any{"iat": now.Add(leeway).Unix()})), nil},
		{"exp 0", mint(set(nil, map[string]any{"exp": 0})), token.ErrExpired},

		// Signatures.
		{"signature bit flipped", h + "." + p + "." + flip(sig), token.ErrSignature},
		{"payload changed after signing", h + "." + enc([]byte(`{"sub":"admin"}`)) + "." + sig, token.ErrSignature},
		{"signed by another key with our kid", signWith(other), token.ErrSignature},
		{"truncated signature", h + "." + p + "." + sig[:len(sig)-4], token.ErrSignature},
		{"extended signature", h + "." + p + "." + sig + "AAAA", token.ErrSignature},
		{"ASN.1 DER ECDSA signature", h + "." + p + "." + enc(derSig(t, s, h+"."+p)), token.ErrSignature},
		{"forged expired token reports the signature", h + "." + enc([]byte(`{"iss":"x","exp":1,"iat":1,"jti":"j","sub":"s","aud":"a"}`)) + "." + sig, token.ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token)
			if tt.want == nil {
				if err != nil || c == nil {
					t.Fatalf("Verify() = %v, %v; want claims", c, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.want)
			}
			if c != nil {
				t.Fatalf("Verify() returned claims with error %v", err)
			}
			if strings.Contains(err.Error(), sig) || (len(p) > 20 && strings.Contains(err.Error(), p)) {
				t.Fatalf("error message contains the token: %v", err)
			}
		})
	}
}

// payloadJSON is the JSON text of valid claims issued at now for an hour,
// with sub "alice", then members (text starting with a comma) appended
// verbatim, so a test can repeat a name or change its case.
func payloadJSON(members string) string {
	base := fmt.Sprintf(`{"iss":%q,"aud":%q,"iat":%d,"jti":"j1","scope":"widgets:read"`, tokentest.Issuer, tokentest.Audience, now.Unix())
	if !strings.Contains(members, `"exp"`) && !strings.Contains(members, `\u0065xp"`) && !strings.Contains(members, `"EXP"`) {
		base += fmt.Sprintf(`,"exp":%d`, now.Add(time.Hour).Unix())
	}
	if !strings.Contains(members, `"sub"`) {
		base += `,"sub":"alice"`
	}
	return base + members + "}"
}

// TestVerifyExactClaimNames: members whose names differ from a registered
// claim only in case or by Unicode folding are custom claims, never the
// registered one, whichever comes first.
func TestVerifyExactClaimNames(t *testing.T) {
	s := tokentest.MustSigner(token.EdDSA)
	v := tokentest.Verifier(tokentest.KeySet(s), now)
	for _, members := range []string{
		`,"sub":"alice","SUB":"admin"`,
		`,"SUB":"admin","sub":"alice"`,
		`,"Sub":"admin","sub":"alice"`,
		`,"ſub":"admin","sub":"alice"`, // U+017F LATIN SMALL LETTER LONG S folds to s
		`,"sub":"alice","ſub":"admin"`,
		`,"sub":"alice","SCOPE":"admin","Roles":["admin"],"\u0053ub":"admin"`,
	} {
		c, err := v.Verify(s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(members))))
		if err != nil {
			t.Fatalf("%s: %v", members, err)
		}
		if c.Subject != "alice" || c.Scope != "widgets:read" || c.HasRole("admin") {
			t.Errorf("%s: sub %q, scope %q, roles %q", members, c.Subject, c.Scope, c.Roles)
		}
		// Decode cannot read such a payload unambiguously into a struct.
		var custom struct {
			Sub string `json:"sub"`
		}
		if err := c.Decode(&custom); !errors.Is(err, token.ErrMalformed) {
			t.Errorf("%s: Decode = %v (sub %q), want ErrMalformed", members, err, custom.Sub)
		}
	}
	// Escaped values are decoded; unescaped ones share the payload.
	c, err := v.Verify(s.Sign([]byte(mustHeader(s)), []byte(payloadJSON(`,"sub":"al\u0069ce\n","roles":["a\"b",""]`))))
	if err != nil || c.Subject != "alice\n" || len(c.Roles) != 2 || c.Roles[0] != `a"b` || c.Roles[1] != "" || cap(c.Roles) != 2 {
		t.Fatalf("claims %+v, %v", c, err)
	}
}

// TestVerifiedClaimsKeepNoToken: the claims Verify returns (what a cache
// of verified tokens holds) keep the decoded payload, not the token: a
// token with a 4 KiB header costs the claims nothing of it.
func TestVerifiedClaimsKeepNoToken(t *testing.T) {
	s := tokentest.MustSigner(token.HS256)
	v := tokentest.Verifier(tokentest.KeySet(s), now)
	h := s.Header()
	h["x5c"] = []string{strings.Repeat("A", 4<<10)} // ignored, but part of the token
	const n = 2000
	toks := make([]string, n)
	for i := range toks {
		toks[i] = s.SignJSON(h, tokentest.Claims(now))
	}
	if _, err := v.Verify(toks[0]); err != nil { // caches the header once
		t.Fatal(err)
	}
	kept := make([]*token.Claims, n)
	for i, raw := range toks {
		c, err := v.Verify(raw)
		if err != nil {
			t.Fatal(err)
		}
		kept[i] = c
	}
	toks = nil
	heap := func() int64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	with := heap()
	runtime.KeepAlive(kept)
	kept = nil
	perClaims := (with - heap()) / n
	// The claims and their payload take well under 1 KiB; a copy of the
	// token would add more than 4 KiB each.
	if perClaims > 2<<10 {
		t.Fatalf("%d bytes retained per verified token of %d bytes", perClaims, len(s.SignJSON(h, tokentest.Claims(now))))
	}
}

func mustHeader(s *tokentest.Signer) string {
	return `{"alg":"` + string(s.Key.Algorithm()) + `","kid":"` + s.Key.ID() + `","typ":"at+jwt"}`
}

func split(tok string) (h, p, s string) {
	parts := strings.Split(tok, ".")
	return parts[0], parts[1], parts[2]
}

// flip changes one bit of the first signature byte's encoding.
func flip(sig string) string {
	c := sig[0]
	if c == 'A' {
		c = 'B'
	} else {
		c = 'A'
	}
	return string(c) + sig[1:]
}

// bump sets the low bits of the last base64 character, which a
// non-strict decoder would ignore.
func bump(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i|3])
}

func derSig(t *testing.T, s *tokentest.Signer, input string) []byte {
	t.Helper()
	d := sha256.Sum256([]byte(input))
	der, err := ecdsa.SignASN1(rand.Reader, s.Private.(*ecdsa.PrivateKey), d[:])
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestVerifyPSSSaltLength(t *testing.T) {
	s := tokentest.MustSigner(token.PS256)
	v := tokentest.Verifier(tokentest.KeySet(s), now)
	good := s.Mint(now, nil)
	h, p, _ := split(good)
	if _, err := v.Verify(good); err != nil {
		t.Fatalf("salt length = hash length: %v", err)
	}
	for _, salt := range []int{rsa.PSSSaltLengthAuto, 0, 20, 64} {
		d := sha256.Sum256([]byte(h + "." + p))
		sig, err := rsa.SignPSS(rand.Reader, s.Private.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(h + "." + p + "." + tokentest.Encode(sig)); !errors.Is(err, token.ErrSignature) {
			t.Errorf("salt length %d: err = %v, want ErrSignature", salt, err)
		}
	}
}

func TestVerifierConfig(t *testing.T) {
	s := tokentest.MustSigner(token.EdDSA)
	keys := tokentest.KeySet(s)
	tests := []struct {
		name string
		keys token.KeySource
		cfg  token.VerifierConfig
	}{
		{"no keys", nil, token.VerifierConfig{Issuer: "i", Audience: "a"}},
		{"no issuer", keys, token.VerifierConfig{Audience: "a"}},
		{"no audience", keys, token.VerifierConfig{Issuer: "i"}},
		{"leeway over 5 minutes", keys, token.VerifierConfig{Issuer: "i", Audience: "a", Leeway: 6 * time.Minute}},
		{"tiny max length", keys, token.VerifierConfig{Issuer: "i", Audience: "a", MaxTokenLength: 10}},
		{"negative max lifetime", keys, token.VerifierConfig{Issuer: "i", Audience: "a", MaxTokenLifetime: -time.Hour}},
		{"issuer with NUL", keys, token.VerifierConfig{Issuer: "i\x00", Audience: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := token.NewVerifier(tt.keys, tt.cfg); !errors.Is(err, token.ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}

func TestVerifierOptions(t *testing.T) {
	s := tokentest.MustSigner(token.EdDSA)
	keys := tokentest.KeySet(s)
	mk := func(cfg token.VerifierConfig) *token.Verifier {
		cfg.Issuer, cfg.Audience, cfg.Now = tokentest.Issuer, tokentest.Audience, func() time.Time { return now }
		v, err := token.NewVerifier(keys, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	late := s.Mint(now, set(nil, map[string]any{"exp": now.Add(-time.Second).Unix(), "iat": now.Add(-time.Hour).Unix()}))
	tests := []struct {
		name  string
		cfg   token.VerifierConfig
		token string
		want  error
	}{
		{"no leeway rejects 1 s late", token.VerifierConfig{Leeway: -1}, late, token.ErrExpired},
		{"default leeway accepts 1 s late", token.VerifierConfig{}, late, nil},
		{"2 minute leeway", token.VerifierConfig{Leeway: 2 * time.Minute}, s.Mint(now, set(nil, map[string]any{"iat": now.Add(90 * time.Second).Unix()})), nil},
		{"max length lowered", token.VerifierConfig{MaxTokenLength: 100}, s.Mint(now, nil), token.ErrMalformed},
		{"max length raised", token.VerifierConfig{MaxTokenLength: 64 << 10}, s.Mint(now, set(nil, map[string]any{"pad": strings.Repeat("a", 10<<10)})), nil},
		{"max lifetime lowered", token.VerifierConfig{MaxTokenLifetime: 30 * time.Minute}, s.Mint(now, nil), token.ErrLifetime},
		{"max lifetime raised", token.VerifierConfig{MaxTokenLifetime: 72 * time.Hour}, s.Mint(now, set(nil, map[string]any{"exp": now.Add(72 * time.Hour).Unix()})), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mk(tt.cfg).Verify(tt.token)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyDuringRotation swaps key sets while verifying (run with -race).
func TestVerifyDuringRotation(t *testing.T) {
	a, b := tokentest.MustSigner(token.EdDSA), tokentest.MustSigner(token.ES256)
	ring, err := token.NewKeyRing(tokentest.KeySet(a))
	if err != nil {
		t.Fatal(err)
	}
	v := tokentest.Verifier(ring, now)
	ta, tb := a.Mint(now, nil), b.Mint(now, nil)
	both := tokentest.KeySet(a, b)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			if i%2 == 0 {
				ring.Store(both)
			} else {
				ring.Store(tokentest.KeySet(a))
			}
		}
		ring.Store(both)
	})
	for range 200 {
		if _, err := v.Verify(ta); err != nil {
			t.Fatalf("token of a key present in every set: %v", err)
		}
		if _, err := v.Verify(tb); err != nil && !errors.Is(err, token.ErrUnknownKey) {
			t.Fatalf("token of the rotating key: %v", err)
		}
	}
	wg.Wait()
	if _, err := v.Verify(tb); err != nil {
		t.Fatal(err)
	}
}
