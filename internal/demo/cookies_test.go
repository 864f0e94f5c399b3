package demo

import (
	"net/http"
	"strings"
	"testing"
)

// TestCookieModeDemo: the demo's web app logs in in cookie mode; its
// requests carry the access token's cookie, which /api/me reports as the
// credential; widgets are deleted by their creator's scope; the devices
// list shows the login, and another origin can change nothing.
func TestCookieModeDemo(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	resp, b := e.do(t, "POST", "/auth/login", `{"username":"demo","password":"`+testPassword+`"}`,
		http.Header{"Token-Delivery": {"cookie"}, "User-Agent": {"demo-test"}})
	if resp.StatusCode != 200 || strings.Contains(string(b), "eyJ") || !strings.Contains(string(b), `"token_type":"cookie"`) {
		t.Fatalf("cookie login: %s %s", resp.Status, b)
	}
	var cookies []string
	for _, c := range resp.Cookies() {
		if !c.HttpOnly || !c.Secure {
			t.Fatalf("cookie %+v", c)
		}
		if c.Name == "__Host-access" {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
	}
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", resp.Cookies())
	}
	jar := http.Header{"Cookie": {strings.Join(cookies, "; ")}, "Sec-Fetch-Site": {"same-origin"}}
	resp, b = e.do(t, "GET", "/api/me", "", jar)
	if resp.StatusCode != 200 || decodeInto[meResponse](t, b).Credential != "cookie" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("me: %s %s", resp.Status, b)
	}
	if _, b := e.me(t, "Bearer "+e.login(t, "demo", testPassword).AccessToken); decodeInto[meResponse](t, b).Credential != "header" {
		t.Fatalf("me by header: %s", b)
	}
	resp, b = e.do(t, "GET", "/auth/devices", "", jar)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"user_agent":"demo-test","current":true`) {
		t.Fatalf("devices: %s %s", resp.Status, b)
	}
	// Another origin: refused before anything changes.
	cross := jar.Clone()
	cross.Set("Sec-Fetch-Site", "cross-site")
	if resp, _ := e.do(t, "DELETE", "/api/widgets/1", "", cross); resp.StatusCode != 403 {
		t.Fatalf("cross-site delete: %s", resp.Status)
	}
	if resp, _ := e.do(t, "DELETE", "/api/widgets/1", "", jar); resp.StatusCode != 204 {
		t.Fatalf("delete: %s", resp.Status)
	}
	if resp, _ := e.do(t, "DELETE", "/api/widgets/1", "", jar); resp.StatusCode != 404 {
		t.Fatalf("delete again: %s", resp.Status)
	}
	// The viewer may not delete.
	viewer := "Bearer " + e.login(t, "viewer", testPassword).AccessToken
	if resp, _ := e.do(t, "DELETE", "/api/widgets/2", "", http.Header{"Authorization": {viewer}}); resp.StatusCode != 403 {
		t.Fatalf("viewer delete: %s", resp.Status)
	}
}
