package phpsession_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/bridge/internal/bridgetest"
	"github.com/sessionless/sessionless/bridge/phpsession"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/testenv"
)

// phpFiles starts PHP with the files handler writing to a new directory
// in format, and returns its URL and the directory.
func phpFiles(t *testing.T, format phpsession.Format, ini ...string) (base, dir string) {
	t.Helper()
	dir = t.TempDir()
	ini = append([]string{
		"session.save_handler=files",
		"session.save_path=" + dir,
		"session.serialize_handler=" + string(format),
		"session.gc_maxlifetime=600",
		"session.gc_probability=0",
		"session.use_strict_mode=1",
	}, ini...)
	return bridgetest.PHP(t, ini...), dir
}

// checkVars checks vars are what login.php writes for user 42 (the
// login's time aside).
func checkVars(t *testing.T, vars phpsession.Array) {
	t.Helper()
	if _, ok := vars.Get("logged_in_at"); !ok {
		t.Errorf("no logged_in_at in %#v", vars)
	}
	var rest phpsession.Array
	for _, e := range vars {
		if e.Key != "logged_in_at" {
			rest = append(rest, e)
		}
	}
	want := arr(
		"user_id", int64(42),
		"roles", arr(0, "admin", 1, "editor"),
		"flash", `Welcome back, "friend"; {you|are} here`,
		"cart", arr(
			"lines", arr(0, &phpsession.Object{Class: "CartLine", Props: arr("sku", "SKU-1", "qty", int64(2), "\x00*\x00note", "gift")}),
			"total", 19.99,
			"coupon", nil,
			"gift", true,
		),
	)
	if !reflect.DeepEqual(rest, want) {
		t.Errorf("session variables:\n%#v\nwant\n%#v", rest, want)
	}
}

// TestPHPFiles: a session PHP's files handler writes, in both
// serialize_handler formats, is read here as PHP reads it; reading it
// changes nothing in it; PHP's logout ends it here too, and so does its
// expiry.
func TestPHPFiles(t *testing.T) {
	for _, format := range []phpsession.Format{phpsession.FormatPHP, phpsession.FormatPHPSerialize} {
		t.Run(string(format), func(t *testing.T) {
			base, dir := phpFiles(t, format)
			id, _ := bridgetest.PHPCall(t, base, "login", "", "user=42")
			name := filepath.Join(dir, "sess_"+id)
			before, err := os.Stat(name)
			if err != nil {
				t.Fatalf("PHP wrote no session file: %v", err)
			}
			content, _ := os.ReadFile(name)
			t.Logf("PHP wrote %s", content)

			clock := testenv.NewClock(before.ModTime())
			files, err := phpsession.NewFiles(phpsession.FilesConfig{Dir: dir, MaxLifetime: 600 * time.Second, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			src, err := phpsession.New(files, phpsession.Config{Format: format, Principal: phpsession.UserID("user_id"),
				Scopes: []string{"widgets:read"}, MinIDLength: 26})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			p, err := src.Session(ctx, id)
			if err != nil {
				t.Fatalf("Session: %v", err)
			}
			if p.Subject != "42" || p.Method != identity.Session || !p.ExpiresAt.Equal(before.ModTime().Add(600*time.Second)) {
				t.Fatalf("principal %+v", p)
			}
			checkVars(t, p.Claims.(phpsession.Array))

			// The other format is refused, not misread.
			other := phpsession.FormatPHP
			if format == other {
				other = phpsession.FormatPHPSerialize
			}
			misread, _ := phpsession.New(files, phpsession.Config{Format: other, Principal: phpsession.UserID("user_id")})
			if _, err := misread.Session(ctx, id); !errors.Is(err, phpsession.ErrSyntax) {
				t.Fatalf("read as %s: %v, want ErrSyntax", other, err)
			}

			// Nothing was written or touched.
			after, _ := os.Stat(name)
			again, _ := os.ReadFile(name)
			if !after.ModTime().Equal(before.ModTime()) || !bytes.Equal(again, content) {
				t.Fatal("reading the session changed its file")
			}

			// PHP's idle timeout, by the file's time.
			clock.Advance(600 * time.Second)
			if _, err := src.Session(ctx, id); !errors.Is(err, phpsession.ErrNoSession) {
				t.Fatalf("past gc_maxlifetime: %v", err)
			}
			clock.Set(before.ModTime())

			// PHP's logout.
			if body, _ := bridgetest.PHPCall(t, base, "logout", id, ""); body != "bye" {
				t.Fatalf("logout: %q", body)
			}
			if _, err := src.Session(ctx, id); !errors.Is(err, phpsession.ErrNoSession) {
				t.Fatalf("after PHP's logout: %v", err)
			}
		})
	}
}

// TestPHPFilesUnlocked: PHP holds its session's file lock for a whole
// request; reading the session here does not wait for it.
func TestPHPFilesUnlocked(t *testing.T) {
	base, dir := phpFiles(t, phpsession.FormatPHP)
	id, _ := bridgetest.PHPCall(t, base, "login", "", "user=42")
	signals := t.TempDir()
	held := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/login.php?action=hold&dir="+signals, nil)
		req.AddCookie(&http.Cookie{Name: "PHPSESSID", Value: id})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			held <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		held <- string(b)
	}()
	testenv.Eventually(t, "PHP to hold the session", func() bool {
		_, err := os.Stat(filepath.Join(signals, "locked"))
		return err == nil
	})
	files, _ := phpsession.NewFiles(phpsession.FilesConfig{Dir: dir, MaxLifetime: 600 * time.Second})
	src, _ := phpsession.New(files, phpsession.Config{Principal: phpsession.UserID("user_id")})
	p, err := src.Session(context.Background(), id)
	if err := os.WriteFile(filepath.Join(signals, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err != nil || p.Subject != "42" {
		t.Fatalf("while PHP holds the session: %+v, %v", p, err)
	}
	if got := <-held; got != "released" {
		t.Fatalf("PHP's request: %q", got)
	}
}

// TestPHPFilesDepth: a save path "2;DIR" puts each file two directories
// down, which PHP expects to exist.
func TestPHPFilesDepth(t *testing.T) {
	dir := t.TempDir()
	const hex = "0123456789abcdef"
	for _, a := range hex {
		for _, b := range hex {
			if err := os.MkdirAll(filepath.Join(dir, string(a), string(b)), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	savePath := "2;" + dir
	// Quoted: in php.ini syntax, ";" starts a comment.
	base := bridgetest.PHP(t, "session.save_handler=files", `session.save_path="`+savePath+`"`,
		"session.sid_bits_per_character=4", "session.gc_probability=0")
	id, _ := bridgetest.PHPCall(t, base, "login", "", "user=usr_ann")
	d, depth, err := phpsession.ParseSavePath(savePath)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := phpsession.NewFiles(phpsession.FilesConfig{Dir: d, Depth: depth})
	src, _ := phpsession.New(files, phpsession.Config{Principal: phpsession.UserID("user_id")})
	if p, err := src.Session(context.Background(), id); err != nil || p.Subject != "usr_ann" {
		t.Fatalf("Session = %+v, %v", p, err)
	}
}

// TestPHPFilesDestroy: a session destroyed here is gone for PHP too.
func TestPHPFilesDestroy(t *testing.T) {
	base, dir := phpFiles(t, phpsession.FormatPHP)
	id, _ := bridgetest.PHPCall(t, base, "login", "", "user=42")
	if who, _ := bridgetest.PHPCall(t, base, "whoami", id, ""); who != "42" {
		t.Fatalf("whoami = %q", who)
	}
	files, _ := phpsession.NewFiles(phpsession.FilesConfig{Dir: dir, MaxLifetime: 600 * time.Second})
	src, _ := phpsession.New(files, phpsession.Config{Principal: phpsession.UserID("user_id")})
	if err := src.Destroy(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if who, _ := bridgetest.PHPCall(t, base, "whoami", id, ""); who != "nobody" {
		t.Fatalf("after Destroy, PHP says %q", who)
	}
}

// TestPHPMiddleware: a Go API beside the PHP application accepts its
// logged-in users, as principals of method "session".
func TestPHPMiddleware(t *testing.T) {
	base, dir := phpFiles(t, phpsession.FormatPHPSerialize)
	id, cookie := bridgetest.PHPCall(t, base, "login", "", "user=42")
	if cookie != id {
		t.Fatalf("PHP's cookie %q, session %q", cookie, id)
	}
	files, _ := phpsession.NewFiles(phpsession.FilesConfig{Dir: dir, MaxLifetime: 600 * time.Second})
	src, _ := phpsession.New(files, phpsession.Config{Format: phpsession.FormatPHPSerialize,
		Principal: phpsession.UserID("user_id"), Scopes: []string{"widgets:read"}})
	api := bridgetest.Sessions(t, "PHPSESSID", src)
	call := func() (int, string) {
		a := bridgetest.Get(t, api, "PHPSESSID", cookie)
		return a.Status, a.Raw
	}
	if code, body := call(); code != 200 || body != "42 session" {
		t.Fatalf("got %d %q", code, body)
	}
	bridgetest.PHPCall(t, base, "logout", id, "")
	if code, body := call(); code != 401 || strings.Contains(body, "42") {
		t.Fatalf("after PHP's logout: %d %q", code, body)
	}
}
