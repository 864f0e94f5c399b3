package consent_test

import (
	"testing"

	"github.com/sessionless/sessionless/token/consent"
	"github.com/sessionless/sessionless/token/consent/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b consent.Store) {
		s := new(consent.MemoryStore) // the zero value is ready
		return s, s
	})
}
