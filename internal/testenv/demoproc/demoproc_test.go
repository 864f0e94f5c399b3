package demoproc

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The process itself is tested where it runs, by integration/browser and
// integration/node: here, what needs no build.

func TestRepoRoot(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "demo-api")); err != nil {
		t.Errorf("repoRoot() = %s, without cmd/demo-api: %v", root, err)
	}
	for gomod, want := range map[string]string{
		"module github.com/sessionless/sessionless\n\ngo 1.26.0\n":     mainModule,
		"// c\nmodule \"github.com/sessionless/sessionless\"\n":        mainModule,
		"module github.com/sessionless/sessionless/integration/node\n": mainModule + "/integration/node",
		"go 1.26.0\n": "",
	} {
		if got := modulePath([]byte(gomod)); got != want {
			t.Errorf("modulePath(%q) = %q, want %q", gomod, got, want)
		}
	}
}

func TestLogTail(t *testing.T) {
	var l Log
	if got := l.Tail(3); got != "" {
		t.Errorf("empty: Tail(3) = %q", got)
	}
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&l, "line %d\n", i)
	}
	if got, want := l.Tail(2), "line 4\nline 5"; got != want {
		t.Errorf("Tail(2) = %q, want %q", got, want)
	}
	if got, want := l.Tail(9), "line 1\nline 2\nline 3\nline 4\nline 5"; got != want {
		t.Errorf("Tail(9) = %q, want %q", got, want)
	}
	if got, want := l.Len(), len(l.String()); got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
}
