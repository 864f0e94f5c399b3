package clients_test

import (
	"testing"

	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/clients/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b clients.Store) {
		s := clients.NewMemoryStore()
		return s, s
	})
	storetest.Run(t, func(t *testing.T) (a, b clients.Store) {
		s := new(clients.MemoryStore) // the zero value is ready
		return s, s
	})
}
