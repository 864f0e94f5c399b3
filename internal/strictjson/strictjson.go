// Package strictjson reads JSON objects from untrusted input the way
// security tokens need them read (RFC 7515 §4, RFC 7519 §4, RFC 8259):
//
//   - member names match exactly, compared after unescaping — never
//     case-insensitively or by Unicode folding, as encoding/json matches
//     struct fields ("EXP" and "ſub" are other members than "exp" and "sub");
//   - no object, at any depth, names a member twice;
//   - strings are valid UTF-8, without lone surrogates or raw control
//     characters; numbers follow the JSON grammar; nesting is at most
//     [MaxDepth] deep; nothing but white space follows the object.
//
// It validates while it walks, without reflection, and allocates only for
// names that contain escapes and for objects of more than 16 members.
// The member iterator is [Object]; values are read with [String], [Float],
// [IsNull] and, for arrays, [Array].
package strictjson

import (
	"bytes"
	"errors"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting accepted: the top-level object is depth 1.
const MaxDepth = 64

// Errors. Every error of this package wraps exactly one of them.
var (
	// ErrSyntax: not valid JSON, or not the JSON expected (a top-level
	// value that is not an object, trailing data, nesting over MaxDepth).
	ErrSyntax = errors.New("strictjson: invalid JSON")
	// ErrDuplicate: an object names a member twice.
	ErrDuplicate = errors.New("strictjson: duplicate member name")
	// ErrType: a value is not of the type asked for.
	ErrType = errors.New("strictjson: wrong type")
)

func syntaxError(what string) error { return &detailError{ErrSyntax, what} }

type detailError struct {
	sentinel error
	what     string
}

func (e *detailError) Error() string { return e.sentinel.Error() + ": " + e.what }
func (e *detailError) Unwrap() error { return e.sentinel }

// Members iterates over the members of a JSON object:
//
//	m := strictjson.Object(data)
//	for m.Next() {
//		switch string(m.Name()) {
//		case "iss":
//			iss, err := strictjson.String(m.Value())
//			...
//		}
//	}
//	if err := m.Err(); err != nil { ... }
//
// Next validates each member's value in full before returning it, and the
// end of the object and what follows it before returning false, so a loop
// that runs to the end without error has seen valid JSON.
type Members struct {
	data    []byte
	pos     int
	started bool
	done    bool
	name    []byte
	value   []byte
	err     error
	seen    names
}

// Object returns an iterator over the members of the JSON object data,
// which must be the whole input (white space around it aside).
func Object(data []byte) Members { return Members{data: data} }

// Next advances to the next member. It returns false at the end of the
// object or on an error: check [Members.Err].
func (m *Members) Next() bool {
	if m.done || m.err != nil {
		return false
	}
	d := m.data
	i := skipSpace(d, m.pos)
	if !m.started {
		m.started = true
		if i >= len(d) || d[i] != '{' {
			return m.fail(syntaxError("not a JSON object"))
		}
		i = skipSpace(d, i+1)
		if i < len(d) && d[i] == '}' {
			return m.end(i + 1)
		}
	} else {
		switch {
		case i >= len(d):
			return m.fail(syntaxError("unexpected end of input"))
		case d[i] == '}':
			return m.end(i + 1)
		case d[i] != ',':
			return m.fail(syntaxError("want , or } after a member"))
		}
		i = skipSpace(d, i+1)
	}
	name, i, err := member(d, i)
	if err != nil {
		return m.fail(err)
	}
	end, err := skipValue(d, i, 1)
	if err != nil {
		return m.fail(err)
	}
	if !m.seen.add(name) {
		return m.fail(&detailError{ErrDuplicate, strconv.Quote(string(name))})
	}
	m.name, m.value, m.pos = name, d[i:end], end
	return true
}

// member reads `"name" :` at i and returns the unescaped name and the
// index of the value.
func member(d []byte, i int) ([]byte, int, error) {
	if i >= len(d) || d[i] != '"' {
		return nil, 0, syntaxError("want a member name")
	}
	end, escaped, err := skipString(d, i)
	if err != nil {
		return nil, 0, err
	}
	name := d[i+1 : end-1]
	if escaped {
		name = unescape(name)
	}
	i = skipSpace(d, end)
	if i >= len(d) || d[i] != ':' {
		return nil, 0, syntaxError("want : after a member name")
	}
	return name, skipSpace(d, i+1), nil
}

func (m *Members) end(i int) bool {
	if skipSpace(m.data, i) != len(m.data) {
		return m.fail(syntaxError("data after the object"))
	}
	m.done = true
	return false
}

func (m *Members) fail(err error) bool {
	m.err = err
	m.name, m.value = nil, nil
	return false
}

// Name returns the current member's name, unescaped. It aliases the input
// unless the name contains escapes.
func (m *Members) Name() []byte { return m.name }

// Value returns the current member's value as raw, valid JSON: a slice of
// the input.
func (m *Members) Value() []byte { return m.value }

// Err returns the error that stopped the iteration, if any.
func (m *Members) Err() error { return m.err }

// Elements iterates over the elements of a JSON array value, as returned
// by [Members.Value] (so already validated).
type Elements struct {
	data  []byte
	pos   int
	value []byte
	err   error
}

// Array returns an iterator over the elements of the array v; if v is not
// an array, the iterator's Err is ErrType.
func Array(v []byte) Elements {
	if len(v) == 0 || v[0] != '[' {
		return Elements{err: &detailError{ErrType, "not an array"}}
	}
	return Elements{data: v, pos: 1}
}

// Next advances to the next element.
func (e *Elements) Next() bool {
	if e.err != nil || e.data == nil {
		return false
	}
	d := e.data
	i := skipSpace(d, e.pos)
	if i < len(d) && d[i] == ',' {
		i = skipSpace(d, i+1)
	}
	if i >= len(d) || d[i] == ']' {
		e.data, e.value = nil, nil
		return false
	}
	end, err := skipValue(d, i, 1)
	if err != nil {
		e.err, e.value = err, nil
		return false
	}
	e.value, e.pos = d[i:end], end
	return true
}

// Value returns the current element as raw JSON.
func (e *Elements) Value() []byte { return e.value }

// Err returns ErrType when the value was not an array, or a syntax error
// for input that did not come from a validated value.
func (e *Elements) Err() error { return e.err }

// Len returns the number of elements of the array v, or -1 if v is not an
// array.
func Len(v []byte) int {
	e := Array(v)
	n := 0
	for e.Next() {
		n++
	}
	if e.Err() != nil {
		return -1
	}
	return n
}

// String returns the content of the string value v, unescaped. It aliases
// v unless the string contains escapes.
func String(v []byte) ([]byte, error) {
	if len(v) < 2 || v[0] != '"' {
		return nil, &detailError{ErrType, "not a string"}
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		return unescape(s), nil
	}
	return s, nil
}

// Float returns the number value v, as strconv.ParseFloat would. A number
// too large for a float64 is ErrType.
func Float(v []byte) (float64, error) {
	if len(v) == 0 || !(v[0] == '-' || '0' <= v[0] && v[0] <= '9') {
		return 0, &detailError{ErrType, "not a number"}
	}
	if f, ok := exactFloat(v); ok {
		return f, nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return 0, &detailError{ErrType, "number out of range"}
	}
	return f, nil
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// exactFloat converts a valid number without exponent whose digits fit in
// 53 bits (dates such as 1795348800 or 1795348800.123): the digits as an
// integer divided by a power of ten, one correctly rounded operation, so
// the result is ParseFloat's.
func exactFloat(v []byte) (float64, bool) {
	neg := v[0] == '-'
	if neg {
		v = v[1:]
	}
	var m uint64
	frac, digits, dot := 0, 0, false
	for _, c := range v {
		switch {
		case c == '.':
			dot = true
			continue
		case c < '0' || c > '9':
			return 0, false // an exponent
		}
		if digits++; digits > 15 {
			return 0, false
		}
		m = m*10 + uint64(c-'0')
		if dot {
			frac++
		}
	}
	f := float64(m) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

// IsNull reports whether v is the literal null.
func IsNull(v []byte) bool { return string(v) == "null" }

// FoldCollision reports the first object, at any depth of the JSON object
// data, with two member names that encoding/json would match to the same
// struct field: names equal under Unicode case folding ("exp" and "EXP",
// "sub" and "ſub"). Decoding such an object into a Go struct with
// encoding/json keeps whichever comes last; callers refuse it instead.
func FoldCollision(data []byte) error {
	m := Object(data)
	return foldObject(&m)
}

func foldObject(m *Members) error {
	folded := map[string]bool{}
	for m.Next() {
		k := string(foldName(nil, m.Name()))
		if folded[k] {
			return &detailError{ErrDuplicate, "names differ only in case: " + strconv.Quote(string(m.Name()))}
		}
		folded[k] = true
		if err := foldValue(m.Value()); err != nil {
			return err
		}
	}
	return m.Err()
}

func foldValue(v []byte) error {
	switch v[0] {
	case '{':
		m := Object(v)
		return foldObject(&m)
	case '[':
		e := Array(v)
		for e.Next() {
			if err := foldValue(e.Value()); err != nil {
				return err
			}
		}
		return e.Err()
	}
	return nil
}

// FoldKey maps s to a key shared by exactly the strings strings.EqualFold
// takes as equal to it (and encoding/json matches to one field name):
// each rune replaced by the least rune of its Unicode simple-fold orbit
// ("ſ", "s" and "S" are one; so are "K", "k" and the Kelvin sign).
func FoldKey(s string) string { return string(foldName(nil, []byte(s))) }

// foldName folds name as encoding/json does to match struct fields: ASCII
// letters to upper case, other runes to the smallest rune of their
// case-folding orbit.
func foldName(out, name []byte) []byte {
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}

// names is the set of member names of one object seen so far: a short
// list with a one-word filter, and a map once the object is large.
type names struct {
	n      int
	filter uint64
	small  [16][]byte
	big    map[string]struct{}
}

// add adds name and reports whether it was new.
func (s *names) add(name []byte) bool {
	if s.big != nil {
		if _, dup := s.big[string(name)]; dup {
			return false
		}
		s.big[string(name)] = struct{}{}
		return true
	}
	bit := uint64(1) << ((uint(len(name)) * 7) & 63)
	if len(name) > 0 {
		bit = uint64(1) << ((uint(len(name))*7 + uint(name[0]) + uint(name[len(name)-1])*3) & 63)
	}
	if s.filter&bit != 0 {
		for _, seen := range s.small[:s.n] {
			if string(seen) == string(name) {
				return false
			}
		}
	}
	s.filter |= bit
	if s.n < len(s.small) {
		s.small[s.n] = name
		s.n++
		return true
	}
	s.big = make(map[string]struct{}, 2*len(s.small))
	for _, seen := range s.small {
		s.big[string(seen)] = struct{}{}
	}
	s.big[string(name)] = struct{}{}
	return true
}

func skipSpace(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue validates the value at i (white space before it skipped by
// the caller) and returns the index just after it.
func skipValue(d []byte, i, depth int) (int, error) {
	if i >= len(d) {
		return 0, syntaxError("unexpected end of input")
	}
	switch c := d[i]; {
	case c == '"':
		end, _, err := skipString(d, i)
		return end, err
	case c == '{':
		if depth >= MaxDepth {
			return 0, syntaxError("nested too deeply")
		}
		return skipObject(d, i, depth+1)
	case c == '[':
		if depth >= MaxDepth {
			return 0, syntaxError("nested too deeply")
		}
		return skipArray(d, i, depth+1)
	case c == '-' || '0' <= c && c <= '9':
		return skipNumber(d, i)
	case c == 't':
		return literal(d, i, "true")
	case c == 'f':
		return literal(d, i, "false")
	case c == 'n':
		return literal(d, i, "null")
	}
	return 0, syntaxError("unexpected character")
}

func literal(d []byte, i int, lit string) (int, error) {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return 0, syntaxError("bad literal")
	}
	return i + len(lit), nil
}

func skipObject(d []byte, i, depth int) (int, error) {
	var seen names
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		return i + 1, nil
	}
	for {
		name, j, err := member(d, i)
		if err != nil {
			return 0, err
		}
		if !seen.add(name) {
			return 0, &detailError{ErrDuplicate, strconv.Quote(string(name))}
		}
		if i, err = skipValue(d, j, depth); err != nil {
			return 0, err
		}
		i = skipSpace(d, i)
		switch {
		case i >= len(d):
			return 0, syntaxError("unexpected end of input")
		case d[i] == '}':
			return i + 1, nil
		case d[i] != ',':
			return 0, syntaxError("want , or } after a member")
		}
		i = skipSpace(d, i+1)
	}
}

func skipArray(d []byte, i, depth int) (int, error) {
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(d, i, depth); err != nil {
			return 0, err
		}
		i = skipSpace(d, i)
		switch {
		case i >= len(d):
			return 0, syntaxError("unexpected end of input")
		case d[i] == ']':
			return i + 1, nil
		case d[i] != ',':
			return 0, syntaxError("want , or ] after an element")
		}
		i = skipSpace(d, i+1)
	}
}

// skipNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(d []byte, i int) (int, error) {
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(d, i)
	default:
		return 0, syntaxError("bad number")
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return 0, syntaxError("bad number")
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return 0, syntaxError("bad number")
		}
		i = j
	}
	return i, nil
}

func digits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// skipString validates the string starting with the quote at i and returns
// the index after its closing quote, and whether it contains escapes.
func skipString(d []byte, i int) (end int, escaped bool, err error) {
	i++
	for i < len(d) {
		for i < len(d) && plain[d[i]] {
			i++
		}
		if i == len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			n, err := escapeLen(d[i:])
			if err != nil {
				return 0, false, err
			}
			i += n
		case c < 0x20:
			return 0, false, syntaxError("control character in a string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && n == 1 {
				return 0, false, syntaxError("invalid UTF-8 in a string")
			}
			i += n
		}
	}
	return 0, false, syntaxError("unterminated string")
}

// plain marks the bytes a string holds as they are: printable ASCII but
// the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escapeLen validates the escape sequence at the start of s and returns
// its length. A \u escape of a surrogate must be a high surrogate followed
// by a \u escape of a low one.
func escapeLen(s []byte) (int, error) {
	if len(s) < 2 {
		return 0, syntaxError("unterminated string")
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		r, ok := hex4(s[2:])
		if !ok {
			return 0, syntaxError("bad \\u escape")
		}
		if !utf16.IsSurrogate(r) {
			return 6, nil
		}
		if r >= 0xDC00 || len(s) < 12 || s[6] != '\\' || s[7] != 'u' {
			return 0, syntaxError("lone surrogate")
		}
		if r2, ok := hex4(s[8:]); !ok || utf16.DecodeRune(r, r2) == unicode.ReplacementChar {
			return 0, syntaxError("lone surrogate")
		}
		return 12, nil
	}
	return 0, syntaxError("bad escape")
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape decodes the content of a validated string with escapes into a
// new slice.
func unescape(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(s[i+2:])
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(s[i+8:])
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			out = utf8.AppendRune(out, r)
			i += 6
			continue
		default: // " \ /
			out = append(out, s[i+1])
		}
		i += 2
	}
	return out
}
