package oidc

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/internal/strictjson"
	"golang.org/x/oauth2"
)

// DefaultLoginTimeout is how long a login may take at the provider: the
// life of the cookie holding its state, nonce and PKCE verifier.
const DefaultLoginTimeout = 10 * time.Minute

// LoginConfig configures a [Login].
type LoginConfig struct {
	// Issuer is the provider's issuer identifier (discovery). Required.
	Issuer string
	// ClientID and ClientSecret are the application's client at the
	// provider (a confidential client; the secret may be empty for a
	// public one: PKCE protects the code). ClientID is required.
	ClientID, ClientSecret string
	// RedirectURL is the callback's absolute URL, registered at the
	// provider. Required.
	RedirectURL string
	// Scopes asked for. Default: openid, profile, email.
	Scopes []string
	// CookieKey encrypts and authenticates the cookie that carries the
	// login's state, nonce and PKCE verifier (AES-256-GCM): 32 bytes,
	// shared by every instance that may receive the callback. Required.
	// Logins through several providers may share it: each login's cookie
	// has a name of its own and opens only under its issuer and client.
	CookieKey []byte
	// Timeout is how long a login may take. Default DefaultLoginTimeout.
	Timeout time.Duration
	// Complete receives the verified identity and answers the request:
	// typically with the application's own tokens
	// (endpoint.Server.IssueTokens). Required.
	Complete func(w http.ResponseWriter, r *http.Request, id *Identity)
	// HTTPClient talks to the provider. Default: a DefaultHTTPTimeout
	// client.
	HTTPClient *http.Client
	// Logger receives refused callbacks (never a code or a token).
	Logger *slog.Logger
	// Now returns the current time. Nil: time.Now.
	Now func() time.Time
}

// Identity is who logged in at the provider, from the verified ID token.
// Issuer and Subject identify the user; link accounts by them, never by
// Email, which the provider may not have verified (EmailVerified) and may
// let users change.
type Identity struct {
	Issuer, Subject   string
	Username, Email   string // preferred_username, email: as the provider states them
	EmailVerified     bool
	Name              string
	IDToken           *gooidc.IDToken
	ProviderTokenType string
	// ReturnTo is the return_to path the login was started with
	// ([Login.Start]), "" without one: a path of this site (checked), for
	// a login that ends in the browser (endpoint.Server.IssueCookies).
	ReturnTo string
}

// Login runs the OpenID Connect authorization code flow with PKCE (S256),
// state and nonce, without a server session: [Login.Start] redirects to
// the provider with the three secrets sealed in a short-lived cookie
// (AES-GCM, Secure and __Host- on https, SameSite=Lax, HttpOnly), and
// [Login.Callback] checks the state against it, checks the response's
// issuer (RFC 9207), exchanges the code with the verifier, verifies the
// ID token (signature, issuer, audience, azp, expiry, nonce, and at_hash
// when present) and hands the identity to LoginConfig.Complete.
//
// The cookie is the login's own: its name derives from the issuer and
// the client id, and its sealed state opens only under them (they are
// the AEAD's additional data), so that logins through several providers
// sharing a CookieKey cannot open each other's state.
type Login struct {
	cfg    LoginConfig
	aead   cipher.AEAD
	secure bool
	cookie string // the cookie's name: derived from issuer and client
	ad     []byte // the AEAD's additional data: cookie, issuer, client
	log    *slog.Logger

	mu       sync.Mutex
	provider *gooidc.Provider
	issParam bool // the provider sends iss in authorization responses
}

// NewLogin checks cfg. It does no I/O: discovery happens on the first
// login (and again until it succeeds).
func NewLogin(cfg LoginConfig) (*Login, error) {
	switch {
	case cfg.Issuer == "" || cfg.ClientID == "":
		return nil, errors.New("oidc: LoginConfig.Issuer and ClientID are required")
	case cfg.Complete == nil:
		return nil, errors.New("oidc: LoginConfig.Complete is required")
	case len(cfg.CookieKey) != 32:
		return nil, errors.New("oidc: LoginConfig.CookieKey must be 32 bytes")
	}
	u, err := url.Parse(cfg.RedirectURL)
	if err != nil || !u.IsAbs() || u.Scheme != "https" && u.Scheme != "http" || u.Fragment != "" {
		return nil, fmt.Errorf("oidc: LoginConfig.RedirectURL %q must be an absolute http(s) URL", cfg.RedirectURL)
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{gooidc.ScopeOpenID, "profile", "email"}
	}
	if !slices.Contains(cfg.Scopes, gooidc.ScopeOpenID) {
		return nil, errors.New(`oidc: LoginConfig.Scopes must include "openid", or there is no ID token`)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultLoginTimeout
	}
	cfg.HTTPClient = limitedClient(cfg.HTTPClient)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	block, err := aes.NewCipher(cfg.CookieKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	l := &Login{cfg: cfg, aead: aead, secure: u.Scheme == "https", cookie: loginCookieName(cfg.Issuer, cfg.ClientID), log: cfg.Logger}
	if l.secure {
		l.cookie = "__Host-" + l.cookie
	}
	l.ad = []byte(l.cookie + "\x00" + cfg.Issuer + "\x00" + cfg.ClientID)
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l, nil
}

// loginCookieName names the cookie of the login through issuer as
// clientID: "sl_oidc_" and 16 hex digits of a hash of the two.
func loginCookieName(issuer, clientID string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + clientID))
	return "sl_oidc_" + hex.EncodeToString(sum[:8])
}

func (l *Login) ctx(ctx context.Context) context.Context {
	return gooidc.ClientContext(ctx, l.cfg.HTTPClient)
}

// discover returns the provider, found once, and whether it sends iss
// in its authorization responses (RFC 9207).
func (l *Login) discover(ctx context.Context) (p *gooidc.Provider, issParam bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.provider != nil {
		return l.provider, l.issParam, nil
	}
	if p, err = gooidc.NewProvider(l.ctx(ctx), l.cfg.Issuer); err != nil {
		return nil, false, err
	}
	var doc struct {
		IssParam bool `json:"authorization_response_iss_parameter_supported"`
	}
	if err := p.Claims(&doc); err != nil {
		return nil, false, fmt.Errorf("oidc: the discovery document: %w", err)
	}
	l.provider, l.issParam = p, doc.IssParam
	return p, doc.IssParam, nil
}

func (l *Login) oauth(p *gooidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: l.cfg.ClientID, ClientSecret: l.cfg.ClientSecret, RedirectURL: l.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: l.cfg.Scopes}
}

// loginState is what the cookie carries.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
	ReturnTo string `json:"r,omitempty"`
}

// MaxReturnTo bounds the return_to parameter of [Login.Start].
const MaxReturnTo = 512

// Start answers GET with a redirect (302) to the provider's authorization
// endpoint, with a new state, nonce and PKCE challenge, and the cookie
// that remembers them. An optional return_to query parameter, a path of
// this site (at most MaxReturnTo bytes; an absolute URL, "//host",
// backslashes or white space are 400: no open redirect), is sealed in
// the cookie too and handed to LoginConfig.Complete as
// Identity.ReturnTo.
func (l *Login) Start() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		returnTo := q.Get("return_to")
		if len(q["return_to"]) > 1 || q.Has("return_to") && (len(returnTo) > MaxReturnTo || !httpx.SafeReturnPath(returnTo)) {
			writeLoginError(w, http.StatusBadRequest, "invalid_request", "return_to must be one path of this site")
			return
		}
		p, _, err := l.discover(r.Context())
		if err != nil {
			l.log.WarnContext(r.Context(), "OIDC discovery failed", "err", err)
			w.Header().Set("Retry-After", "5")
			writeLoginError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the identity provider cannot be reached")
			return
		}
		st := loginState{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(),
			Expires: l.cfg.Now().Add(l.cfg.Timeout).Unix(), ReturnTo: returnTo}
		http.SetCookie(w, &http.Cookie{Name: l.cookie, Value: l.seal(st), Path: "/", MaxAge: int(l.cfg.Timeout / time.Second),
			Secure: l.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, l.oauth(p).AuthCodeURL(st.State, gooidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), http.StatusFound)
	})
}

// Callback answers the provider's redirect: it checks the state against
// the cookie (which it clears) and the response's "iss" against the
// issuer (RFC 9207: required when the provider advertises
// authorization_response_iss_parameter_supported, checked whenever
// present), exchanges the code with the PKCE verifier, verifies the ID
// token, its nonce and azp (required with several audiences; when
// present, the client id: OpenID Connect Core §3.1.3.7), and at_hash when
// present, then calls LoginConfig.Complete. Refusals: 400 for a missing,
// expired or mismatched cookie or state, a response of another issuer or
// without the advertised iss, or a refusal from the provider; 401 for an
// ID token that does not verify or is not this login's or this client's;
// 502 when the provider answers no ID token; 503 when the provider cannot
// be reached or says it is unavailable.
func (l *Login) Callback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		st, ok := l.open(r)
		// Whatever happens, the cookie is single-use.
		http.SetCookie(w, &http.Cookie{Name: l.cookie, Value: "", Path: "/", MaxAge: -1, Secure: l.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case len(q["state"]) != 1 || len(q["code"]) > 1 || len(q["error"]) > 1 || len(q["iss"]) > 1:
			writeLoginError(w, http.StatusBadRequest, "invalid_request", "one state, one code or error, and at most one iss are required")
			return
		case !ok:
			writeLoginError(w, http.StatusBadRequest, "invalid_request", "no login in progress, or it expired: start again")
			return
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1:
			l.log.WarnContext(r.Context(), "OIDC callback with a state that is not this browser's")
			writeLoginError(w, http.StatusBadRequest, "invalid_request", "the state does not match this login")
			return
		}
		p, issParam, err := l.discover(r.Context())
		if err != nil {
			writeLoginError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the identity provider cannot be reached")
			return
		}
		// RFC 9207 §2.4, before anything else of the response is used: a
		// mix-up sends a response of another provider here.
		switch iss, has := q.Get("iss"), q.Has("iss"); {
		case has && iss != l.cfg.Issuer:
			l.log.WarnContext(r.Context(), "OIDC callback from another issuer (a mix-up?)", "iss", iss)
			writeLoginError(w, http.StatusBadRequest, "invalid_request", "the response is from another identity provider")
			return
		case !has && issParam:
			l.log.WarnContext(r.Context(), "OIDC callback without the iss the provider advertises")
			writeLoginError(w, http.StatusBadRequest, "invalid_request", "the response does not name its identity provider")
			return
		}
		switch {
		case q.Get("error") != "":
			// RFC 6749 §4.1.2.1: the provider's own failures are not the
			// user's refusal.
			code := q.Get("error")
			l.log.InfoContext(r.Context(), "OIDC login refused by the provider", "error", code)
			if code == "temporarily_unavailable" || code == "server_error" {
				writeLoginError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the identity provider cannot log you in now; retry")
				return
			}
			writeLoginError(w, http.StatusBadRequest, "access_denied", "the identity provider refused the login")
			return
		case q.Get("code") == "":
			writeLoginError(w, http.StatusBadRequest, "invalid_request", "no code")
			return
		}
		ctx := l.ctx(r.Context())
		tok, err := l.oauth(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
		if err != nil {
			var re *oauth2.RetrieveError
			if errors.As(err, &re) {
				l.log.InfoContext(ctx, "OIDC code exchange refused", "error", re.ErrorCode)
				writeLoginError(w, http.StatusBadRequest, "invalid_grant", "the identity provider refused the code")
				return
			}
			l.log.WarnContext(ctx, "OIDC code exchange failed", "err", err)
			writeLoginError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the identity provider cannot be reached")
			return
		}
		rawID, _ := tok.Extra("id_token").(string)
		if rawID == "" {
			writeLoginError(w, http.StatusBadGateway, "server_error", "the identity provider returned no ID token")
			return
		}
		idt, err := p.VerifierContext(ctx, &gooidc.Config{ClientID: l.cfg.ClientID, Now: l.cfg.Now}).Verify(ctx, rawID)
		if err != nil {
			l.log.WarnContext(ctx, "OIDC ID token refused", "err", err)
			writeLoginError(w, http.StatusUnauthorized, "invalid_token", "the ID token does not verify")
			return
		}
		var c struct {
			Username      string `json:"preferred_username"`
			Email         string `json:"email"`
			EmailVerified *bool  `json:"email_verified"`
			Name          string `json:"name"`
		}
		azp, err := exactAZP(rawID)
		switch {
		case err != nil || idt.Claims(&c) != nil:
			l.log.WarnContext(ctx, "OIDC ID token with claims that do not parse", "err", err)
			writeLoginError(w, http.StatusUnauthorized, "invalid_token", "the ID token's claims do not parse")
			return
		case subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1:
			l.log.WarnContext(ctx, "OIDC ID token with another nonce")
			writeLoginError(w, http.StatusUnauthorized, "invalid_token", "the ID token is not this login's")
			return
		case azp == nil && len(idt.Audience) > 1:
			// OpenID Connect Core §3.1.3.7: several audiences, and which
			// one the token was issued to is not said.
			l.log.WarnContext(ctx, "OIDC ID token with several audiences and no azp", "aud", idt.Audience)
			writeLoginError(w, http.StatusUnauthorized, "invalid_token", "the ID token does not name the client it was issued to")
			return
		case azp != nil && *azp != l.cfg.ClientID:
			l.log.WarnContext(ctx, "OIDC ID token issued to another client", "azp", *azp)
			writeLoginError(w, http.StatusUnauthorized, "invalid_token", "the ID token was issued to another client")
			return
		case idt.AccessTokenHash != "" && idt.VerifyAccessToken(tok.AccessToken) != nil:
			writeLoginError(w, http.StatusUnauthorized, "invalid_token", "at_hash does not match the access token")
			return
		}
		l.cfg.Complete(w, r, &Identity{Issuer: idt.Issuer, Subject: idt.Subject, Username: c.Username, Email: c.Email,
			EmailVerified: c.EmailVerified != nil && *c.EmailVerified, Name: c.Name, IDToken: idt, ProviderTokenType: tok.TokenType,
			ReturnTo: st.ReturnTo})
	})
}

// exactAZP reads the claims of the verified compact JWS raw as exact
// member names: it refuses a member repeated, or two whose names differ
// in case only (encoding/json, which go-oidc reads the claims with,
// matches names in any case, so "nonce" and "NONCE" would be one to it),
// and returns the string azp, nil when absent.
func exactAZP(raw string) (*string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("oidc: not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("oidc: the ID token's payload: %w", err)
	}
	var azp *string
	folded := map[string]bool{}
	m := strictjson.Object(payload)
	for m.Next() {
		name := string(m.Name())
		key := strictjson.FoldKey(name)
		if folded[key] {
			return nil, fmt.Errorf("oidc: the ID token has two claims named %q in any case", name)
		}
		folded[key] = true
		if name == "azp" {
			s, err := strictjson.String(m.Value())
			if err != nil {
				return nil, fmt.Errorf("oidc: the ID token's azp: %w", err)
			}
			v := string(s)
			azp = &v
		}
	}
	if err := m.Err(); err != nil {
		return nil, fmt.Errorf("oidc: the ID token's claims: %w", err)
	}
	return azp, nil
}

// seal encrypts st into a cookie value.
func (l *Login) seal(st loginState) string {
	plain, _ := json.Marshal(st)
	nonce := make([]byte, l.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(l.aead.Seal(nonce, nonce, plain, l.ad))
}

// open reads the cookie: exactly one, authentic, not expired.
func (l *Login) open(r *http.Request) (loginState, bool) {
	var st loginState
	var values []string
	for _, c := range r.CookiesNamed(l.cookie) {
		values = append(values, c.Value)
	}
	if len(values) != 1 || len(values[0]) > 2048 {
		return st, false
	}
	b, err := base64.RawURLEncoding.DecodeString(values[0])
	ns := l.aead.NonceSize()
	if err != nil || len(b) < ns {
		return st, false
	}
	plain, err := l.aead.Open(nil, b[:ns], b[ns:], l.ad)
	if err != nil || json.Unmarshal(plain, &st) != nil || st.State == "" || st.Nonce == "" || st.Verifier == "" ||
		st.ReturnTo != "" && !httpx.SafeReturnPath(st.ReturnTo) {
		return st, false
	}
	return st, l.cfg.Now().Unix() < st.Expires
}

func writeLoginError(w http.ResponseWriter, status int, code, description string) {
	httpx.WriteOAuthError(w, status, code, description)
}
