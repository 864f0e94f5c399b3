package gorilla_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/sessions"

	"github.com/sessionless/sessionless/bridge/gorilla"
	"github.com/sessionless/sessionless/bridge/internal/bridgetest"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
)

var _ middleware.SessionSource = (*gorilla.Source)(nil)

var (
	hashKey  = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	blockKey = []byte("0123456789abcdef0123456789abcdef")
)

// legacy is a Go application on gorilla/sessions: its login, logout and
// pages, as such applications write them.
func legacy(t *testing.T, store sessions.Store) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "session")
		s.Values["user_id"] = 42
		s.Values["roles"] = []string{"admin", "editor"}
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("POST /visit", func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "session")
		s.Values["cart"] = "3 items"
		s.Save(r, w)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "session")
		s.Options.MaxAge = -1
		s.Save(r, w)
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "session")
		fmt.Fprint(w, s.Values["user_id"])
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// call calls the legacy application with the session cookie value
// (none when ""), and returns the body and the cookie it set.
func call(t *testing.T, srv *httptest.Server, method, path, value string) (body, cookie string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	if value != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: value})
	}
	a := bridgetest.Do(t, req)
	for _, c := range a.Cookies {
		if c.Name == "session" {
			cookie = c.Value
		}
	}
	return a.Raw, cookie
}

// stores are gorilla's two stores, as an application makes them.
func stores(t *testing.T) map[string]sessions.Store {
	return map[string]sessions.Store{
		"CookieStore":     sessions.NewCookieStore(hashKey, blockKey),
		"FilesystemStore": sessions.NewFilesystemStore(t.TempDir(), hashKey, blockKey),
	}
}

// TestStores: a session gorilla's stores write is read here as the
// application reads it, through the middleware too; forged cookies and
// cookies of other keys are refused.
func TestStores(t *testing.T) {
	ctx := context.Background()
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			app := legacy(t, store)
			_, value := call(t, app, "POST", "/login", "")
			src, err := gorilla.New(store, "session", gorilla.Config{Principal: gorilla.UserID("user_id"),
				Scopes: []string{"widgets:read"}, Issuer: "https://api.example"})
			if err != nil {
				t.Fatal(err)
			}
			p, err := src.Session(ctx, value)
			if err != nil {
				t.Fatalf("Session: %v", err)
			}
			roles := p.Claims.(map[any]any)["roles"]
			if p.Subject != "42" || p.Method != identity.Session || p.Issuer != "https://api.example" || fmt.Sprint(roles) != "[admin editor]" {
				t.Fatalf("principal %+v", p)
			}

			// Through the middleware.
			api := bridgetest.Sessions(t, "session", src)
			if a := bridgetest.Get(t, api, "session", value); a.Raw != "42 session" {
				t.Fatalf("the API answered %d %q", a.Status, a.Raw)
			}

			// Forged, or of other keys.
			other, _ := gorilla.New(sessions.NewCookieStore([]byte("another hash key, 32 bytes long!")), "session",
				gorilla.Config{Principal: gorilla.UserID("user_id")})
			for what, tc := range map[string]struct {
				src   *gorilla.Source
				value string
			}{
				"a byte changed":   {src, value[:10] + flip(value[10]) + value[11:]},
				"truncated":        {src, value[:len(value)-4]},
				"other keys":       {other, value},
				"not base64":       {src, "!!!!"},
				"a cookie header":  {src, value + "; session=x"},
				"a space":          {src, "a b"},
				"too long":         {src, strings.Repeat("a", gorilla.MaxValueLength+1)},
				"another's cookie": {src, mustOtherCookie(t, store)},
			} {
				if p, err := tc.src.Session(ctx, tc.value); !errors.Is(err, gorilla.ErrNoSession) {
					t.Errorf("%s: %+v, %v; want ErrNoSession", what, p, err)
				}
			}

			// A visitor's session, with nobody logged in.
			_, visitor := call(t, app, "POST", "/visit", "")
			if _, err := src.Session(ctx, visitor); !errors.Is(err, gorilla.ErrNoSession) {
				t.Fatalf("a visitor's session: %v", err)
			}
		})
	}
}

// mustOtherCookie is a cookie of the name under other keys, from the
// store's own kind.
func mustOtherCookie(t *testing.T, store sessions.Store) string {
	t.Helper()
	var other sessions.Store = sessions.NewCookieStore([]byte("yet another hash key, 32 bytes!!"))
	if _, ok := store.(*sessions.FilesystemStore); ok {
		other = sessions.NewFilesystemStore(t.TempDir(), []byte("yet another hash key, 32 bytes!!"))
	}
	_, v := call(t, legacy(t, other), "POST", "/login", "")
	return v
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// TestLogout: the application's logout ends a FilesystemStore session
// here too, even for a copy of its cookie; a CookieStore session cannot
// be ended on the server, so a copy of its cookie stays good (until its
// MaxAge, which the store's codecs check).
func TestLogout(t *testing.T) {
	ctx := context.Background()
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			app := legacy(t, store)
			_, value := call(t, app, "POST", "/login", "")
			src, _ := gorilla.New(store, "session", gorilla.Config{Principal: gorilla.UserID("user_id")})
			call(t, app, "POST", "/logout", value)
			_, err := src.Session(ctx, value)
			switch name {
			case "FilesystemStore":
				if !errors.Is(err, gorilla.ErrNoSession) {
					t.Fatalf("after the logout: %v", err)
				}
			case "CookieStore":
				if err != nil {
					t.Fatalf("a CookieStore session is its cookie: %v", err)
				}
			}
		})
	}
}

// TestDestroy: Destroy deletes a FilesystemStore session, which the
// application then no longer knows; on a CookieStore it is no error.
func TestDestroy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fsStore := sessions.NewFilesystemStore(dir, hashKey, blockKey)
	app := legacy(t, fsStore)
	_, value := call(t, app, "POST", "/login", "")
	files, _ := filepath.Glob(filepath.Join(dir, "session_*"))
	if len(files) != 1 {
		t.Fatalf("session files %v", files)
	}
	src, _ := gorilla.New(fsStore, "session", gorilla.Config{Principal: gorilla.UserID("user_id")})
	if err := src.Destroy(ctx, value); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(files[0]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the session file: %v", err)
	}
	if who, _ := call(t, app, "GET", "/whoami", value); who != "<nil>" {
		t.Fatalf("the application still knows %q", who)
	}
	for _, v := range []string{value, "forged", ""} { // gone already, or never there
		if err := src.Destroy(ctx, v); err != nil {
			t.Fatalf("Destroy(%q): %v", v, err)
		}
	}

	cookies := sessions.NewCookieStore(hashKey, blockKey)
	_, value = call(t, legacy(t, cookies), "POST", "/login", "")
	src, _ = gorilla.New(cookies, "session", gorilla.Config{Principal: gorilla.UserID("user_id")})
	if err := src.Destroy(ctx, value); err != nil {
		t.Fatal(err)
	}
}

// broken is a store that cannot answer (a Redis store whose server is
// down).
type broken struct{ sessions.Store }

func (broken) New(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.NewSession(nil, name), errors.New("dial tcp: connection refused")
}

func TestUnavailable(t *testing.T) {
	src, _ := gorilla.New(broken{}, "session", gorilla.Config{Principal: gorilla.UserID("user_id")})
	if _, err := src.Session(context.Background(), "abc"); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("Session: %v", err)
	}
	if err := src.Destroy(context.Background(), "abc"); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("Destroy: %v", err)
	}
}

func TestUserID(t *testing.T) {
	values := map[any]any{"s": "usr_7", "i": 42, "i64": int64(-3), "u": uint32(9), "empty": "", "f": 4.2, 1: "one"}
	for key, want := range map[string]string{"s": "usr_7", "i": "42", "i64": "-3", "u": "9", "empty": "", "f": "", "missing": ""} {
		p, err := gorilla.UserID(key)(values)
		switch {
		case want == "" && !errors.Is(err, gorilla.ErrNoSession):
			t.Errorf("UserID(%q) = %+v, %v; want ErrNoSession", key, p, err)
		case want != "" && (err != nil || p.Subject != want):
			t.Errorf("UserID(%q) = %+v, %v; want %s", key, p, err, want)
		}
	}
}

func TestNew(t *testing.T) {
	store := sessions.NewCookieStore(hashKey)
	m := gorilla.UserID("user_id")
	for name, f := range map[string]func() (*gorilla.Source, error){
		"no store":   func() (*gorilla.Source, error) { return gorilla.New(nil, "session", gorilla.Config{Principal: m}) },
		"no name":    func() (*gorilla.Source, error) { return gorilla.New(store, "", gorilla.Config{Principal: m}) },
		"no mapping": func() (*gorilla.Source, error) { return gorilla.New(store, "session", gorilla.Config{}) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: New accepted", name)
		}
	}
}

// FuzzSession: whatever the cookie's value, Session never panics,
// answers ErrNoSession, and finds the session of the one value the
// application set.
func FuzzSession(f *testing.F) {
	store := sessions.NewFilesystemStore(f.TempDir(), hashKey, blockKey)
	req := httptest.NewRequest("POST", "/", nil)
	s, _ := store.Get(req, "session")
	s.Values["user_id"] = 42
	w := httptest.NewRecorder()
	if err := s.Save(req, w); err != nil {
		f.Fatal(err)
	}
	value := w.Result().Cookies()[0].Value
	src, _ := gorilla.New(store, "session", gorilla.Config{Principal: gorilla.UserID("user_id")})
	for _, seed := range []string{value, "", "a", value[:20], value + "=", "../../etc/passwd", "MTIz|YWJj|ZGVm", strings.Repeat("A", 5000)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p, err := src.Session(context.Background(), v)
		switch {
		case v == value && (err != nil || p.Subject != "42"):
			t.Fatalf("the session's own cookie: %+v, %v", p, err)
		case v != value && err == nil:
			t.Fatalf("Session(%q) = %+v", v, p)
		case v != value && !errors.Is(err, gorilla.ErrNoSession):
			t.Fatalf("Session(%q): %v, want ErrNoSession", v, err)
		}
	})
}
