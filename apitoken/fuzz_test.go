package apitoken_test

import (
	"context"
	"errors"
	"hash/crc32"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/apitoken"
)

var shape = regexp.MustCompile(`^sl_[0-9A-Za-z]{36}$`)

// wellFormed is an oracle for Check written another way: a regular
// expression, and the checksum through math/big (whose base-62 digits put
// the lower-case letters first: swap the case).
func wellFormed(raw string) bool {
	if !shape.MatchString(raw) {
		return false
	}
	secret := raw[3 : 3+apitoken.SecretLen]
	sum := big.NewInt(int64(crc32.ChecksumIEEE([]byte(secret)))).Text(62)
	sum = strings.Repeat("0", apitoken.ChecksumLen-len(sum)) + sum
	swapped := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, sum)
	return raw[3+apitoken.SecretLen:] == swapped
}

// FuzzCheck: Check accepts exactly the well-formed tokens, and
// Authenticate never panics nor reaches the store with anything else.
func FuzzCheck(f *testing.F) {
	m, err := apitoken.New(apitoken.Config{Store: apitoken.NewMemoryStore(), SubjectIssuer: ownerIssuer})
	if err != nil {
		f.Fatal(err)
	}
	defer m.Close()
	p := user("alice")
	for range 4 {
		raw, _, err := m.CreateFor(context.Background(), p, apitoken.CreateRequest{Name: "seed"})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		f.Add(raw[:len(raw)-1] + "0")
		f.Add(strings.ToUpper(raw))
	}
	f.Add("")
	f.Add("sl_")
	f.Add("sl_000000000000000000000000000000000000")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.x")
	f.Fuzz(func(t *testing.T, raw string) {
		err := apitoken.Check("sl_", raw)
		if want := wellFormed(raw); (err == nil) != want {
			t.Fatalf("Check(%q) = %v, oracle says well-formed = %v", raw, err, want)
		}
		if err != nil && !errors.Is(err, apitoken.ErrMalformed) {
			t.Fatalf("Check(%q) = %v, not ErrMalformed", raw, err)
		}
		_, aerr := m.Authenticate(context.Background(), raw)
		switch {
		case err != nil && !errors.Is(aerr, apitoken.ErrMalformed):
			t.Fatalf("Authenticate(%q) = %v for a malformed token", raw, aerr)
		case err == nil && aerr != nil && !errors.Is(aerr, apitoken.ErrNotFound):
			t.Fatalf("Authenticate(%q) = %v", raw, aerr)
		}
	})
}
