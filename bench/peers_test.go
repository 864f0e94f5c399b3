package bench

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/sessionless/sessionless/token"
)

// tamper flips one bit in the middle of the decoded signature, so that no
// decoder can read the tampered token as the original (flipping the last
// base64 character may only touch padding bits that lax decoders ignore).
func tamper(t *testing.T, raw string) string {
	t.Helper()
	d := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[d+1:])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 0x01
	return raw[:d+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// TestPeersAgree checks, per algorithm, that every implementation accepts
// the benchmark token and every token the signing benchmarks produce, and
// rejects tokens with a tampered signature, another key's signature, a
// wrong iss, aud or typ, an exp in the past, an iat in the future, or no
// jti or sub — so the benchmarks measure the success path of equivalently
// configured verifiers.
func TestPeersAgree(t *testing.T) {
	for _, alg := range token.Algorithms {
		t.Run(string(alg), func(t *testing.T) {
			f := getFixture(t, alg)

			// The benchmark token and the tokens of each signing setup.
			valid := map[string]string{"minted": f.raw}
			for _, impl := range impls {
				raw, err := f.issue[impl]()
				if err != nil {
					t.Fatalf("%s issue: %v", impl, err)
				}
				valid["issued by "+impl] = raw
			}
			for name, raw := range valid {
				for _, impl := range impls {
					if err := f.verify[impl](raw); err != nil {
						t.Errorf("%s rejects the token %s: %v", impl, name, err)
					}
				}
			}

			// Tokens every implementation must reject.
			mint := func(iss, aud string, now func() time.Time) string {
				raw, _, err := f.tokenIssuer(t, iss, aud, now).Issue(benchClaims)
				if err != nil {
					t.Fatal(err)
				}
				return raw
			}
			jwtTyp, err := f.joseIssuer(t, "JWT", joseClaimsNow)()
			if err != nil {
				t.Fatal(err)
			}
			noJTI, err := f.joseIssuer(t, "at+jwt", func() joseClaims {
				c := joseClaimsNow()
				c.ID = ""
				return c
			})()
			if err != nil {
				t.Fatal(err)
			}
			jwxNoSub, err := f.jwxIssuer(t, "at+jwt", func() (jwt.Token, error) {
				tok, err := jwxClaims()
				if err == nil {
					err = tok.Remove(jwt.SubjectKey)
				}
				return tok, err
			})()
			if err != nil {
				t.Fatal(err)
			}
			invalid := map[string]string{
				"tampered signature": tamper(t, f.raw),
				"wrong iss":          mint("https://evil.example", benchAudience, time.Now),
				"wrong aud":          mint(benchIssuer, "other", time.Now),
				"expired":            mint(benchIssuer, benchAudience, func() time.Time { return time.Now().Add(-benchTTL - time.Minute) }),
				"iat in the future":  mint(benchIssuer, benchAudience, func() time.Time { return time.Now().Add(2 * time.Minute) }),
				"typ JWT":            jwtTyp,
				"no jti":             noJTI,
				"no sub":             jwxNoSub,
			}
			for name, raw := range invalid {
				for _, impl := range impls {
					if err := f.verify[impl](raw); err == nil {
						t.Errorf("%s accepts a token with %s", impl, name)
					}
				}
			}

			// A token of another key with the same algorithm fails everywhere.
			other := newFixture(t, alg)
			for _, impl := range impls {
				if err := f.verify[impl](other.raw); err == nil {
					t.Errorf("%s accepts a token signed by another key", impl)
				}
			}
		})
	}
}

// TestJoseClaimsDecode makes sure go-jose's decoder fills the embedded
// jwt.Claims of joseClaims, so its iss/aud/exp checks see the claims.
func TestJoseClaimsDecode(t *testing.T) {
	f := getFixture(t, token.ES256)
	if _, err := josejwt.ParseSigned(f.raw, []jose.SignatureAlgorithm{jose.RS256}); err == nil {
		t.Fatal("go-jose parsed an ES256 token with only RS256 allowed")
	}
	tok, err := josejwt.ParseSigned(f.raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var c joseClaims
	if err := tok.Claims(f.pub, &c); err != nil {
		t.Fatal(err)
	}
	if c.Issuer != benchIssuer || !c.Audience.Contains(benchAudience) || c.Subject != benchClaims.Subject ||
		c.Expiry == nil || c.IssuedAt == nil || c.ID == "" ||
		c.ClientID != benchClaims.ClientID || c.Scope != benchClaims.Scope || len(c.Roles) != 1 {
		t.Fatalf("decoded %+v", c)
	}
}
