package revocation_test

import (
	"testing"

	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/revocation/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b revocation.Store) {
		s := revocation.NewMemoryStore()
		return s, s
	})
}

func BenchmarkPropagationMemory(b *testing.B) {
	storetest.BenchmarkPropagation(b, func(b *testing.B) (a, c revocation.Store) {
		s := revocation.NewMemoryStore()
		return s, s
	})
}
