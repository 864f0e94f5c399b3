package main

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestTheWholeStory drives the built demo-api over HTTP as a client would,
// through every credential: login, parallel requests, refresh, reuse
// detection, logout; an API token created, used, revoked; GraphQL; then a
// SIGTERM while a request is in flight.
func TestTheWholeStory(t *testing.T) {
	in := startInstance(t, "story", t.TempDir(), []string{"DEMO_ISSUER=http://demo.test"})

	// Login and /api/me.
	tk := in.login("demo")
	code, _, body := in.send("GET", "/api/me", "", "", tk.AccessToken)
	if code != 200 || !strings.Contains(string(body), `"auth_method":"jwt"`) {
		t.Fatalf("/api/me: %d %s", code, body)
	}
	// Ten parallel slow requests with one token finish together: no
	// session lock serializes them.
	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Go(func() { codes[i], _, _ = in.send("GET", "/api/widgets?delay_ms=300", "", "", tk.AccessToken) })
	}
	wg.Wait()
	took := time.Since(start)
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("parallel request %d: %d", i, c)
		}
	}
	if took > 2*time.Second {
		t.Errorf("10 parallel 300 ms requests took %v: serialized?", took)
	}
	t.Logf("10 parallel 300 ms requests: %v", took)

	// Refresh twice, then reuse of the first, spent refresh token (its
	// successor is spent too, so no grace): the family dies.
	code, next := in.refresh(tk.RefreshToken)
	if code != 200 || next.AccessToken == "" {
		t.Fatalf("refresh: %d", code)
	}
	if code, next = in.refresh(next.RefreshToken); code != 200 {
		t.Fatalf("second refresh: %d", code)
	}
	if code, _ := in.refresh(tk.RefreshToken); code != 400 {
		t.Fatalf("reuse of a spent refresh token: %d, want 400", code)
	}
	if in.me(next.AccessToken) != 401 || in.me(tk.AccessToken) != 401 {
		t.Fatal("the family's access tokens survive a detected reuse")
	}

	// Logout: the token is refused at once.
	tk = in.login("demo")
	if code, _, b := in.send("POST", "/auth/logout", "application/json", `{"refresh_token":"`+tk.RefreshToken+`"}`, tk.AccessToken); code != 204 {
		t.Fatalf("logout: %d %s", code, b)
	}
	if in.me(tk.AccessToken) != 401 {
		t.Fatal("a logged-out token works")
	}

	// An API token: created, used, revoked, refused.
	tk = in.login("demo")
	code, _, body = in.send("POST", "/api/tokens", "application/json", `{"name":"story","scopes":["widgets:read"]}`, tk.AccessToken)
	var api struct{ ID, Token string }
	if code != 201 || json.Unmarshal(body, &api) != nil {
		t.Fatalf("POST /api/tokens: %d %s", code, body)
	}
	if code, _, b := in.send("GET", "/api/me", "", "", api.Token); code != 200 || !strings.Contains(string(b), `"auth_method":"apitoken"`) {
		t.Fatalf("/api/me with the API token: %d %s", code, b)
	}
	if code, _, _ := in.send("DELETE", "/api/tokens/"+api.ID, "", "", tk.AccessToken); code != 204 {
		t.Fatalf("DELETE /api/tokens: %d", code)
	}
	if in.me(api.Token) != 401 {
		t.Fatal("a revoked API token works")
	}

	// GraphQL: a query, and a mutation the viewer may not make.
	code, _, body = in.send("POST", "/graphql", "application/json", `{"query":"{ me { sub } widgets { name } }"}`, tk.AccessToken)
	if code != 200 || !strings.Contains(string(body), "sprocket") || strings.Contains(string(body), `"errors"`) {
		t.Fatalf("GraphQL query: %d %s", code, body)
	}
	viewer := in.login("viewer")
	code, _, body = in.send("POST", "/graphql", "application/json", `{"query":"mutation { createWidget(name: \"x\") { id } }"}`, viewer.AccessToken)
	if code != 200 || !strings.Contains(string(body), `"FORBIDDEN"`) || !strings.Contains(string(body), `"createWidget":null`) {
		t.Fatalf("a forbidden GraphQL mutation: %d %s", code, body)
	}

	// SIGTERM with a request in flight: it completes, and the process
	// exits within 10 s.
	done := make(chan int, 1)
	go func() { c, _, _ := in.send("GET", "/api/widgets?delay_ms=1000", "", "", tk.AccessToken); done <- c }()
	time.Sleep(200 * time.Millisecond) // the request is in flight (a real process, no clock to move)
	sent := time.Now()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if c := <-done; c != 200 {
		t.Errorf("the in-flight request during shutdown: %d, want 200", c)
	}
	select {
	case err := <-in.exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
		in.exited = nil
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10 s of SIGTERM")
	}
	t.Logf("exited %v after SIGTERM", time.Since(sent))
}

// TestShutdownWithAStuckClient: a client that trickles its body does not
// hold the process past 10 s after SIGTERM, and the exit is clean.
func TestShutdownWithAStuckClient(t *testing.T) {
	in := startInstance(t, "stuck", t.TempDir(), nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 500 ms
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
				conn.Write([]byte(" "))
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // the request is in flight (a real process: no clock to move)
	sent := time.Now()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-in.exited:
		in.exited = nil
		if err != nil {
			t.Errorf("exit with a stuck client: %v, want a clean exit", err)
		}
		if took := time.Since(sent); took > 10*time.Second {
			t.Errorf("exit %v after SIGTERM, want within 10 s", took)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15 s of SIGTERM")
	}
}
