package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// PHP returns the path of the php command (Debian's php-cli), with the
// extensions named loaded ("redis": php-redis). Without them it skips
// with a message saying how to get them, or fails under CI, which must
// run the tests against real PHP (scripts/services.sh installs it there).
func PHP(t testing.TB, extensions ...string) string {
	t.Helper()
	const how = "install the Debian packages php-cli and php-redis (apt-get install php-cli php-redis), " +
		"or run ./scripts/test.sh with CI=true, which installs them"
	skip := func(msg string) {
		t.Helper()
		if InCI() {
			t.Fatal("CI must not skip: " + msg)
		}
		t.Skip(msg)
	}
	bin, err := exec.LookPath("php")
	if err != nil {
		skip("this test writes sessions with real PHP, and there is no php command: " + how)
	}
	if len(extensions) > 0 {
		out, err := exec.Command(bin, "-m").Output()
		if err != nil {
			t.Fatalf("php -m: %v", err)
		}
		mods := strings.Fields(strings.ToLower(string(out)))
		for _, ext := range extensions {
			if !slices.Contains(mods, ext) {
				skip("this test needs PHP's " + ext + " extension: " + how)
			}
		}
	}
	return bin
}

// PHPServer starts PHP's built-in web server (php -S) on a free
// loopback port, serving the scripts of dir with the php.ini settings
// given as "name=value", and returns its base URL ("http://127.0.0.1:N").
// It stops the server when t ends. Its output goes to the test's log
// when the test fails.
func PHPServer(t testing.TB, dir string, ini ...string) string {
	t.Helper()
	bin := PHP(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args := []string{"-S", addr, "-t", dir}
	for _, kv := range ini {
		args = append(args, "-d", kv)
	}
	var out SyncBuffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	// A fresh environment without PHP_CLI_SERVER_WORKERS: one process,
	// which the cleanup stops.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting php -S: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("php -S %s:\n%s", addr, out.String())
		}
	})
	Eventually(t, "php -S to accept connections on "+addr, func() bool {
		select {
		case <-done:
			t.Fatalf("php -S exited:\n%s", out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return fmt.Sprintf("http://%s", addr)
}
