package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/internal/demo"
)

// TestDocCommandsMatchTheCode checks every command of README.md and
// docs/*.md against the code, so that they cannot drift: demo-api flags,
// subcommands and environment variables exist and their values parse,
// scripts and directories exist, and the packages, tests and benchmarks
// that `go test -run/-bench` names exist.
func TestDocCommandsMatchTheCode(t *testing.T) {
	blocks := docBlocks(shBlocks(t))
	checked := 0
	for _, b := range blocks {
		for _, c := range b.commands {
			if c.kind != otherCommand {
				checked++
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked %d commands: the documents' blocks were not found", checked)
	}
	for _, p := range docProblems(blocks, demoUsage(t), "../..") {
		t.Error(p)
	}
	t.Logf("%d commands checked", checked)
}

// TestDocChecksCatchDrift adds a block to a copy of README.md and expects
// the checks to report it, and only it.
func TestDocChecksCatchDrift(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, block string
		want        []string // what each problem mentions
	}{
		{"nothing wrong", "DEMO_ACCESS_TTL=5m go run ./cmd/demo-api -access-ttl 1h\n" +
			"go test -run 'TestParseBlock|TestDocChecksCatchDrift/test' ./cmd/demo-api", nil},
		{"unknown flag", "go run ./cmd/demo-api -bogus-flag x",
			[]string{"demo-api has no flag -bogus-flag", "flag provided but not defined: -bogus-flag"}},
		{"unknown flag of a subcommand", "go run ./cmd/demo-api tokens list -bogus demo", []string{"demo-api has no flag -bogus"}},
		{"flag value", "go run ./cmd/demo-api -access-ttl forever", []string{`-access-ttl: "forever" is not a duration`}},
		{"unknown subcommand", "go run ./cmd/demo-api tokens rotate demo", []string{"no such subcommand"}},
		{"subcommand without its verb", "go run ./cmd/demo-api tokens", []string{"no such subcommand"}},
		{"unknown variable", "DEMO_BOGUS=1 go run ./cmd/demo-api", []string{"demo-api reads no variable DEMO_BOGUS"}},
		{"exported unknown variable", "export OIDC_BOGUS=x", []string{"demo-api reads no variable OIDC_BOGUS"}},
		{"variable value", "export DEMO_ACCESS_TTL=forever", []string{`DEMO_ACCESS_TTL: "forever" is not a duration`}},
		{"variable value for a subcommand", "DEMO_DPOP_NONCE_KEY=short go run ./cmd/demo-api tokens list demo",
			[]string{"DEMO_DPOP_NONCE_KEY: want 32 bytes"}},
		{"script", "./scripts/bogus.sh", []string{"no such script"}},
		{"directory", "cd bogus", []string{"no such directory"}},
		{"package", "go test ./bogus", []string{"no package ./bogus"}},
		{"test", "go test -run 'TestParseBlock|TestBogus' ./cmd/demo-api", []string{`no Test matching "TestBogus"`}},
		{"test of another package", "go test -run TestParseBlock ./token", []string{`no Test matching "TestParseBlock"`}},
		{"test after cd", "cd token && go test -run TestParseBlock", []string{`no Test matching "TestParseBlock"`}},
		{"benchmark", "go test ./token -run '^$' -bench 'Bogus'", []string{`no Benchmark matching "Bogus"`}},
	}
	usage := demoUsage(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := filepath.Join(t.TempDir(), "README.md")
			if err := os.WriteFile(doc, append(slices.Clip(readme), "\n```sh\n"+tt.block+"\n```\n"...), 0o600); err != nil {
				t.Fatal(err)
			}
			blocks, err := readShBlocks([]string{doc})
			if err != nil {
				t.Fatal(err)
			}
			problems := docProblems(docBlocks(blocks), usage, "../..")
			ok := len(problems) == len(tt.want)
			for i := 0; ok && i < len(problems); i++ {
				ok = strings.Contains(problems[i], tt.want[i])
			}
			if !ok {
				t.Errorf("problems %q, want ones mentioning %q", problems, tt.want)
			}
		})
	}
}

// demoUsage returns the text of demo-api -h.
func demoUsage(t *testing.T) string {
	t.Helper()
	var out strings.Builder
	if _, err := demo.ParseConfig([]string{"-h"}, func(string) string { return "" }, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("demo-api -h: %v", err)
	}
	return out.String()
}

// docProblems checks the blocks against the code and returns what it
// found wrong: the variables each block sets (envProblems), its demo-api
// commands (flagProblems) and the paths its other commands name
// (pathProblems). usage is the text of demo-api -h; root the repository.
func docProblems(blocks []docBlock, usage, root string) []string {
	flags, vars := demoFlags(usage), demoVariables(usage)
	var problems []string
	for _, b := range blocks {
		problems = append(problems, envProblems(b, vars)...)
		dir := root // a cd moves the commands after it, in its block
		for _, c := range b.commands {
			if c.kind == demoCommand {
				problems = append(problems, flagProblems(c, b.env, flags)...)
			}
			if c.kind == goTestCommand {
				problems = append(problems, pathProblems(c, dir)...)
			} else {
				problems = append(problems, pathProblems(c, root)...)
			}
			if c.kind == cdCommand {
				dir = filepath.Join(dir, c.fields[1])
			}
		}
	}
	return problems
}

// demoFlags are the flags of demo-api: those of its usage text and those
// of demo-api tokens create.
func demoFlags(usage string) map[string]bool {
	flags := map[string]bool{"name": true, "scopes": true, "expires-in": true}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(usage, -1) {
		flags[m[1]] = true
	}
	return flags
}

// demoVariables are the environment variables demo-api reads: those of
// its usage text and those without a flag.
func demoVariables(usage string) map[string]bool {
	vars := map[string]bool{"DEMO_PASSWORD": true, "OIDC_CLIENT_SECRET": true, "OIDC_COOKIE_KEY": true, "DEMO_DPOP_NONCE_KEY": true}
	for _, m := range regexp.MustCompile(`env ([A-Z_]+)`).FindAllStringSubmatch(usage, -1) {
		vars[m[1]] = true
	}
	return vars
}

// envProblems checks the demo's variables that b sets: demo-api reads
// each, and their values parse (see parseProblem).
func envProblems(b docBlock, known map[string]bool) []string {
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(b.env)) {
		if !known[name] {
			problems = append(problems, fmt.Sprintf("%s (%s): demo-api reads no variable %s", b.file, b.heading, name))
		}
	}
	if err := parseProblem(nil, b.env); err != nil {
		problems = append(problems, fmt.Sprintf("%s (%s): the variables it sets: %v", b.file, b.heading, err))
	}
	return problems
}

// subcommand is a subcommand of demo-api and its verb.
var subcommand = regexp.MustCompile(`^(tokens (create|list|revoke)|users set-password)$`)

// flagProblems checks a demo-api command: its subcommand exists, demo-api
// has each flag it gives, and a server command's flags, with the
// variables its block sets, parse (see parseProblem).
func flagProblems(c docCommand, env map[string]string, known map[string]bool) []string {
	var problems []string
	args := c.demoArgs
	sub := len(args) > 0 && (args[0] == "tokens" || args[0] == "users")
	if sub && !subcommand.MatchString(strings.Join(args[:min(2, len(args))], " ")) {
		problems = append(problems, c.where+": no such subcommand")
	}
	for _, a := range args {
		if name, ok := strings.CutPrefix(a, "-"); ok && name != "" {
			if name, _, _ = strings.Cut(name, "="); !known[name] {
				problems = append(problems, fmt.Sprintf("%s: demo-api has no flag -%s", c.where, name))
			}
		}
	}
	if !sub {
		// A server started in the background ends at the "&".
		if i := slices.Index(args, "&"); i >= 0 {
			args = args[:i]
		}
		if err := parseProblem(args, env); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", c.where, err))
		}
	}
	return problems
}

// parseProblem is the error of [demo.ParseConfig] for args and env, but
// for a directory that exists only on the reader's machine.
func parseProblem(args []string, env map[string]string) error {
	_, err := demo.ParseConfig(args, func(k string) string { return env[k] }, io.Discard)
	if err != nil && !strings.Contains(err.Error(), "does not exist") && !strings.Contains(err.Error(), "directory") {
		return err
	}
	return nil
}

// pathProblems checks that the script, directory, or packages and tests
// that c names exist under root.
func pathProblems(c docCommand, root string) []string {
	switch c.kind {
	case scriptCommand:
		if !exists(root, strings.TrimPrefix(strings.TrimPrefix(c.fields[0], "../"), "./")) {
			return []string{c.where + ": no such script"}
		}
	case cdCommand:
		if !exists(root, c.fields[1]) {
			return []string{c.where + ": no such directory"}
		}
	case goTestCommand:
		return goTestProblems(c, root)
	}
	return nil
}

// goTestProblems checks a go test command: the packages it names exist,
// and so do the tests and benchmarks its -run and -bench patterns name.
func goTestProblems(c docCommand, root string) []string {
	var problems []string
	for i, f := range c.fields {
		if strings.HasPrefix(f, "./") && f != "./..." && !exists(root, f) {
			problems = append(problems, fmt.Sprintf("%s: no package %s", c.where, f))
		}
		if (f == "-run" || f == "-bench") && i+1 < len(c.fields) {
			kind := map[string]string{"-run": "Test", "-bench": "Benchmark"}[f]
			for _, alt := range strings.Split(strings.Trim(c.fields[i+1], `'"^$`), "|") {
				if alt, _, _ = strings.Cut(alt, "/"); alt != "" && alt != "." && !definesTest(root, c.fields[2:], kind, alt) {
					problems = append(problems, fmt.Sprintf("%s: no %s matching %q in the packages named", c.where, kind, alt))
				}
			}
		}
	}
	return problems
}

// definesTest reports whether the test files of one of the packages pkgs
// (the ./ ones) define a function alt or kind+alt.
func definesTest(root string, pkgs []string, kind, alt string) bool {
	if !slices.ContainsFunc(pkgs, func(p string) bool { return strings.HasPrefix(p, "./") }) {
		pkgs = []string{"./"} // no package named: the current directory's
	}
	for _, pkg := range pkgs {
		if !strings.HasPrefix(pkg, "./") {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(root, pkg, "*_test.go"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), "func "+alt) || strings.Contains(string(b), "func "+kind+alt) {
				return true
			}
		}
	}
	return false
}

// exists reports whether the path p exists under root.
func exists(root, p string) bool {
	_, err := os.Stat(filepath.Join(root, p))
	return err == nil
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
