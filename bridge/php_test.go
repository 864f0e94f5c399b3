package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionless/sessionless/bridge"
	"github.com/sessionless/sessionless/bridge/internal/bridgetest"
	"github.com/sessionless/sessionless/bridge/phpsession"
	"github.com/sessionless/sessionless/token/tokentest"
)

// TestPHPMigration is a user's migration from a PHP application, against
// real PHP: logged in on the PHP side, the Go API accepts the session;
// the client exchanges it for tokens and ends it in the same step, so
// PHP no longer knows the user while the tokens work and refresh; and a
// logout everywhere refuses the sessions of the user that remain.
func TestPHPMigration(t *testing.T) {
	dir := t.TempDir()
	base := bridgetest.PHP(t,
		"session.save_handler=files", "session.save_path="+dir, "session.serialize_handler=php_serialize",
		"session.gc_maxlifetime=1440", "session.gc_probability=0", "session.use_strict_mode=1")
	files, err := phpsession.NewFiles(phpsession.FilesConfig{Dir: dir, MaxLifetime: 1440 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	src, err := phpsession.New(files, phpsession.Config{
		Format:    phpsession.FormatPHPSerialize,
		Principal: phpsession.UserID("user_id"),
		Scopes:    []string{"widgets:read"},
		Issuer:    tokentest.Issuer,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *bridge.Config) { c.Source = src })

	// Day 0: logged in on the PHP side, accepted on the Go side.
	id, _ := bridgetest.PHPCall(t, base, "login", "", "user=42")
	if code, body := e.Me(t, "", id); code != 200 || body != "42 session widgets:read " {
		t.Fatalf("the PHP session at the Go API: %d %q", code, body)
	}

	// The client moves over.
	a := e.Post(t, `{"destroy_session": true}`, id, nil)
	if a.Status != 200 {
		t.Fatalf("exchange: %d %s", a.Status, a.Raw)
	}
	if who, _ := bridgetest.PHPCall(t, base, "whoami", id, ""); who != "nobody" {
		t.Fatalf("PHP still knows the user: %q", who)
	}
	if code, _ := e.Me(t, "", id); code != 401 {
		t.Fatalf("the destroyed session at the Go API: %d", code)
	}
	if code, body := e.Me(t, a.Body["access_token"].(string), ""); code != 200 || body != "42 jwt widgets:read,widgets:write admin" {
		t.Fatalf("the access token: %d %q", code, body)
	}
	if r := e.Refresh(t, a.Body["refresh_token"].(string)); r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Raw)
	}

	// Another browser of the user's, still on a session, after a logout
	// everywhere: refused by the middleware and by the exchange.
	other, _ := bridgetest.PHPCall(t, base, "login", "", "user=42")
	if code, _ := e.Me(t, "", other); code != 200 {
		t.Fatalf("the other session: %d", code)
	}
	if err := e.List.RevokeSubject(context.Background(), tokentest.Issuer, "42", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if code, _ := e.Me(t, "", other); code != 401 {
		t.Fatalf("a session after logout-all: %d", code)
	}
	if a := e.Post(t, `{}`, other, nil); a.Status != 401 {
		t.Fatalf("exchanging a session after logout-all: %d %s", a.Status, a.Raw)
	}
}
