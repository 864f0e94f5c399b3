package phpsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sessionless/sessionless/identity"
)

// DefaultMaxLifetime is PHP's default session.gc_maxlifetime: 1440
// seconds.
const DefaultMaxLifetime = 1440 * time.Second

// FilesConfig configures [Files]. Dir is required.
type FilesConfig struct {
	// Dir is the directory of session.save_path: "/var/lib/php/sessions"
	// (Debian's), the last part of "N;MODE;/path" ([ParseSavePath]), or
	// Symfony's framework.session.save_path
	// ("%kernel.project_dir%/var/sessions/%kernel.environment%").
	Dir string
	// Depth is the N of a save path "N;/path": each file sits N
	// directories down, one per leading character of its id
	// (/path/a/b/sess_ab…). Default 0.
	Depth int
	// MaxLifetime is the application's session.gc_maxlifetime: a file
	// not written for longer holds no session, whether or not PHP's
	// garbage collector (or Debian's cron job) has deleted it yet. PHP
	// rewrites or touches the file at the end of every request that
	// starts the session, so this is an idle timeout; reading the
	// session here does not extend it. Default DefaultMaxLifetime (1440
	// seconds).
	MaxLifetime time.Duration
	// Now returns the current time, for the expiry. Nil means time.Now.
	Now func() time.Time
}

// Files reads the sessions of PHP's files save handler
// (session.save_handler = files; Symfony's NativeFileSessionHandler):
// the file "sess_<id>" in the save path, written by PHP under an
// exclusive flock for the whole of a request. Files reads it without a
// lock, so a PHP request in progress delays nothing here; a read that
// overlaps a write is read again. It is safe for concurrent use.
type Files struct {
	cfg FilesConfig
}

var _ Store = (*Files)(nil)
var _ Destroyer = (*Files)(nil)

// NewFiles returns a store reading cfg.Dir.
func NewFiles(cfg FilesConfig) (*Files, error) {
	switch {
	case cfg.Dir == "":
		return nil, errors.New("phpsession: FilesConfig.Dir is required")
	case cfg.Depth < 0 || cfg.Depth > 16:
		return nil, fmt.Errorf("phpsession: Depth %d: want 0 to 16", cfg.Depth)
	case cfg.MaxLifetime < 0:
		return nil, errors.New("phpsession: negative MaxLifetime")
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Files{cfg: cfg}, nil
}

// ParseSavePath reads a files handler's session.save_path: "/path",
// "N;/path" or "N;MODE;/path" (MODE, the new files' permissions, matters
// only to PHP).
func ParseSavePath(savePath string) (dir string, depth int, err error) {
	parts := strings.Split(savePath, ";")
	dir = parts[len(parts)-1]
	switch {
	case len(parts) > 3 || dir == "":
		return "", 0, fmt.Errorf("phpsession: save path %q: want /path, N;/path or N;MODE;/path", savePath)
	case len(parts) > 1:
		if depth, err = strconv.Atoi(parts[0]); err != nil || depth < 0 {
			return "", 0, fmt.Errorf("phpsession: save path %q: N is not a depth", savePath)
		}
	}
	return dir, depth, nil
}

// name is the file of session id, relative to Dir.
func (f *Files) name(id string) (string, error) {
	// No file name of Linux, macOS or Windows is longer than 255 bytes.
	if !ValidID(id) || len(id) < f.cfg.Depth || len("sess_"+id) > 255 {
		return "", fmt.Errorf("%w: not a session id", ErrNoSession)
	}
	parts := make([]string, 0, f.cfg.Depth+1)
	for i := range f.cfg.Depth {
		parts = append(parts, id[i:i+1])
	}
	return filepath.Join(append(parts, "sess_"+id)...), nil
}

// Read returns the data of session id and when it expires: its file's
// modification time plus MaxLifetime. A missing file, or one older than
// that, is ErrNoSession; a file that cannot be read otherwise (a
// permission, an I/O error) is identity.ErrUnavailable.
func (f *Files) Read(_ context.Context, id string, limit int) ([]byte, time.Time, error) {
	name, err := f.name(id)
	if err != nil {
		return nil, time.Time{}, err
	}
	// os.OpenInRoot: no name, link or race leads outside Dir, on top of
	// the id's characters.
	file, err := os.OpenInRoot(f.cfg.Dir, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, time.Time{}, fmt.Errorf("%w: no session file", ErrNoSession)
	case err != nil:
		return nil, time.Time{}, unavailable(err)
	}
	defer file.Close()
	// PHP writes a session in place (a pwrite, after a truncation when
	// it shrinks): a read is consistent when the file's size and time
	// were the same before and after it, and the size is what was read.
	for range 3 {
		data, mtime, ok, err := readOnce(file, limit)
		if err != nil {
			return nil, time.Time{}, err
		}
		if !ok {
			continue
		}
		expires := mtime.Add(f.cfg.MaxLifetime)
		if !f.cfg.Now().Before(expires) {
			return nil, time.Time{}, fmt.Errorf("%w: expired (gc_maxlifetime)", ErrNoSession)
		}
		return data, expires, nil
	}
	return nil, time.Time{}, fmt.Errorf("%w: phpsession: the session file kept changing while read", identity.ErrUnavailable)
}

// readOnce reads file from its start; ok is false when it changed
// meanwhile.
func readOnce(file *os.File, limit int) (data []byte, mtime time.Time, ok bool, err error) {
	before, err := file.Stat()
	if err != nil {
		return nil, time.Time{}, false, unavailable(err)
	}
	if !before.Mode().IsRegular() {
		return nil, time.Time{}, false, fmt.Errorf("%w: not a regular file", ErrNoSession)
	}
	if before.Size() > int64(limit) {
		return nil, time.Time{}, false, fmt.Errorf("%w: a session of %d bytes, more than %d", ErrLimit, before.Size(), limit)
	}
	data, err = io.ReadAll(io.LimitReader(io.NewSectionReader(file, 0, int64(limit)+1), int64(limit)+1))
	if err != nil {
		return nil, time.Time{}, false, unavailable(err)
	}
	after, err := file.Stat()
	if err != nil {
		return nil, time.Time{}, false, unavailable(err)
	}
	if len(data) > limit {
		return nil, time.Time{}, false, fmt.Errorf("%w: a session of more than %d bytes", ErrLimit, limit)
	}
	same := after.Size() == before.Size() && after.ModTime().Equal(before.ModTime()) && int64(len(data)) == after.Size()
	return data, after.ModTime(), same, nil
}

// Destroy deletes the file of session id, as session_destroy() does. A
// file already gone is no error.
func (f *Files) Destroy(_ context.Context, id string) error {
	name, err := f.name(id)
	if err != nil {
		return nil // no file has that name
	}
	root, err := os.OpenRoot(f.cfg.Dir)
	if err != nil {
		return unavailable(err)
	}
	defer root.Close()
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return unavailable(err)
	}
	return nil
}

// unavailable wraps an error of the file system as identity.ErrUnavailable,
// without the file's name: it holds the session id, a credential, and
// errors are logged.
func unavailable(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = fmt.Errorf("%s session file: %w", pe.Op, pe.Err)
	}
	return fmt.Errorf("%w: phpsession: %w", identity.ErrUnavailable, err)
}
