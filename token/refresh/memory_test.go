package refresh_test

import (
	"testing"

	"github.com/sessionless/sessionless/token/refresh"
	"github.com/sessionless/sessionless/token/refresh/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b refresh.Store) {
		s := refresh.NewMemoryStore()
		return s, s
	})
}
