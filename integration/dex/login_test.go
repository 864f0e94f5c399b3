package dex_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/demo"
	"github.com/sessionless/sessionless/oidc"
)

var formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)

// browserLogin follows the login from start (the application's
// /auth/oidc/login) through Dex's login form to the application's
// callback, and returns the callback's answer.
func browserLogin(t *testing.T, start string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	resp, err := c.Get(start) // → Dex's /auth → its login form
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formAction.FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("Dex's login page: %d %s", resp.StatusCode, page)
	}
	action, _ := url.Parse(strings.ReplaceAll(string(m[1]), "&amp;", "&"))
	post := resp.Request.URL.ResolveReference(action)
	resp, err = c.PostForm(post.String(), url.Values{"login": {email}, "password": {password}}) // → approval → callback
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// freeAddr returns a loopback address nobody listens on yet.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDexLogin: package oidc's login flow against Dex: PKCE, state,
// nonce, the ID token verified.
func TestDexLogin(t *testing.T) {
	addr := freeAddr(t)
	d := startDex(t, "http://"+addr+"/callback")
	login, err := oidc.NewLogin(oidc.LoginConfig{
		Issuer: d.issuer, ClientID: clientID, ClientSecret: clientSecret, RedirectURL: d.redirect,
		CookieKey: make([]byte, 32),
		Complete: func(w http.ResponseWriter, r *http.Request, id *oidc.Identity) {
			json.NewEncoder(w).Encode(map[string]string{"iss": id.Issuer, "sub": id.Subject, "email": id.Email})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /login", login.Start())
	mux.Handle("GET /callback", login.Callback())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewUnstartedServer(mux)
	app.Listener = ln
	app.Start()
	t.Cleanup(app.Close)

	status, body := browserLogin(t, app.URL+"/login")
	if status != 200 || !strings.Contains(body, `"email":"alice@example.com"`) || !strings.Contains(body, `"iss":"`+d.issuer+`"`) {
		t.Fatalf("login through Dex: %d %s", status, body)
	}
}

// TestDexDemo: the demo API with Dex as its provider: Dex's access tokens
// on /api/me, and the login through Dex answering with the demo's own
// tokens.
func TestDexDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo API")
	}
	addr := freeAddr(t)
	d := startDex(t, "http://"+addr+"/auth/oidc/callback")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	env := map[string]string{"OIDC_CLIENT_SECRET": clientSecret, "DEMO_PASSWORD": "demo-password-x"}
	go func() {
		done <- demo.Run(ctx, []string{"-addr", addr, "-db", dir + "/demo.db", "-key-file", dir + "/key.pem",
			"-oidc-issuer", d.issuer, "-oidc-audience", clientID, "-oidc-client-id", clientID},
			func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	base := ""
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "demo-api listening on "); ok {
			base = u
			break
		}
	}
	if base == "" {
		t.Fatal("the demo did not start")
	}
	go io.Copy(io.Discard, pr)

	me := func(tok string) (int, string) {
		req, _ := http.NewRequest("GET", base+"/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	access, _ := d.passwordGrant(t)
	if status, body := me(access); status != 200 || !strings.Contains(body, `"auth_method":"oidc"`) || !strings.Contains(body, `"iss":"`+d.issuer+`"`) {
		t.Fatalf("/api/me with Dex's access token: %d %s", status, body)
	}
	tampered := access[:len(access)-4] + "AAAA"
	if status, _ := me(tampered); status != 401 {
		t.Errorf("a tampered Dex token: %d, want 401", status)
	}

	status, body := browserLogin(t, base+"/auth/oidc/login")
	var tr struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &tr) != nil || tr.AccessToken == "" || tr.RefreshToken == "" {
		t.Fatalf("the demo's login through Dex: %d %s", status, body)
	}
	if status, body := me(tr.AccessToken); status != 200 || !strings.Contains(body, `"auth_method":"jwt"`) || !strings.Contains(body, `"sub":"oidc_`) {
		t.Fatalf("/api/me with the demo's tokens from the Dex login: %d %s", status, body)
	}
}
