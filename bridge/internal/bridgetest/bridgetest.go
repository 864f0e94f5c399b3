// Package bridgetest is what the tests of the bridge packages share: a
// PHP application that logs users in (login.php, beside this file, under
// PHP's built-in server), and an API serving the token endpoints, the
// session exchange and a protected route, on one httptest server.
package bridgetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/bridge"
	"github.com/sessionless/sessionless/internal/testenv"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/tokentest"
)

// PHP starts PHP's built-in server on login.php with the php.ini
// settings given ("session.save_handler=files", …) and returns its URL.
// Without PHP it skips (fails under CI): see testenv.PHP.
func PHP(t testing.TB, ini ...string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("bridgetest: where is login.php?")
	}
	return testenv.PHPServer(t, filepath.Dir(file), ini...)
}

// PHPCall calls login.php with action (login, logout, whoami, hold), the
// query's other parameters, and the session cookie id (none when "").
// It returns the body and the PHPSESSID cookie PHP set last ("" for
// none).
func PHPCall(t testing.TB, base, action, id, query string) (body, cookie string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/login.php?action="+action+"&"+query, nil)
	if id != "" {
		req.AddCookie(&http.Cookie{Name: "PHPSESSID", Value: id})
	}
	a := Do(t, req)
	if a.Status != 200 {
		t.Fatalf("PHP %s: %d %s", action, a.Status, a.Raw)
	}
	for _, c := range a.Cookies {
		if c.Name == "PHPSESSID" {
			cookie = c.Value // the last: session_regenerate_id sets a second
		}
	}
	return a.Raw, cookie
}

// Answer is a response, read.
type Answer struct {
	Status  int
	Header  http.Header
	Cookies []*http.Cookie
	Body    map[string]any // a JSON object's members, if it is one
	Raw     string
}

// Do sends req and reads the answer.
func Do(t testing.TB, req *http.Request) Answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := Answer{Status: resp.StatusCode, Header: resp.Header, Cookies: resp.Cookies(), Raw: string(b)}
	json.Unmarshal(b, &a.Body)
	return a
}

// Sessions serves GET / behind a middleware that takes the session
// cookie alone (no cache) and requires the scope widgets:read, answering
// "subject method"; it returns the server's URL.
func Sessions(t testing.TB, cookie string, src middleware.SessionSource) string {
	t.Helper()
	auth, err := middleware.New(middleware.Config{Session: middleware.SessionConfig{CookieName: cookie, Source: src, CacheAge: -1}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(auth.Middleware(auth.RequireScopes("widgets:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "%s %s", p.Subject, p.Method)
	}))))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Get sends GET url with the cookie name=value, and reads the answer.
func Get(t testing.TB, url, name, value string) Answer {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.AddCookie(&http.Cookie{Name: name, Value: value})
	return Do(t, req)
}

// Now is the clock of an [API].
var Now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// ClientID is the token endpoints' client.
const ClientID = "web"

// API serves, on one server: the exchange at POST
// /auth/session/exchange, the token endpoint at POST /auth/token, and
// GET /api/me, which answers "subject method scopes roles" behind a
// middleware that takes the issuer's tokens and the exchange's session
// cookie.
type API struct {
	URL      string
	Exchange *bridge.Exchange
	List     *revocation.List
	Events   chan bridge.Event // of Config.Audit
	cookie   string
}

// NewAPI builds an API around cfg, whose CookieName, Source and Users
// are the test's; what cfg leaves zero of Issuer, Refresh, ClientID,
// Revocation and Audit is the API's own. users are the token endpoints'.
// The clock is Now; the middleware's session cache is off.
func NewAPI(t testing.TB, users endpoint.Users, cfg bridge.Config) *API {
	t.Helper()
	keys := tokentest.KeySet(tokentest.MustSigner(token.EdDSA))
	clock := func() time.Time { return Now }
	issuer, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: tokentest.Issuer, Audience: []string{tokentest.Audience}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	verifier := tokentest.Verifier(keys, Now)
	list, err := revocation.Open(context.Background(), revocation.Config{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { list.Close() })
	passwords, err := password.New(testenv.CheapPasswords) // no password is checked here
	if err != nil {
		t.Fatal(err)
	}
	endpoints, err := endpoint.New(endpoint.Config{Issuer: issuer, Verifier: verifier, Users: users, Revocation: list,
		ClientID: ClientID, Passwords: passwords, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan bridge.Event, 8)
	if cfg.Issuer == nil {
		cfg.Issuer = issuer
	}
	if cfg.Refresh == nil {
		cfg.Refresh = endpoints.Refresh()
	}
	if cfg.ClientID == "" {
		cfg.ClientID = ClientID
	}
	if cfg.Revocation == nil {
		cfg.Revocation = list
	}
	if cfg.Audit == nil {
		cfg.Audit = func(_ *http.Request, e bridge.Event) { events <- e }
	}
	ex, err := bridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{
		JWT:        map[string]middleware.Verifier{tokentest.Issuer: verifier},
		Revocation: list,
		Session:    middleware.SessionConfig{CookieName: cfg.CookieName, Source: cfg.Source, CacheAge: -1},
		Now:        clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/session/exchange", ex)
	mux.Handle("POST /auth/token", endpoints.Token())
	mux.Handle("GET /api/me", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "%s %s %s %s", p.Subject, p.Method, strings.Join(p.Scopes, ","), strings.Join(p.Roles, ","))
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &API{URL: srv.URL, Exchange: ex, List: list, Events: events, cookie: cfg.CookieName}
}

// Post sends an exchange request: body as application/json, the session
// cookie (none when ""), then edit's changes.
func (a *API) Post(t testing.TB, body, session string, edit func(*http.Request)) Answer {
	t.Helper()
	req, _ := http.NewRequest("POST", a.URL+"/auth/session/exchange", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if session != "" {
		req.AddCookie(&http.Cookie{Name: a.cookie, Value: session})
	}
	if edit != nil {
		edit(req)
	}
	return Do(t, req)
}

// Me calls GET /api/me with a bearer token and the session cookie (none
// when "").
func (a *API) Me(t testing.TB, bearer, session string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", a.URL+"/api/me", nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: a.cookie, Value: session})
	}
	ans := Do(t, req)
	return ans.Status, ans.Raw
}

// Refresh uses a refresh token at the token endpoint.
func (a *API) Refresh(t testing.TB, rt string) Answer {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {ClientID}}
	req, _ := http.NewRequest("POST", a.URL+"/auth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return Do(t, req)
}

// Event returns the audit event of the last exchange; it fails the test
// when there is none.
func (a *API) Event(t testing.TB) bridge.Event {
	t.Helper()
	select {
	case ev := <-a.Events:
		return ev
	default:
		t.Fatal("no audit event")
		return bridge.Event{}
	}
}
