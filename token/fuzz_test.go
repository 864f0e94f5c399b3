package token_test

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

// FuzzVerify checks that Verify never panics, that every rejection wraps
// one of the documented sentinels and returns no claims, and that what it
// accepts is the signer's own token.
func FuzzVerify(f *testing.F) {
	s := tokentest.MustSigner(token.EdDSA)
	hs := tokentest.MustSigner(token.HS256)
	v := tokentest.Verifier(tokentest.KeySet(s, hs), now)
	good := s.Mint(now, nil)
	h, p, sig := split(good)
	for _, seed := range []string{
		good, hs.Mint(now, nil), "", ".", "..", "...", h, h + "." + p, h + "." + p + ".",
		h + "." + p + "==." + sig, h + "." + p[:5] + "\r\n" + p[5:] + "." + sig,
		s.Mint(now, set(map[string]any{"crit": []string{"x"}}, nil)),
		s.Mint(now, set(nil, map[string]any{"exp": "1"})),
		s.Mint(now, set(nil, map[string]any{"nbf": 1e300})),
		s.Mint(now, set(map[string]any{"alg": "HS256"}, nil)),
		s.Mint(now, set(map[string]any{"alg": "Ed25519"}, nil)),
		hs.Mint(now, set(map[string]any{"alg": "Ed25519"}, nil)),
		s.Mint(now, set(map[string]any{"typ": "JWT"}, nil)),
		strings.Repeat("a", 9000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(raw)
		if err != nil {
			if c != nil {
				t.Fatalf("claims returned with error %v", err)
			}
			if !isSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if c == nil || c.Issuer != tokentest.Issuer || !c.ExpiresAt.After(now.Add(-time.Minute)) {
			t.Fatalf("accepted %q with claims %+v", raw, c)
		}
	})
}

// FuzzVerifyPayload signs arbitrary payloads, so the claims decoder sees
// every input a trusted issuer could sign: Verify never panics, fails with
// a sentinel, and what it accepts agrees with encoding/json reading the
// same payload into a map (exact names there), names given twice being
// refused.
func FuzzVerifyPayload(f *testing.F) {
	hs := tokentest.MustSigner(token.HS256)
	v := tokentest.Verifier(tokentest.KeySet(hs), now)
	header := []byte(mustHeader(hs))
	for _, seed := range []string{
		payloadJSON(""), payloadJSON(`,"SUB":"admin"`), payloadJSON(`,"ſub":"admin"`), payloadJSON(`,"sub":"a","sub":"b"`),
		payloadJSON(`,"exp":1,"EXP":9999999999`), payloadJSON(`,"aud":["x","` + tokentest.Audience + `"],"roles":["a","b"]`),
		payloadJSON(`,"iat":1795348800.123,"nbf":null,"x":{"y":[1,{"z":"\u00e9"}]}`), `null`, `{}`, `[]`, `{"exp":1e400}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := v.Verify(hs.Sign(header, payload))
		if err != nil {
			if c != nil || !isSentinel(err) {
				t.Fatalf("Verify() = %v, %v", c, err)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatalf("accepted a payload encoding/json refuses: %v", err)
		}
		for name, got := range map[string]string{"iss": c.Issuer, "sub": c.Subject, "jti": c.ID, "scope": c.Scope, "client_id": c.ClientID} {
			if want, _ := m[name].(string); want != got {
				t.Fatalf("%s = %q, encoding/json reads %q", name, got, want)
			}
		}
		// Dates are kept to the microsecond.
		if exp, _ := m["exp"].(float64); math.Abs(float64(c.ExpiresAt.UnixNano())/1e9-exp) > 1e-6 {
			t.Fatalf("exp = %v, encoding/json reads %v", c.ExpiresAt, exp)
		}
		if !c.ExpiresAt.After(now.Add(-time.Minute)) || c.ExpiresAt.Sub(c.IssuedAt) > token.DefaultMaxTokenLifetime {
			t.Fatalf("accepted exp %v, iat %v", c.ExpiresAt, c.IssuedAt)
		}
	})
}

// FuzzParseJWK checks that key parsing never panics and fails with
// ErrInvalidKey or ErrWeakKey.
func FuzzParseJWK(f *testing.F) {
	for _, alg := range []token.Algorithm{token.EdDSA, token.Ed25519, token.ES256, token.RS256} {
		k := tokentest.MustSigner(alg).Key
		b, _ := k.MarshalJSON()
		f.Add(b)
	}
	f.Add([]byte(`{"kty":"oct","k":"AAAA"}`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := token.ParseJWK(data, token.KeyOptions{})
		if err != nil {
			if k != nil || !(errors.Is(err, token.ErrInvalidKey) || errors.Is(err, token.ErrWeakKey)) {
				t.Fatalf("ParseJWK() = %v, %v", k, err)
			}
		}
	})
}

// FuzzParseJWKSet: a provider's JWK Set document is untrusted: ParseJWKSet
// never panics, and a set it returns holds only asymmetric keys of the
// accepted algorithms (EdDSA standing for Ed25519 too), with distinct
// kids.
func FuzzParseJWKSet(f *testing.F) {
	s := tokentest.MustSigner(token.ES256)
	f.Add(tokentest.KeySet(s).JWKS())
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA"}],"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":"","alg":"ES256","use":"enc"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"e"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"Ed25519"}]}`))
	accepted := []token.Algorithm{token.RS256, token.ES256, token.EdDSA}
	f.Fuzz(func(t *testing.T, doc []byte) {
		set, _, err := token.ParseJWKSet(doc, token.JWKSetOptions{Algorithms: accepted})
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, k := range set.Keys() {
			if k.Symmetric() || k.CanSign() || !slices.ContainsFunc(accepted, k.Algorithm().Equal) || seen[k.ID()] {
				t.Fatalf("key %v: symmetric %v, private %v, alg %s, kid seen %v", k, k.Symmetric(), k.CanSign(), k.Algorithm(), seen[k.ID()])
			}
			seen[k.ID()] = true
		}
	})
}
