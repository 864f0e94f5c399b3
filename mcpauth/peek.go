package mcpauth

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// methodCallTool is the JSON-RPC method of a tool call.
const methodCallTool = "tools/call"

// message is what the scope check needs of one JSON-RPC message of a
// POST body.
type message struct {
	// id is the value of the last member named "id", for the refusal's
	// response; nil without one.
	id json.RawMessage
	// call reports that a member named "method" holds "tools/call".
	call bool
	// names are the string values of every member named "name" of every
	// object named "params".
	names []string
}

// peek calls visit with each message of a POST body, read as leniently
// as the SDK reads it and more cautiously. The message and its names are
// peek's: reused for the next message, valid during the call only.
//
// As leniently: the SDK decodes the first JSON value of the body and
// ignores what follows it (a json.Decoder), an array as a JSON-RPC batch
// (which it accepts under protocol versions before 2025-06-18, the
// default when the request names none). So does peek.
//
// More cautiously: the SDK matches member names exactly and keeps the
// last of a name given twice; encoding/json matches them in any letter
// case. Rather than guess which value a parser keeps, peek keeps them
// all: a message calls a tool when any member named "method" in any
// letter case says "tools/call", and it calls every tool that any
// "name" member of any "params" member names. A client that writes each
// member once, as the SDK's own does, is read exactly; a body that
// plays on the parsers' differences needs the scopes of every tool it
// names.
//
// A body that does not parse has no messages: the SDK answers it with
// its own error, and [RequireToolScopes] stands behind this check for a
// body the SDK would read and peek could not.
//
// The first value is validated by json.Valid, then walked in place:
// nothing is copied but the strings compared (a 4 MiB argument costs a
// scan, not an allocation).
func peek(body []byte, visit func(*message)) {
	start := skipSpace(body, 0)
	end := valueEnd(body, start)
	if end < 0 || !json.Valid(body[start:end]) {
		return
	}
	v := body[start:end]
	var m message
	switch v[0] {
	case '{':
		peekMessage(v, &m)
		visit(&m)
	case '[':
		elements(v, func(elem []byte) {
			if elem[0] == '{' {
				peekMessage(elem, &m)
				visit(&m)
			}
		})
	}
}

// peekMessage reads one message, a valid JSON object, into m.
func peekMessage(obj []byte, m *message) {
	*m = message{names: m.names[:0]}
	members(obj, func(name, value []byte) {
		switch {
		case keyIs(name, "id"):
			m.id = json.RawMessage(value)
		case keyIs(name, "method"):
			m.call = m.call || stringIs(value, methodCallTool)
		case keyIs(name, "params") && value[0] == '{':
			members(value, func(name, value []byte) {
				if keyIs(name, "name") && value[0] == '"' {
					if tool, ok := unquote(value); ok {
						m.names = append(m.names, tool)
					}
				}
			})
		}
	})
}

// maxEscaped is the longest a JSON string literal of n bytes of ASCII can
// be: each byte escaped as \uXXXX, and the quotes.
func maxEscaped(n int) int { return 6*n + 2 }

// keyIs reports whether the member name key, a JSON string literal,
// is name in any letter case (as encoding/json matches names).
func keyIs(key []byte, name string) bool {
	if len(key) > maxEscaped(len(name)) {
		return false
	}
	if inner := key[1 : len(key)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return bytes.EqualFold(inner, []byte(name))
	}
	s, ok := unquote(key)
	return ok && strings.EqualFold(s, name)
}

// stringIs reports whether value, a JSON value, is the string s.
func stringIs(value []byte, s string) bool {
	if value[0] != '"' || len(value) > maxEscaped(len(s)) {
		return false
	}
	if inner := value[1 : len(value)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return bytes.Equal(inner, []byte(s))
	}
	v, ok := unquote(value)
	return ok && v == s
}

// unquote returns the string the JSON string literal lit (valid JSON)
// holds, as encoding/json decodes it: escapes decoded, invalid UTF-8
// replaced. A literal of valid UTF-8 without escapes is its bytes.
func unquote(lit []byte) (string, bool) {
	if inner := lit[1 : len(lit)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	err := json.Unmarshal(lit, &s)
	return s, err == nil
}

// members calls f with the name (a JSON string literal, quotes included)
// and the value of every member of obj, a valid JSON object, in order,
// duplicates included.
func members(obj []byte, f func(name, value []byte)) {
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] == '"' {
		nameEnd := valueEnd(obj, i)
		colon := skipSpace(obj, nameEnd)
		if nameEnd < 0 || colon >= len(obj) || obj[colon] != ':' {
			return // unreachable on a valid object
		}
		start := skipSpace(obj, colon+1)
		end := valueEnd(obj, start)
		if end < 0 {
			return
		}
		f(obj[i:nameEnd], obj[start:end])
		i = skipSpace(obj, end)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
}

// elements calls f with every element of arr, a valid JSON array.
func elements(arr []byte, f func(elem []byte)) {
	i := skipSpace(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		end := valueEnd(arr, i)
		if end < 0 {
			return // unreachable on a valid array
		}
		f(arr[i:end])
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
}

// valueEnd returns the end of the JSON value that starts at b[i], or -1
// when b ends first. It finds the end of a valid value exactly and,
// on anything else, some end or -1 (the caller validates): a string
// runs to its closing quote, an object or array to the bracket that
// closes it, anything else to the next delimiter.
func valueEnd(b []byte, i int) int {
	if i < 0 || i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end := stringEnd(b, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\r', '\n', ',', ']', '}', ':':
			return i
		}
	}
	return i
}

// stringEnd returns the end of the string literal at b[i] (a quote), or
// -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipSpace returns the index of the first byte at or after i that is
// not JSON white space.
func skipSpace(b []byte, i int) int {
	if i < 0 {
		return len(b)
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}
