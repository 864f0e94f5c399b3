package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/internal/demo"
)

// shBlock is one ```sh block of a document.
type shBlock struct {
	file, heading, text string
}

var fence = regexp.MustCompile("(?s)\n[ \t]*```sh\n(.*?)\n[ \t]*```")

// shBlocks returns the ```sh blocks of README.md and docs/*.md, with the
// heading they are under, their lines continued over backslashes joined.
func shBlocks(t *testing.T) []shBlock {
	t.Helper()
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md")
	var out []shBlock
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range fence.FindAllStringSubmatchIndex(text, -1) {
			heading := ""
			if i := strings.LastIndex(text[:m[0]], "\n## "); i >= 0 {
				heading, _, _ = strings.Cut(text[i+4:], "\n")
			}
			body := strings.ReplaceAll(text[m[2]:m[3]], "\\\n", " ")
			out = append(out, shBlock{filepath.Base(f), heading, body})
		}
	}
	return out
}

// TestDocCommandsMatchTheCode checks every command of README.md and
// docs/*.md against the code, so that they cannot drift: demo-api flags
// and subcommands exist, scripts and directories exist, and the packages,
// tests and benchmarks that `go test -run/-bench` names exist.
func TestDocCommandsMatchTheCode(t *testing.T) {
	help, err := exec.Command(demoBinary(t), "-h").Output()
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(string(help), -1) {
		flags[m[1]] = true
	}
	for _, f := range []string{"name", "scopes", "expires-in"} { // demo-api tokens create
		flags[f] = true
	}
	envs := map[string]bool{"DEMO_PASSWORD": true, "OIDC_CLIENT_SECRET": true, "OIDC_COOKIE_KEY": true, "DEMO_DPOP_NONCE_KEY": true}
	for _, m := range regexp.MustCompile(`env ([A-Z_]+)`).FindAllStringSubmatch(string(help), -1) {
		envs[m[1]] = true
	}
	root := "../.."
	exists := func(p string) bool { _, err := os.Stat(filepath.Join(root, p)); return err == nil }
	testNames := func(pkg string) string {
		files, _ := filepath.Glob(filepath.Join(root, pkg, "*_test.go"))
		var all strings.Builder
		for _, f := range files {
			b, _ := os.ReadFile(f)
			all.Write(b)
		}
		return all.String()
	}
	checked := 0
	for _, b := range shBlocks(t) {
		// The environment the block sets, checked and kept for its
		// demo-api commands.
		env := map[string]string{}
		for _, m := range regexp.MustCompile(`(?:^|\s)([A-Z][A-Z0-9_]+)=('[^']*'|"[^"]*"|\S*)`).FindAllStringSubmatch(b.text, -1) {
			if strings.HasPrefix(m[1], "DEMO_") || strings.HasPrefix(m[1], "OIDC_") || m[1] == "DATABASE_URL" || m[1] == "REDIS_URL" {
				if !envs[m[1]] {
					t.Errorf("%s (%s): demo-api reads no variable %s", b.file, b.heading, m[1])
				}
				env[m[1]] = strings.Trim(m[2], `'"`)
			}
		}
		for _, cmd := range regexp.MustCompile(`\s*(?:&&|;|\n|\|)\s*`).Split(b.text, -1) {
			cmd = strings.TrimSpace(strings.SplitN(cmd, " #", 2)[0])
			fields := strings.Fields(cmd)
			where := b.file + " (" + b.heading + "): " + cmd
			switch {
			case strings.Contains(cmd, "go run ./cmd/demo-api"):
				checked++
				args := strings.Fields(strings.SplitN(cmd, "go run ./cmd/demo-api", 2)[1])
				if len(args) > 0 && (args[0] == "tokens" || args[0] == "users") {
					if !regexp.MustCompile(`^(tokens (create|list|revoke)|users set-password)$`).MatchString(args[0] + " " + args[1]) {
						t.Errorf("%s: no such subcommand", where)
					}
				}
				for _, a := range args {
					if name, ok := strings.CutPrefix(a, "-"); ok && len(name) > 0 && name[0] != ' ' {
						name, _, _ = strings.Cut(name, "=")
						if !flags[name] {
							t.Errorf("%s: demo-api has no flag -%s", where, name)
						}
					}
				}
				// A server command: its flags and environment must parse
				// (values included), but for directories that exist only
				// on the reader's machine.
				if len(args) == 0 || args[0] != "tokens" && args[0] != "users" {
					var serverArgs []string
					for _, a := range args {
						if a == "&" {
							break
						}
						serverArgs = append(serverArgs, a)
					}
					_, err := demo.ParseConfig(serverArgs, func(k string) string { return env[k] }, io.Discard)
					if err != nil && !strings.Contains(err.Error(), "does not exist") && !strings.Contains(err.Error(), "directory") {
						t.Errorf("%s: %v", where, err)
					}
				}
			case len(fields) > 0 && strings.Contains(fields[0], "scripts/"):
				checked++
				if !exists(strings.TrimPrefix(strings.TrimPrefix(fields[0], "../"), "./")) {
					t.Errorf("%s: no such script", where)
				}
			case len(fields) > 1 && fields[0] == "cd":
				checked++
				if !exists(fields[1]) {
					t.Errorf("%s: no such directory", where)
				}
			case len(fields) > 2 && fields[0] == "go" && fields[1] == "test":
				checked++
				for i, f := range fields {
					if strings.HasPrefix(f, "./") && f != "./..." && !exists(f) {
						t.Errorf("%s: no package %s", where, f)
					}
					if (f == "-run" || f == "-bench") && i+1 < len(fields) {
						pattern := strings.Trim(fields[i+1], `'"^$`)
						kind := map[string]string{"-run": "Test", "-bench": "Benchmark"}[f]
						for _, alt := range strings.Split(pattern, "|") {
							alt, _, _ = strings.Cut(alt, "/")
							if alt == "" || alt == "." {
								continue
							}
							found := false
							for _, pkg := range fields[2:] {
								names := testNames(pkg)
								if strings.HasPrefix(pkg, "./") && (strings.Contains(names, "func "+alt) || strings.Contains(names, "func "+kind+alt)) {
									found = true
								}
							}
							if !found {
								t.Errorf("%s: no %s matching %q in the packages named", where, kind, alt)
							}
						}
					}
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked %d commands: the documents' blocks were not found", checked)
	}
	t.Logf("%d commands checked", checked)
}

// TestKeyRotationAsDocumented follows docs/operations.md "Rotating the
// signing key" with the built binary: its shell steps run in bash as
// written, its "go run ./cmd/demo-api" lines start the binary with the
// same flags; tokens of the old key keep working until step 3, then stop.
func TestKeyRotationAsDocumented(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("the documented steps use openssl (apt-get install openssl)")
	}
	var steps []shBlock
	for _, b := range shBlocks(t) {
		if b.file == "operations.md" && strings.HasPrefix(b.heading, "Rotating the signing key") {
			steps = append(steps, b)
		}
	}
	if len(steps) != 2 {
		t.Fatalf("found %d blocks under Rotating the signing key, want 2", len(steps))
	}
	dir := t.TempDir()
	env := []string{"DEMO_ISSUER=http://demo.test"}
	kidOf := func(tok string) string {
		h, _ := base64.RawURLEncoding.DecodeString(strings.SplitN(tok, ".", 2)[0])
		var hd struct{ Kid string }
		json.Unmarshal(h, &hd)
		return hd.Kid
	}
	first := startInstance(t, "before", dir, env)
	old := first.login("demo").AccessToken
	first.stop()

	var tokens []string
	for i, step := range steps {
		var args []string
		for _, line := range strings.Split(step.text, "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "go run ./cmd/demo-api"); ok {
				args = strings.Fields(rest)
				continue
			}
			sh := exec.Command("bash", "-ec", line)
			sh.Dir = dir
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("step %d, %q: %v\n%s", i+1, line, err, out)
			}
		}
		in := startInstance(t, "step", dir, env, args...)
		if in.me(old) != 200 {
			t.Fatalf("step %d: a token of the old key is refused", i+1)
		}
		tok := in.login("demo").AccessToken
		tokens = append(tokens, tok)
		in.stop()
	}
	if kidOf(tokens[0]) != kidOf(old) || kidOf(tokens[1]) == kidOf(old) {
		t.Fatalf("step 1 must still sign with the old key, step 2 with the new one: kids %s, %s, %s", kidOf(old), kidOf(tokens[0]), kidOf(tokens[1]))
	}
	// Step 3: without -verify-key-file.
	last := startInstance(t, "after", dir, env)
	if last.me(old) != 401 || last.me(tokens[1]) != 200 {
		t.Fatal("step 3: the old key's tokens must stop, the new key's work")
	}
}
