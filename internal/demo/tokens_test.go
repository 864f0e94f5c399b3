package demo

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTokensArguments: what "demo-api tokens" answers before it opens a
// database. TestTokensCommand runs the verbs on one.
func TestTokensArguments(t *testing.T) {
	const wantMore = "tokens: want create, list or revoke, and a username or token id"
	tests := []struct {
		name  string
		args  []string
		err   string // "" for none
		usage bool   // whether the usage text is the output
	}{
		// Help, with or without a command around it.
		{"-h", []string{"-h"}, "", true},
		{"help", []string{"help"}, "", true},
		{"--help within a command", []string{"create", "--help", "demo"}, "", true},

		// Missing or unknown pieces print the usage too.
		{"nothing", nil, wantMore, true},
		{"no target", []string{"list"}, wantMore, true},
		{"a flag last", []string{"create", "demo", "-name"}, wantMore, true},
		{"unknown verb", []string{"rotate", "demo"}, `tokens: unknown command "rotate": want create, list or revoke`, true},

		// The flags of create.
		{"flag without a value", []string{"create", "-name", "demo"}, "tokens: flag -name needs a value", false},
		{"flag twice", []string{"create", "-name", "a", "--name=b", "demo"}, "tokens: flag -name given twice", false},
		{"flag of create on list", []string{"list", "-scopes=a", "demo"}, "tokens list: -name, -scopes and -expires-in are for create", false},
		{"flag of create on an unknown verb", []string{"rotate", "-name", "a", "demo"}, "tokens rotate: -name, -scopes and -expires-in are for create", false},

		// The other flags are the server's.
		{"unknown server flag", []string{"list", "-nope", "demo"}, "flag provided but not defined: -nope (see demo-api -h)", false},
		{"extra argument", []string{"revoke", "extra", "id"}, `unexpected argument "extra" (see demo-api -h)`, false},
		{"no database", []string{"list", "-db", "missing.db", "demo"},
			"tokens: no database at missing.db (run from the server's directory, or give -db)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := runTokens(context.Background(), tt.args, env(nil), &out, io.Discard)
			got, wantOut := "", ""
			if err != nil {
				got = err.Error()
			}
			if tt.usage {
				wantOut = tokensUsage + "\n"
			}
			if got != tt.err || out.String() != wantOut {
				t.Errorf("err %q, output %q; want %q, usage %v", got, out.String(), tt.err, tt.usage)
			}
		})
	}
}

// TestCreateRequest: what "tokens create" asks for, by default and with
// each flag.
func TestCreateRequest(t *testing.T) {
	user := []string{"widgets:read", scopeManageTokens, "widgets:write"}
	tests := []struct {
		name   string
		flags  map[string]string
		want   string // name, then scopes
		expiry time.Duration
		err    string
	}{
		{"defaults: the user's scopes but tokens:manage", nil, "cli widgets:read widgets:write", 0, ""},
		{"name", map[string]string{"name": "nightly"}, "nightly widgets:read widgets:write", 0, ""},
		{"scopes, trimmed", map[string]string{"scopes": " widgets:read, ,tokens:manage"}, "cli widgets:read tokens:manage", 0, ""},
		{"no scopes", map[string]string{"scopes": ""}, "cli", 0, ""},
		{"lifetime", map[string]string{"expires-in": "48h"}, "cli widgets:read widgets:write", 48 * time.Hour, ""},
		{"lifetime not a duration", map[string]string{"expires-in": "soon"}, "", 0, `tokens: -expires-in "soon": want a positive duration such as 720h`},
		{"lifetime negative", map[string]string{"expires-in": "-1h"}, "", 0, `tokens: -expires-in "-1h": want a positive duration such as 720h`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := createRequest(slices.Clone(user), tt.flags)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if got := strings.Join(append([]string{req.Name}, req.Scopes...), " "); err != nil || got != tt.want || req.Lifetime != tt.expiry {
				t.Errorf("%q, %v, %v; want %q, %v", got, req.Lifetime, err, tt.want, tt.expiry)
			}
		})
	}
}
