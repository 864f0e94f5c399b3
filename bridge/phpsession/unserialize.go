package phpsession

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Errors of the decoders. Every error of [Unserialize] and [Decode]
// wraps exactly one of them.
var (
	// ErrSyntax: the data is not PHP's serialize format as PHP writes it
	// (a truncated or corrupt session, a format other than the one
	// configured, compressed or igbinary data, trailing bytes, a key
	// twice in one array).
	ErrSyntax = errors.New("phpsession: malformed serialized data")
	// ErrLimit: the data is over one of [Limits].
	ErrLimit = errors.New("phpsession: serialized data over a limit")
)

// Defaults of [Limits].
const (
	DefaultMaxBytes  = 1 << 20 // 1 MiB of session data
	DefaultMaxDepth  = 32      // nested arrays and objects
	DefaultMaxValues = 100_000 // values in all, keys included
)

// Limits bound what the decoders accept, so that no data, however
// crafted, makes them use more than a small multiple of MaxBytes in
// memory or recurse deeper than MaxDepth. The zero value of each field
// means its default.
type Limits struct {
	// MaxBytes bounds the data. Default DefaultMaxBytes (1 MiB).
	MaxBytes int
	// MaxDepth bounds the nesting of arrays and objects; the top-level
	// array of a php_serialize session counts. Default DefaultMaxDepth
	// (32).
	MaxDepth int
	// MaxValues bounds the number of values, array keys included.
	// Default DefaultMaxValues (100,000).
	MaxValues int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultMaxValues
	}
	return l
}

// The values [Unserialize] returns, by PHP type:
//
//	null                  nil
//	bool                  bool
//	int                   int64
//	float                 float64 (NAN and ±INF included)
//	string                string (PHP's bytes, not necessarily UTF-8)
//	array                 Array
//	object                *Object
//	Serializable object   *CustomObject
//	enum case (PHP 8.1)   Enum
//	reference             Ref
type (
	// Array is a PHP array: an ordered map whose keys are int64 or
	// string. As in PHP, a key that is the decimal form of an integer
	// ("5", "-3", not "05") is that integer.
	Array []Entry
	// Entry is one key and value of an [Array].
	Entry struct {
		Key   any // int64 or string
		Value any
	}
	// Object is an object serialized by its properties (O:). Private
	// and protected properties keep PHP's mangled names: "\x00Class\x00name"
	// and "\x00*\x00name".
	Object struct {
		Class string
		Props Array
	}
	// CustomObject is an object that serialized itself (C:, the
	// Serializable interface): Data is its own encoding, which
	// [Unserialize] may decode when it is PHP's format.
	CustomObject struct {
		Class string
		Data  string
	}
	// Enum is a case of a PHP 8.1 enumeration (E:).
	Enum struct {
		Class, Case string
	}
	// Ref is a reference to an earlier value of the same data: R: for a
	// PHP reference (&$x, Hard), r: for an object met again. N counts
	// the values from 1 as PHP numbers them. It is not resolved.
	Ref struct {
		N    int64
		Hard bool
	}
)

// Get returns the value of key, looked up as PHP looks up $a[key]: the
// decimal form of an integer finds that integer key.
func (a Array) Get(key string) (any, bool) { return a.lookup(arrayKey(key)) }

func (a Array) lookup(k any) (any, bool) {
	for _, e := range a {
		if e.Key == k {
			return e.Value, true
		}
	}
	return nil, false
}

// arrayKey is key as a PHP array holds it: an int64 when key is an
// integer's canonical decimal form, else the string.
func arrayKey(key string) any {
	if n, err := strconv.ParseInt(key, 10, 64); err == nil && strconv.FormatInt(n, 10) == key {
		return n
	}
	return key
}

// Unserialize decodes b, one value in PHP's serialize format (what
// serialize() writes and session.serialize_handler php_serialize
// stores), strictly: all of b, nothing after it, only the encodings PHP
// writes, within lim. It never panics. Errors wrap [ErrSyntax] or
// [ErrLimit].
func Unserialize(b []byte, lim Limits) (any, error) {
	p, err := newParser(b, lim)
	if err != nil {
		return nil, err
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.b) {
		return nil, p.fail("trailing bytes")
	}
	return v, nil
}

// parser reads one serialized input.
type parser struct {
	b      []byte
	pos    int
	depth  int
	values int
	lim    Limits
}

func newParser(b []byte, lim Limits) (*parser, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrLimit, len(b), lim.MaxBytes)
	}
	return &parser{b: b, lim: lim}, nil
}

func (p *parser) fail(what string) error {
	return fmt.Errorf("%w at byte %d: %s", ErrSyntax, p.pos, what)
}

// expect consumes s.
func (p *parser) expect(s string) error {
	if len(p.b)-p.pos < len(s) || string(p.b[p.pos:p.pos+len(s)]) != s {
		return p.fail("want " + strconv.Quote(s))
	}
	p.pos += len(s)
	return nil
}

// digits consumes one or more decimal digits, without a leading zero
// but for "0", and returns them.
func (p *parser) digits() (string, error) {
	start := p.pos
	for p.pos < len(p.b) && '0' <= p.b[p.pos] && p.b[p.pos] <= '9' {
		p.pos++
	}
	d := string(p.b[start:p.pos])
	if d == "" || len(d) > 1 && d[0] == '0' {
		return "", p.fail("want a decimal number")
	}
	return d, nil
}

// length consumes a count or a length: a decimal number, at most what is
// left of the input (nothing shorter than a byte is counted).
func (p *parser) length() (int, error) {
	d, err := p.digits()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(d)
	if err != nil || n > len(p.b)-p.pos {
		return 0, p.fail("a length past the end of the data")
	}
	return n, nil
}

// integer consumes an optional "-" and digits, within int64.
func (p *parser) integer() (int64, error) {
	neg := p.pos < len(p.b) && p.b[p.pos] == '-'
	if neg {
		p.pos++
	}
	d, err := p.digits()
	if err != nil {
		return 0, err
	}
	if neg {
		d = "-" + d
	}
	n, err := strconv.ParseInt(d, 10, 64)
	if err != nil || d == "-0" {
		return 0, p.fail("an integer out of range")
	}
	return n, nil
}

// quoted consumes `"` n bytes `"` after a length n, and returns them.
func (p *parser) quoted() (string, error) {
	n, err := p.length()
	if err != nil {
		return "", err
	}
	if err := p.expect(`:"`); err != nil {
		return "", err
	}
	if len(p.b)-p.pos < n {
		return "", p.fail("a string past the end of the data")
	}
	s := string(p.b[p.pos : p.pos+n])
	p.pos += n
	return s, p.expect(`"`)
}

func (p *parser) count() error {
	p.values++
	if p.values > p.lim.MaxValues {
		return fmt.Errorf("%w: more than %d values", ErrLimit, p.lim.MaxValues)
	}
	return nil
}

// value consumes one value.
func (p *parser) value() (any, error) {
	if err := p.count(); err != nil {
		return nil, err
	}
	if len(p.b)-p.pos < 2 {
		return nil, p.fail("want a value")
	}
	tag := p.b[p.pos]
	switch {
	case tag == 'N':
		p.pos++
		return nil, p.expect(";")
	case strings.IndexByte("bidsaOCErR", tag) < 0:
		return nil, p.fail("unknown type " + strconv.QuoteRune(rune(tag)))
	}
	p.pos++
	if err := p.expect(":"); err != nil {
		return nil, err
	}
	switch tag {
	case 'b':
		if p.pos < len(p.b) && (p.b[p.pos] == '0' || p.b[p.pos] == '1') {
			v := p.b[p.pos] == '1'
			p.pos++
			return v, p.expect(";")
		}
		return nil, p.fail("want b:0; or b:1;")
	case 'i':
		n, err := p.integer()
		if err != nil {
			return nil, err
		}
		return n, p.expect(";")
	case 'd':
		return p.float()
	case 's':
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		return s, p.expect(";")
	case 'a':
		return p.array()
	case 'O':
		class, err := p.class()
		if err != nil {
			return nil, err
		}
		props, err := p.array()
		if err != nil {
			return nil, err
		}
		return &Object{Class: class, Props: props}, nil
	case 'C':
		class, err := p.class()
		if err != nil {
			return nil, err
		}
		n, err := p.length()
		if err != nil {
			return nil, err
		}
		if err := p.expect(":{"); err != nil {
			return nil, err
		}
		if len(p.b)-p.pos < n {
			return nil, p.fail("data past the end of the input")
		}
		data := string(p.b[p.pos : p.pos+n])
		p.pos += n
		return &CustomObject{Class: class, Data: data}, p.expect("}")
	case 'E':
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		i := strings.LastIndexByte(s, ':')
		if i < 0 || !validClass(s[:i]) || !validLabel(s[i+1:]) {
			return nil, p.fail("want an enum case Class:Case")
		}
		return Enum{Class: s[:i], Case: s[i+1:]}, p.expect(";")
	}
	// r: or R:
	d, err := p.digits()
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseInt(d, 10, 64)
	if err != nil || n == 0 {
		return nil, p.fail("a reference out of range")
	}
	return Ref{N: n, Hard: tag == 'R'}, p.expect(";")
}

// float consumes what follows "d:": a decimal or exponent number, NAN,
// INF or -INF, then ";".
func (p *parser) float() (any, error) {
	start := p.pos
	for p.pos < len(p.b) && p.b[p.pos] != ';' {
		p.pos++
	}
	s := string(p.b[start:p.pos])
	var f float64
	switch s {
	case "NAN":
		f = math.NaN()
	case "INF":
		f = math.Inf(1)
	case "-INF":
		f = math.Inf(-1)
	default:
		// Digits, a point, an exponent and signs only: ParseFloat alone
		// would take "Inf", "0x1p3" and "1_0".
		for _, c := range []byte(s) {
			if !('0' <= c && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
				p.pos = start
				return nil, p.fail("want a float")
			}
		}
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			p.pos = start
			return nil, p.fail("want a float")
		}
	}
	return f, p.expect(";")
}

// class consumes a class name, quoted after its length, and the ":"
// after it.
func (p *parser) class() (string, error) {
	start := p.pos
	s, err := p.quoted()
	if err != nil {
		return "", err
	}
	if !validClass(s) {
		p.pos = start
		return "", p.fail("want a class name")
	}
	return s, p.expect(":")
}

// array consumes "N:{" N keys and values "}", after "a:" or an object's
// class: integer or string keys (an object's properties too, since PHP
// 7.4), each once.
func (p *parser) array() (Array, error) {
	n, err := p.length()
	if err != nil {
		return nil, err
	}
	if err := p.expect(":{"); err != nil {
		return nil, err
	}
	p.depth++
	if p.depth > p.lim.MaxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrLimit, p.lim.MaxDepth)
	}
	// Each entry takes six bytes at least (i:0;N;): no count, however
	// large, allocates more than the input can fill.
	a := make(Array, 0, min(n, (len(p.b)-p.pos)/6))
	var seen keySet
	for range n {
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if !seen.add(a, k) {
			return nil, p.fail("a key twice")
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, Entry{Key: k, Value: v})
	}
	p.depth--
	return a, p.expect("}")
}

// keySet finds a key met twice in an array being read: a scan of the
// first few, a map beyond.
type keySet struct{ m map[any]struct{} }

// add reports whether k is new to a, the keys so far, and records it.
func (s *keySet) add(a Array, k any) bool {
	if s.m == nil {
		if len(a) < 8 {
			_, dup := a.lookup(k)
			return !dup
		}
		s.m = make(map[any]struct{}, 2*len(a))
		for _, e := range a {
			s.m[e.Key] = struct{}{}
		}
	}
	if _, dup := s.m[k]; dup {
		return false
	}
	s.m[k] = struct{}{}
	return true
}

// key consumes an array key: i:N; or s:N:"…";, the string form of an
// integer being that integer, as in PHP.
func (p *parser) key() (any, error) {
	if err := p.count(); err != nil {
		return nil, err
	}
	if len(p.b)-p.pos < 2 || p.b[p.pos+1] != ':' || p.b[p.pos] != 'i' && p.b[p.pos] != 's' {
		return nil, p.fail("want an integer or string key")
	}
	tag := p.b[p.pos]
	p.pos += 2
	if tag == 'i' {
		n, err := p.integer()
		if err != nil {
			return nil, err
		}
		return n, p.expect(";")
	}
	s, err := p.quoted()
	if err != nil {
		return nil, err
	}
	return arrayKey(s), p.expect(";")
}

// validClass reports whether s is a class name as PHP's unserialize
// accepts one: letters, digits, "_", "\" and bytes from 0x80.
func validClass(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '\\' || c >= 0x80) {
			return false
		}
	}
	return s != ""
}

// validLabel reports whether s is a PHP label (a case name).
func validLabel(s string) bool {
	return s != "" && !('0' <= s[0] && s[0] <= '9') && validClass(s) && strings.IndexByte(s, '\\') < 0
}
