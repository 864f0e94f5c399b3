package demo

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzTokenEndpoint posts arbitrary bodies to /auth/token: the answer is
// always a 4xx OAuth error (there is no valid refresh token or password
// to guess), never a panic, never a 5xx.
func FuzzTokenEndpoint(f *testing.F) {
	e := newTestEnv(f, testConfig(f))
	for _, seed := range []string{
		"grant_type=refresh_token&refresh_token=rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"grant_type=password&username=demo&password=x",
		"grant_type=refresh_token&refresh_token=%ZZ",
		"grant_type=password&grant_type=password",
		"client_id=demo-api&client_secret=&grant_type=",
		"scope=a+b&grant_type=password&username=viewer&password=" + strings.Repeat("p", 100),
		"",
	} {
		f.Add(seed, "application/x-www-form-urlencoded")
	}
	f.Add(`{"grant_type":"password"}`, "application/json")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		req := httptest.NewRequest(http.MethodPost, "/auth/token", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		e.srv.token(w, req)
		if w.Code < 400 || w.Code >= 500 {
			t.Fatalf("%q (%s): %d %s", body, contentType, w.Code, w.Body)
		}
		if !strings.Contains(w.Body.String(), `"error":"`) {
			t.Fatalf("no OAuth error member: %s", w.Body)
		}
	})
}
