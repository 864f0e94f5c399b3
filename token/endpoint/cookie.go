package endpoint

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/token"
)

// Cookie mode: the tokens of a browser in HttpOnly cookies, where no
// script of the page (an XSS) can read them.
const (
	// DefaultAccessCookie is the name of the access token's cookie when
	// CookieConfig.AccessName is empty. The "__Host-" prefix makes
	// browsers accept it only Secure, from this host, for path "/": no
	// sibling subdomain can set or shadow it.
	DefaultAccessCookie = "__Host-access"
	// DefaultRefreshCookie is the name of the refresh token's cookie when
	// CookieConfig.RefreshName is empty. "__Secure-": browsers accept it
	// only Secure.
	DefaultRefreshCookie = "__Secure-refresh"
	// DefaultBindCookie is the name of the cookie that binds the refresh
	// cookie to this host when CookieConfig.BindName is empty: a
	// "__Secure-" cookie may be set by a sibling subdomain (with a
	// Domain attribute), a "__Host-" one may not, so a refresh cookie is
	// taken only with a bind cookie of this host that matches it.
	DefaultBindCookie = "__Host-refresh-bind"
	// DefaultRefreshPath is the path of the refresh token's cookie when
	// CookieConfig.RefreshPath is empty: the token endpoint of
	// Mount(mux, "/auth", …). Browsers send the cookie there alone.
	DefaultRefreshPath = "/auth/token"
	// TokenDeliveryHeader is the request header by which a login asks
	// for cookie mode: "Token-Delivery: cookie" (CookieDelivery). A
	// request without it gets its tokens in the body, as OAuth clients,
	// scripts and mobile apps do. A page of another origin cannot send
	// it without a CORS preflight, and an HTML form cannot send it.
	TokenDeliveryHeader = "Token-Delivery"
	// CookieDelivery is the value of TokenDeliveryHeader that asks for
	// cookie mode.
	CookieDelivery = "cookie"
	// maxCookieBytes bounds a cookie's value: browsers keep at least
	// 4096 bytes of name, value and attributes.
	maxCookieBytes = 3800
)

// CookieConfig turns on cookie mode for browsers ([Config.Cookies]):
//
//   - a login (POST /login) with the header "Token-Delivery: cookie"
//     gets its access token in an HttpOnly cookie (AccessName, Secure,
//     Path=/, SameSite=Lax, Max-Age the token's lifetime) and its refresh
//     token in another (RefreshName, Secure, Path=RefreshPath,
//     SameSite=Strict, Max-Age what is left of the family's lifetimes),
//     bound to this host by a third (BindName: a digest of the refresh
//     token, "__Host-", which no sibling subdomain can set);
//     the body then carries no token, only token_type "cookie", the
//     expiry and the principal (sub, scope, roles);
//   - POST /token with grant_type=refresh_token and no refresh_token
//     parameter takes the refresh token from its cookie, rotates it (reuse
//     detection unchanged) and sets both cookies again; a refused one
//     clears them;
//   - logout, logout-all and ending this device clear both cookies, with
//     Clear-Site-Data: "cache";
//   - [Server.IssueCookies] ends a login of the application's own (an
//     OpenID Connect callback) with the cookies and a redirect.
//
// The middleware reads the access token's cookie (middleware.Config's
// CookieName: AccessName) and checks the origin of unsafe requests
// authenticated by it; here a cookie-mode login and a refresh by cookie
// pass CrossOrigin first (login CSRF: a page of another origin must not
// log the browser in as someone else). Requests with a token in the
// body or the Authorization header are not checked: browsers do not
// attach those on their own.
//
// Secure cookies need https, except on loopback (http://localhost,
// http://127.0.0.1), which browsers treat as secure for development.
type CookieConfig struct {
	// AccessName is the access token's cookie: it must start with
	// "__Host-". Empty: DefaultAccessCookie.
	AccessName string
	// RefreshName is the refresh token's cookie: it must start with
	// "__Secure-" (its path is not "/"). Empty: DefaultRefreshCookie.
	RefreshName string
	// RefreshPath is the path of the token endpoint as browsers call it,
	// the refresh cookie's Path. Empty: DefaultRefreshPath.
	RefreshPath string
	// BindName is the cookie that binds the refresh cookie to this host
	// (a digest of the refresh token; HttpOnly, Secure, Path=/,
	// SameSite=Strict): it must start with "__Host-". A refresh by cookie
	// takes the refresh cookie whose digest it holds and ignores others,
	// so that a refresh cookie planted by a sibling subdomain (a
	// "__Secure-" cookie may carry a Domain) neither logs the browser in
	// as someone else nor locks it out. Empty: DefaultBindCookie.
	BindName string
	// CrossOrigin is the check of cookie-mode logins and refreshes by
	// cookie: give it the middleware's (middleware.Config.CrossOrigin)
	// when you trust origins of your own. Nil: same origin only.
	CrossOrigin *http.CrossOriginProtection
}

// cookies is a checked CookieConfig.
type cookies struct {
	access, refresh, bind, path string
	cross                       *http.CrossOriginProtection
}

// newCookies checks cc; nil when cookie mode is off.
func newCookies(cc *CookieConfig) (*cookies, error) {
	if cc == nil {
		return nil, nil
	}
	c := &cookies{access: cc.AccessName, refresh: cc.RefreshName, bind: cc.BindName, path: cc.RefreshPath, cross: cc.CrossOrigin}
	if c.bind == "" {
		c.bind = DefaultBindCookie
	}
	if c.access == "" {
		c.access = DefaultAccessCookie
	}
	if c.refresh == "" {
		c.refresh = DefaultRefreshCookie
	}
	if c.path == "" {
		c.path = DefaultRefreshPath
	}
	if c.cross == nil {
		c.cross = http.NewCrossOriginProtection()
	}
	switch {
	case !strings.HasPrefix(c.access, "__Host-") || !validCookieName(c.access):
		return nil, fmt.Errorf("endpoint: Cookies.AccessName %q must be a cookie name starting with __Host-", c.access)
	case !strings.HasPrefix(c.refresh, "__Secure-") || !validCookieName(c.refresh):
		return nil, fmt.Errorf("endpoint: Cookies.RefreshName %q must be a cookie name starting with __Secure-", c.refresh)
	case !strings.HasPrefix(c.bind, "__Host-") || !validCookieName(c.bind) || c.bind == c.access:
		return nil, fmt.Errorf("endpoint: Cookies.BindName %q must be a cookie name starting with __Host-, not AccessName", c.bind)
	case !httpx.SafeReturnPath(c.path) || strings.ContainsAny(c.path, "?#;"):
		return nil, fmt.Errorf("endpoint: Cookies.RefreshPath %q must be a path of this origin, without query or fragment", c.path)
	}
	return c, nil
}

// validCookieName reports whether name is an RFC 6265 token.
func validCookieName(name string) bool {
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return name != ""
}

var (
	errCookieModeOff = invalidRequest("cookie mode is not enabled on this server")
	errCookieDPoP    = invalidRequest("cookie mode does not take DPoP proofs: a DPoP client keeps its tokens itself")
)

// crossOriginError is the refusal of a request from another origin.
type crossOriginError struct{ err error }

func (e crossOriginError) Error() string { return "cross-origin request: " + e.err.Error() }

// wantsCookies reports whether a login asks for cookie mode, checking
// the request's origin when it does.
func (s *Server) wantsCookies(r *http.Request) (bool, error) {
	vs := r.Header.Values(TokenDeliveryHeader)
	switch {
	case len(vs) == 0:
		return false, nil
	case len(vs) > 1 || !strings.EqualFold(strings.TrimSpace(vs[0]), CookieDelivery):
		return false, invalidRequest("%s must be %q", TokenDeliveryHeader, CookieDelivery)
	case s.cookies == nil:
		return false, errCookieModeOff
	case len(r.Header.Values("DPoP")) > 0:
		return false, errCookieDPoP
	}
	if err := s.cookies.cross.Check(r); err != nil {
		return false, crossOriginError{err}
	}
	return true, nil
}

// errPlanted: refresh cookies, none of which this host set (no bind
// cookie matches one): planted by a sibling subdomain, or left over.
var errPlanted = &oauthError{http.StatusBadRequest, "invalid_grant", "no refresh cookie of this browser's session"}

// refreshCookie returns the refresh token of the request's cookie, ""
// without one (or without cookie mode), checking the request's origin
// when there is one: among the refresh cookies (a sibling subdomain can
// add one), the one whose digest the bind cookie holds.
func (s *Server) refreshCookie(r *http.Request) (string, error) {
	if s.cookies == nil {
		return "", nil
	}
	c := s.cookies
	values := httpx.CookieValues(r, c.refresh)
	values = slices.DeleteFunc(values, func(v string) bool { return v == "" })
	if len(values) == 0 {
		return "", nil
	}
	if len(r.Header.Values("DPoP")) > 0 {
		return "", errCookieDPoP
	}
	if err := c.cross.Check(r); err != nil {
		return "", crossOriginError{err}
	}
	bind, n := httpx.CookieValue(r, c.bind)
	if n != 1 {
		return "", errPlanted
	}
	for _, v := range values {
		if subtle.ConstantTimeCompare([]byte(bindValue(v)), []byte(bind)) == 1 {
			return v, nil
		}
	}
	return "", errPlanted
}

// bindValue is the bind cookie of refresh token rt: a digest that
// proves this host set rt's cookie, and tells nothing of rt.
func bindValue(rt string) string {
	sum := sha256.Sum256([]byte("sessionless refresh cookie\x00" + rt))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// issued is what a login or a refresh issued.
type issued struct {
	access  string
	claims  token.Claims
	refresh string
	// refreshAge is how long the refresh token can be used: what is left
	// of its family's absolute lifetime, at most the idle lifetime.
	refreshAge time.Duration
	roles      []string
	family     string // the refresh family's ID
}

// cookieResponse is the body of an answer in cookie mode: no token.
type cookieResponse struct {
	TokenType string   `json:"token_type"` // "cookie"
	ExpiresIn int64    `json:"expires_in"`
	Scope     string   `json:"scope,omitempty"`
	Subject   string   `json:"sub"`
	Roles     []string `json:"roles"`
}

// respond answers a login or a refresh: the tokens in the body, or, in
// cookie mode, in their cookies.
func (s *Server) respond(w http.ResponseWriter, t issued, cookie bool) {
	if !cookie {
		httpx.WriteJSON(w, http.StatusOK, newTokenResponse(t.access, t.claims, t.refresh))
		return
	}
	lifetime := s.setCookies(w, t)
	roles := t.roles
	if roles == nil {
		roles = []string{}
	}
	httpx.WriteJSON(w, http.StatusOK, cookieResponse{TokenType: CookieDelivery, ExpiresIn: int64(lifetime / time.Second),
		Scope: t.claims.Scope, Subject: t.claims.Subject, Roles: roles})
}

// setCookies sets the cookies of t's tokens and returns the access
// token's lifetime.
func (s *Server) setCookies(w http.ResponseWriter, t issued) time.Duration {
	c := s.cookies
	lifetime := t.claims.ExpiresAt.Sub(t.claims.IssuedAt)
	http.SetCookie(w, &http.Cookie{Name: c.access, Value: t.access, Path: "/", MaxAge: seconds(lifetime),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: c.refresh, Value: t.refresh, Path: c.path, MaxAge: seconds(t.refreshAge),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: c.bind, Value: bindValue(t.refresh), Path: "/", MaxAge: seconds(t.refreshAge),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return lifetime
}

// seconds is d in whole seconds for a cookie's Max-Age, at least 1 (0
// would delete the cookie).
func seconds(d time.Duration) int { return max(int(d/time.Second), 1) }

// clearCookies deletes both cookies, and asks the browser to drop what it
// cached of this origin (the pages of the user who logs out).
func (s *Server) clearCookies(w http.ResponseWriter) {
	c := s.cookies
	if c == nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: c.access, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: c.refresh, Value: "", Path: c.path, MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: c.bind, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Clear-Site-Data", `"cache"`)
}

// checkCookieSize refuses an access token too long for a cookie.
func checkCookieSize(access string) error {
	if len(access) > maxCookieBytes {
		return internalError{errors.New("endpoint: the access token is too long for a cookie (more than 3800 bytes): fewer roles or scopes")}
	}
	return nil
}

// IssueCookies is [Server.IssueTokens] for a login that ends in a browser
// redirect, such as the callback of an OpenID Connect login started with
// a return path: it sets the cookies of cookie mode and redirects (303)
// to returnTo, a path of this origin (an absolute URL, "//host",
// backslashes, white space: refused with 400, never followed). Without
// Config.Cookies it answers 500.
func (s *Server) IssueCookies(w http.ResponseWriter, r *http.Request, u User, username, returnTo string) {
	switch {
	case s.cookies == nil:
		s.fail(w, r, "issuing cookies", internalError{errors.New("endpoint: IssueCookies needs Config.Cookies")})
		return
	case !httpx.SafeReturnPath(returnTo):
		s.fail(w, r, "issuing cookies", invalidRequest("the return path must be a path of this site"))
		return
	}
	t, err := s.issueTokensFor(r, s.firstParty, u, username, strings.Join(u.Scopes, " "), "", nil, true)
	if err != nil {
		s.fail(w, r, "issuing cookies", err)
		return
	}
	s.setCookies(w, t)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", returnTo) // not http.Redirect: it would clean the path
	w.WriteHeader(http.StatusSeeOther)
}
