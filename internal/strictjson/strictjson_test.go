package strictjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sessionless/sessionless/internal/strictjson"
)

// walk collects the members of data, or the iteration's error.
func walk(data string) (map[string]string, []string, error) {
	m := strictjson.Object([]byte(data))
	got := map[string]string{}
	var order []string
	for m.Next() {
		got[string(m.Name())] = string(m.Value())
		order = append(order, string(m.Name()))
	}
	return got, order, m.Err()
}

func TestObject(t *testing.T) {
	// nested(n) is an object nested n deep.
	nested := func(n int) string { return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1) }
	tests := []struct {
		name string
		in   string
		want map[string]string // nil: an error
		err  error
	}{
		// Accepted.
		{"empty object", `{}`, map[string]string{}, nil},
		{"white space around", " \t\r\n{ \"a\" : 1 }\n", map[string]string{"a": "1"}, nil},
		{"every kind of value", `{"s":"x","n":-1.5e+3,"t":true,"f":false,"z":null,"a":[1,"b",[]],"o":{"k":{}}}`,
			map[string]string{"s": `"x"`, "n": "-1.5e+3", "t": "true", "f": "false", "z": "null", "a": `[1,"b",[]]`, "o": `{"k":{}}`}, nil},
		{"names differing in case are distinct", `{"exp":1,"EXP":2,"Exp":3}`, map[string]string{"exp": "1", "EXP": "2", "Exp": "3"}, nil},
		{"long s is not s", `{"sub":"alice","ſub":"admin"}`, map[string]string{"sub": `"alice"`, "ſub": `"admin"`}, nil},
		{"escaped name is unescaped", `{"\u0065xp":1}`, map[string]string{"exp": "1"}, nil},
		{"empty name", `{"":1}`, map[string]string{"": "1"}, nil},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, map[string]string{"a": `"\ud83d\ude00"`}, nil},
		{"same name in different objects", `{"a":{"a":1},"b":{"a":2}}`, map[string]string{"a": `{"a":1}`, "b": `{"a":2}`}, nil},
		{"nesting at the limit", nested(strictjson.MaxDepth), map[string]string{"a": nested(strictjson.MaxDepth - 1)}, nil},
		{"17 members (map set)", `{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1,"l":1,"m":1,"n":1,"o":1,"p":1,"q":1}`,
			map[string]string{"a": "1", "b": "1", "c": "1", "d": "1", "e": "1", "f": "1", "g": "1", "h": "1", "i": "1", "j": "1", "k": "1", "l": "1", "m": "1", "n": "1", "o": "1", "p": "1", "q": "1"}, nil},

		// Duplicates, at every depth, after unescaping.
		{"duplicate name", `{"exp":1,"exp":2}`, nil, strictjson.ErrDuplicate},
		{"duplicate through an escape", `{"exp":1,"\u0065xp":2}`, nil, strictjson.ErrDuplicate},
		{"duplicate empty name", `{"":1,"":2}`, nil, strictjson.ErrDuplicate},
		{"duplicate in a nested object", `{"a":{"b":1,"b":2}}`, nil, strictjson.ErrDuplicate},
		{"duplicate in an object in an array", `{"a":[{"b":1,"b":2}]}`, nil, strictjson.ErrDuplicate},
		{"duplicate after 16 members", `{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1,"l":1,"m":1,"n":1,"o":1,"p":1,"q":1,"a":2}`, nil, strictjson.ErrDuplicate},
		{"duplicate among 17 after switching", `{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1,"l":1,"m":1,"n":1,"o":1,"p":1,"q":1,"q":2}`, nil, strictjson.ErrDuplicate},

		// Not an object, or more than one.
		{"empty input", ``, nil, strictjson.ErrSyntax},
		{"null", `null`, nil, strictjson.ErrSyntax},
		{"array", `[]`, nil, strictjson.ErrSyntax},
		{"string", `"x"`, nil, strictjson.ErrSyntax},
		{"two objects", `{} {}`, nil, strictjson.ErrSyntax},
		{"trailing garbage", `{"a":1}x`, nil, strictjson.ErrSyntax},
		{"unterminated", `{"a":1`, nil, strictjson.ErrSyntax},
		{"trailing comma", `{"a":1,}`, nil, strictjson.ErrSyntax},
		{"missing colon", `{"a" 1}`, nil, strictjson.ErrSyntax},
		{"unquoted name", `{a:1}`, nil, strictjson.ErrSyntax},
		{"single quotes", `{'a':1}`, nil, strictjson.ErrSyntax},
		{"nesting over the limit", nested(strictjson.MaxDepth + 1), nil, strictjson.ErrSyntax},
		{"array nesting over the limit", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, nil, strictjson.ErrSyntax},

		// Values.
		{"leading zero", `{"a":01}`, nil, strictjson.ErrSyntax},
		{"plus sign", `{"a":+1}`, nil, strictjson.ErrSyntax},
		{"bare dot", `{"a":1.}`, nil, strictjson.ErrSyntax},
		{"bare exponent", `{"a":1e}`, nil, strictjson.ErrSyntax},
		{"NaN", `{"a":NaN}`, nil, strictjson.ErrSyntax},
		{"hex", `{"a":0x1}`, nil, strictjson.ErrSyntax},
		{"truncated literal", `{"a":tru}`, nil, strictjson.ErrSyntax},
		{"capital literal", `{"a":True}`, nil, strictjson.ErrSyntax},
		{"raw control character", "{\"a\":\"x\ty\"}", nil, strictjson.ErrSyntax},
		{"raw NUL", "{\"a\":\"x\x00\"}", nil, strictjson.ErrSyntax},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", nil, strictjson.ErrSyntax},
		{"UTF-8 encoded surrogate", "{\"a\":\"\xed\xa0\x80\"}", nil, strictjson.ErrSyntax},
		{"invalid UTF-8 in a name", "{\"\xc3\":1}", nil, strictjson.ErrSyntax},
		{"lone high surrogate", `{"a":"\ud800"}`, nil, strictjson.ErrSyntax},
		{"lone low surrogate", `{"a":"\udc00"}`, nil, strictjson.ErrSyntax},
		{"high surrogate then text", `{"a":"\ud800xxxxxx"}`, nil, strictjson.ErrSyntax},
		{"two high surrogates", `{"a":"\ud800\ud800"}`, nil, strictjson.ErrSyntax},
		{"bad escape", `{"a":"\x"}`, nil, strictjson.ErrSyntax},
		{"short unicode escape", `{"a":"\u12"}`, nil, strictjson.ErrSyntax},
		{"escape at the end", `{"a":"\`, nil, strictjson.ErrSyntax},
		{"array without commas", `{"a":[1 2]}`, nil, strictjson.ErrSyntax},
		{"array trailing comma", `{"a":[1,]}`, nil, strictjson.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := walk(tt.in)
			if tt.want == nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("members = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestValues(t *testing.T) {
	strs := []struct{ in, want string }{
		{`"plain"`, "plain"},
		{`""`, ""},
		{`"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t"},
		{`"\u00e9\u20AC\ud83d\ude00"`, "é€😀"},
		{`"é"`, "é"},
	}
	for _, s := range strs {
		got, err := strictjson.String([]byte(s.in))
		if err != nil || string(got) != s.want {
			t.Errorf("String(%s) = %q, %v; want %q", s.in, got, err, s.want)
		}
	}
	for _, v := range []string{`1`, `null`, `["a"]`, `{}`, `true`} {
		if _, err := strictjson.String([]byte(v)); !errors.Is(err, strictjson.ErrType) {
			t.Errorf("String(%s) err = %v, want ErrType", v, err)
		}
	}
	nums := []struct {
		in   string
		want float64
	}{{`0`, 0}, {`-0.5`, -0.5}, {`1795348800.123`, 1795348800.123}, {`1e3`, 1000}, {`2E-1`, 0.2}}
	for _, n := range nums {
		if got, err := strictjson.Float([]byte(n.in)); err != nil || got != n.want {
			t.Errorf("Float(%s) = %v, %v", n.in, got, err)
		}
	}
	for _, v := range []string{`"1"`, `true`, `null`, `1e400`, `-1e400`, `[]`} {
		if _, err := strictjson.Float([]byte(v)); !errors.Is(err, strictjson.ErrType) {
			t.Errorf("Float(%s) err = %v, want ErrType", v, err)
		}
	}
	if !strictjson.IsNull([]byte("null")) || strictjson.IsNull([]byte(`"null"`)) {
		t.Error("IsNull")
	}
	var elems []string
	a := strictjson.Array([]byte(`[ "a" , 1,[2,3] ,{"b":[]}]`))
	for a.Next() {
		elems = append(elems, string(a.Value()))
	}
	if a.Err() != nil || !reflect.DeepEqual(elems, []string{`"a"`, `1`, `[2,3]`, `{"b":[]}`}) {
		t.Errorf("Array = %q, %v", elems, a.Err())
	}
	if n := strictjson.Len([]byte(`[]`)); n != 0 {
		t.Errorf("Len([]) = %d", n)
	}
	if n := strictjson.Len([]byte(`[1,[2,3]]`)); n != 2 {
		t.Errorf("Len = %d", n)
	}
	if n := strictjson.Len([]byte(`"x"`)); n != -1 {
		t.Errorf("Len(string) = %d", n)
	}
}

func TestFoldCollision(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"exp":1,"iat":2}`, false},
		{`{"exp":1,"EXP":2}`, true},
		{`{"sub":"a","ſub":"b"}`, true},     // U+017F folds to s
		{`{"k":1,"\u212a":2}`, true},        // KELVIN SIGN folds to k
		{`{"a":{"x":1,"X":2}}`, true},       // nested
		{`{"a":[{"x":1},{"X":2}]}`, false},  // different objects
		{`{"a":{"x":1},"A":{"x":1}}`, true}, // top level
		{`{"é":1,"É":2}`, true},
	}
	for _, tt := range tests {
		err := strictjson.FoldCollision([]byte(tt.in))
		if (err != nil) != tt.want {
			t.Errorf("FoldCollision(%s) = %v, want collision %v", tt.in, err, tt.want)
		}
		if err != nil && !errors.Is(err, strictjson.ErrDuplicate) {
			t.Errorf("FoldCollision(%s) = %v, want ErrDuplicate", tt.in, err)
		}
		// The oracle: encoding/json decodes a colliding pair into one
		// field of a struct.
		if tt.in == `{"exp":1,"EXP":2}` {
			var c struct {
				Exp int `json:"exp"`
			}
			json.Unmarshal([]byte(tt.in), &c)
			if c.Exp != 2 {
				t.Fatalf("encoding/json no longer folds names (Exp = %d): revisit Claims.Decode", c.Exp)
			}
		}
	}
}

func TestNoAllocations(t *testing.T) {
	data := []byte(`{"iss":"https://issuer.test","sub":"user-1","aud":"api","iat":1795348800.123,"exp":1795349700,"jti":"abc","scope":"a b c","roles":["admin"],"x":{"y":[1,2,{"z":null}]}}`)
	allocs := testing.AllocsPerRun(100, func() {
		m := strictjson.Object(data)
		for m.Next() {
		}
		if m.Err() != nil {
			t.Fatal(m.Err())
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per object", allocs)
	}
}

// oracle says whether strictjson must accept data, judged with
// encoding/json and independent checks of what it accepts and we refuse.
func oracle(data []byte) bool {
	if !json.Valid(data) || !utf8.Valid(data) {
		return false
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return false
	}
	if depth(data) > strictjson.MaxDepth || loneSurrogate(data) {
		return false
	}
	return !duplicates(json.NewDecoder(bytes.NewReader(data)))
}

// depth is the deepest nesting of data, outside strings.
func depth(data []byte) int {
	d, max, in := 0, 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && (c == '{' || c == '['):
			d++
			max = maxInt(max, d)
		case !in && (c == '}' || c == ']'):
			d--
		}
	}
	return max
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// loneSurrogate reports a \u escape of a surrogate that is not half of a
// high-low pair, or a control character the UTF-8 check let through.
func loneSurrogate(data []byte) bool {
	in := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '"' {
			in = !in
			continue
		}
		if !in || c != '\\' {
			continue
		}
		if data[i+1] != 'u' {
			i++
			continue
		}
		r := hex(data[i+2 : i+6])
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			if i+12 > len(data) || data[i+6] != '\\' || data[i+7] != 'u' {
				return true
			}
			if r2 := hex(data[i+8 : i+12]); r2 < 0xDC00 || r2 > 0xDFFF {
				return true
			}
			i += 6
		}
		i += 5
	}
	return false
}

func hex(b []byte) int {
	n := 0
	for _, c := range b {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= int(c - '0')
		case c >= 'a' && c <= 'f':
			n |= int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			n |= int(c-'A') + 10
		}
	}
	return n
}

// duplicates walks a valid JSON value with encoding/json's tokenizer and
// reports an object with a repeated (unescaped) member name.
func duplicates(dec *json.Decoder) bool {
	tok, err := dec.Token()
	if err != nil {
		return false
	}
	return dupValue(dec, tok)
}

func dupValue(dec *json.Decoder, tok json.Token) bool {
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		dup := false
		for dec.More() {
			k, _ := dec.Token()
			if seen[k.(string)] {
				dup = true
			}
			seen[k.(string)] = true
			v, _ := dec.Token()
			if dupValue(dec, v) {
				dup = true
			}
		}
		dec.Token()
		return dup
	case json.Delim('['):
		dup := false
		for dec.More() {
			v, _ := dec.Token()
			if dupValue(dec, v) {
				dup = true
			}
		}
		dec.Token()
		return dup
	}
	return false
}

// FuzzObject checks strictjson against encoding/json: it accepts exactly
// the objects the oracle accepts, and reads the same names and values.
func FuzzObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"exp":1,"EXP":2}`, `{"a":1,"a":2}`, `{"\u0061":1,"a":2}`, `{"a":"\ud83d\ude00"}`,
		`{"a":"\ud800"}`, `{"a":[1,{"b":{"c":null}}],"d":-0.5e-7}`, `{"iss":"x","aud":["a","b"],"roles":[]}`,
		"{\"a\":\"\xff\"}", `[]`, `{"a":1} x`, `{"ſub":1,"sub":2}`, `{"a":tru}`, `{"a":"\/\b\f\n\r\t\"\\"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := strictjson.Object(data)
		got := map[string]json.RawMessage{}
		for m.Next() {
			got[string(m.Name())] = append(json.RawMessage(nil), m.Value()...)
		}
		err := m.Err()
		if want := oracle(data); (err == nil) != want {
			t.Fatalf("strictjson err = %v, oracle accepts = %v", err, want)
		}
		if err != nil {
			if !errors.Is(err, strictjson.ErrSyntax) && !errors.Is(err, strictjson.ErrDuplicate) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		var std map[string]any
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("encoding/json refuses what strictjson accepted: %v", err)
		}
		if len(std) != len(got) {
			t.Fatalf("%d members, encoding/json %d", len(got), len(std))
		}
		for name, raw := range got {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("value of %q: %v", name, err)
			}
			if !reflect.DeepEqual(v, std[name]) {
				t.Fatalf("%q = %#v, encoding/json %#v", name, v, std[name])
			}
			if s, ok := v.(string); ok {
				if b, err := strictjson.String(raw); err != nil || string(b) != s {
					t.Fatalf("String(%s) = %q, %v; encoding/json %q", raw, b, err, s)
				}
			}
			if n, ok := v.(float64); ok {
				if f, err := strictjson.Float(raw); err != nil || math.Float64bits(f) != math.Float64bits(n) {
					t.Fatalf("Float(%s) = %v, %v; encoding/json %v", raw, f, err, n)
				}
			}
			if arr, ok := v.([]any); ok && strictjson.Len(raw) != len(arr) {
				t.Fatalf("Len(%s) = %d, want %d", raw, strictjson.Len(raw), len(arr))
			}
		}
		_ = strictjson.FoldCollision(data)
	})
}

// TestFoldKey: two strings have one key exactly when strings.EqualFold
// takes them as equal.
func TestFoldKey(t *testing.T) {
	words := []string{"alice", "ALICE", "Alice", "ſam", "SAM", "sam", "K", "k", "\u212a", "straße", "STRAẞE", "ǅ", "ǆ", "Ǆ", "σ", "ς", "Σ", "a b", "ab", "", "é", "É", "e\u0301"}
	for _, a := range words {
		for _, b := range words {
			if (strictjson.FoldKey(a) == strictjson.FoldKey(b)) != strings.EqualFold(a, b) {
				t.Errorf("FoldKey(%q) = %q, FoldKey(%q) = %q, strings.EqualFold: %v", a, strictjson.FoldKey(a), b, strictjson.FoldKey(b), strings.EqualFold(a, b))
			}
		}
	}
}
