package demo

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// widgetTokens logs in demo (widgets:read widgets:write tokens:manage) and
// viewer (widgets:read).
func widgetTokens(t *testing.T, e *testEnv) (demo, viewer string) {
	t.Helper()
	return e.login(t, "demo", testPassword).AccessToken, e.login(t, "viewer", testPassword).AccessToken
}

// call sends a request with a bearer token (none when tok is empty).
func (e *testEnv) call(t *testing.T, method, path, body, tok string) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	return e.do(t, method, path, body, h)
}

type widgetList struct {
	Widgets []Widget `json:"widgets"`
}

func TestWidgetsRead(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	demo, viewer := widgetTokens(t, e)
	seeded := []Widget{{ID: "1", Name: "sprocket"}, {ID: "2", Name: "gear"}}
	for name, tok := range map[string]string{"demo": demo, "viewer": viewer} {
		t.Run(name, func(t *testing.T) {
			resp, b := e.call(t, "GET", "/api/widgets", "", tok)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("list: %s %s", resp.Status, b)
			}
			if got := decodeInto[widgetList](t, b).Widgets; fmt.Sprint(got) != fmt.Sprint(seeded) {
				t.Errorf("list = %s, want %v", b, seeded)
			}
			resp, b = e.call(t, "GET", "/api/widgets/2", "", tok)
			if resp.StatusCode != 200 || decodeInto[Widget](t, b) != seeded[1] {
				t.Errorf("get 2: %s %s", resp.Status, b)
			}
			resp, b = e.call(t, "GET", "/api/widgets/99", "", tok)
			if resp.StatusCode != 404 || decodeInto[errorResponse](t, b).Error != "not_found" {
				t.Errorf("get 99: %s %s", resp.Status, b)
			}
			resp, b = e.call(t, "GET", "/api/widgets?delay_ms=0", "", tok)
			if resp.StatusCode != 200 {
				t.Errorf("delay_ms=0: %s %s", resp.Status, b)
			}
		})
	}
}

func TestWidgetsCreate(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	demo, _ := widgetTokens(t, e)
	sub := e.user(t, "demo").ID

	resp, b := e.call(t, "POST", "/api/widgets?delay_ms=1", `{"name":"flange"}`, demo)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %s %s", resp.Status, b)
	}
	created := decodeInto[Widget](t, b)
	want := Widget{ID: "3", Name: "flange", CreatedBy: sub}
	if created != want || resp.Header.Get("Location") != "/api/widgets/3" {
		t.Fatalf("create = %s (Location %q), want %+v", b, resp.Header.Get("Location"), want)
	}
	resp, b = e.call(t, "GET", "/api/widgets/3", "", demo)
	if resp.StatusCode != 200 || decodeInto[Widget](t, b) != want || !strings.Contains(string(b), `"created_by":"`+sub+`"`) {
		t.Errorf("get created: %s %s", resp.Status, b)
	}
	resp, b = e.call(t, "GET", "/api/widgets", "", demo)
	if got := decodeInto[widgetList](t, b).Widgets; resp.StatusCode != 200 || len(got) != 3 || got[2] != want {
		t.Errorf("list after create: %s %s", resp.Status, b)
	}

	// Ten more: IDs sort as numbers, 10 after 9.
	for i := range 10 {
		if resp, b := e.call(t, "POST", "/api/widgets", fmt.Sprintf(`{"name":"w%d"}`, i), demo); resp.StatusCode != 201 {
			t.Fatalf("create %d: %s %s", i, resp.Status, b)
		}
	}
	_, b = e.call(t, "GET", "/api/widgets", "", demo)
	for i, w := range decodeInto[widgetList](t, b).Widgets {
		if w.ID != fmt.Sprint(i+1) {
			t.Fatalf("list order: %s", b)
		}
	}
}

func TestWidgetsCreateRejects(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	demo, _ := widgetTokens(t, e)
	for _, tt := range []struct {
		name, body string
		status     int
	}{
		{"malformed", `{"name":`, 400},
		{"no name", `{}`, 400},
		{"null name", `{"name":null}`, 400},
		{"empty name", `{"name":""}`, 400},
		{"blank name", `{"name":"   "}`, 400},
		{"name not a string", `{"name":42}`, 400},
		{"name too long", `{"name":"` + strings.Repeat("é", 101) + `"}`, 400},
		{"trailing data", `{"name":"a"} {}`, 400},
		{"another member", `{"name":"a","color":"red"}`, 400},
		{"Name is not name", `{"Name":"a"}`, 400},
		{"name twice", `{"name":"a","name":"b"}`, 400},
		{"body over 64 KiB", `{"name":"a","pad":"` + strings.Repeat("x", 64<<10) + `"}`, 413},
	} {
		resp, b := e.call(t, "POST", "/api/widgets", tt.body, demo)
		if resp.StatusCode != tt.status || decodeInto[errorResponse](t, b).Error != "invalid_request" {
			t.Errorf("%s: %s %s", tt.name, resp.Status, b)
		}
	}
	if resp, b := e.call(t, "POST", "/api/widgets", `{"name":"`+strings.Repeat("é", 100)+`"}`, demo); resp.StatusCode != 201 {
		t.Errorf("100-character name: %s %s", resp.Status, b)
	}
	// JSON only: another media type, or none, is 415; every refusal is
	// problem+json.
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx"} {
		h := http.Header{"Authorization": {"Bearer " + demo}}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		req, _ := http.NewRequest("POST", e.ts.URL+"/api/widgets", strings.NewReader(`{"name":"a"}`))
		req.Header = h
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 415 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("Content-Type %q: %s %s, want 415 problem+json", ct, resp.Status, resp.Header.Get("Content-Type"))
		}
	}
	// The store is bounded.
	e.srv.widgets.max = 3
	for range 3 {
		e.call(t, "POST", "/api/widgets", `{"name":"more"}`, demo)
	}
	if resp, b := e.call(t, "POST", "/api/widgets", `{"name":"one too many"}`, demo); resp.StatusCode != 507 ||
		decodeInto[problemBody](t, b).Error != "store_full" {
		t.Errorf("past the bound: %s %s, want 507 store_full", resp.Status, b)
	}
}

// TestAPIErrorsAreProblems: unknown /api paths, wrong methods, bodies too
// large: application/problem+json; /auth keeps the OAuth 2.0 shape.
func TestAPIErrorsAreProblems(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	demo, _ := widgetTokens(t, e)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/nope", 404},
		{"GET", "/api", 404},
		{"DELETE", "/api/widgets", 405},
		{"PUT", "/api/me", 405},
		{"PATCH", "/api/tokens/x", 405},
	} {
		resp, b := e.call(t, tc.method, tc.path, "", demo)
		pb := decodeInto[problemBody](t, b)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json" || pb.Status != tc.status {
			t.Errorf("%s %s: %s %s %s", tc.method, tc.path, resp.Status, resp.Header.Get("Content-Type"), b)
		}
		if tc.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/widgets", strings.NewReader(strings.Repeat("x", 2<<20)))
	req.Header.Set("Authorization", "Bearer "+demo)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("a 2 MiB body: %s, want 413", resp.Status)
	}
	resp, b := e.do(t, "GET", "/auth/login", "", nil)
	if resp.StatusCode != 405 || resp.Header.Get("Content-Type") != "application/json" || decodeInto[errorResponse](t, b).Error == "" {
		t.Errorf("GET /auth/login: %s %s %s", resp.Status, resp.Header.Get("Content-Type"), b)
	}
}

func TestWidgetsAuthorization(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	_, viewer := widgetTokens(t, e)

	resp, b := e.call(t, "POST", "/api/widgets", `{"name":"nope"}`, viewer)
	p := checkProblem(t, resp, b, 403, "insufficient_scope")
	ch := resp.Header.Get("WWW-Authenticate")
	if !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="widgets:write"`) || p.Scope != "widgets:write" {
		t.Errorf("WWW-Authenticate = %q, body %s", ch, b)
	}
	_, b = e.call(t, "GET", "/api/widgets", "", viewer)
	if n := len(decodeInto[widgetList](t, b).Widgets); n != 2 {
		t.Errorf("the refused POST created a widget: %s", b)
	}

	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/widgets", ""},
		{"GET", "/api/widgets/1", ""},
		{"POST", "/api/widgets", `{"name":"x"}`},
	} {
		resp, b := e.call(t, r.method, r.path, r.body, "")
		checkProblem(t, resp, b, 401, "")
		if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="demo-api", resource_metadata="http://demo.test/.well-known/oauth-protected-resource`+r.path+`"` {
			t.Errorf("%s %s without a token: WWW-Authenticate = %q", r.method, r.path, got)
		}
		resp, b = e.call(t, r.method, r.path, r.body, "garbage")
		checkProblem(t, resp, b, 401, "invalid_token")
	}
}

func TestWidgetsBadDelay(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	demo, _ := widgetTokens(t, e)
	for _, d := range []string{"-1", "5001", "x", "1.5", "", "100&delay_ms=1"} {
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/api/widgets", ""},
			{"GET", "/api/widgets/1", ""},
			{"POST", "/api/widgets", `{"name":"x"}`},
		} {
			resp, b := e.call(t, r.method, r.path+"?delay_ms="+d, r.body, demo)
			if resp.StatusCode != 400 || decodeInto[errorResponse](t, b).Error != "invalid_request" {
				t.Errorf("%s %s?delay_ms=%s: %s %s", r.method, r.path, d, resp.Status, b)
			}
		}
	}
}

// TestDelayHonorsCancellation: a request given up by its client stops
// waiting.
func TestDelayHonorsCancellation(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	demo, _ := widgetTokens(t, e)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/api/widgets?delay_ms=5000", nil)
	req.Header.Set("Authorization", "Bearer "+demo)
	start := time.Now()
	resp, err := e.ts.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %s, want the client to give up", resp.Status)
	}
	e.ts.Close() // waits for the handler: it must not sleep 5 s
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the handler kept sleeping after cancellation: %v", d)
	}
}

// TestParallelRequestsOneToken: one token serves many requests at once;
// nothing about it (no session, no lock per user) serializes them.
func TestParallelRequestsOneToken(t *testing.T) {
	e := newTestEnv(t, testConfig(t))
	tok, _ := widgetTokens(t, e)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: 10}}
	t.Cleanup(client.CloseIdleConnections)

	const n, delay = 10, 200 * time.Millisecond
	statuses := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL+"/api/widgets?delay_ms=200", nil)
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	d := time.Since(start)
	t.Logf("10 parallel requests x 200 ms with one token: %v", d)
	for i := range n {
		if errs[i] != nil || statuses[i] != 200 {
			t.Errorf("request %d: status %d, err %v", i, statuses[i], errs[i])
		}
	}
	if d < delay || d >= 2*delay {
		t.Errorf("10 parallel requests took %v, want at least %v and under %v", d, delay, 2*delay)
	}
}
