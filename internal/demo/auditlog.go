package demo

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// openAuditLog returns the logger of the audit records (package audit):
// JSON lines, a handler of their own apart from the text log, on stderr
// for "-", else appended to the file path (created with mode 0600).
// close closes the file.
func openAuditLog(path string, stderr io.Writer) (_ *slog.Logger, close func() error, _ error) {
	w, close := stderr, func() error { return nil }
	if path != "-" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("-audit-log: %w", err)
		}
		w, close = f, f.Close
	}
	return slog.New(slog.NewJSONHandler(w, nil)), close, nil
}
