package consent_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token/consent"
)

// checkTests are the arguments of Check's table test, and the seeds of
// FuzzCheck.
var checkTests = []struct {
	name              string
	subject, clientID string
	scopes            []string
	ok                bool
}{
	// Accepted.
	{"the usual", "usr_1", "app", []string{"openid", "widgets:read"}, true},
	{"no scopes", "usr_1", "app", nil, true},
	{"duplicates", "usr_1", "app", []string{"a", "a"}, true},
	{"UTF-8 and spaces in subject and client ID", "ü ser", "my app ✓", nil, true},
	{"a metadata document's URL", "usr_1", "https://app.example/oauth/client.json", nil, true},
	{"the longest subject", strings.Repeat("s", consent.MaxSubjectLen), "app", nil, true},
	{"the longest client ID", "usr_1", strings.Repeat("c", consent.MaxClientIDLen), nil, true},
	{"the longest scope", "usr_1", "app", []string{strings.Repeat("s", consent.MaxScopeLen)}, true},
	{"the most scopes", "usr_1", "app", slices.Repeat([]string{"s"}, consent.MaxScopes), true},
	{"the edges of the scope alphabet", "usr_1", "app", []string{"!", "#", "[", "]", "~", "!#[]~"}, true},

	// Subjects.
	{"an empty subject", "", "app", nil, false},
	{"a subject too long", strings.Repeat("s", consent.MaxSubjectLen+1), "app", nil, false},
	{"a subject not UTF-8", "usr\xff", "app", nil, false},
	{"a subject with NUL", "usr\x00", "app", nil, false},

	// Client IDs.
	{"an empty client ID", "usr_1", "", nil, false},
	{"a client ID too long", "usr_1", strings.Repeat("c", consent.MaxClientIDLen+1), nil, false},
	{"a client ID not UTF-8", "usr_1", "\xc3(", nil, false},
	{"a client ID with NUL", "usr_1", "app\x00", nil, false},

	// Scopes.
	{"too many scopes", "usr_1", "app", slices.Repeat([]string{"s"}, consent.MaxScopes+1), false},
	{"a scope too long", "usr_1", "app", []string{strings.Repeat("s", consent.MaxScopeLen+1)}, false},
	{"an empty scope", "usr_1", "app", []string{"a", ""}, false},
	{"a space", "usr_1", "app", []string{"a b"}, false},
	{"a quote", "usr_1", "app", []string{`"`}, false},
	{"a backslash", "usr_1", "app", []string{`\`}, false},
	{"DEL", "usr_1", "app", []string{"\x7f"}, false},
	{"a tab", "usr_1", "app", []string{"a\t"}, false},
	{"NUL", "usr_1", "app", []string{"\x00"}, false},
	{"non-ASCII", "usr_1", "app", []string{"ü"}, false},
	{"invalid UTF-8", "usr_1", "app", []string{"\xff"}, false},
}

func TestCheck(t *testing.T) {
	for _, tt := range checkTests {
		t.Run(tt.name, func(t *testing.T) {
			err := consent.Check(tt.subject, tt.clientID, tt.scopes)
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, consent.ErrInvalid) {
				t.Errorf("Check = %v, want accepted %v", err, tt.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "consent: ") {
				t.Errorf("Check = %q, want an error starting with the package's name", err)
			}
		})
	}
}

func TestCheckSubject(t *testing.T) {
	for _, tt := range checkTests {
		// The subject cases only: CheckSubject is Check's rule on it.
		want := consent.Check(tt.subject, "app", nil)
		if got := consent.CheckSubject(tt.subject); (got == nil) != (want == nil) || got != nil && !errors.Is(got, consent.ErrInvalid) {
			t.Errorf("%s: CheckSubject = %v, want %v", tt.name, got, want)
		}
	}
}

func TestCovers(t *testing.T) {
	c := consent.Consent{Subject: "usr_1", ClientID: "app", Scopes: []string{"a", "b"}, GrantedAt: time.Now()}
	// A Consent built by hand may have its scopes in any order.
	unsorted := c
	unsorted.Scopes = []string{"b", "a"}
	none := c
	none.Scopes = nil
	for _, tt := range []struct {
		name   string
		c      consent.Consent
		scopes []string
		want   bool
	}{
		{"all", c, []string{"b", "a"}, true},
		{"some", c, []string{"a"}, true},
		{"none", c, nil, true},
		{"an empty list", c, []string{}, true},
		{"one more", c, []string{"a", "c"}, false},
		{"a scope differing in case", c, []string{"A"}, false},
		{"a prefix", c, []string{"a", "b", ""}, false},
		{"in any order", unsorted, []string{"a", "b"}, true},
		{"a consent to no scopes, asked for none", none, nil, true},
		{"a consent to no scopes, asked for one", none, []string{"a"}, false},
		{"the zero Consent, asked for none", consent.Consent{}, nil, false},
		{"the zero Consent, asked for one", consent.Consent{}, []string{"a"}, false},
		{"a Consent without subject", consent.Consent{ClientID: "app", Scopes: []string{"a"}}, []string{"a"}, false},
		{"a Consent without client", consent.Consent{Subject: "usr_1", Scopes: []string{"a"}}, []string{"a"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := consent.Covers(tt.c, tt.scopes); got != tt.want {
				t.Errorf("Covers(%+v, %q) = %v, want %v", tt.c, tt.scopes, got, tt.want)
			}
		})
	}
}

func TestUnion(t *testing.T) {
	many := func(prefix string, n int) []string {
		ss := make([]string, n)
		for i := range ss {
			ss[i] = prefix + string(rune('A'+i/26)) + string(rune('a'+i%26))
		}
		return ss
	}
	for _, tt := range []struct {
		name      string
		have, add []string
		want      []string
		ok        bool
	}{
		{"nothing", nil, nil, nil, true},
		{"empty lists", []string{}, []string{}, nil, true},
		{"nothing had", nil, []string{"b", "a", "b"}, []string{"a", "b"}, true},
		{"nothing added", []string{"a", "b"}, nil, []string{"a", "b"}, true},
		{"both", []string{"a", "c"}, []string{"d", "b", "c"}, []string{"a", "b", "c", "d"}, true},
		{"byte order", []string{"b"}, []string{"B", "a", "_"}, []string{"B", "_", "a", "b"}, true},
		{"MaxScopes", many("a", consent.MaxScopes/2), many("b", consent.MaxScopes/2),
			append(many("a", consent.MaxScopes/2), many("b", consent.MaxScopes/2)...), true},
		{"MaxScopes with duplicates", many("a", consent.MaxScopes), many("a", consent.MaxScopes), many("a", consent.MaxScopes), true},
		{"one more than MaxScopes", many("a", consent.MaxScopes), []string{"b"}, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			have, add := slices.Clone(tt.have), slices.Clone(tt.add)
			got, err := consent.Union(have, add)
			if tt.ok && (err != nil || !slices.Equal(got, tt.want) || len(got) == 0 && got != nil) {
				t.Errorf("Union = %q, %v; want %q", got, err, tt.want)
			}
			if !tt.ok && (!errors.Is(err, consent.ErrInvalid) || got != nil) {
				t.Errorf("Union = %q, %v; want ErrInvalid", got, err)
			}
			if !slices.Equal(have, tt.have) || !slices.Equal(add, tt.add) {
				t.Errorf("Union changed its arguments to %q, %q", have, add)
			}
			// Appending to the result leaves the arguments alone too.
			if len(got) > 0 {
				_ = append(got, "x")
				got[0] = "changed"
				if !slices.Equal(have, tt.have) || !slices.Equal(add, tt.add) {
					t.Errorf("the result shares memory with the arguments")
				}
			}
		})
	}
}
