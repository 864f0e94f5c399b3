package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/tokentest"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// revoker revokes listed token IDs, or fails when down.
type revoker struct {
	ids  map[string]bool
	down atomic.Bool
	hits atomic.Int64
}

func (r *revoker) Revoked(_ context.Context, p *identity.Principal) (bool, error) {
	r.hits.Add(1)
	if r.down.Load() {
		return false, fmt.Errorf("%w: store down", middleware.ErrUnavailable)
	}
	return r.ids[p.TokenID], nil
}

type env struct {
	signer *tokentest.Signer
	auth   *middleware.Authenticator
	rev    *revoker
	mux    *httptest.Server
	chi    *httptest.Server
}

func newEnv(t *testing.T, mutate func(*middleware.Config)) *env {
	t.Helper()
	s := tokentest.MustSigner(token.EdDSA)
	rev := &revoker{ids: map[string]bool{}}
	cfg := middleware.Config{
		JWT:        map[string]middleware.Verifier{tokentest.Issuer: tokentest.Verifier(tokentest.KeySet(s), now)},
		Revocation: rev,
		Realm:      "test",
		Now:        func() time.Time { return now },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := middleware.PrincipalFrom(r.Context())
		if !ok {
			fmt.Fprint(w, "anonymous")
			return
		}
		fmt.Fprintf(w, "%s %s %s", p.Subject, p.Method, strings.Join(p.Scopes, ","))
	})
	mux := http.NewServeMux()
	mux.Handle("GET /me", a.Middleware(me))
	mux.Handle("GET /read", a.Middleware(a.RequireScopes("widgets:read")(me)))
	mux.Handle("GET /admin", a.Middleware(a.RequireScopes("widgets:read", "admin:all")(me)))
	mux.Handle("GET /any", a.Middleware(a.RequireAnyScope("nope", "widgets:write")(me)))
	mux.Handle("GET /role", a.Middleware(a.RequireRoles("admin")(me)))
	mux.Handle("GET /noauth", a.RequireScopes("x")(me))

	r := chi.NewRouter()
	r.Use(a.Middleware)
	r.Get("/me", me)
	r.With(a.RequireScopes("widgets:read")).Get("/read", me)
	r.With(a.RequireScopes("widgets:read", "admin:all")).Get("/admin", me)
	r.With(a.RequireAnyScope("nope", "widgets:write")).Get("/any", me)
	r.With(a.RequireRoles("admin")).Get("/role", me)
	outer := chi.NewRouter()
	outer.Mount("/", r)
	outer.With(a.RequireScopes("x")).Get("/noauth", me)

	e := &env{signer: s, auth: a, rev: rev, mux: httptest.NewServer(mux), chi: httptest.NewServer(outer)}
	t.Cleanup(e.mux.Close)
	t.Cleanup(e.chi.Close)
	return e
}

type reply struct {
	status    int
	challenge string
	body      string
	problem   map[string]any
}

func get(t *testing.T, srv *httptest.Server, path string, edit func(*http.Request)) reply {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), body: string(b)}
	if resp.Header.Get("Content-Type") == "application/problem+json" {
		json.Unmarshal(b, &r.problem)
	}
	return r
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func TestMiddleware(t *testing.T) {
	e := newEnv(t, nil)
	good := e.signer.Mint(now, nil)
	revokedTok := e.signer.Mint(now, func(_, c map[string]any) { c["jti"] = "revoked-1" })
	e.rev.ids["revoked-1"] = true
	expired := e.signer.Mint(now, func(_, c map[string]any) {
		c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	})
	viewer := e.signer.Mint(now, func(_, c map[string]any) { c["scope"], c["roles"] = "widgets:read", nil })
	invalid := `Bearer realm="test", error="invalid_token", error_description="the access token is invalid, expired or revoked"`
	badReq := `Bearer realm="test", error="invalid_request", error_description="malformed request: send exactly one bearer token"`

	tests := []struct {
		name      string
		path      string
		edit      func(*http.Request)
		status    int
		challenge string
		body      string // prefix of a 200 body
	}{
		// Credentials.
		{"valid token", "/me", bearer(good), 200, "", "user-1 jwt widgets:read,widgets:write"},
		{"scheme in lower case", "/me", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+good) }, 200, "", "user-1"},
		{"scheme in upper case, two spaces", "/me", func(r *http.Request) { r.Header.Set("Authorization", "BEARER  "+good) }, 200, "", "user-1"},
		{"no credentials", "/me", nil, 401, `Bearer realm="test"`, ""},
		{"Basic scheme", "/me", func(r *http.Request) { r.Header.Set("Authorization", "Basic dXNlcjpwdw==") }, 401, `Bearer realm="test"`, ""},
		{"Bearer without token", "/me", func(r *http.Request) { r.Header.Set("Authorization", "Bearer") }, 400, badReq, ""},
		{"Bearer with two tokens", "/me", func(r *http.Request) { r.Header.Set("Authorization", "Bearer a b") }, 400, badReq, ""},
		{"two Authorization headers", "/me", func(r *http.Request) {
			r.Header.Add("Authorization", "Bearer "+good)
			r.Header.Add("Authorization", "Bearer "+good)
		}, 400, badReq, ""},
		{"token outside b64token", "/me", func(r *http.Request) { r.Header.Set("Authorization", "Bearer a\"b") }, 400, badReq, ""},
		{"token in header and query", "/me?access_token=" + good, bearer(good), 200, "", "user-1"}, // query is off: ignored
		{"query only, query off", "/me?access_token=" + good, nil, 401, `Bearer realm="test"`, ""},
		{"cookie only, cookie off", "/me", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "at", Value: good}) }, 401, `Bearer realm="test"`, ""},
		// A token over the 8 KiB limit is invalid_token however long it is.
		{"token of 8 KiB + 1", "/me", bearer(strings.Repeat("a", 8<<10+1)), 401, invalid, ""},
		{"token of 15 KB", "/me", bearer(strings.Repeat("a", 15000)), 401, invalid, ""},
		{"token of 15 KB then junk", "/me", bearer(strings.Repeat("a", 15000) + " b"), 401, invalid, ""},
		{"garbage of exactly 8 KiB", "/me", bearer(strings.Repeat("a", 8<<10)), 401, invalid, ""},

		// Tokens.
		{"garbage token", "/me", bearer("x.y.z"), 401, invalid, ""},
		{"opaque token of no known kind", "/me", bearer("sl_abc"), 401, invalid, ""},
		{"forged token", "/me", bearer(tokentest.MustSigner(token.EdDSA).Mint(now, nil)), 401, invalid, ""},
		{"expired token", "/me", bearer(expired), 401, invalid, ""},
		{"revoked token", "/me", bearer(revokedTok), 401, invalid, ""},

		// Authorization.
		{"scope present", "/read", bearer(viewer), 200, "", "user-1"},
		{"scope missing", "/admin", bearer(good), 403, `Bearer realm="test", error="insufficient_scope", error_description="the access token lacks the required scope", scope="widgets:read admin:all"`, ""},
		{"any scope present", "/any", bearer(good), 200, "", "user-1"},
		{"any scope missing", "/any", bearer(viewer), 403, `Bearer realm="test", error="insufficient_scope", error_description="the access token lacks the required scope", scope="nope widgets:write"`, ""},
		{"role present", "/role", bearer(good), 200, "", "user-1"},
		{"role missing", "/role", bearer(viewer), 403, `Bearer realm="test", error="insufficient_scope", error_description="the access token lacks the required scope"`, ""},
		{"authorization without authentication", "/noauth", bearer(good), 401, `Bearer realm="test"`, ""},
	}
	for _, router := range []struct {
		name string
		srv  *httptest.Server
	}{{"ServeMux", e.mux}, {"chi", e.chi}} {
		for _, tt := range tests {
			t.Run(router.name+"/"+tt.name, func(t *testing.T) {
				r := get(t, router.srv, tt.path, tt.edit)
				if r.status != tt.status || r.challenge != tt.challenge {
					t.Fatalf("got %d %q, want %d %q (%s)", r.status, r.challenge, tt.status, tt.challenge, r.body)
				}
				if tt.status == 200 {
					if !strings.HasPrefix(r.body, tt.body) {
						t.Fatalf("body %q, want prefix %q", r.body, tt.body)
					}
					return
				}
				if r.problem["status"] != float64(tt.status) || r.problem["type"] != "about:blank" {
					t.Fatalf("problem body %s", r.body)
				}
				if strings.Contains(r.body, "token:") || strings.Contains(r.body, "signature") {
					t.Fatalf("body exposes the cause: %s", r.body)
				}
			})
		}
	}
}

func TestStoreDown(t *testing.T) {
	for _, router := range []string{"ServeMux", "chi"} {
		t.Run(router, func(t *testing.T) {
			e := newEnv(t, nil)
			srv := map[string]*httptest.Server{"ServeMux": e.mux, "chi": e.chi}[router]
			good := e.signer.Mint(now, nil)
			if r := get(t, srv, "/me", bearer(good)); r.status != 200 {
				t.Fatalf("up: %d", r.status)
			}
			e.rev.down.Store(true)
			// A cache hit re-checks revocation too: 503, never 200 or 401.
			for _, tok := range []string{good, e.signer.Mint(now, nil)} {
				r := get(t, srv, "/me", bearer(tok))
				if r.status != 503 || r.challenge != "" || r.problem["error"] != "temporarily_unavailable" {
					t.Fatalf("down: %d %q %s", r.status, r.challenge, r.body)
				}
			}
			e.rev.down.Store(false)
			if r := get(t, srv, "/me", bearer(good)); r.status != 200 {
				t.Fatalf("recovered: %d", r.status)
			}
		})
	}
}

// TestVerifierUnavailable: a verifier whose store is down (an API token
// database) gives 503, and a plain verifier error 401.
func TestVerifierUnavailable(t *testing.T) {
	var down atomic.Bool
	v := middleware.VerifierFunc(func(context.Context, string) (*identity.Principal, error) {
		if down.Load() {
			return nil, fmt.Errorf("%w: database down", middleware.ErrUnavailable)
		}
		return nil, errors.New("no such token")
	})
	a, err := middleware.New(middleware.Config{Prefixes: map[string]middleware.Verifier{"sl_": v}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Middleware(http.NotFoundHandler()))
	defer srv.Close()
	if r := get(t, srv, "/", bearer("sl_x")); r.status != 401 {
		t.Fatalf("unknown token: %d", r.status)
	}
	down.Store(true)
	if r := get(t, srv, "/", bearer("sl_x")); r.status != 503 {
		t.Fatalf("store down: %d", r.status)
	}
}

func TestCredentialPlaces(t *testing.T) {
	e := newEnv(t, func(c *middleware.Config) { c.CookieName, c.QueryParam = "at", "access_token" })
	good := e.signer.Mint(now, nil)
	cookie := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "at", Value: good}) }
	for _, tt := range []struct {
		name   string
		path   string
		edit   func(*http.Request)
		status int
	}{
		{"cookie", "/me", cookie, 200},
		{"query", "/me?access_token=" + good, nil, 200},
		{"header and cookie", "/me", func(r *http.Request) { cookie(r); bearer(good)(r) }, 400},
		{"header and query", "/me?access_token=" + good, bearer(good), 400},
		{"cookie and query", "/me?access_token=" + good, cookie, 400},
		{"query twice", "/me?access_token=" + good + "&access_token=" + good, nil, 400},
		// Cookie tossing: a second cookie of the name from a sibling
		// subdomain must not decide who the request acts as.
		{"two cookies", "/me", func(r *http.Request) { r.Header.Set("Cookie", "at="+good+"; at=x.y.z") }, 400},
		{"two cookies, the valid one second", "/me", func(r *http.Request) { r.Header.Set("Cookie", "at=x.y.z; at="+good) }, 400},
		{"the same cookie twice", "/me", func(r *http.Request) { r.Header.Set("Cookie", "at="+good+"; at="+good) }, 400},
		{"an empty cookie and a valid one", "/me", func(r *http.Request) { r.Header.Set("Cookie", "at=; at="+good) }, 400},
		{"two Cookie headers", "/me", func(r *http.Request) {
			r.Header.Add("Cookie", "at="+good)
			r.Header.Add("Cookie", "at=x.y.z")
		}, 400},
		{"other cookies beside it", "/me", func(r *http.Request) { r.Header.Set("Cookie", "theme=dark; at="+good+"; AT=x; at_=y") }, 200},
		{"an empty cookie alone", "/me", func(r *http.Request) { r.Header.Set("Cookie", "at=") }, 401},
		{"oversized cookie", "/me", func(r *http.Request) { r.Header.Set("Cookie", "at="+strings.Repeat("a", 9000)) }, 401},
		{"oversized query", "/me?access_token=" + strings.Repeat("a", 9000), nil, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := get(t, e.chi, tt.path, tt.edit); r.status != tt.status {
				t.Fatalf("status %d, want %d (%s)", r.status, tt.status, r.body)
			}
		})
	}
}

func TestOptional(t *testing.T) {
	e := newEnv(t, func(c *middleware.Config) { c.Optional = true })
	if r := get(t, e.mux, "/me", nil); r.status != 200 || r.body != "anonymous" {
		t.Fatalf("anonymous: %d %s", r.status, r.body)
	}
	if r := get(t, e.mux, "/me", bearer("x.y.z")); r.status != 401 {
		t.Fatalf("invalid token in optional mode: %d", r.status)
	}
	if r := get(t, e.mux, "/read", nil); r.status != 401 {
		t.Fatalf("scope required, anonymous: %d", r.status)
	}
}

func TestCache(t *testing.T) {
	var calls atomic.Int64
	s := tokentest.MustSigner(token.EdDSA)
	clock := now
	v := tokentest.Verifier(tokentest.KeySet(s), now.Add(time.Hour+10*time.Second)) // accepts within its leeway
	counting := middleware.VerifierFunc(func(ctx context.Context, raw string) (*identity.Principal, error) {
		calls.Add(1)
		return v.Authenticate(ctx, raw)
	})
	rev := &revoker{ids: map[string]bool{}}
	for _, size := range []int{0, -1} {
		calls.Store(0)
		a, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{"x": counting}, Revocation: rev,
			CacheSize: size, Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		tok := s.Mint(now, func(_, c map[string]any) { c["jti"] = fmt.Sprint("j", size) })
		clock = now.Add(time.Hour - time.Second)
		for range 3 {
			if _, err := a.Authenticate(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		}
		want := int64(1)
		if size < 0 {
			want = 3
		}
		if calls.Load() != want {
			t.Fatalf("cache size %d: %d verifications, want %d", size, calls.Load(), want)
		}
		// Revocation is re-checked on a hit.
		rev.ids[fmt.Sprint("j", size)] = true
		if _, err := a.Authenticate(context.Background(), tok); !errors.Is(err, middleware.ErrRevoked) {
			t.Fatalf("revoked after caching: %v", err)
		}
		delete(rev.ids, fmt.Sprint("j", size))
		// An entry never outlives exp: past it the verifier decides again.
		clock = now.Add(time.Hour)
		before := calls.Load()
		a.Authenticate(context.Background(), tok)
		if calls.Load() != before+1 {
			t.Fatalf("cache served a token past its exp")
		}
	}
}

func TestRouting(t *testing.T) {
	first, ext := tokentest.MustSigner(token.EdDSA), tokentest.MustSigner(token.ES256)
	var extCalls, apiCalls atomic.Int64
	extV := middleware.VerifierFunc(func(ctx context.Context, raw string) (*identity.Principal, error) {
		extCalls.Add(1)
		return nil, errors.New("not checked here")
	})
	api := middleware.VerifierFunc(func(ctx context.Context, raw string) (*identity.Principal, error) {
		apiCalls.Add(1)
		if raw == "sl_good" {
			return &identity.Principal{Subject: "svc", Method: identity.APIToken}, nil
		}
		return nil, errors.New("unknown api token")
	})
	a, err := middleware.New(middleware.Config{
		JWT: map[string]middleware.Verifier{
			tokentest.Issuer:          tokentest.Verifier(tokentest.KeySet(first), now),
			"https://idp.example.com": extV,
		},
		Prefixes: map[string]middleware.Verifier{"sl_": api},
		Now:      func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if p, err := a.Authenticate(ctx, first.Mint(now, nil)); err != nil || p.Method != identity.JWT {
		t.Fatalf("first-party: %v %v", p, err)
	}
	if p, err := a.Authenticate(ctx, "sl_good"); err != nil || p.Subject != "svc" {
		t.Fatalf("api token: %v %v", p, err)
	}
	unknownIss := ext.Mint(now, func(_, c map[string]any) { c["iss"] = "https://evil.example" })
	if _, err := a.Authenticate(ctx, unknownIss); !errors.Is(err, middleware.ErrInvalidToken) || extCalls.Load() != 0 {
		t.Fatalf("unknown iss: %v, external verifier called %d times", err, extCalls.Load())
	}
	a.Authenticate(ctx, ext.Mint(now, func(_, c map[string]any) { c["iss"] = "https://idp.example.com" }))
	if extCalls.Load() != 1 || apiCalls.Load() != 1 {
		t.Fatalf("routing: external %d, api %d", extCalls.Load(), apiCalls.Load())
	}
}

func TestHooksAndLogs(t *testing.T) {
	var ok, rejected atomic.Int64
	var reason atomic.Value
	e := newEnv(t, func(c *middleware.Config) {
		c.Hooks = middleware.Hooks{
			OnAuthenticated: func(*http.Request, *identity.Principal, bool) { ok.Add(1) },
			OnRejected:      func(_ *http.Request, err error) { rejected.Add(1); reason.Store(err) },
		}
	})
	good := e.signer.Mint(now, nil)
	get(t, e.mux, "/me", bearer(good))
	get(t, e.mux, "/me", bearer(good+"x"))
	if ok.Load() != 1 || rejected.Load() != 1 || !errors.Is(reason.Load().(error), middleware.ErrInvalidToken) ||
		!errors.Is(reason.Load().(error), token.ErrSignature) {
		t.Fatalf("hooks: ok %d rejected %d reason %v", ok.Load(), rejected.Load(), reason.Load())
	}
	if strings.Contains(reason.Load().(error).Error(), good[40:]) {
		t.Fatal("reason contains the token")
	}
}

func TestNewRefuses(t *testing.T) {
	v := middleware.VerifierFunc(func(context.Context, string) (*identity.Principal, error) { return nil, nil })
	prefix := func(p string) middleware.Config {
		return middleware.Config{Prefixes: map[string]middleware.Verifier{p: v}}
	}
	for name, cfg := range map[string]middleware.Config{
		"no verifiers":          {},
		"empty issuer":          {JWT: map[string]middleware.Verifier{"": v}},
		"empty prefix":          prefix(""),
		"quoted realm":          {JWT: map[string]middleware.Verifier{"i": v}, Realm: `a"b`},
		"nil verifier":          {JWT: map[string]middleware.Verifier{"i": nil}},
		"nil prefix verifier":   {Prefixes: map[string]middleware.Verifier{"sl_": nil}},
		"prefix eyJ":            prefix("eyJ"),
		"prefix ey":             prefix("ey"),
		"prefix e":              prefix("e"),
		"prefix ew (`{` + ws)":  prefix("ew"),
		"prefix e3 (`{}`)":      prefix("e3_"),
		"prefix with a dot":     prefix("sl."),
		"prefix with =":         prefix("sl=_"),
		"prefix with a space":   prefix("sl _"),
		"prefix with a quote":   prefix(`sl"`),
		"prefix with non-ASCII": prefix("sλ_"),
	} {
		if _, err := middleware.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, p := range []string{"sl_", "sk_live_", "ghp_", "E", "eu_", "ea", "ex_", "e2e_", "e0", "x-y~z+/"} {
		if _, err := middleware.New(prefix(p)); err != nil {
			t.Errorf("prefix %q refused: %v", p, err)
		}
	}
}

// TestLongestPrefixWins: overlapping prefixes route deterministically to
// the longest that matches, whatever the map order.
func TestLongestPrefixWins(t *testing.T) {
	named := func(name string) middleware.Verifier {
		return middleware.VerifierFunc(func(_ context.Context, raw string) (*identity.Principal, error) {
			return &identity.Principal{Subject: name, Method: identity.APIToken}, nil
		})
	}
	for i := range 50 {
		a, err := middleware.New(middleware.Config{
			Prefixes:  map[string]middleware.Verifier{"sl_": named("sl"), "sl_live_": named("live"), "sl_live_x_": named("x"), "s": named("s")},
			CacheSize: -1,
		})
		if err != nil {
			t.Fatal(err)
		}
		for tok, want := range map[string]string{"sl_live_abc": "live", "sl_abc": "sl", "sl_live_x_1": "x", "sl_livex": "sl", "sx": "s"} {
			if p, err := a.Authenticate(context.Background(), tok); err != nil || p.Subject != want {
				t.Fatalf("run %d: %s went to %v (%v), want %s", i, tok, p, err, want)
			}
		}
	}
}

// TestPeekIssuerExact: with several issuers, a JWT is routed by its exact
// "iss" member; a case variant is not iss, and iss given twice is refused
// before any verifier runs.
func TestPeekIssuerExact(t *testing.T) {
	s := tokentest.MustSigner(token.EdDSA)
	var calls atomic.Int64
	trusted := middleware.VerifierFunc(func(ctx context.Context, raw string) (*identity.Principal, error) {
		calls.Add(1)
		return &identity.Principal{Subject: "x"}, nil
	})
	a, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{
		"https://idp.example": trusted, tokentest.Issuer: tokentest.Verifier(tokentest.KeySet(s), now),
	}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	header := []byte(`{"alg":"EdDSA","kid":"` + s.Key.ID() + `","typ":"at+jwt"}`)
	for name, payload := range map[string]string{
		"ISS names the trusted issuer": `{"ISS":"https://idp.example","iss":"https://evil.example"}`,
		"iss twice":                    `{"iss":"https://evil.example","iss":"https://idp.example"}`,
		"iss through an escape twice":  `{"iss":"https://evil.example","\u0069ss":"https://idp.example"}`,
		"only ISS":                     `{"ISS":"https://idp.example"}`,
		"iss not a string":             `{"iss":["https://idp.example"]}`,
		"payload null":                 `null`,
	} {
		if _, err := a.Authenticate(context.Background(), s.Sign(header, []byte(payload))); !errors.Is(err, middleware.ErrInvalidToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if calls.Load() != 0 {
		t.Fatalf("the verifier of another issuer was called %d times", calls.Load())
	}
	if _, err := a.Authenticate(context.Background(), s.Sign(header, []byte(`{"iss":"https://idp.example","ISS":"x"}`))); err != nil || calls.Load() != 1 {
		t.Fatalf("exact iss: %v, %d calls", err, calls.Load())
	}
}

// TestMaxTokenLength: a valid token exactly as long as MaxTokenLength is
// accepted, in every place; one byte shorter a limit refuses it with 401
// invalid_token, never 400.
func TestMaxTokenLength(t *testing.T) {
	s := tokentest.MustSigner(token.EdDSA)
	tok := s.Mint(now, nil)
	v, err := token.NewVerifier(tokentest.KeySet(s), token.VerifierConfig{Issuer: tokentest.Issuer, Audience: tokentest.Audience,
		MaxTokenLength: 64 << 10, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	places := map[string]func(*http.Request){
		"header": bearer(tok),
		"cookie": func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "at", Value: tok}) },
		"query":  func(r *http.Request) { r.URL.RawQuery = "access_token=" + tok },
	}
	for _, limit := range []int{len(tok), len(tok) - 1} {
		a, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{tokentest.Issuer: v},
			MaxTokenLength: limit, CookieName: "at", QueryParam: "access_token", Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
		for place, edit := range places {
			want := 200
			if limit < len(tok) {
				want = 401
			}
			r := get(t, srv, "/", edit)
			if r.status != want || want == 401 && !strings.Contains(r.challenge, `error="invalid_token"`) {
				t.Errorf("%s, token %d bytes, limit %d: %d %q, want %d", place, len(tok), limit, r.status, r.challenge, want)
			}
		}
		srv.Close()
	}
}
