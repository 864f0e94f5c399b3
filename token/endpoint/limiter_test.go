package endpoint_test

import (
	"testing"
	"time"

	"github.com/sessionless/sessionless/token/endpoint"
	"github.com/sessionless/sessionless/token/endpoint/limitertest"
)

// TestMemoryLimiterConformance: the in-process limiter passes the suite
// every Limiter passes (redisthrottle runs it on Redis).
func TestMemoryLimiterConformance(t *testing.T) {
	limitertest.Run(t, func(t *testing.T, now func() time.Time) (endpoint.Limiter, endpoint.Limiter) {
		l, err := endpoint.NewMemoryLimiter(endpoint.MemoryLimiterConfig{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return l, l
	})
}
