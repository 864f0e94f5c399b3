package authcode_test

import (
	"testing"

	"github.com/sessionless/sessionless/token/authcode"
	"github.com/sessionless/sessionless/token/authcode/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b authcode.Store) {
		s := new(authcode.MemoryStore) // the zero value is ready
		return s, s
	})
}
