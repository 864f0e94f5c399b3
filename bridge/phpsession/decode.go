package phpsession

import (
	"bytes"
	"fmt"
)

// Format is a session.serialize_handler: how PHP writes $_SESSION.
type Format string

// The formats [Decode] reads. (php_binary, igbinary and msgpack are not
// read: their data is refused with [ErrSyntax].)
const (
	// FormatPHP is PHP's default: each variable as its name, "|", and its
	// value in serialize's format (user_id|i:42;roles|a:1:{…}).
	FormatPHP Format = "php"
	// FormatPHPSerialize is serialize($_SESSION): one array
	// (a:2:{s:7:"user_id";i:42;…}). Symfony recommends it.
	FormatPHPSerialize Format = "php_serialize"
)

// Decode decodes session data of format f into the variables of
// $_SESSION, strictly and within lim (see [Unserialize]): no variable
// twice, no trailing bytes. Empty data is an empty session in both
// formats, as PHP reads it. It never panics. Errors wrap [ErrSyntax] or
// [ErrLimit], but for an f other than FormatPHP and FormatPHPSerialize.
func Decode(b []byte, f Format, lim Limits) (Array, error) {
	p, err := newParser(b, lim)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return Array{}, nil
	}
	switch f {
	case FormatPHPSerialize:
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a, ok := v.(Array)
		if !ok {
			return nil, fmt.Errorf("%w: php_serialize data that is not an array", ErrSyntax)
		}
		if p.pos != len(p.b) {
			return nil, p.fail("trailing bytes")
		}
		return a, nil
	case FormatPHP:
		var a Array
		var seen keySet
		for p.pos < len(p.b) {
			i := bytes.IndexByte(p.b[p.pos:], '|')
			if i <= 0 {
				return nil, p.fail("want a variable name and |")
			}
			name := arrayKey(string(p.b[p.pos : p.pos+i]))
			if !seen.add(a, name) {
				return nil, p.fail("a variable twice")
			}
			p.pos += i + 1
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			a = append(a, Entry{Key: name, Value: v})
		}
		if a == nil {
			a = Array{}
		}
		return a, nil
	}
	return nil, fmt.Errorf("phpsession: unknown format %q", f)
}
