package main

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The parser of the documents' shell commands, which docs_test.go checks
// against the code.

// shBlock is one ```sh block of a document.
type shBlock struct {
	file, heading, text string
}

var fence = regexp.MustCompile("(?s)\n[ \t]*```sh\n(.*?)\n[ \t]*```")

// shBlocks returns the ```sh blocks of README.md and docs/*.md.
func shBlocks(t *testing.T) []shBlock {
	t.Helper()
	files, _ := filepath.Glob("../../docs/*.md")
	blocks, err := readShBlocks(append(files, "../../README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

// readShBlocks returns the ```sh blocks of the files, in order.
func readShBlocks(files []string) ([]shBlock, error) {
	var out []shBlock
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, shBlocksOf(filepath.Base(f), string(b))...)
	}
	return out, nil
}

// shBlocksOf returns the ```sh blocks of text, the document file, with
// the heading they are under, their lines continued over backslashes
// joined.
func shBlocksOf(file, text string) []shBlock {
	var out []shBlock
	for _, m := range fence.FindAllStringSubmatchIndex(text, -1) {
		heading := ""
		if i := strings.LastIndex(text[:m[0]], "\n## "); i >= 0 {
			heading, _, _ = strings.Cut(text[i+4:], "\n")
		}
		body := strings.ReplaceAll(text[m[2]:m[3]], "\\\n", " ")
		out = append(out, shBlock{file, heading, body})
	}
	return out
}

// docBlock is a ```sh block taken apart into what the checks read.
type docBlock struct {
	shBlock
	// env are the demo's variables (DEMO_*, OIDC_*, DATABASE_URL,
	// REDIS_URL) that the block sets, quotes removed; its demo-api
	// commands run with them.
	env map[string]string
	// commands are the block's commands, in order.
	commands []docCommand
}

// docCommand is one command of a block.
type docCommand struct {
	// where names the command in errors: file (heading): command.
	where string
	kind  commandKind
	// fields are the command's words.
	fields []string
	// demoArgs are the arguments of a demo-api command, after
	// "go run ./cmd/demo-api".
	demoArgs []string
}

// commandKind says what a command runs, and so how it is checked.
type commandKind int

const (
	otherCommand  commandKind = iota // not checked
	demoCommand                      // go run ./cmd/demo-api ARGS
	scriptCommand                    // a script of scripts/
	cdCommand                        // cd DIR
	goTestCommand                    // go test ARGS
)

const demoRun = "go run ./cmd/demo-api"

var (
	// assignment is a variable set in a block: NAME=value, NAME='value'
	// or NAME="value".
	assignment = regexp.MustCompile(`(?:^|\s)([A-Z][A-Z0-9_]+)=('[^']*'|"[^"]*"|\S*)`)
	// separator is what ends a command: &&, ;, a line end or a pipe.
	separator = regexp.MustCompile(`\s*(?:&&|;|\n|\|)\s*`)
	// quoted is a quoted word without spaces, such as the pattern
	// 'A|B'. A quoted command line, such as that of bash -c '...', is
	// split into its commands all the same.
	quoted = regexp.MustCompile(`'[^'\s]*'|"[^"\s]*"`)
)

// docBlocks takes each block apart (see parseBlock).
func docBlocks(blocks []shBlock) []docBlock {
	out := make([]docBlock, len(blocks))
	for i, b := range blocks {
		out[i] = parseBlock(b)
	}
	return out
}

// parseBlock takes b apart into the demo's variables it sets and its
// commands, each without its comment.
func parseBlock(b shBlock) docBlock {
	d := docBlock{shBlock: b, env: map[string]string{}}
	for _, m := range assignment.FindAllStringSubmatch(b.text, -1) {
		if strings.HasPrefix(m[1], "DEMO_") || strings.HasPrefix(m[1], "OIDC_") || m[1] == "DATABASE_URL" || m[1] == "REDIS_URL" {
			d.env[m[1]] = strings.Trim(m[2], `'"`)
		}
	}
	for _, cmd := range splitCommands(b.text) {
		cmd = strings.TrimSpace(strings.SplitN(cmd, " #", 2)[0])
		d.commands = append(d.commands, parseCommand(b.file+" ("+b.heading+"): "+cmd, cmd))
	}
	return d
}

// splitCommands splits text at each separator but those of a quoted word
// (see quoted): the pipe of -bench 'A|B' does not end the command.
func splitCommands(text string) []string {
	masked := quoted.ReplaceAllStringFunc(text, func(q string) string { return strings.Repeat("x", len(q)) })
	var cmds []string
	start := 0
	for _, m := range separator.FindAllStringIndex(masked, -1) {
		cmds = append(cmds, text[start:m[0]])
		start = m[1]
	}
	return append(cmds, text[start:])
}

// parseCommand tells what cmd runs; where names it in errors.
func parseCommand(where, cmd string) docCommand {
	c := docCommand{where: where, fields: strings.Fields(cmd)}
	switch {
	case strings.Contains(cmd, demoRun):
		c.kind = demoCommand
		c.demoArgs = strings.Fields(strings.SplitN(cmd, demoRun, 2)[1])
	case len(c.fields) > 0 && strings.Contains(c.fields[0], "scripts/"):
		c.kind = scriptCommand
	case len(c.fields) > 1 && c.fields[0] == "cd":
		c.kind = cdCommand
	case len(c.fields) > 2 && c.fields[0] == "go" && c.fields[1] == "test":
		c.kind = goTestCommand
	}
	return c
}

// TestParseBlock: what the parser makes of the shapes of commands the
// documents use.
func TestParseBlock(t *testing.T) {
	type cmd struct {
		kind     commandKind
		demoArgs string
	}
	tests := []struct {
		name string
		text string
		env  map[string]string
		cmds []cmd
	}{
		{"a server with flags", "go run ./cmd/demo-api -addr :8081 &",
			nil, []cmd{{demoCommand, "-addr :8081 &"}}},
		{"a subcommand, comment dropped", "go run ./cmd/demo-api tokens list demo   # operators",
			nil, []cmd{{demoCommand, "tokens list demo"}}},
		{"variables before the command", `OIDC_CLIENT_SECRET=… DEMO_ISSUER='https://a.example' go run ./cmd/demo-api`,
			map[string]string{"OIDC_CLIENT_SECRET": "…", "DEMO_ISSUER": "https://a.example"}, []cmd{{demoCommand, ""}}},
		{"exported variables, others ignored", "export DATABASE_URL=\"postgres://u@h/db\" REDIS_URL=redis://r:6379/0 PGHOST=h\ngo run ./cmd/demo-api",
			map[string]string{"DATABASE_URL": "postgres://u@h/db", "REDIS_URL": "redis://r:6379/0"},
			[]cmd{{otherCommand, ""}, {demoCommand, ""}}},
		{"separators", "cd token && go test -run TestVerify ./token; ./scripts/bench.sh | tee out",
			nil, []cmd{{cdCommand, ""}, {goTestCommand, ""}, {scriptCommand, ""}, {otherCommand, ""}}},
		{"quoted separators", "go test ./token -run '^$' -bench 'Verify|Parse' && echo 'a;b'",
			nil, []cmd{{goTestCommand, ""}, {otherCommand, ""}}},
		{"a quoted command line", "bash -c '. scripts/services.sh && go test ./token -run \"^$\" -bench Verify'",
			nil, []cmd{{otherCommand, ""}, {goTestCommand, ""}}},
		{"continued lines", "go run ./cmd/demo-api -db x.db \\\n  -access-ttl 5m",
			nil, []cmd{{demoCommand, "-db x.db -access-ttl 5m"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks := shBlocksOf("doc.md", "# Doc\n\n## Part\n\n```sh\n"+tt.text+"\n```\n")
			if len(blocks) != 1 || blocks[0].heading != "Part" {
				t.Fatalf("blocks %+v", blocks)
			}
			b := parseBlock(blocks[0])
			if !maps.Equal(b.env, tt.env) {
				t.Errorf("env %q, want %q", b.env, tt.env)
			}
			if len(b.commands) != len(tt.cmds) {
				t.Fatalf("%d commands %+v, want %d", len(b.commands), b.commands, len(tt.cmds))
			}
			for i, want := range tt.cmds {
				got := b.commands[i]
				if got.kind != want.kind || strings.Join(got.demoArgs, " ") != want.demoArgs || !strings.HasPrefix(got.where, "doc.md (Part): ") {
					t.Errorf("command %d: %+v, want %+v", i, got, want)
				}
			}
		})
	}
}
