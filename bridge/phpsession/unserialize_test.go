package phpsession_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/bridge/phpsession"
	"github.com/sessionless/sessionless/internal/testenv"
)

type (
	A = phpsession.Array
	E = phpsession.Entry
)

// arr builds an Array from keys and values.
func arr(kvs ...any) A {
	a := A{}
	for i := 0; i < len(kvs); i += 2 {
		k := kvs[i]
		if n, ok := k.(int); ok {
			k = int64(n)
		}
		a = append(a, E{Key: k, Value: kvs[i+1]})
	}
	return a
}

// vectorWant is what each value of testdata/vectors.txt, written by
// PHP's serialize() (testdata/vectors.php), decodes to.
var vectorWant = map[string]any{
	"null":           nil,
	"true":           true,
	"false":          false,
	"int":            int64(42),
	"negative int":   int64(-7),
	"int max":        int64(math.MaxInt64),
	"int min":        int64(math.MinInt64),
	"float":          0.1,
	"float whole":    1.0,
	"float exponent": 1e25,
	"float tiny":     -1.5e-7,
	"negative zero":  math.Copysign(0, -1),
	"nan":            math.NaN(),
	"inf":            math.Inf(1),
	"minus inf":      math.Inf(-1),
	"string":         `héllo "quoted"; {braces}`,
	"empty string":   "",
	"binary string":  "a\x00b\xff",
	"list":           arr(0, "a", 1, "b"),
	"map":            arr("user_id", int64(42), "roles", arr(0, "admin", 1, "dev"), 5, "five", "x", nil),
	"empty array":    A{},
	"nested":         arr("a", arr("b", arr("c", arr(0, true)))),
	"object": &phpsession.Object{Class: "User", Props: arr(
		"id", int64(42), "\x00*\x00name", "ann", "\x00User\x00secret", "x")},
	"serializable": &phpsession.CustomObject{Class: "Legacy", Data: "raw{data}"},
	"enum":         phpsession.Enum{Class: "Suit", Case: "Hearts"},
	"object twice": arr(0, &phpsession.Object{Class: "Point", Props: arr("x", int64(1), "y", int64(2))},
		1, phpsession.Ref{N: 2}),
	"reference": arr("a", int64(1), "b", phpsession.Ref{N: 2, Hard: true}),
}

// readVectors reads testdata/vectors.txt: name → serialized bytes.
func readVectors(t testing.TB, text []byte) (names []string, data map[string][]byte) {
	t.Helper()
	data = map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		name, b64, ok := strings.Cut(sc.Text(), "\t")
		b, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil {
			t.Fatalf("vectors: bad line %q", sc.Text())
		}
		names = append(names, name)
		data[name] = b
	}
	return names, data
}

// same reports whether got and want are the same PHP value: floats by
// their bits (NAN, -0).
func same(got, want any) bool {
	if g, ok := got.(float64); ok {
		w, ok := want.(float64)
		return ok && (math.Float64bits(g) == math.Float64bits(w) || math.IsNaN(g) && math.IsNaN(w))
	}
	return reflect.DeepEqual(got, want)
}

// TestVectors decodes what PHP's serialize() wrote.
func TestVectors(t *testing.T) {
	text, err := os.ReadFile("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	names, data := readVectors(t, text)
	if len(names) != len(vectorWant) {
		t.Fatalf("%d vectors, %d expectations", len(names), len(vectorWant))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			got, err := phpsession.Unserialize(data[name], phpsession.Limits{})
			if err != nil {
				t.Fatalf("Unserialize(%q): %v", data[name], err)
			}
			if want, ok := vectorWant[name]; !ok || !same(got, want) {
				t.Fatalf("Unserialize(%q) = %#v, want %#v", data[name], got, want)
			}
		})
	}
}

// TestVectorsArePHPs: testdata/vectors.txt is what the PHP installed
// writes, so the vectors are PHP's, not ours.
func TestVectorsArePHPs(t *testing.T) {
	php := testenv.PHP(t)
	// Warnings (Serializable is deprecated since PHP 8.1) to stderr: the
	// vectors are stdout.
	out, err := exec.Command(php, "-d", "display_errors=stderr", "testdata/vectors.php").Output()
	if err != nil {
		t.Fatalf("php testdata/vectors.php: %v", err)
	}
	want, err := os.ReadFile("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("PHP writes other vectors than testdata/vectors.txt holds: regenerate it (php vectors.php > vectors.txt)\n%s", out)
	}
}

func TestUnserializeRefuses(t *testing.T) {
	deep := strings.Repeat("a:1:{i:0;", 33) + "N;" + strings.Repeat("}", 33)
	for _, tc := range []struct {
		name, in string
		lim      phpsession.Limits
		want     error
	}{
		// Not PHP's format, or not as PHP writes it.
		{"empty", "", phpsession.Limits{}, phpsession.ErrSyntax},
		{"no semicolon", "i:1", phpsession.Limits{}, phpsession.ErrSyntax},
		{"trailing bytes", "i:1;i:2;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"unknown type", "x:1;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"escaped string (S:)", `S:1:"\61";`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"bool 2", "b:2;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"plus sign", "i:+1;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"leading zero", "i:01;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"minus zero int", "i:-0;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"int overflow", "i:9223372036854775808;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"int underflow", "i:-9223372036854775809;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"hex float", "d:0x1p3;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"Go's Inf", "d:Inf;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"float with underscore", "d:1_0;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"empty float", "d:;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"string shorter than its length", `s:5:"abc";`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"string longer than its length", `s:2:"abc";`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"length past the end", `s:99999999999999999999:"a";`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"negative length", `s:-1:"";`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"array count past the end", "a:1000000:{}", phpsession.Limits{}, phpsession.ErrSyntax},
		{"array shorter than its count", "a:2:{i:0;N;}", phpsession.Limits{}, phpsession.ErrSyntax},
		{"array longer than its count", "a:1:{i:0;N;i:1;N;}", phpsession.Limits{}, phpsession.ErrSyntax},
		{"array key that is an array", "a:1:{a:0:{}N;}", phpsession.Limits{}, phpsession.ErrSyntax},
		{"array key null", "a:1:{N;N;}", phpsession.Limits{}, phpsession.ErrSyntax},
		{"a key twice", "a:2:{i:0;N;i:0;N;}", phpsession.Limits{}, phpsession.ErrSyntax},
		{"a key twice, as int and string", `a:2:{i:5;N;s:1:"5";N;}`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"a key twice among many", "a:10:{i:0;N;i:1;N;i:2;N;i:3;N;i:4;N;i:5;N;i:6;N;i:7;N;i:8;N;i:3;N;}", phpsession.Limits{}, phpsession.ErrSyntax},
		{"array with a semicolon", "a:0:{};", phpsession.Limits{}, phpsession.ErrSyntax},
		{"object without class", `O:0:"":0:{}`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"class with a space", `O:2:"A B":0:{}`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"custom data past its length", `C:1:"A":5:{ab}`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"enum without case", `E:4:"Suit";`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"enum case with a digit first", `E:6:"Suit:1";`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"reference 0", "r:0;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"reference overflow", "R:99999999999999999999;", phpsession.Limits{}, phpsession.ErrSyntax},
		{"truncated", `a:1:{s:1:"a";`, phpsession.Limits{}, phpsession.ErrSyntax},
		{"gzip", "\x1f\x8b\x08\x00", phpsession.Limits{}, phpsession.ErrSyntax},

		// Limits.
		{"deeper than the default", deep, phpsession.Limits{}, phpsession.ErrLimit},
		{"deeper than configured", "a:1:{i:0;a:0:{}}", phpsession.Limits{MaxDepth: 1}, phpsession.ErrLimit},
		{"more bytes than configured", `s:10:"0123456789";`, phpsession.Limits{MaxBytes: 16}, phpsession.ErrLimit},
		{"more values than configured", "a:2:{i:0;N;i:1;N;}", phpsession.Limits{MaxValues: 4}, phpsession.ErrLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := phpsession.Unserialize([]byte(tc.in), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Unserialize(%q) = %#v, %v; want %v", tc.in, v, err, tc.want)
			}
		})
	}
	// Within the limits, exactly.
	for _, tc := range []struct {
		in  string
		lim phpsession.Limits
	}{
		{strings.Repeat("a:1:{i:0;", 32) + "N;" + strings.Repeat("}", 32), phpsession.Limits{}},
		{`s:9:"012345678";`, phpsession.Limits{MaxBytes: 16}},
		{"a:2:{i:0;N;i:1;N;}", phpsession.Limits{MaxValues: 5}},
	} {
		if _, err := phpsession.Unserialize([]byte(tc.in), tc.lim); err != nil {
			t.Errorf("Unserialize(%q) with %+v: %v", tc.in, tc.lim, err)
		}
	}
}

func TestArrayGet(t *testing.T) {
	a := arr("user_id", int64(42), 5, "five", "05", "oh-five", -3, "minus three")
	for _, tc := range []struct {
		key  string
		want any
		ok   bool
	}{
		{"user_id", int64(42), true},
		{"5", "five", true}, // PHP's $a["5"] is $a[5]
		{"05", "oh-five", true},
		{"-3", "minus three", true},
		{"6", nil, false},
		{"User_id", nil, false},
	} {
		if got, ok := a.Get(tc.key); ok != tc.ok || got != tc.want {
			t.Errorf("Get(%q) = %v, %v; want %v, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
	// A numeric string key is the integer, as PHP reads it.
	v, err := phpsession.Unserialize([]byte(`a:2:{s:1:"7";b:1;s:2:"07";b:0;}`), phpsession.Limits{})
	if err != nil || !reflect.DeepEqual(v, arr(7, true, "07", false)) {
		t.Fatalf("got %#v, %v", v, err)
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format phpsession.Format
		in     string
		want   A
		err    error
	}{
		{"php", phpsession.FormatPHP, `user_id|i:42;roles|a:1:{i:0;s:5:"admin";}name|s:3:"a|b";`,
			arr("user_id", int64(42), "roles", arr(0, "admin"), "name", "a|b"), nil},
		{"php empty", phpsession.FormatPHP, ``, A{}, nil},
		{"php_serialize", phpsession.FormatPHPSerialize, `a:2:{s:7:"user_id";i:42;i:3;b:1;}`,
			arr("user_id", int64(42), 3, true), nil},
		{"php_serialize empty data", phpsession.FormatPHPSerialize, ``, A{}, nil},
		{"php_serialize empty array", phpsession.FormatPHPSerialize, `a:0:{}`, A{}, nil},

		{"php without |", phpsession.FormatPHP, `user_id`, nil, phpsession.ErrSyntax},
		{"php empty name", phpsession.FormatPHP, `|i:1;`, nil, phpsession.ErrSyntax},
		{"php a variable twice", phpsession.FormatPHP, `a|i:1;a|i:2;`, nil, phpsession.ErrSyntax},
		{"php trailing name", phpsession.FormatPHP, `a|i:1;b`, nil, phpsession.ErrSyntax},
		{"php_serialize data read as php", phpsession.FormatPHP, `a:1:{s:1:"a";i:1;}`, nil, phpsession.ErrSyntax},
		{"php data read as php_serialize", phpsession.FormatPHPSerialize, `a|i:1;`, nil, phpsession.ErrSyntax},
		{"php_serialize not an array", phpsession.FormatPHPSerialize, `i:1;`, nil, phpsession.ErrSyntax},
		{"php_serialize trailing", phpsession.FormatPHPSerialize, `a:0:{}a:0:{}`, nil, phpsession.ErrSyntax},
		{"php over the limit", phpsession.FormatPHP, strings.Repeat("a", phpsession.DefaultMaxBytes+1), nil, phpsession.ErrLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := phpsession.Decode([]byte(tc.in), tc.format, phpsession.Limits{})
			if !errors.Is(err, tc.err) || tc.err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode = %#v, %v; want %#v, %v", got, err, tc.want, tc.err)
			}
		})
	}
	if _, err := phpsession.Decode([]byte("a|N;"), "php_binary", phpsession.Limits{}); err == nil {
		t.Fatal("Decode accepted an unknown format")
	}
}

// serialize writes v in PHP's format, for the fuzz tests' round trip.
func serialize(v any) string {
	switch v := v.(type) {
	case nil:
		return "N;"
	case bool:
		if v {
			return "b:1;"
		}
		return "b:0;"
	case int64:
		return "i:" + strconv.FormatInt(v, 10) + ";"
	case float64:
		switch {
		case math.IsNaN(v):
			return "d:NAN;"
		case math.IsInf(v, 1):
			return "d:INF;"
		case math.IsInf(v, -1):
			return "d:-INF;"
		}
		return "d:" + strconv.FormatFloat(v, 'g', -1, 64) + ";"
	case string:
		return fmt.Sprintf("s:%d:\"%s\";", len(v), v)
	case A:
		return "a:" + entries(v)
	case *phpsession.Object:
		return fmt.Sprintf("O:%d:\"%s\":%s", len(v.Class), v.Class, entries(v.Props))
	case *phpsession.CustomObject:
		return fmt.Sprintf("C:%d:\"%s\":%d:{%s}", len(v.Class), v.Class, len(v.Data), v.Data)
	case phpsession.Enum:
		s := v.Class + ":" + v.Case
		return fmt.Sprintf("E:%d:\"%s\";", len(s), s)
	case phpsession.Ref:
		if v.Hard {
			return fmt.Sprintf("R:%d;", v.N)
		}
		return fmt.Sprintf("r:%d;", v.N)
	}
	panic(fmt.Sprintf("serialize: %T", v))
}

func entries(a A) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d:{", len(a))
	for _, e := range a {
		b.WriteString(serialize(e.Key))
		b.WriteString(serialize(e.Value))
	}
	b.WriteString("}")
	return b.String()
}
