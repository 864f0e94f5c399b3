package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/sessionless/sessionless/internal/strictjson"
)

// Decode decodes data, one JSON object, into v, a pointer to a struct
// whose fields name their members with `json:"name"` tags (fields
// without a tag are not members). It is strict where encoding/json is
// lenient: a member name matches its tag exactly, no member may appear
// twice (at any depth), a member no field names is refused, and null is
// accepted only for a pointer, slice, map or json.RawMessage field (which
// stays nil). Field types: string, bool, int64 (a whole number), float64,
// pointers to those, []string, map[string]any and json.RawMessage (any
// value, validated). Its error is a *BodyError (400) whose message says
// what the client got wrong; it panics on a field of another type (a
// programming error, found by any test that decodes into it).
func Decode(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic("httpx: Decode needs a pointer to a struct")
	}
	st := structOf(rv.Elem().Type())
	target := rv.Elem()
	m := strictjson.Object(data)
	for m.Next() {
		f, ok := st.byName[string(m.Name())]
		if !ok {
			return badBody("unknown member %s: %s", quote(m.Name()), st.shape)
		}
		if err := f.set(target.Field(f.index), m.Value()); err != nil {
			return badBody("%s must be %s", strconv.Quote(f.name), f.want)
		}
	}
	if err := m.Err(); err != nil {
		if errors.Is(err, strictjson.ErrDuplicate) {
			return badBody("a member is repeated: %s", st.shape)
		}
		return badBody("the body must be one JSON object: %s", st.shape)
	}
	return nil
}

// quote quotes a member name from the request for a message, escaping
// whatever it holds.
func quote(name []byte) string {
	if len(name) > 64 {
		name = name[:64]
	}
	return strconv.QuoteToASCII(string(name))
}

// structType is how Decode fills one struct type.
type structType struct {
	byName map[string]*field
	shape  string // `the members are "a", "b", each at most once`
}

type field struct {
	name  string
	index int
	want  string // what its value must be, for messages
	set   func(dst reflect.Value, v []byte) error
}

var structs sync.Map // reflect.Type → *structType

func structOf(t reflect.Type) *structType {
	if st, ok := structs.Load(t); ok {
		return st.(*structType)
	}
	st := &structType{byName: map[string]*field{}}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		f := &field{name: name, index: i}
		f.want, f.set = setter(t.Field(i).Type)
		st.byName[name] = f
		names = append(names, strconv.Quote(name))
	}
	st.shape = "the members are " + strings.Join(names, ", ") + ", each at most once"
	structs.Store(t, st)
	return st
}

var (
	errType = errors.New("wrong type")
	rawType = reflect.TypeFor[json.RawMessage]()
)

// setter returns what a value of type t must be and how to set one.
func setter(t reflect.Type) (string, func(reflect.Value, []byte) error) {
	switch {
	case t == rawType:
		return "a JSON value", func(dst reflect.Value, v []byte) error {
			if !strictjson.IsNull(v) {
				dst.SetBytes(append([]byte(nil), v...))
			}
			return nil
		}
	case t.Kind() == reflect.Pointer:
		want, set := setter(t.Elem())
		return want + " or null", func(dst reflect.Value, v []byte) error {
			if strictjson.IsNull(v) {
				return nil
			}
			p := reflect.New(t.Elem())
			if err := set(p.Elem(), v); err != nil {
				return err
			}
			dst.Set(p)
			return nil
		}
	case t.Kind() == reflect.String:
		return "a string", setString
	case t.Kind() == reflect.Bool:
		return "true or false", setBool
	case t.Kind() == reflect.Int64:
		return "a whole number", setInt
	case t.Kind() == reflect.Float64:
		return "a number", setFloat
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "an array of strings or null", setStrings
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.Interface:
		return "an object or null", setObject
	}
	panic("httpx: Decode cannot fill a field of type " + t.String())
}

func setString(dst reflect.Value, v []byte) error {
	s, err := strictjson.String(v)
	if err != nil {
		return err
	}
	dst.SetString(string(s))
	return nil
}

func setBool(dst reflect.Value, v []byte) error {
	switch string(v) {
	case "true":
		dst.SetBool(true)
	case "false":
		dst.SetBool(false)
	default:
		return errType
	}
	return nil
}

// setInt reads a JSON number whose value is a whole number of int64,
// exactly: "100", "1e2", "100.0" and "1000e-1" are 100; "1.5",
// "9223372036854775808" and "1e19" are refused. No float64 is involved,
// so no digit is lost.
func setInt(dst reflect.Value, v []byte) error {
	n, ok := wholeNumber(v)
	if !ok {
		return errType
	}
	dst.SetInt(n)
	return nil
}

// wholeNumber returns the value of the number literal v (valid JSON, as
// strictjson leaves it) when it is a whole number within int64.
func wholeNumber(v []byte) (int64, bool) {
	lit := string(v)
	if len(lit) == 0 || lit[0] != '-' && (lit[0] < '0' || lit[0] > '9') {
		return 0, false
	}
	mant, exp, _ := strings.Cut(strings.ToLower(lit), "e")
	sign := ""
	if strings.HasPrefix(mant, "-") {
		sign, mant = "-", mant[1:]
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return 0, true // 0, -0, 0.0, 0e5
	}
	shift := -len(frac) // the value is digits × 10^shift
	if exp != "" {
		if len(strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")) > 3 {
			return 0, false // |exponent| ≥ 1000, with a digit that is not 0
		}
		e, err := strconv.Atoi(exp)
		if err != nil {
			return 0, false
		}
		shift += e
	}
	for shift < 0 && strings.HasSuffix(digits, "0") {
		digits, shift = digits[:len(digits)-1], shift+1
	}
	if shift < 0 || len(digits)+shift > 19 {
		return 0, false // a fraction, or more digits than any int64 has
	}
	n, err := strconv.ParseInt(sign+digits+strings.Repeat("0", shift), 10, 64)
	return n, err == nil
}

func setFloat(dst reflect.Value, v []byte) error {
	f, err := strictjson.Float(v)
	if err != nil {
		return err
	}
	dst.SetFloat(f)
	return nil
}

func setStrings(dst reflect.Value, v []byte) error {
	if strictjson.IsNull(v) {
		return nil
	}
	ss := []string{}
	e := strictjson.Array(v)
	for e.Next() {
		s, err := strictjson.String(e.Value())
		if err != nil {
			return err
		}
		ss = append(ss, string(s))
	}
	if e.Err() != nil {
		return e.Err()
	}
	dst.Set(reflect.ValueOf(ss).Convert(dst.Type()))
	return nil
}

// setObject decodes an object with encoding/json, once strictjson has
// checked it (exact, unique member names at every depth).
func setObject(dst reflect.Value, v []byte) error {
	if strictjson.IsNull(v) {
		return nil
	}
	if v[0] != '{' {
		return errType
	}
	p := reflect.New(dst.Type())
	if err := json.Unmarshal(v, p.Interface()); err != nil {
		return fmt.Errorf("%w: %w", errType, err)
	}
	dst.Set(p.Elem())
	return nil
}
