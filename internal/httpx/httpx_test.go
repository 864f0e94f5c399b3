package httpx_test

import (
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/internal/httpx"
)

// TestWriters: every writer sets the same headers; only the shape and the
// media type differ.
func TestWriters(t *testing.T) {
	tests := []struct {
		name  string
		write func(http.ResponseWriter)
		ct    string
		body  string
	}{
		{"JSON", func(w http.ResponseWriter) { httpx.WriteJSON(w, 201, map[string]int{"a": 1}) }, "application/json", `{"a":1}`},
		{"OAuth error", func(w http.ResponseWriter) { httpx.WriteOAuthError(w, 400, "invalid_grant", "no") }, "application/json",
			`{"error":"invalid_grant","error_description":"no"}`},
		{"OAuth error without description", func(w http.ResponseWriter) { httpx.WriteOAuthError(w, 400, "invalid_request", "") },
			"application/json", `{"error":"invalid_request"}`},
		{"problem", func(w http.ResponseWriter) { httpx.WriteProblem(w, 404, "not_found", "no such widget") }, "application/problem+json",
			`{"type":"about:blank","title":"Not Found","status":404,"detail":"no such widget","error":"not_found"}`},
		{"problem details", func(w http.ResponseWriter) {
			httpx.WriteProblemDetails(w, httpx.Problem{Status: 403, Detail: "d", Error: "insufficient_scope", Scope: "a b"})
		}, "application/problem+json", `{"type":"about:blank","title":"Forbidden","status":403,"detail":"d","error":"insufficient_scope","scope":"a b"}`},
		{"unmarshalable", func(w http.ResponseWriter) { httpx.WriteJSON(w, 200, func() {}) }, "application/json", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.write(rec)
			h := rec.Header()
			for k, want := range map[string]string{"Content-Type": tt.ct, "Cache-Control": "no-store", "Pragma": "no-cache",
				"X-Content-Type-Options": "nosniff"} {
				if h.Get(k) != want {
					t.Errorf("%s = %q, want %q", k, h.Get(k), want)
				}
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.body {
				t.Errorf("body %s, want %s", got, tt.body)
			}
			if h.Get("Content-Length") != itoa(rec.Body.Len()) {
				t.Errorf("Content-Length %s for %d bytes", h.Get("Content-Length"), rec.Body.Len())
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestWriteCacheable: a public document keeps its Cache-Control, and HEAD
// gets no body.
func TestWriteCacheable(t *testing.T) {
	rec := httptest.NewRecorder()
	httpx.Write(rec, httptest.NewRequest("HEAD", "/", nil), 200, "application/jwk-set+json", "public, max-age=300", []byte(`{"keys":[]}`))
	if rec.Header().Get("Cache-Control") != "public, max-age=300" || rec.Header().Get("Pragma") != "" || rec.Body.Len() != 0 ||
		rec.Header().Get("Content-Length") != "11" {
		t.Fatalf("%v %q", rec.Header(), rec.Body)
	}
}

// TestReadBody: size first, then presence, then media type; each with
// its status.
func TestReadBody(t *testing.T) {
	tests := []struct {
		name, ct, body string
		status         int
	}{
		{"JSON", "application/json", `{}`, 0},
		{"JSON with charset", "application/json; charset=utf-8", `{}`, 0},
		{"too large, whatever the type", "text/plain", strings.Repeat("x", 11), 413},
		{"at the limit", "application/json", strings.Repeat(" ", 9) + "1", 0},
		{"empty, whatever the type", "", ``, 400},
		{"no content type", "", `{}`, 415},
		{"another type", "application/x-www-form-urlencoded", `a=b`, 415},
		{"a bad content type", "application/json; =", `{}`, 415},
		{"JSON in other words", "application/jsonx", `{}`, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			b, err := httpx.ReadBody(httptest.NewRecorder(), r, "application/json", 10)
			if tt.status == 0 {
				if err != nil || string(b) != tt.body {
					t.Fatalf("ReadBody = %q, %v", b, err)
				}
				return
			}
			var be *httpx.BodyError
			if !errors.As(err, &be) || be.Status != tt.status || be.Message == "" {
				t.Fatalf("ReadBody error %v, want status %d", err, tt.status)
			}
		})
	}
	// A Content-Length over the limit is refused before the body is read.
	r := httptest.NewRequest("POST", "/", errReader{})
	r.ContentLength = 11
	var be *httpx.BodyError
	if _, err := httpx.ReadBody(httptest.NewRecorder(), r, "application/json", 10); !errors.As(err, &be) || be.Status != 413 {
		t.Fatalf("declared length over the limit: %v", err)
	}
	// A body that cannot be read is 400.
	r = httptest.NewRequest("POST", "/", errReader{})
	r.Header.Set("Content-Type", "application/json")
	if _, err := httpx.ReadBody(httptest.NewRecorder(), r, "application/json", 10); !errors.As(err, &be) || be.Status != 400 {
		t.Fatalf("unreadable body: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestReadForm: each parameter once; the query is not read.
func TestReadForm(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
	}{
		{"grant_type=password&username=a", true},
		{"a=1&a=2", false},
		{"a=%zz", false},
		{"a=1;b=2", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/?q=1", strings.NewReader(tt.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, err := httpx.ReadForm(httptest.NewRecorder(), r, 100)
		if (err == nil) != tt.ok {
			t.Errorf("ReadForm(%q) = %v, %v", tt.body, form, err)
		}
		if err == nil && form.Has("q") {
			t.Errorf("ReadForm read the query: %v", form)
		}
	}
}

type createRequest struct {
	Name      *string         `json:"name"`
	Scopes    []string        `json:"scopes"`
	ExpiresIn *int64          `json:"expires_in"`
	Admin     bool            `json:"admin"`
	Ratio     float64         `json:"ratio"`
	Title     string          `json:"title"`
	Vars      map[string]any  `json:"variables"`
	Ext       json.RawMessage `json:"extensions"`
	Internal  string
}

func ptr[T any](v T) *T { return &v }

// TestDecode: exact, unique, known members of the right type.
func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *createRequest // nil: refused
	}{
		{"all", `{"name":"ci","scopes":["a","b"],"expires_in":60,"admin":true,"ratio":0.5,"title":"t","variables":{"x":1},"extensions":[1]}`,
			&createRequest{Name: ptr("ci"), Scopes: []string{"a", "b"}, ExpiresIn: ptr[int64](60), Admin: true, Ratio: 0.5, Title: "t",
				Vars: map[string]any{"x": 1.0}, Ext: json.RawMessage(`[1]`)}},
		{"none", `{}`, &createRequest{}},
		{"nulls where allowed", `{"name":null,"scopes":null,"expires_in":null,"variables":null,"extensions":null}`, &createRequest{}},
		{"empty array", `{"scopes":[]}`, &createRequest{Scopes: []string{}}},
		{"escaped name", `{"n\u0061me":"x"}`, &createRequest{Name: ptr("x")}},
		{"white space", " \n{ \"title\" : \"x\" }\t", &createRequest{Title: "x"}},
		{"1e2 is whole", `{"expires_in":1e2}`, &createRequest{ExpiresIn: ptr[int64](100)}},
		{"100.0 is whole", `{"expires_in":100.0}`, &createRequest{ExpiresIn: ptr[int64](100)}},
		{"2^53 + 1 exactly", `{"expires_in":9007199254740993}`, &createRequest{ExpiresIn: ptr[int64](9007199254740993)}},
		{"the largest int64", `{"expires_in":9223372036854775807}`, &createRequest{ExpiresIn: ptr[int64](9223372036854775807)}},
		{"the smallest int64", `{"expires_in":-9223372036854775808}`, &createRequest{ExpiresIn: ptr[int64](-9223372036854775808)}},
		{"-0", `{"expires_in":-0}`, &createRequest{ExpiresIn: ptr[int64](0)}},
		{"another case", `{"NAME":"x"}`, nil},
		{"folded", `{"ſcopes":[]}`, nil},
		{"untagged field", `{"Internal":"x"}`, nil},
		{"unknown", `{"name":"x","expires":60}`, nil},
		{"twice", `{"name":"a","name":"b"}`, nil},
		{"twice inside", `{"variables":{"a":1,"a":2}}`, nil},
		{"null string", `{"title":null}`, nil},
		{"null bool", `{"admin":null}`, nil},
		{"number for string", `{"name":1}`, nil},
		{"string for number", `{"expires_in":"60"}`, nil},
		{"fraction", `{"expires_in":1.5}`, nil},
		{"2^63", `{"expires_in":9223372036854775808}`, nil},
		{"an exponent past int64", `{"expires_in":1e19}`, nil},
		{"huge", `{"expires_in":1e400}`, nil},
		{"array of numbers", `{"scopes":[1]}`, nil},
		{"array with null", `{"scopes":["a",null]}`, nil},
		{"object for array", `{"scopes":{}}`, nil},
		{"array for object", `{"variables":[]}`, nil},
		{"string for bool", `{"admin":"true"}`, nil},
		{"not an object", `[]`, nil},
		{"two objects", `{} {}`, nil},
		{"trailing comma", `{"title":"x",}`, nil},
		{"bad UTF-8", "{\"title\":\"\xff\"}", nil},
		{"lone surrogate", `{"title":"\ud800"}`, nil},
		{"empty", ``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got createRequest
			err := httpx.Decode([]byte(tt.in), &got)
			if tt.want == nil {
				var be *httpx.BodyError
				if !errors.As(err, &be) || be.Status != 400 || be.Message == "" {
					t.Fatalf("Decode(%s) = %+v, %v; want a 400 BodyError", tt.in, got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(&got, tt.want) {
				t.Fatalf("Decode(%s) = %+v, %v; want %+v", tt.in, got, err, *tt.want)
			}
		})
	}
}

// TestDecodeMessages: the client is told what is wrong, in its terms.
func TestDecodeMessages(t *testing.T) {
	for in, want := range map[string]string{
		`{"expires":1}`:      `unknown member "expires": the members are "name", "scopes", "expires_in", "admin", "ratio", "title", "variables", "extensions", each at most once`,
		`{"scopes":"a"}`:     `"scopes" must be an array of strings or null`,
		`{"expires_in":0.5}`: `"expires_in" must be a whole number or null`,
		`{"title":"a",}`:     `the body must be one JSON object: the members are`,
		`{"\u0000\n":1}`:     `unknown member "\x00\n"`,
	} {
		var got createRequest
		err := httpx.Decode([]byte(in), &got)
		var be *httpx.BodyError
		if !errors.As(err, &be) || !strings.HasPrefix(be.Message, want) {
			t.Errorf("Decode(%s) = %v, want a message starting %q", in, err, want)
		}
	}
}

// TestDecodeUnsupportedField: a field Decode cannot fill is a programming
// error, found at once.
func TestDecodeUnsupportedField(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	var v struct {
		N int `json:"n"`
	}
	httpx.Decode([]byte(`{}`), &v)
}

// FuzzDecode: Decode never panics on what a client sends, and accepts only
// what encoding/json reads the same way.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"ci","scopes":["a"],"expires_in":60}`, `{"variables":{"a":{"b":[1,2]}}}`, `{"name":null}`,
		`{"NAME":"x"}`, `{"name":"a","name":"b"}`, `[]`, `{"expires_in":1e2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got createRequest
		if httpx.Decode(data, &got) != nil {
			return
		}
		// expires_in as encoding/json reads the number, exactly.
		var std struct {
			createRequest
			ExpiresIn *json.Number `json:"expires_in"`
		}
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("Decode accepted %q, encoding/json refuses it: %v", data, err)
		}
		if (got.ExpiresIn == nil) != (std.ExpiresIn == nil) || got.ExpiresIn != nil && !sameNumber(*got.ExpiresIn, *std.ExpiresIn) {
			t.Fatalf("Decode(%q): expires_in %v, encoding/json %v", data, got.ExpiresIn, std.ExpiresIn)
		}
		got.ExpiresIn = nil
		if string(std.Ext) == "null" {
			std.Ext = nil
		}
		if !reflect.DeepEqual(got, std.createRequest) {
			t.Fatalf("Decode(%q) = %+v, encoding/json %+v", data, got, std.createRequest)
		}
	})
}

// TestDecodeOptionalJSON: no body, or white space alone, is no body
// whatever its type; anything else is read as DecodeJSON reads it.
func TestDecodeOptionalJSON(t *testing.T) {
	tests := []struct {
		ct, body string
		present  bool
		status   int
	}{
		{"", "", false, 0},
		{"text/plain", " \r\n", false, 0},
		{"application/json", `{"title":"x"}`, true, 0},
		{"", `{"title":"x"}`, false, 415},
		{"application/json", `{"title":1}`, true, 400},
		{"application/json", strings.Repeat(" ", 101), false, 413},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		if tt.ct != "" {
			r.Header.Set("Content-Type", tt.ct)
		}
		var v createRequest
		present, err := httpx.DecodeOptionalJSON(httptest.NewRecorder(), r, 100, &v)
		var be *httpx.BodyError
		switch {
		case tt.status != 0 && (!errors.As(err, &be) || be.Status != tt.status):
			t.Errorf("%q %q: %v, want status %d", tt.ct, tt.body, err, tt.status)
		case tt.status == 0 && (err != nil || present != tt.present):
			t.Errorf("%q %q: %v, %v; want present %v", tt.ct, tt.body, present, err, tt.present)
		case tt.status == 0 && present && v.Title != "x":
			t.Errorf("%q: decoded %+v", tt.body, v)
		}
	}
}

// sameNumber reports whether n is exactly the number the JSON literal
// lit writes.
func sameNumber(n int64, lit json.Number) bool {
	r, ok := new(big.Rat).SetString(string(lit))
	return ok && r.IsInt() && r.Num().IsInt64() && r.Num().Int64() == n
}

// TestWholeNumber: a whole number read exactly, written as an integer,
// with a fraction or with an exponent under 1000; no fraction, nothing
// past int64, no exponent that costs work.
func TestWholeNumber(t *testing.T) {
	for in, want := range map[string]any{
		"0": int64(0), "-0": int64(0), "0.000": int64(0), "0e999999999999": int64(0), "100": int64(100), "1e2": int64(100),
		"1E+2": int64(100), "100.0": int64(100), "1000e-1": int64(100), "-12.50e1": int64(-125), "0.5e1": int64(5),
		"9223372036854775807": int64(9223372036854775807), "-9223372036854775808": int64(-9223372036854775808),
		"922337203685477580.7e1": int64(9223372036854775807), "9007199254740993": int64(9007199254740993),
		"1.5": nil, "0.1": nil, "1e-1": nil, "9223372036854775808": nil, "-9223372036854775809": nil, "1e19": nil,
		"1e1000": nil, "1e-1000": nil, "10e-1000": nil, "1e999999999999999999": nil, `"1"`: nil, "true": nil, "null": nil,
		"9.007199254740993e15": int64(9007199254740993),
	} {
		var v struct {
			N int64 `json:"n"`
		}
		err := httpx.Decode([]byte(`{"n":`+in+`}`), &v)
		if want == nil {
			if err == nil {
				t.Errorf("%s accepted as %d", in, v.N)
			}
			continue
		}
		if err != nil || v.N != want.(int64) {
			t.Errorf("%s = %d, %v; want %d", in, v.N, err, want)
		}
	}
}

func TestSafeReturnPath(t *testing.T) {
	for s, want := range map[string]bool{
		"/":                     true,
		"/widgets":              true,
		"/a/b?x=1#frag":         true,
		"/%2F%2Fevil.example":   false, // "//" once decoded: refused
		"":                      false,
		"widgets":               false,
		"//evil.example":        false,
		"///evil.example":       false,
		"/\\evil.example":       false,
		"\\\\evil.example":      false,
		"/a\\b":                 false,
		"/\t/evil.example":      false,
		"/\n/evil.example":      false,
		"/ /evil.example":       false,
		"https://evil.example/": false,
		"http:/evil.example":    false,
		"javascript:alert(1)":   false,
		"/a\x00b":               false,
		"/a\x7fb":               false,
		"/\xff":                 false,
		"/" + strings.Repeat("a", httpx.MaxReturnPath): false,
	} {
		if got := httpx.SafeReturnPath(s); got != want {
			t.Errorf("SafeReturnPath(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzSafeReturnPath(f *testing.F) {
	for _, s := range []string{"/", "//x", "/\\x", "/a?b#c", "/\t/x", "https://x/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !httpx.SafeReturnPath(s) {
			return
		}
		// What a browser resolves it to stays on this origin.
		base, _ := url.Parse("https://app.example/page")
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse", s)
		}
		if r := base.ResolveReference(u); r.Host != "app.example" || r.Scheme != "https" {
			t.Fatalf("accepted %q, which leaves the origin: %v", s, r)
		}
	})
}
