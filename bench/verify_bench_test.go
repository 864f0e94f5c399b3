// Package bench compares token (impl "sessionless") with two peer JOSE
// libraries, lestrrat-go/jwx/v3 ("jwx") and go-jose/go-jose/v4 ("go-jose"),
// verifying and issuing the same RFC 9068 access tokens. It is a nested
// module so that the peers never enter the main go.mod; golang-jwt/v5 and
// the raw floor are in token/verifier_bench_test.go.
//
// Every implementation verifies the same token per algorithm, minted once
// by token.Issuer: header {"alg","kid","typ":"at+jwt"}, claims iss, sub,
// aud "api", exp (iat+1h), iat, jti, client_id, scope, roles. Each peer is
// configured as strictly as it allows while doing equivalent work.
//
// sessionless (token.Verifier, default config): length limit, exactly three
// strict base64url segments, header typ at+jwt, no crit or b64, kid names a
// key of the set, header alg equals that key's algorithm; exact signature
// length, PSS salt length equal to the hash; claims decoded into
// token.Claims (dates must be numbers); iss, sub, aud, exp, iat, jti
// required; iss exact, aud contains "api", exp/nbf/iat with 30s leeway.
//
// jwx (jwt.Parse with a single jwt.WithKey(alg, rawKey), so its
// jws.VerifyCompactFast path):
//   - checks: algorithm pinned by the caller, and the header alg must equal
//     it; key type must fit the algorithm; crit validated (unknown
//     extensions refused), b64 refused;
//     claims parsed into jwt.Token (private claims into a map);
//     WithStrictStringClaims (null string claims refused); dates must be
//     numbers (global jwt.Settings WithNumericDateParsePedantic, set in
//     init); WithIssuer, WithAudience("api"); exp/iat/nbf with
//     WithAcceptableSkew(30s); sub, exp, iat, jti required
//     (WithRequiredClaim; iss and aud are required by their validators).
//   - typ: jwt.Parse has no typ option (only pedantic mode, which concerns
//     cty nesting and costs a full jws.Parse), so the benchmark checks typ
//     itself with jwx's own building blocks before parsing:
//     jwsbb.SplitCompact + HeaderParseCompact + HeaderGetString — a second
//     base64 and JSON decode of the header, counted in jwx's numbers.
//   - does not check: kid (a raw key matches any kid; a jwk.Set would
//     match it but leaves the fast path); canonical base64 (it accepts
//     non-zero trailing bits and "=" padding). PSS salt length must equal
//     the hash, as in token (its dsig backend).
//
// go-jose (jwt.ParseSigned(raw, []SignatureAlgorithm{alg}), then
// JSONWebToken.Claims(rawKey, &claims), then Claims.ValidateWithLeeway):
//   - checks: header alg must be the pinned algorithm; signature verified
//     with the raw key (HMAC keys of at least the hash size); unknown crit
//     refused; claims decoded once into a struct embedding jwt.Claims plus
//     client_id/scope/roles; dates must be numbers; iss exact, aud contains
//     "api", exp/nbf/iat with 30s leeway (ValidateWithLeeway).
//   - checked here by hand, because go-jose treats them as optional:
//     sub, exp, iat, jti present; header typ at+jwt (cheap: go-jose has
//     already decoded the header into Headers[0].ExtraHeaders).
//   - does not check: kid (raw key); PSS salt length (it verifies with
//     rsa.PSSSaltLengthAuto, so any salt length passes); canonical base64
//     (non-zero trailing bits pass); it accepts "b64":false with crit
//     (RFC 7797), which token refuses.
//
// BenchmarkIssue signs equivalent claims with each library's idiomatic API
// and a signer built once: token.Issuer.Issue; jwx jwt.NewBuilder…Build
// + jwt.Sign with jws.WithProtectedHeaders (kid, typ at+jwt) — which takes
// jwx's general jws.Sign path, its fast path being limited to typ "JWT";
// go-jose jose.NewSigner (kid and typ at+jwt as extra headers) +
// jwt.Signed(signer).Claims(…).Serialize(). The peers' jti is
// token.NewID(), like Issue's.
package bench

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/sessionless/sessionless/token"
)

const (
	benchIssuer   = "https://issuer.example"
	benchAudience = "api"
	benchTTL      = time.Hour
	benchLeeway   = 30 * time.Second
)

// benchClaims match token/verifier_bench_test.go.
var benchClaims = token.Claims{
	Subject:  "user-42",
	ClientID: "demo-api",
	Scope:    "widgets:read widgets:write tokens:manage",
	Roles:    []string{"admin"},
}

var impls = []string{"sessionless", "jwx", "go-jose"}

func init() {
	// Dates must be JSON numbers (jwx otherwise also tries RFC 3339
	// strings), and a single audience is written as a string, as token does.
	jwt.Settings(jwt.WithNumericDateParsePedantic(true), jwt.WithFlattenAudience(true))
}

// fixture is one algorithm's keys, the shared token and every
// implementation's verifier and issuer.
type fixture struct {
	alg    token.Algorithm
	priv   any // ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey or []byte
	pub    any // ed25519.PublicKey, *ecdsa.PublicKey, *rsa.PublicKey or []byte
	key    *token.Key
	set    *token.KeySet
	raw    string                            // minted once by token.Issuer
	verify map[string]func(raw string) error // impl → verifier for iss benchIssuer, aud benchAudience
	issue  map[string]func() (string, error) // impl → signer of benchClaims
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[token.Algorithm]*fixture{}
)

// newMaterial generates the crypto key for alg as token.GenerateKey does:
// RSA 2048 for the 256 variants and 3072 otherwise, HMAC secrets as long
// as the hash output. Generating it here keeps the private key for the
// peers' signers; token.Key does not expose secrets.
func newMaterial(alg token.Algorithm) (priv, pub any, err error) {
	switch {
	case alg == token.EdDSA:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, pub, err
	case strings.HasPrefix(string(alg), "ES"):
		curve := map[token.Algorithm]elliptic.Curve{token.ES256: elliptic.P256(), token.ES384: elliptic.P384(), token.ES512: elliptic.P521()}[alg]
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		return k, &k.PublicKey, nil
	case strings.HasPrefix(string(alg), "RS"), strings.HasPrefix(string(alg), "PS"):
		bits := 3072
		if strings.HasSuffix(string(alg), "256") {
			bits = 2048
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, nil, err
		}
		return k, &k.PublicKey, nil
	case strings.HasPrefix(string(alg), "HS"):
		secret := make([]byte, map[token.Algorithm]int{token.HS256: 32, token.HS384: 48, token.HS512: 64}[alg])
		rand.Read(secret)
		return secret, secret, nil
	}
	return nil, nil, fmt.Errorf("unknown algorithm %s", alg)
}

// getFixture returns the fixture of alg, made on first use.
func getFixture(tb testing.TB, alg token.Algorithm) *fixture {
	tb.Helper()
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	f, ok := fixtures[alg]
	if !ok {
		f = newFixture(tb, alg)
		fixtures[alg] = f
	}
	return f
}

// newFixture generates a key for alg, mints the benchmark token and sets
// up every implementation's verifier and signer.
func newFixture(tb testing.TB, alg token.Algorithm) *fixture {
	tb.Helper()
	priv, pub, err := newMaterial(alg)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := token.NewKey(priv, token.KeyOptions{Algorithm: alg})
	if err != nil {
		tb.Fatal(err)
	}
	set, err := token.NewKeySet(key)
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{alg: alg, priv: priv, pub: pub, key: key, set: set}
	iss := f.tokenIssuer(tb, benchIssuer, benchAudience, time.Now)
	if f.raw, _, err = iss.Issue(benchClaims); err != nil {
		tb.Fatal(err)
	}
	f.verify = map[string]func(string) error{
		"sessionless": f.sessionlessVerifier(tb, benchIssuer, benchAudience),
		"jwx":         f.jwxVerifier(tb, benchIssuer, benchAudience),
		"go-jose":     f.joseVerifier(tb, benchIssuer, benchAudience),
	}
	f.issue = map[string]func() (string, error){
		"sessionless": func() (string, error) { raw, _, err := iss.Issue(benchClaims); return raw, err },
		"jwx":         f.jwxIssuer(tb, "at+jwt", jwxClaims),
		"go-jose":     f.joseIssuer(tb, "at+jwt", joseClaimsNow),
	}
	return f
}

func (f *fixture) tokenIssuer(tb testing.TB, iss, aud string, now func() time.Time) *token.Issuer {
	tb.Helper()
	i, err := token.NewIssuer(f.set, token.IssuerConfig{Issuer: iss, Audience: []string{aud}, TTL: benchTTL, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return i
}

// isATJWT is token's typ rule (RFC 9068 §4): at+jwt, with or without the
// application/ prefix, in any letter case.
func isATJWT(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

var errTyp = errors.New("typ is not at+jwt")

func (f *fixture) sessionlessVerifier(tb testing.TB, iss, aud string) func(string) error {
	tb.Helper()
	v, err := token.NewVerifier(f.set, token.VerifierConfig{Issuer: iss, Audience: aud, Leeway: benchLeeway})
	if err != nil {
		tb.Fatal(err)
	}
	return func(raw string) error {
		_, err := v.Verify(raw)
		return err
	}
}

// ---- jwx ----

func (f *fixture) jwxVerifier(tb testing.TB, iss, aud string) func(string) error {
	tb.Helper()
	alg, ok := jwa.LookupSignatureAlgorithm(string(f.alg))
	if !ok {
		tb.Fatalf("jwx does not know %s", f.alg)
	}
	opts := []jwt.ParseOption{
		jwt.WithKey(alg, f.pub), // the only verify option: jws.VerifyCompactFast, alg pinned
		jwt.WithStrictStringClaims(true),
		jwt.WithIssuer(iss),
		jwt.WithAudience(aud),
		jwt.WithAcceptableSkew(benchLeeway),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
	}
	return func(raw string) error {
		b := []byte(raw) // what jwt.ParseString does
		hdr, _, _, err := jwsbb.SplitCompact(b)
		if err != nil {
			return err
		}
		typ, err := jwsbb.HeaderGetString(jwsbb.HeaderParseCompact(hdr), jws.TypeKey)
		if err != nil {
			return err
		}
		if !isATJWT(typ) {
			return errTyp
		}
		_, err = jwt.Parse(b, opts...)
		return err
	}
}

// jwxClaims builds the benchmark claims as a jwx token issued now.
func jwxClaims() (jwt.Token, error) {
	now := time.Now().Truncate(time.Second)
	return jwt.NewBuilder().
		Issuer(benchIssuer).
		Subject(benchClaims.Subject).
		Audience([]string{benchAudience}).
		IssuedAt(now).
		Expiration(now.Add(benchTTL)).
		JwtID(token.NewID()).
		Claim("client_id", benchClaims.ClientID).
		Claim("scope", benchClaims.Scope).
		Claim("roles", benchClaims.Roles).
		Build()
}

func (f *fixture) jwxIssuer(tb testing.TB, typ string, claims func() (jwt.Token, error)) func() (string, error) {
	tb.Helper()
	alg, ok := jwa.LookupSignatureAlgorithm(string(f.alg))
	if !ok {
		tb.Fatalf("jwx does not know %s", f.alg)
	}
	hdrs := jws.NewHeaders()
	if err := hdrs.Set(jws.KeyIDKey, f.key.ID()); err != nil {
		tb.Fatal(err)
	}
	if err := hdrs.Set(jws.TypeKey, typ); err != nil {
		tb.Fatal(err)
	}
	opt := jwt.WithKey(alg, f.priv, jws.WithProtectedHeaders(hdrs))
	return func() (string, error) {
		t, err := claims()
		if err != nil {
			return "", err
		}
		b, err := jwt.Sign(t, opt)
		return string(b), err
	}
}

// ---- go-jose ----

// joseClaims is go-jose's registered claims plus the private ones, decoded
// in one pass.
type joseClaims struct {
	josejwt.Claims
	ClientID string   `json:"client_id,omitempty"`
	Scope    string   `json:"scope,omitempty"`
	Roles    []string `json:"roles,omitempty"`
}

var errMissing = errors.New("sub, exp, iat and jti are required")

func (f *fixture) joseVerifier(tb testing.TB, iss, aud string) func(string) error {
	tb.Helper()
	algs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(f.alg)}
	expected := josejwt.Expected{Issuer: iss, AnyAudience: josejwt.Audience{aud}}
	pub := f.pub
	return func(raw string) error {
		t, err := josejwt.ParseSigned(raw, algs)
		if err != nil {
			return err
		}
		if typ, _ := t.Headers[0].ExtraHeaders[jose.HeaderType].(string); !isATJWT(typ) {
			return errTyp
		}
		var c joseClaims
		if err := t.Claims(pub, &c); err != nil {
			return err
		}
		// iss and aud are required by Expected; go-jose treats the rest as optional.
		if c.Subject == "" || c.Expiry == nil || c.IssuedAt == nil || c.ID == "" {
			return errMissing
		}
		return c.ValidateWithLeeway(expected, benchLeeway)
	}
}

// joseClaimsNow builds the benchmark claims for go-jose, issued now.
func joseClaimsNow() joseClaims {
	now := time.Now()
	return joseClaims{
		Claims: josejwt.Claims{
			Issuer:   benchIssuer,
			Subject:  benchClaims.Subject,
			Audience: josejwt.Audience{benchAudience},
			IssuedAt: josejwt.NewNumericDate(now),
			Expiry:   josejwt.NewNumericDate(now.Add(benchTTL)),
			ID:       token.NewID(),
		},
		ClientID: benchClaims.ClientID,
		Scope:    benchClaims.Scope,
		Roles:    benchClaims.Roles,
	}
}

func (f *fixture) joseIssuer(tb testing.TB, typ string, claims func() joseClaims) func() (string, error) {
	tb.Helper()
	// kid as an extra header: go-jose writes a JSONWebKey's KeyID only for
	// asymmetric keys.
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(f.alg), Key: f.priv},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", f.key.ID()))
	if err != nil {
		tb.Fatal(err)
	}
	return func() (string, error) {
		return josejwt.Signed(signer).Claims(claims()).Serialize()
	}
}

// ---- benchmarks ----

// BenchmarkVerify verifies the same token with each implementation.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range token.Algorithms {
		f := getFixture(b, alg)
		for _, impl := range impls {
			verify, raw := f.verify[impl], f.raw
			b.Run(string(alg)+"/"+impl, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := verify(raw); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkIssue signs equivalent claims with each implementation.
func BenchmarkIssue(b *testing.B) {
	for _, alg := range token.Algorithms {
		f := getFixture(b, alg)
		for _, impl := range impls {
			issue := f.issue[impl]
			b.Run(string(alg)+"/"+impl, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := issue(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
