package demo

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	ctx := context.Background()
	pw, err := newPasswords(cheapArgon2)
	if err != nil {
		t.Fatal(err)
	}
	h, err := pw.hash(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	phcRE := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phcRE.MatchString(h) {
		t.Fatalf("hash %q is not in PHC format", h)
	}
	if h2, _ := pw.hash(ctx, testPassword); h2 == h {
		t.Error("two hashes of a password are equal: no random salt")
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{{testPassword, true}, {testPassword + " ", false}, {"", false}, {strings.ToUpper(testPassword), false}} {
		if ok, err := pw.verify(ctx, h, tt.password); err != nil || ok != tt.want {
			t.Errorf("verify(%q) = %v, %v; want %v", tt.password, ok, err, tt.want)
		}
	}
	if err := pw.verifyDummy(ctx, testPassword); err != nil {
		t.Error(err)
	}

	// A hash keeps its own parameters: one made with other costs verifies.
	other, err := newPasswords(argon2Params{memory: 128, time: 2, threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	h3, _ := other.hash(ctx, testPassword)
	if !strings.HasPrefix(h3, "$argon2id$v=19$m=128,t=2,p=2$") {
		t.Errorf("hash %q", h3)
	}
	if ok, err := pw.verify(ctx, h3, testPassword); !ok || err != nil {
		t.Errorf("verify with other parameters = %v, %v", ok, err)
	}
}

func TestDefaultArgon2IsRFC9106(t *testing.T) {
	if defaultArgon2 != (argon2Params{memory: 64 * 1024, time: 3, threads: 4}) {
		t.Errorf("defaultArgon2 = %+v", defaultArgon2)
	}
	got := encodeHash(defaultArgon2, make([]byte, saltLen), make([]byte, hashLen))
	if !strings.HasPrefix(got, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("encoded = %q", got)
	}
	if p, _, _, err := decodeHash(got); err != nil || p != defaultArgon2 {
		t.Errorf("decodeHash = %+v, %v", p, err)
	}
}

func TestDecodeHashRejects(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	good := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, _, _, err := decodeHash(good); err != nil {
		t.Fatalf("%s: %v", good, err)
	}
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
		if _, _, _, err := decodeHash(bad); err == nil {
			t.Errorf("decodeHash(%q) succeeded", bad)
		}
		pw, _ := newPasswords(cheapArgon2)
		if ok, err := pw.verify(context.Background(), bad, "x"); ok || err == nil {
			t.Errorf("verify(%q) = %v, %v", bad, ok, err)
		}
	}
}

func TestPasswordsHonourCancellation(t *testing.T) {
	pw, err := newPasswords(cheapArgon2)
	if err != nil {
		t.Fatal(err)
	}
	for range maxConcurrentHashes {
		pw.sem <- struct{}{} // every slot busy
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pw.hash(ctx, "x"); err == nil {
		t.Error("hash did not give up on a cancelled context")
	}
	if err := pw.verifyDummy(ctx, "x"); err == nil {
		t.Error("verify did not give up on a cancelled context")
	}
}

func TestNewPasswordsRejectsBadParameters(t *testing.T) {
	for _, p := range []argon2Params{{memory: 64, time: 0, threads: 1}, {memory: 4, time: 1, threads: 1}, {memory: 64, time: 1}} {
		if _, err := newPasswords(p); err == nil {
			t.Errorf("newPasswords(%+v) succeeded", p)
		}
	}
}
