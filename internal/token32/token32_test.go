package token32_test

import (
	"strings"
	"testing"

	"github.com/sessionless/sessionless/internal/token32"
)

func TestToken32(t *testing.T) {
	a, b := token32.New("x_"), token32.New("x_")
	if a == b || !strings.HasPrefix(a, "x_") || !token32.Valid(a[2:]) {
		t.Fatalf("%q %q", a, b)
	}
	for s, ok := range map[string]bool{
		strings.Repeat("A", 43):       true,
		strings.Repeat("A", 42) + "E": true,  // low bits zero
		strings.Repeat("A", 42) + "B": false, // not canonical
		strings.Repeat("A", 42):       false,
		strings.Repeat("A", 44):       false,
		strings.Repeat("A", 42) + "=": false,
		strings.Repeat("A", 42) + "+": false,
	} {
		if token32.Valid(s) != ok {
			t.Errorf("Valid(%q) = %v", s, !ok)
		}
	}
}
