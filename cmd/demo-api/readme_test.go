package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeWalkthrough runs the README's walkthrough, as a reader pastes
// it into a shell, against the built demo-api: every ```sh block that
// talks to http://127.0.0.1:8080 (but the ones that need an OpenID Connect
// provider), in order, in one bash, with the URL, the printed password and
// "go run ./cmd/demo-api" replaced by the instance's. A command annotated
// with an HTTP status ("# 401", "# 204") that prints its status line
// (curl -si) must answer that status.
func TestReadmeWalkthrough(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("needs bash")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl (apt-get install curl)")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := startInstance(t, "readme", dir, nil)

	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	status := regexp.MustCompile(`^(.*curl -si.*?)\s+# (\d{3})\b.*$`)
	// "curl -s … # 201": the status, asked of curl with -w.
	quiet := regexp.MustCompile(`^(.*?)curl -s (.*?)\s+# (\d{3})\b.*$`)
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	// The first line by expansion, not "| head -1": with pipefail, a
	// printf that head stopped reading fails the check (SIGPIPE, 141).
	script.WriteString("check() { local want=$1; shift; local out; out=$(\"$@\"); local got=${out%%$'\\n'*}; got=${got%$'\\r'};" +
		" case \"$got\" in *\" $want\"*) ;; *) echo \"FAILED: $* answered $got, want $want\" >&2; exit 1;; esac; }\n")
	script.WriteString("check_code() { local want=$1; shift; local got; got=$(\"$@\"); [ \"$got\" = \"$want\" ] || { echo \"FAILED: $* answered $got, want $want\" >&2; exit 1; }; }\n")
	n, checks := 0, 0
	for _, b := range blocks {
		text := b[1]
		if !strings.Contains(text, "http://127.0.0.1:8080") || strings.Contains(text, "-oidc-issuer") {
			continue
		}
		n++
		// Commands continue over lines ending in a backslash: join them
		// before looking at annotations.
		joined := strings.ReplaceAll(text, "\\\n", " ")
		for _, line := range strings.Split(joined, "\n") {
			if m := status.FindStringSubmatch(line); m != nil {
				// "L=$(login); curl -si …  # 200": check the curl part.
				before, cmd := "", strings.TrimSpace(m[1])
				if i := strings.LastIndex(cmd, "; "); i >= 0 && strings.Contains(cmd[i:], "curl -si") {
					before, cmd = cmd[:i+2], strings.TrimSpace(cmd[i+2:])
				}
				line = before + "check " + m[2] + " " + cmd
				checks++
			} else if m := quiet.FindStringSubmatch(line); m != nil && !strings.Contains(m[1], "$(") {
				line = m[1] + "check_code " + m[3] + " curl -s -o /dev/null -w %{http_code} " + m[2]
				checks++
			}
			script.WriteString(line + "\n")
		}
	}
	if n < 4 || checks < 10 {
		t.Fatalf("found %d walkthrough blocks and %d status checks in the README", n, checks)
	}
	t.Logf("%d blocks, %d status checks", n, checks)
	s := script.String()
	s = strings.ReplaceAll(s, "http://127.0.0.1:8080", in.url)
	s = strings.ReplaceAll(s, "PW='paste the printed password'", "PW='"+e2ePassword+"'")
	s = strings.ReplaceAll(s, "go run ./cmd/demo-api", demoBinary(t))

	cmd := exec.Command(bash, "-c", s)
	cmd.Dir = dir // the instance's database is ./demo-data/demo.db here
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("the walkthrough failed: %v\nstderr:\n%s\nstdout:\n%s", err, errb.String(), out.String())
	}
	for _, want := range []string{`"auth_method":"jwt"`, `"auth_method":"apitoken"`, `"sprocket"`, `"grant_types_supported"`, "nightly"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the walkthrough's output lacks %s:\n%s", want, out.String())
		}
	}
}
