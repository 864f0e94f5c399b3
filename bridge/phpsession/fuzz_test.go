package phpsession_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/bridge/phpsession"
	"github.com/sessionless/sessionless/identity"
)

// seeds are the inputs the table tests use, for the fuzz corpus.
func seeds(f *testing.F) [][]byte {
	f.Helper()
	text, err := os.ReadFile("testdata/vectors.txt")
	if err != nil {
		f.Fatal(err)
	}
	names, data := readVectors(f, text)
	var out [][]byte
	for _, n := range names {
		out = append(out, data[n])
	}
	for _, s := range []string{"", "i:1", "a:1000000:{}", `a:2:{i:5;N;s:1:"5";N;}`, `s:-1:"";`,
		`O:4:"User":1:{s:2:"id";i:42;}`, `C:1:"A":5:{ab}`, "d:0x1p3;", "R:1;", `E:9:"Suit:Club";`,
		strings.Repeat("a:1:{i:0;", 40) + "N;" + strings.Repeat("}", 40),
		`user_id|i:42;roles|a:1:{i:0;s:5:"admin";}`, `a|i:1;a|i:2;`, `|N;`} {
		out = append(out, []byte(s))
	}
	return out
}

// FuzzUnserialize: Unserialize never panics, refuses with ErrSyntax or
// ErrLimit, and what it accepts it reads again the same once written
// back in PHP's format.
func FuzzUnserialize(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	lim := phpsession.Limits{MaxBytes: 64 << 10, MaxDepth: 16, MaxValues: 4096}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := phpsession.Unserialize(b, lim)
		if err != nil {
			if !errors.Is(err, phpsession.ErrSyntax) && !errors.Is(err, phpsession.ErrLimit) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		once := serialize(v)
		again, err := phpsession.Unserialize([]byte(once), phpsession.Limits{MaxBytes: 1 << 20, MaxDepth: 16, MaxValues: 4096})
		if err != nil {
			t.Fatalf("%q, read as %#v and written back as %q: %v", b, v, once, err)
		}
		if twice := serialize(again); twice != once {
			t.Fatalf("%q read back as %q, then %q", b, once, twice)
		}
	})
}

// FuzzDecode: Decode, in both formats, never panics and refuses with
// ErrSyntax or ErrLimit; the variables of a php session have names
// without "|", each once.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, false)
		f.Add(s, true)
	}
	lim := phpsession.Limits{MaxBytes: 64 << 10, MaxDepth: 16, MaxValues: 4096}
	f.Fuzz(func(t *testing.T, b []byte, serialized bool) {
		format := phpsession.FormatPHP
		if serialized {
			format = phpsession.FormatPHPSerialize
		}
		vars, err := phpsession.Decode(b, format, lim)
		if err != nil {
			if !errors.Is(err, phpsession.ErrSyntax) && !errors.Is(err, phpsession.ErrLimit) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		seen := map[any]bool{}
		for _, e := range vars {
			if s, ok := e.Key.(string); ok && !serialized && strings.Contains(s, "|") || seen[e.Key] {
				t.Fatalf("%q: variable %q", b, e.Key)
			}
			seen[e.Key] = true
		}
	})
}

// FuzzSessionID: whatever the cookie's value, Source.Session never
// panics, answers with ErrNoSession (or the decoder's sentinels), and
// finds a session for the one id that has a file: no value reaches a
// file outside the save path, nor another file inside it.
func FuzzSessionID(f *testing.F) {
	top := f.TempDir()
	dir := filepath.Join(top, "sessions")
	const id = "q8mv0s3c5dd1l6tbg8a2u7k0rj"
	if err := os.Mkdir(dir, 0o700); err != nil {
		f.Fatal(err)
	}
	for name, data := range map[string]string{
		filepath.Join(dir, "sess_"+id):               "user_id|i:42;",
		filepath.Join(dir, "notes"):                  "user_id|i:1;",
		filepath.Join(top, "sess_outside0123456789"): "user_id|i:2;",
		filepath.Join(top, "passwd"):                 "user_id|i:3;",
	} {
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	now := time.Now()
	files, err := phpsession.NewFiles(phpsession.FilesConfig{Dir: dir, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	src, err := phpsession.New(files, phpsession.Config{Principal: phpsession.UserID("user_id"), MinIDLength: 1})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{id, "", "../sess_outside0123456789", "..", "../passwd", "/etc/passwd", "notes",
		"../" + id, id + "/", id + "\x00", "sess_" + id, strings.Repeat("a", 257), "a,b-c", "%2e%2e", id[:10]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		p, err := src.Session(context.Background(), value)
		switch {
		case err == nil && value == id && p.Subject == "42" && p.Method == identity.Session:
		case err == nil:
			t.Fatalf("Session(%q) = %+v", value, p)
		case value == id:
			t.Fatalf("Session(%q): %v", value, err)
		case !errors.Is(err, phpsession.ErrNoSession):
			t.Fatalf("Session(%q): %v, want ErrNoSession", value, err)
		}
	})
}
