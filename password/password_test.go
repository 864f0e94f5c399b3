package password

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

const testPassword = "correct horse battery staple"

var cheap = Config{Params: Params{Memory: 64, Time: 1, Threads: 1}}

func TestHashRoundTrip(t *testing.T) {
	ctx := context.Background()
	h, err := New(cheap)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.Hash(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	phcRE := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phcRE.MatchString(enc) {
		t.Fatalf("hash %q is not in PHC format", enc)
	}
	if enc2, _ := h.Hash(ctx, testPassword); enc2 == enc {
		t.Error("two hashes of a password are equal: no random salt")
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{{testPassword, true}, {testPassword + " ", false}, {"", false}, {strings.ToUpper(testPassword), false}} {
		if ok, err := h.Verify(ctx, enc, tt.password); err != nil || ok != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.password, ok, err, tt.want)
		}
	}
	before := h.Verifications()
	if err := h.VerifyNone(ctx, testPassword); err != nil || h.Verifications() != before+1 {
		t.Errorf("VerifyNone: %v, %d verifications", err, h.Verifications()-before)
	}

	// A hash keeps its own parameters: one made with other costs verifies.
	other, err := New(Config{Params: Params{Memory: 128, Time: 2, Threads: 2}})
	if err != nil {
		t.Fatal(err)
	}
	enc3, _ := other.Hash(ctx, testPassword)
	if !strings.HasPrefix(enc3, "$argon2id$v=19$m=128,t=2,p=2$") {
		t.Errorf("hash %q", enc3)
	}
	if ok, err := h.Verify(ctx, enc3, testPassword); !ok || err != nil {
		t.Errorf("Verify with other parameters = %v, %v", ok, err)
	}
}

func TestDefaultParamsAreRFC9106(t *testing.T) {
	if DefaultParams != (Params{Memory: 64 * 1024, Time: 3, Threads: 4}) {
		t.Errorf("DefaultParams = %+v", DefaultParams)
	}
	got := encode(DefaultParams, make([]byte, saltLen), make([]byte, hashLen))
	if !strings.HasPrefix(got, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("encoded = %q", got)
	}
	if p, _, _, err := decode(got); err != nil || p != DefaultParams {
		t.Errorf("decode = %+v, %v", p, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	good := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, _, _, err := decode(good); err != nil {
		t.Fatalf("%s: %v", good, err)
	}
	h, _ := New(cheap)
	for _, bad := range []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=4,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=300$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:10],
		"$argon2id$v=19$m=64,t=1,p=1$$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "!",
	} {
		if _, _, _, err := decode(bad); err == nil {
			t.Errorf("decode(%q) succeeded", bad)
		}
		if ok, err := h.Verify(context.Background(), bad, "x"); ok || err != ErrMalformedHash {
			t.Errorf("Verify(%q) = %v, %v", bad, ok, err)
		}
	}
}

func TestHonoursCancellation(t *testing.T) {
	h, err := New(cheap)
	if err != nil {
		t.Fatal(err)
	}
	for range DefaultMaxConcurrent {
		h.sem <- struct{}{} // every slot busy
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "x"); err == nil {
		t.Error("Hash did not give up on a cancelled context")
	}
	if err := h.VerifyNone(ctx, "x"); err == nil {
		t.Error("Verify did not give up on a cancelled context")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Params: Params{Memory: 64, Time: 0, Threads: 1}},
		{Params: Params{Memory: 4, Time: 1, Threads: 1}},
		{Params: Params{Memory: 64, Time: 1}},
		{Params: Params{Memory: MaxMemory + 1, Time: 1, Threads: 1}},
		{MaxConcurrent: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
