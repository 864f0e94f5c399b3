// Package storetest is the conformance suite of [consent.Store]: every
// backend runs it, so that they all behave the same.
package storetest

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/token/consent"
)

// Open returns two handles on one fresh, empty backing store, as two
// instances of a service would have them (they may be the same value for
// an in-process store). It registers their cleanup with t.
type Open func(t *testing.T) (a, b consent.Store)

// Base is the moment the suite's consents are granted around.
var Base = time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Open) {
	t.Run("Grant", func(t *testing.T) { testGrant(t, open) })
	t.Run("Get", func(t *testing.T) { testGet(t, open) })
	t.Run("Covers", func(t *testing.T) { testCovers(t, open) })
	t.Run("List", func(t *testing.T) { testList(t, open) })
	t.Run("ListDefaultLimit", func(t *testing.T) { testListDefaultLimit(t, open) })
	t.Run("Revoke", func(t *testing.T) { testRevoke(t, open) })
	t.Run("RevokeSubject", func(t *testing.T) { testRevokeSubject(t, open) })
	t.Run("Invalid", func(t *testing.T) { testInvalid(t, open) })
	t.Run("Unavailable", func(t *testing.T) { testUnavailable(t, open) })
	t.Run("ConcurrentGrant", func(t *testing.T) { testConcurrentGrant(t, open) })
}

// NewSubject returns a subject no other test uses.
func NewSubject() string { return "usr_ü_" + rand.Text() }

// Same reports whether a and b are the same consent: the same subject,
// client and scopes (nil and empty alike), GrantedAt to the nanosecond
// (whatever its location).
func Same(a, b consent.Consent) bool {
	return a.Subject == b.Subject && a.ClientID == b.ClientID && slices.Equal(a.Scopes, b.Scopes) &&
		a.GrantedAt.Equal(b.GrantedAt)
}

// scopeChars are the characters of RFC 6749 §3.3's scope-token, in
// order: %x21 / %x23-5B / %x5D-7E.
var scopeChars = func() string {
	var b []byte
	for c := byte(0x21); c <= 0x7e; c++ {
		if c != '"' && c != '\\' {
			b = append(b, c)
		}
	}
	return string(b)
}()

// at is Base plus d.
func at(d time.Duration) time.Time { return Base.Add(d) }

// scopes returns n distinct scopes starting with prefix, of up to
// consent.MaxScopeLen bytes.
func scopes(prefix string, n int) []string {
	ss := make([]string, n)
	for i := range ss {
		ss[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return ss
}

func grant(t *testing.T, s consent.Store, subject, clientID string, scopes []string, now time.Time) {
	t.Helper()
	if err := s.Grant(context.Background(), subject, clientID, scopes, now); err != nil {
		t.Fatalf("Grant(%q, %q, %q, %v): %v", subject, clientID, scopes, now, err)
	}
}

func wantConsent(t *testing.T, s consent.Store, want consent.Consent) {
	t.Helper()
	got, err := s.Get(context.Background(), want.Subject, want.ClientID)
	if err != nil || !Same(got, want) {
		t.Errorf("Get(%q, %q) = %+v, %v\nwant %+v (GrantedAt to the nanosecond)", want.Subject, want.ClientID, got, err, want)
	}
}

func wantNotFound(t *testing.T, s consent.Store, subject, clientID string) {
	t.Helper()
	if got, err := s.Get(context.Background(), subject, clientID); !errors.Is(err, consent.ErrNotFound) {
		t.Errorf("Get(%q, %q) = %+v, %v; want ErrNotFound", subject, clientID, got, err)
	}
}

// step is one Grant of a test's sequence.
type step struct {
	scopes []string
	now    time.Time
}

// testGrant: the consent after a sequence of Grants, each through the
// other handle, for one subject and client.
func testGrant(t *testing.T, open Open) {
	a, b := open(t)
	// A time in another location: the store keeps the instant.
	paris := at(3*time.Second + 7).In(time.FixedZone("CET", 3600))
	tests := []struct {
		name     string
		clientID string // "" means "app"
		steps    []step
		scopes   []string
		at       time.Time
	}{
		// The first Grant.
		{"sorted and deduplicated", "", []step{{[]string{"b", "a:read", "b", "A"}, at(0)}},
			[]string{"A", "a:read", "b"}, at(0)},
		{"no scopes", "", []step{{nil, at(0)}}, nil, at(0)},
		{"every character of a scope-token", "", []step{{[]string{"~", scopeChars, "!"}, at(0)}},
			[]string{"!", scopeChars, "~"}, at(0)},
		{"the longest arguments", strings.Repeat("c", consent.MaxClientIDLen),
			[]step{{scopes(strings.Repeat("s", consent.MaxScopeLen-3), consent.MaxScopes), at(0)}},
			scopes(strings.Repeat("s", consent.MaxScopeLen-3), consent.MaxScopes), at(0)},
		{"a client ID metadata document's URL", "https://app.example/client.json?v='ü'",
			[]step{{[]string{"openid"}, at(0)}}, []string{"openid"}, at(0)},
		{"nanoseconds and locations", "", []step{{[]string{"a"}, paris}}, []string{"a"}, paris},

		// Grants again: the union, and the latest time.
		{"more scopes", "", []step{{[]string{"b"}, at(0)}, {[]string{"a", "c"}, at(time.Second)}},
			[]string{"a", "b", "c"}, at(time.Second)},
		{"fewer scopes keep the others", "", []step{{[]string{"a", "b"}, at(0)}, {[]string{"a"}, at(time.Second)}},
			[]string{"a", "b"}, at(time.Second)},
		{"the same scopes update GrantedAt", "", []step{{[]string{"a"}, at(0)}, {[]string{"a"}, at(time.Hour + 1)}},
			[]string{"a"}, at(time.Hour + 1)},
		{"no scopes update GrantedAt only", "", []step{{[]string{"a"}, at(0)}, {nil, at(time.Second)}},
			[]string{"a"}, at(time.Second)},
		{"scopes after none", "", []step{{nil, at(0)}, {[]string{"a"}, at(time.Second)}},
			[]string{"a"}, at(time.Second)},
		{"an earlier time keeps GrantedAt", "", []step{{[]string{"a"}, at(time.Minute)}, {[]string{"b"}, at(0)}},
			[]string{"a", "b"}, at(time.Minute)},
		{"a union of MaxScopes", "", []step{
			{scopes("a", consent.MaxScopes/2), at(0)}, {scopes("b", consent.MaxScopes/2), at(time.Second)},
		}, append(scopes("a", consent.MaxScopes/2), scopes("b", consent.MaxScopes/2)...), at(time.Second)},
		{"three Grants", "", []step{{[]string{"c"}, at(0)}, {[]string{"a"}, at(1)}, {[]string{"b", "c"}, at(2)}},
			[]string{"a", "b", "c"}, at(2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subject, clientID := NewSubject(), cmp.Or(tt.clientID, "app")
			handles := []consent.Store{a, b}
			for i, st := range tt.steps {
				grant(t, handles[i%2], subject, clientID, st.scopes, st.now)
			}
			want := consent.Consent{Subject: subject, ClientID: clientID, Scopes: tt.scopes, GrantedAt: tt.at}
			wantConsent(t, a, want)
			wantConsent(t, b, want)
		})
	}

	// A union of more than MaxScopes is refused, and changes nothing.
	t.Run("a union of more than MaxScopes", func(t *testing.T) {
		subject := NewSubject()
		grant(t, a, subject, "app", scopes("a", consent.MaxScopes), at(0))
		err := b.Grant(context.Background(), subject, "app", []string{"a000", "b"}, at(time.Second))
		if !errors.Is(err, consent.ErrInvalid) {
			t.Errorf("Grant = %v, want ErrInvalid", err)
		}
		wantConsent(t, a, consent.Consent{Subject: subject, ClientID: "app", Scopes: scopes("a", consent.MaxScopes), GrantedAt: at(0)})
	})
}

// testGet: a consent is found by its subject and client only, and the
// caller's copy is its own.
func testGet(t *testing.T, open Open) {
	a, b := open(t)
	alice, bob := NewSubject(), NewSubject()
	grant(t, a, alice, "app", []string{"a", "b"}, at(0))
	grant(t, a, bob, "other", []string{"c"}, at(0))
	for _, tt := range []struct{ name, subject, clientID string }{
		{"an unknown subject", NewSubject(), "app"},
		{"another client of the subject", alice, "other"},
		{"the client of another subject", bob, "app"},
		{"a client ID differing in case", alice, "APP"},
		{"a client ID with a trailing slash", alice, "app/"},
		{"a subject differing in case", strings.ToUpper(alice), "app"},
	} {
		t.Run(tt.name, func(t *testing.T) { wantNotFound(t, b, tt.subject, tt.clientID) })
	}

	t.Run("the caller's copy", func(t *testing.T) {
		c, err := b.Get(context.Background(), alice, "app")
		if err != nil {
			t.Fatal(err)
		}
		c.Scopes[0] = "changed"
		// And a Grant after the Get leaves the copy as it was.
		grant(t, a, alice, "app", []string{"0"}, at(time.Second))
		if !slices.Equal(c.Scopes, []string{"changed", "b"}) {
			t.Errorf("a Grant changed the scopes a Get returned before: %q", c.Scopes)
		}
		wantConsent(t, a, consent.Consent{Subject: alice, ClientID: "app", Scopes: []string{"0", "a", "b"}, GrantedAt: at(time.Second)})
	})
}

// testCovers: the consents a store returns cover what was granted, and
// nothing more.
func testCovers(t *testing.T, open Open) {
	a, b := open(t)
	subject := NewSubject()
	grant(t, a, subject, "app", []string{"read", "write"}, at(0))
	grant(t, a, subject, "bare", nil, at(0))
	for _, tt := range []struct {
		name     string
		clientID string
		scopes   []string
		want     bool
	}{
		{"all the scopes", "app", []string{"write", "read"}, true},
		{"one of them", "app", []string{"read"}, true},
		{"no scopes", "app", nil, true},
		{"duplicates", "app", []string{"read", "read"}, true},
		{"one more", "app", []string{"read", "admin"}, false},
		{"another scope only", "app", []string{"admin"}, false},
		{"a prefix of a scope", "app", []string{"rea"}, false},
		{"a consent to no scopes, asked for none", "bare", nil, true},
		{"a consent to no scopes, asked for one", "bare", []string{"read"}, false},
		{"no consent, asked for none", "unknown", nil, false},
		{"no consent, asked for one", "unknown", []string{"read"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := b.Get(context.Background(), subject, tt.clientID)
			if err != nil && !errors.Is(err, consent.ErrNotFound) {
				t.Fatal(err)
			}
			if got := consent.Covers(c, tt.scopes); got != tt.want {
				t.Errorf("Covers(%+v, %q) = %v, want %v", c, tt.scopes, got, tt.want)
			}
		})
	}
}

// testList: a subject's consents, the latest first, ties by client ID in
// byte order, at most the limit.
func testList(t *testing.T, open Open) {
	a, b := open(t)
	subject, other := NewSubject(), NewSubject()
	// Granted in an order that is neither the list's nor the clients'.
	grant(t, a, subject, "b-old", []string{"x"}, at(time.Second))
	grant(t, b, subject, "e-new", []string{"x"}, at(5*time.Second))
	grant(t, a, subject, "a-tie", []string{"x"}, at(3*time.Second))
	grant(t, b, subject, "B-tie", []string{"x"}, at(3*time.Second)) // 'B' < 'a' in byte order
	grant(t, a, subject, "c-tie", []string{"x"}, at(3*time.Second))
	grant(t, b, subject, "d-regranted", []string{"x"}, at(0))
	grant(t, a, subject, "d-regranted", []string{"y"}, at(4*time.Second))
	grant(t, b, other, "z-other", []string{"x"}, at(9*time.Second))
	all := []string{"e-new", "d-regranted", "B-tie", "a-tie", "c-tie", "b-old"}
	for _, tt := range []struct {
		name    string
		subject string
		limit   int
		want    []string
	}{
		{"no limit", subject, 0, all},
		{"a negative limit", subject, -1, all},
		{"a limit of 1", subject, 1, all[:1]},
		{"a limit within the ties", subject, 4, all[:4]},
		{"a limit of all", subject, len(all), all},
		{"a limit above all", subject, len(all) + 5, all},
		{"another subject", other, 0, []string{"z-other"}},
		{"a subject without consents", NewSubject(), 0, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			list, err := a.List(context.Background(), tt.subject, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range list {
				if c.Subject != tt.subject {
					t.Errorf("List(%q) returned a consent of %q", tt.subject, c.Subject)
				}
				got = append(got, c.ClientID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%q, %d) = %q, want %q", tt.subject, tt.limit, got, tt.want)
			}
		})
	}
	// The consents listed are whole.
	list, err := b.List(context.Background(), subject, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := consent.Consent{Subject: subject, ClientID: "d-regranted", Scopes: []string{"x", "y"}, GrantedAt: at(4 * time.Second)}
	if len(list) != 2 || !Same(list[1], want) {
		t.Errorf("List(2) = %+v, want %+v second", list, want)
	}
}

// testListDefaultLimit: no limit means DefaultListLimit.
func testListDefaultLimit(t *testing.T, open Open) {
	a, _ := open(t)
	subject := NewSubject()
	for i := range consent.DefaultListLimit + 1 {
		grant(t, a, subject, fmt.Sprintf("app%03d", i), nil, at(time.Duration(i)*time.Second))
	}
	list, err := a.List(context.Background(), subject, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != consent.DefaultListLimit || list[0].ClientID != fmt.Sprintf("app%03d", consent.DefaultListLimit) {
		t.Errorf("List without a limit returned %d consents, first %+v; want %d, the latest first",
			len(list), list[:min(1, len(list))], consent.DefaultListLimit)
	}
	if list, err := a.List(context.Background(), subject, consent.DefaultListLimit+1); err != nil || len(list) != consent.DefaultListLimit+1 {
		t.Errorf("List(DefaultListLimit + 1) returned %d consents, %v", len(list), err)
	}
}

// testRevoke: Revoke deletes one consent, reports whether there was one,
// and touches no other.
func testRevoke(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	alice, bob := NewSubject(), NewSubject()
	keep := []consent.Consent{
		{Subject: alice, ClientID: "other", Scopes: []string{"b"}, GrantedAt: at(0)},
		{Subject: bob, ClientID: "app", Scopes: []string{"c"}, GrantedAt: at(0)},
	}
	grant(t, a, alice, "app", []string{"a"}, at(0))
	for _, c := range keep {
		grant(t, a, c.Subject, c.ClientID, c.Scopes, c.GrantedAt)
	}
	for _, tt := range []struct {
		name              string
		subject, clientID string
		want              bool
	}{
		{"a consent", alice, "app", true},
		{"the same again", alice, "app", false},
		{"an unknown client", alice, "unknown", false},
		{"an unknown subject", NewSubject(), "app", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := b.Revoke(ctx, tt.subject, tt.clientID); got != tt.want || err != nil {
				t.Errorf("Revoke(%q, %q) = %v, %v; want %v", tt.subject, tt.clientID, got, err, tt.want)
			}
			wantNotFound(t, a, tt.subject, tt.clientID)
			for _, c := range keep {
				wantConsent(t, a, c)
			}
		})
	}
	// A Grant after a Revoke starts afresh: the revoked scopes stay
	// revoked, and GrantedAt is the new Grant's, even an earlier one.
	grant(t, a, alice, "app", []string{"d"}, at(-time.Second))
	wantConsent(t, b, consent.Consent{Subject: alice, ClientID: "app", Scopes: []string{"d"}, GrantedAt: at(-time.Second)})
}

// testRevokeSubject: RevokeSubject deletes every consent of one subject,
// and counts them.
func testRevokeSubject(t *testing.T, open Open) {
	a, b := open(t)
	ctx := context.Background()
	alice, bob := NewSubject(), NewSubject()
	for _, clientID := range []string{"app1", "app2", "app3"} {
		grant(t, a, alice, clientID, []string{"a"}, at(0))
	}
	kept := consent.Consent{Subject: bob, ClientID: "app1", Scopes: []string{"a"}, GrantedAt: at(0)}
	grant(t, a, kept.Subject, kept.ClientID, kept.Scopes, kept.GrantedAt)
	for _, tt := range []struct {
		name    string
		subject string
		want    int
	}{
		{"a subject with three consents", alice, 3},
		{"the same again", alice, 0},
		{"an unknown subject", NewSubject(), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := b.RevokeSubject(ctx, tt.subject); got != tt.want || err != nil {
				t.Errorf("RevokeSubject(%q) = %d, %v; want %d", tt.subject, got, err, tt.want)
			}
			if list, err := a.List(ctx, tt.subject, 0); len(list) != 0 || err != nil {
				t.Errorf("List after RevokeSubject = %+v, %v; want none", list, err)
			}
			wantConsent(t, a, kept)
		})
	}
}

// testInvalid: arguments Check refuses are refused with ErrInvalid before
// any store access (so even with a context canceled already, which fails
// any access), and change nothing.
func testInvalid(t *testing.T, open Open) {
	a, _ := open(t)
	subject := NewSubject()
	grant(t, a, subject, "app", []string{"a"}, at(0))
	kept := consent.Consent{Subject: subject, ClientID: "app", Scopes: []string{"a"}, GrantedAt: at(0)}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	// Grant with one bad argument among good ones: the good scopes are not
	// recorded either.
	g := func(subject, clientID string, scopes ...string) func(context.Context) error {
		return func(ctx context.Context) error {
			return a.Grant(ctx, subject, clientID, append([]string{"fine"}, scopes...), at(time.Second))
		}
	}
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		// Subjects, on every method.
		{"Grant: an empty subject", g("", "app")},
		{"Grant: a subject too long", g(strings.Repeat("s", consent.MaxSubjectLen+1), "app")},
		{"Grant: a subject not UTF-8", g("usr\xff", "app")},
		{"Grant: a subject with NUL", g("usr\x00", "app")},
		{"Get: an empty subject", func(ctx context.Context) error { _, err := a.Get(ctx, "", "app"); return err }},
		{"Get: a subject with NUL", func(ctx context.Context) error { _, err := a.Get(ctx, subject+"\x00", "app"); return err }},
		{"List: an empty subject", func(ctx context.Context) error { _, err := a.List(ctx, "", 0); return err }},
		{"List: a subject not UTF-8", func(ctx context.Context) error { _, err := a.List(ctx, "\xc3", 0); return err }},
		{"Revoke: a subject too long", func(ctx context.Context) error {
			_, err := a.Revoke(ctx, strings.Repeat("é", 128), "app")
			return err
		}},
		{"RevokeSubject: an empty subject", func(ctx context.Context) error { _, err := a.RevokeSubject(ctx, ""); return err }},
		{"RevokeSubject: a subject with NUL", func(ctx context.Context) error {
			_, err := a.RevokeSubject(ctx, subject+"\x00")
			return err
		}},

		// Client IDs.
		{"Grant: an empty client ID", g(subject, "")},
		{"Grant: a client ID too long", g(subject, "https://app.example/"+strings.Repeat("c", consent.MaxClientIDLen-19))},
		{"Grant: a client ID not UTF-8", g(subject, "app\x80")},
		{"Get: an empty client ID", func(ctx context.Context) error { _, err := a.Get(ctx, subject, ""); return err }},
		{"Get: a client ID with NUL", func(ctx context.Context) error { _, err := a.Get(ctx, subject, "app\x00"); return err }},
		{"Revoke: an empty client ID", func(ctx context.Context) error { _, err := a.Revoke(ctx, subject, ""); return err }},
		{"Revoke: a client ID with NUL", func(ctx context.Context) error {
			_, err := a.Revoke(ctx, subject, "app\x00")
			return err
		}},

		// Scopes.
		{"Grant: an empty scope", g(subject, "app", "")},
		{"Grant: a space-separated scope string", g(subject, "app", "a b")},
		{"Grant: a quote", g(subject, "app", `a"`)},
		{"Grant: a backslash", g(subject, "app", `a\`)},
		{"Grant: DEL", g(subject, "app", "a\x7f")},
		{"Grant: a control character", g(subject, "app", "a\n")},
		{"Grant: NUL", g(subject, "app", "a\x00")},
		{"Grant: non-ASCII", g(subject, "app", "é")},
		{"Grant: a scope too long", g(subject, "app", strings.Repeat("s", consent.MaxScopeLen+1))},
		{"Grant: too many scopes", g(subject, "app", scopes("s", consent.MaxScopes)...)},
		{"Grant: too many duplicates", g(subject, "app", slices.Repeat([]string{"fine"}, consent.MaxScopes)...)},

		// Times.
		{"Grant: the zero time", func(ctx context.Context) error {
			return a.Grant(ctx, subject, "app", []string{"fine"}, time.Time{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, ctx := range []context.Context{context.Background(), canceled} {
				if err := tt.call(ctx); !errors.Is(err, consent.ErrInvalid) {
					t.Errorf("err = %v, want ErrInvalid (context canceled: %v)", err, ctx.Err() != nil)
				}
			}
			wantConsent(t, a, kept)
		})
	}
}

// testUnavailable: a store that cannot answer (here, for a canceled
// context) says neither ErrNotFound nor ErrInvalid, so that the caller
// answers 503, and changes nothing.
func testUnavailable(t *testing.T, open Open) {
	a, _ := open(t)
	subject := NewSubject()
	grant(t, a, subject, "app", []string{"a"}, at(0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"Grant", func() error { return a.Grant(ctx, subject, "app", []string{"b"}, at(time.Second)) }},
		{"Get", func() error { _, err := a.Get(ctx, subject, "app"); return err }},
		{"Get of an unknown consent", func() error { _, err := a.Get(ctx, subject, "unknown"); return err }},
		{"List", func() error { _, err := a.List(ctx, subject, 0); return err }},
		{"Revoke", func() error { _, err := a.Revoke(ctx, subject, "app"); return err }},
		{"RevokeSubject", func() error { _, err := a.RevokeSubject(ctx, subject); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || errors.Is(err, consent.ErrNotFound) || errors.Is(err, consent.ErrInvalid) {
				t.Errorf("err = %v, want a failure of the store", err)
			}
			wantConsent(t, a, consent.Consent{Subject: subject, ClientID: "app", Scopes: []string{"a"}, GrantedAt: at(0)})
		})
	}
}

// testConcurrentGrant: concurrent Grants of different scopes for one
// subject and client, on both handles, lose none of them, whether the
// consent exists already or not; GrantedAt is the latest of their times.
func testConcurrentGrant(t *testing.T, open Open) {
	a, b := open(t)
	const rounds, n = 10, 8
	for round := range rounds {
		subject := NewSubject()
		var want []string
		if round%2 == 1 { // the odd rounds add to an existing consent
			grant(t, a, subject, "app", []string{"first"}, at(0))
			want = append(want, "first")
		}
		var wg sync.WaitGroup
		for i := range n {
			s := []consent.Store{a, b}[i%2]
			scope := fmt.Sprintf("s%02d", i)
			want = append(want, scope)
			wg.Go(func() {
				// Each its own scope and one they share; the latest time
				// is not the last goroutine's.
				now := at(time.Duration((i+3)%n+1) * time.Millisecond)
				if err := s.Grant(context.Background(), subject, "app", []string{scope, "shared"}, now); err != nil {
					t.Errorf("concurrent Grant: %v", err)
				}
			})
		}
		wg.Wait()
		want = append(want, "shared")
		slices.Sort(want)
		wantConsent(t, b, consent.Consent{Subject: subject, ClientID: "app", Scopes: want, GrantedAt: at(n * time.Millisecond)})
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
	}
}
