package mcpauth

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

func TestPeek(t *testing.T) {
	call := func(id, names string) message {
		m := message{call: true, names: strings.Fields(names)}
		if id != "" {
			m.id = json.RawMessage(id)
		}
		return m
	}
	tests := []struct {
		name string
		body string
		want []message
	}{
		// One message.
		{"a call", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"name":"x"}}}`, []message{call("1", "t")}},
		{"white space", " \r\n\t{ \"method\" : \"tools/call\" , \"params\" : { \"name\" : \"t\" } }\n", []message{call("", "t")}},
		{"another method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"t"}}`, []message{{id: json.RawMessage("1"), names: []string{"t"}}}},
		{"no params", `{"jsonrpc":"2.0","id":"x","method":"tools/call"}`, []message{call(`"x"`, "")}},
		{"params not an object", `{"method":"tools/call","params":["t"]}`, []message{call("", "")}},
		{"name not a string", `{"method":"tools/call","params":{"name":["t"]}}`, []message{call("", "")}},
		{"nested name ignored", `{"method":"tools/call","params":{"arguments":{"name":"t"}}}`, []message{call("", "")}},
		// Every value a parser could keep.
		{"names twice", `{"method":"tools/call","params":{"name":"a","name":"b"}}`, []message{call("", "a b")}},
		{"names in any case", `{"method":"tools/call","params":{"Name":"a","NAME":"b","nAmE":"c"}}`, []message{call("", "a b c")}},
		{"params twice", `{"method":"tools/call","params":{"name":"a"},"PARAMS":{"name":"b"}}`, []message{call("", "a b")}},
		{"method in any case", `{"METHOD":"tools/call","method":"tools/list","params":{"name":"a"}}`, []message{call("", "a")}},
		{"escapes", `{"m\u0065thod":"tools\/call","params":{"n\u0061me":"\u0074"}}`, []message{call("", "t")}},
		{"the last id", `{"id":1,"ID":2,"method":"tools/call"}`, []message{call("2", "")}},
		// The first value only, as the SDK reads it.
		{"trailing bytes", `{"method":"tools/call","params":{"name":"a"}} ]]`, []message{call("", "a")}},
		{"a second value", `{"method":"tools/call","params":{"name":"a"}}{"method":"tools/call","params":{"name":"b"}}`, []message{call("", "a")}},
		// Batches.
		{"batch", `[{"method":"tools/call","params":{"name":"a"}},{"id":3,"method":"tools/call","params":{"name":"b"}}]`,
			[]message{call("", "a"), call("3", "b")}},
		{"batch with odd members", `[1,"x",null,{"method":"tools/call","params":{"name":"a"}}]`, []message{call("", "a")}},
		// Nothing.
		{"empty", ``, nil},
		{"not JSON", `tools/call`, nil},
		{"truncated", `{"method":"tools/call","params":{"name":"a"`, nil},
		{"a string", `"tools/call"`, nil},
		{"null", `null`, nil},
		{"empty batch", `[]`, []message{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collect([]byte(tt.body))
			if !slices.EqualFunc(got, tt.want, sameMessage) || !slices.EqualFunc(peekReference([]byte(tt.body)), tt.want, sameMessage) {
				t.Errorf("peek(%s) = %+v, want %+v", tt.body, got, tt.want)
			}
		})
	}
}

// FuzzPeek: peek never panics, and never misses a tool call the SDK's
// own JSON-RPC decoder (jsonrpc.DecodeMessage) reads, nor the tool name
// encoding/json reads of its params.
func FuzzPeek(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_widget","arguments":{"name":"w"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","NAME":"b"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"},"params":{"name":"b"}}`,
		`{"jsonrpc":"2.0","id":1,"METHOD":"tools/list","method":"tools/call","params":{"name":"a"}}`,
		`{"jsonrpc":"2.0","id":1,"m\u0065thod":"tools\/call","params":{"n\u0061me":"a"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}} trailing`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","id":2,"method":"ping"}]`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\xff"}}`,
		"\xef\xbb\xbf{}", "", "{", "[", "null", `{"method":1}`, `{"method":"tools/call","params":[]}`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs := collect(body)
		if ref := peekReference(body); !slices.EqualFunc(msgs, ref, sameMessage) {
			t.Fatalf("peek(%q) = %+v, the reference reads %+v", body, msgs, ref)
		}
		// The SDK reads the body as one message, or as a batch when it is
		// an array (split here by encoding/json).
		raws := []json.RawMessage{body}
		var batch []json.RawMessage
		if dec := json.NewDecoder(bytes.NewReader(body)); dec.Decode(&batch) == nil {
			raws = append(raws, batch...)
		}
		for _, raw := range raws {
			msg, err := jsonrpc.DecodeMessage(raw)
			req, ok := msg.(*jsonrpc.Request)
			if err != nil || !ok || req.Method != methodCallTool {
				continue
			}
			var params struct{ Name *string }
			named := json.Unmarshal(req.Params, &params) == nil && params.Name != nil
			if !slices.ContainsFunc(msgs, func(m message) bool {
				return m.call && (!named || slices.Contains(m.names, *params.Name))
			}) {
				t.Fatalf("peek(%q) = %+v misses the call of %s", body, msgs, req.Params)
			}
		}
	})
}

// collect returns the messages peek visits.
func collect(body []byte) []message {
	var msgs []message
	peek(body, func(m *message) {
		own := *m
		own.names = slices.Clone(m.names)
		msgs = append(msgs, own)
	})
	return msgs
}

func sameMessage(a, b message) bool {
	return a.call == b.call && bytes.Equal(a.id, b.id) && slices.Equal(a.names, b.names)
}

// peekReference is peek written plainly on encoding/json's Decoder,
// copying as it goes: what peek must agree with.
func peekReference(body []byte) []message {
	dec := json.NewDecoder(bytes.NewReader(body))
	var first json.RawMessage
	if dec.Decode(&first) != nil {
		return nil
	}
	one := func(raw json.RawMessage) (message, bool) {
		var m message
		ok := referenceMembers(raw, func(name string, value json.RawMessage) {
			switch {
			case strings.EqualFold(name, "id"):
				m.id = value
			case strings.EqualFold(name, "method"):
				var method string
				if json.Unmarshal(value, &method) == nil && method == methodCallTool {
					m.call = true
				}
			case strings.EqualFold(name, "params"):
				referenceMembers(value, func(name string, value json.RawMessage) {
					var tool string
					if strings.EqualFold(name, "name") && json.Unmarshal(value, &tool) == nil {
						m.names = append(m.names, tool)
					}
				})
			}
		})
		return m, ok
	}
	if first[0] != '[' {
		if m, ok := one(first); ok {
			return []message{m}
		}
		return nil
	}
	var batch []json.RawMessage
	json.Unmarshal(first, &batch)
	var msgs []message
	for _, raw := range batch {
		if m, ok := one(raw); ok {
			msgs = append(msgs, m)
		}
	}
	return msgs
}

func referenceMembers(raw json.RawMessage, f func(name string, value json.RawMessage)) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for dec.More() {
		tok, _ := dec.Token()
		var value json.RawMessage
		dec.Decode(&value)
		f(tok.(string), value)
	}
	return true
}

func BenchmarkPeek(b *testing.B) {
	for name, body := range map[string]string{
		"call": `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_widget","arguments":{"name":"w"}}}`,
		// An attacker's body at the default bound: a 4 MiB argument.
		"4MiB": `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_widget","arguments":{"name":"` +
			strings.Repeat("x", DefaultMaxBodyBytes-200) + `"}}}`,
		"4MiB batch": "[" + strings.Repeat(`{"method":"tools/call","params":{"name":"t"}},`, DefaultMaxBodyBytes/50) + "1]",
	} {
		body := []byte(body)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				peek(body, func(*message) {})
			}
		})
	}
}
