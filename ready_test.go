package sessionless_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/token"
)

// TestReady: readiness names each backend; a provider whose keys could
// not be fetched makes the instance not ready (its tokens would get 503),
// and the handler answers 503 naming it.
func TestReady(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler()) // a provider with no discovery document
	t.Cleanup(down.Close)
	key, _ := token.GenerateKey(token.EdDSA)
	auth, err := sessionless.New(sessionless.Config{Issuer: "https://api.example", Audience: "api", Key: key,
		Database:  filepath.Join(t.TempDir(), "auth.db"),
		Providers: []oidc.Config{{Issuer: down.URL}}, StartWithoutProviders: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Shutdown(context.Background()) })
	rd := auth.Ready(context.Background())
	if rd.Ready || rd.Checks["database"] != "ok" || rd.Checks["revocations"] != "ok" || rd.Checks["provider "+down.URL] != "no keys yet" {
		t.Fatalf("%+v", rd)
	}
	w := httptest.NewRecorder()
	auth.ReadyHandler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 503 || body.Status != "unavailable" ||
		body.Checks["provider "+down.URL] != "no keys yet" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}

	// Without providers, on a database that answers: ready.
	auth2, err := sessionless.New(sessionless.Config{Issuer: "https://api.example", Audience: "api", Key: key,
		Database: filepath.Join(t.TempDir(), "auth.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth2.Shutdown(context.Background()) })
	w = httptest.NewRecorder()
	auth2.ReadyHandler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != 200 || w.Body.String() != `{"status":"ready","checks":{"database":"ok","revocations":"ok"}}`+"\n" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
