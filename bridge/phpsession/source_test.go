package phpsession_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/bridge/phpsession"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
)

var _ middleware.SessionSource = (*phpsession.Source)(nil)

// memStore is a Store in memory.
type memStore struct {
	data    map[string]string
	expires time.Time
	down    bool
	reads   []string
}

func (m *memStore) Read(_ context.Context, id string, limit int) ([]byte, time.Time, error) {
	m.reads = append(m.reads, id)
	if m.down {
		return nil, time.Time{}, fmt.Errorf("%w: down", identity.ErrUnavailable)
	}
	d, ok := m.data[id]
	switch {
	case !ok:
		return nil, time.Time{}, phpsession.ErrNoSession
	case len(d) > limit:
		return nil, time.Time{}, phpsession.ErrLimit
	}
	return []byte(d), m.expires, nil
}

func TestSource(t *testing.T) {
	exp := mtime.Add(time.Hour)
	store := &memStore{expires: exp, data: map[string]string{
		sid:                           `user_id|i:42;roles|a:1:{i:0;s:5:"admin";}`,
		"visitor0123456789012345678":  `cart|a:0:{}`,
		"string0123456789012345678":   `user_id|s:7:"usr_ann";`,
		"empty0123456789012345678901": `user_id|s:0:"";`,
		"float012345678901234567890":  `user_id|d:4.2;`,
		"corrupt012345678901234567":   `user_id|i:42`,
		"serialized01234567890123456": `a:1:{s:7:"user_id";i:42;}`,
		"big012345678901234567890123": `user_id|s:2000:"` + strings.Repeat("x", 2000) + `";`,
		"short":                       `user_id|i:1;`,
	}}
	src, err := phpsession.New(store, phpsession.Config{
		Principal: phpsession.UserID("user_id"),
		Scopes:    []string{"widgets:read"},
		Issuer:    "https://api.example",
		Limits:    phpsession.Limits{MaxBytes: 1024},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := src.Session(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	want := identity.Principal{Subject: "42", Issuer: "https://api.example", Method: identity.Session,
		Scopes: []string{"widgets:read"}, ExpiresAt: exp,
		Claims: arr("user_id", int64(42), "roles", arr(0, "admin"))}
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("Session = %+v, want %+v", *p, want)
	}
	if p, err := src.Session(ctx, "string0123456789012345678"); err != nil || p.Subject != "usr_ann" {
		t.Fatalf("a string id: %+v, %v", p, err)
	}

	for _, tc := range []struct {
		name, id string
		want     error
	}{
		{"unknown", "unknown0123456789012345678", phpsession.ErrNoSession},
		{"nobody logged in", "visitor0123456789012345678", phpsession.ErrNoSession},
		{"an empty user id", "empty0123456789012345678901", phpsession.ErrNoSession},
		{"a float user id", "float012345678901234567890", phpsession.ErrNoSession},
		{"corrupt data", "corrupt012345678901234567", phpsession.ErrSyntax},
		{"the other format", "serialized01234567890123456", phpsession.ErrSyntax},
		{"over the limit", "big012345678901234567890123", phpsession.ErrLimit},
		{"shorter than MinIDLength", "short", phpsession.ErrNoSession},
		{"a character PHP never uses", "q8mv0s3c5dd1l6tbg8a2u7k0r_", phpsession.ErrNoSession},
		{"a path", "../../../../etc/passwd", phpsession.ErrNoSession},
		{"longer than PHP's", strings.Repeat("a", 257), phpsession.ErrNoSession},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store.reads = nil
			p, err := src.Session(ctx, tc.id)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Session(%q) = %+v, %v; want %v", tc.id, p, err, tc.want)
			}
			if !phpsession.ValidID(tc.id) || len(tc.id) < phpsession.DefaultMinIDLength {
				if len(store.reads) != 0 {
					t.Fatalf("the store was asked for %q", tc.id)
				}
			}
		})
	}

	store.down = true
	if _, err := src.Session(ctx, sid); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("store down: %v", err)
	}
}

// TestSourcePrincipal: what the mapping sets stands; the source fills in
// the rest, and the earlier expiry wins.
func TestSourcePrincipal(t *testing.T) {
	exp := mtime.Add(time.Hour)
	store := &memStore{expires: exp, data: map[string]string{sid: `uid|i:7;`}}
	mine := []string{"mine"}
	for _, tc := range []struct {
		name   string
		p      identity.Principal
		expect func(*identity.Principal) bool
	}{
		{"earlier expiry", identity.Principal{Subject: "7", ExpiresAt: exp.Add(-time.Minute)},
			func(p *identity.Principal) bool { return p.ExpiresAt.Equal(exp.Add(-time.Minute)) }},
		{"later expiry", identity.Principal{Subject: "7", ExpiresAt: exp.Add(time.Minute)},
			func(p *identity.Principal) bool { return p.ExpiresAt.Equal(exp) }},
		{"own scopes, issuer and claims", identity.Principal{Subject: "7", Scopes: mine, Issuer: "legacy", Claims: "c"},
			func(p *identity.Principal) bool {
				return reflect.DeepEqual(p.Scopes, mine) && p.Issuer == "legacy" && p.Claims == "c"
			}},
		{"method overruled", identity.Principal{Subject: "7", Method: identity.JWT},
			func(p *identity.Principal) bool { return p.Method == identity.Session }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := phpsession.New(store, phpsession.Config{
				Principal: func(phpsession.Array) (*identity.Principal, error) { p := tc.p; return &p, nil },
				Scopes:    []string{"default"}, Issuer: "iss",
			})
			if err != nil {
				t.Fatal(err)
			}
			p, err := src.Session(context.Background(), sid)
			if err != nil || !tc.expect(p) {
				t.Fatalf("Session = %+v, %v", p, err)
			}
		})
	}
	src, _ := phpsession.New(store, phpsession.Config{Principal: func(phpsession.Array) (*identity.Principal, error) { return nil, nil }})
	if _, err := src.Session(context.Background(), sid); !errors.Is(err, phpsession.ErrNoSession) {
		t.Fatalf("a nil principal: %v", err)
	}
}

func TestUserID(t *testing.T) {
	vars := arr("user_id", int64(42), "name", "ann", "_sf2_attributes", arr("user_id", "usr_7", "n", int64(-1)), "list", arr(0, "x"))
	for _, tc := range []struct {
		path []string
		want string
	}{
		{[]string{"user_id"}, "42"},
		{[]string{"name"}, "ann"},
		{[]string{"_sf2_attributes", "user_id"}, "usr_7"},
		{[]string{"_sf2_attributes", "n"}, "-1"},
		{[]string{"list", "0"}, "x"},
		{[]string{"missing"}, ""},
		{[]string{"user_id", "deeper"}, ""},
		{[]string{"_sf2_attributes"}, ""},
	} {
		p, err := phpsession.UserID(tc.path...)(vars)
		switch {
		case tc.want == "" && !errors.Is(err, phpsession.ErrNoSession):
			t.Errorf("UserID(%q) = %+v, %v; want ErrNoSession", tc.path, p, err)
		case tc.want != "" && (err != nil || p.Subject != tc.want):
			t.Errorf("UserID(%q) = %+v, %v; want %s", tc.path, p, err, tc.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("UserID() without a path did not panic")
		}
	}()
	phpsession.UserID()
}

func TestNew(t *testing.T) {
	m := phpsession.UserID("user_id")
	for _, tc := range []struct {
		name  string
		store phpsession.Store
		cfg   phpsession.Config
	}{
		{"no store", nil, phpsession.Config{Principal: m}},
		{"no mapping", &memStore{}, phpsession.Config{}},
		{"unknown format", &memStore{}, phpsession.Config{Principal: m, Format: "php_binary"}},
		{"MinIDLength over 256", &memStore{}, phpsession.Config{Principal: m, MinIDLength: 257}},
		{"negative MinIDLength", &memStore{}, phpsession.Config{Principal: m, MinIDLength: -1}},
	} {
		if _, err := phpsession.New(tc.store, tc.cfg); err == nil {
			t.Errorf("%s: New accepted", tc.name)
		}
	}
}

func TestSourceDestroy(t *testing.T) {
	src, _ := phpsession.New(&memStore{}, phpsession.Config{Principal: phpsession.UserID("u")})
	if err := src.Destroy(context.Background(), sid); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("a store without Destroy: %v, want errors.ErrUnsupported (the exchange then clears the cookie only)", err)
	}
}
