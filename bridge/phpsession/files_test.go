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
	"github.com/sessionless/sessionless/internal/testenv"
)

const sid = "q8mv0s3c5dd1l6tbg8a2u7k0rj" // a PHP session id (sid_bits_per_character 5)

var mtime = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// writeSession writes a session file as PHP's files handler does, with
// its modification time at mtime.
func writeSession(t *testing.T, dir, id, data string) string {
	t.Helper()
	name := filepath.Join(dir, "sess_"+id)
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(name, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestFilesRead(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "sessions")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeSession(t, dir, sid, "user_id|i:42;")
	writeSession(t, top, "outside0123456789012345", "user_id|i:1;")
	writeSession(t, dir, "big0123456789012345678901", strings.Repeat("x", 100))
	if err := os.Mkdir(filepath.Join(dir, "sess_adirectory0123456789012"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A link planted in the save path that leads out of it.
	if err := os.Symlink(filepath.Join(top, "sess_outside0123456789012345"), filepath.Join(dir, "sess_link01234567890123456789")); err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock(mtime.Add(time.Minute))
	files, err := phpsession.NewFiles(phpsession.FilesConfig{Dir: dir, MaxLifetime: 24 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	data, expires, err := files.Read(ctx, sid, 1024)
	if err != nil || string(data) != "user_id|i:42;" || !expires.Equal(mtime.Add(24*time.Minute)) {
		t.Fatalf("Read = %q, %v, %v", data, expires, err)
	}
	for _, tc := range []struct {
		name, id string
		limit    int
		want     error
	}{
		{"no file", "nofile0123456789012345678", 1024, phpsession.ErrNoSession},
		{"traversal", "../sess_outside0123456789012345", 1024, phpsession.ErrNoSession},
		{"absolute", "/etc/passwd", 1024, phpsession.ErrNoSession},
		{"slash", "a/b", 1024, phpsession.ErrNoSession},
		{"dot", ".", 1024, phpsession.ErrNoSession},
		{"NUL", sid + "\x00", 1024, phpsession.ErrNoSession},
		{"empty", "", 1024, phpsession.ErrNoSession},
		{"a name too long for a file", strings.Repeat("a", 251), 1024, phpsession.ErrNoSession},
		{"a directory", "adirectory0123456789012", 1024, phpsession.ErrNoSession},
		{"a link out of the save path", "link01234567890123456789", 1024, identity.ErrUnavailable},
		{"over the limit", "big0123456789012345678901", 99, phpsession.ErrLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, _, err := files.Read(ctx, tc.id, tc.limit)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read(%q) = %q, %v; want %v", tc.id, data, err, tc.want)
			}
			if len(tc.id) > 8 && strings.Contains(err.Error(), tc.id) {
				t.Fatalf("the error names the session id, a credential: %v", err)
			}
		})
	}
	if _, _, err := files.Read(ctx, "big0123456789012345678901", 100); err != nil {
		t.Fatalf("a session of exactly the limit: %v", err)
	}

	// gc_maxlifetime after the last write, whether or not the garbage
	// collector has run.
	clock.Set(mtime.Add(24*time.Minute - time.Nanosecond))
	if _, _, err := files.Read(ctx, sid, 1024); err != nil {
		t.Fatalf("just before gc_maxlifetime: %v", err)
	}
	clock.Set(mtime.Add(24 * time.Minute))
	if _, _, err := files.Read(ctx, sid, 1024); !errors.Is(err, phpsession.ErrNoSession) {
		t.Fatalf("at gc_maxlifetime: %v, want ErrNoSession", err)
	}
}

func TestFilesDepth(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "q", "8"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeSession(t, filepath.Join(dir, "q", "8"), sid, "user_id|i:42;")
	dir2, depth, err := phpsession.ParseSavePath("2;0600;" + dir)
	if err != nil || dir2 != dir || depth != 2 {
		t.Fatalf("ParseSavePath = %q, %d, %v", dir2, depth, err)
	}
	files, err := phpsession.NewFiles(phpsession.FilesConfig{Dir: dir, Depth: depth, Now: func() time.Time { return mtime }})
	if err != nil {
		t.Fatal(err)
	}
	if data, _, err := files.Read(context.Background(), sid, 1024); err != nil || string(data) != "user_id|i:42;" {
		t.Fatalf("Read = %q, %v", data, err)
	}
	if _, _, err := files.Read(context.Background(), "q", 1024); !errors.Is(err, phpsession.ErrNoSession) {
		t.Fatalf("an id shorter than the depth: %v", err)
	}
}

func TestParseSavePath(t *testing.T) {
	for _, tc := range []struct {
		in    string
		dir   string
		depth int
		ok    bool
	}{
		{"/var/lib/php/sessions", "/var/lib/php/sessions", 0, true},
		{"2;/tmp/s", "/tmp/s", 2, true},
		{"3;0600;/tmp/s", "/tmp/s", 3, true},
		{"", "", 0, false},
		{"x;/tmp", "", 0, false},
		{"-1;/tmp", "", 0, false},
		{"1;2;3;/tmp", "", 0, false},
		{"2;", "", 0, false},
	} {
		dir, depth, err := phpsession.ParseSavePath(tc.in)
		if (err == nil) != tc.ok || dir != tc.dir || depth != tc.depth {
			t.Errorf("ParseSavePath(%q) = %q, %d, %v", tc.in, dir, depth, err)
		}
	}
}

func TestFilesDestroy(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "s")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := writeSession(t, dir, sid, "user_id|i:42;")
	outside := writeSession(t, top, "outside0123456789012345", "x")
	files, err := phpsession.NewFiles(phpsession.FilesConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{sid, sid, "../sess_outside0123456789012345", "nofile0123456789012345678"} {
		if err := files.Destroy(ctx, id); err != nil {
			t.Fatalf("Destroy(%q): %v", id, err)
		}
	}
	if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the session file is still there: %v", err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("a file outside the save path: %v", err)
	}
}

func TestNewFiles(t *testing.T) {
	for _, cfg := range []phpsession.FilesConfig{{}, {Dir: "/tmp", Depth: -1}, {Dir: "/tmp", Depth: 17}, {Dir: "/tmp", MaxLifetime: -1}} {
		if _, err := phpsession.NewFiles(cfg); err == nil {
			t.Errorf("NewFiles(%+v) accepted", cfg)
		}
	}
}
