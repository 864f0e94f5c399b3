package endpoint

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkClientAddr: the client address behind trusted proxies, from
// a usual header and from attacker-sized ones (64 KiB, the walk stops at
// the first untrusted entry from the right; a Forwarded line is parsed
// whole).
func BenchmarkClientAddr(b *testing.B) {
	big := strings.Repeat("198.51.100.1, ", 64<<10/14)
	for _, bc := range []struct {
		name, header, line string
	}{
		{"XFF/one proxy", HeaderXForwardedFor, "203.0.113.9"},
		{"XFF/three hops", HeaderXForwardedFor, "192.0.2.1, 203.0.113.9, 10.0.0.2"},
		{"XFF/64KiB", HeaderXForwardedFor, big + "203.0.113.9"},
		{"Forwarded/one proxy", HeaderForwarded, `for=203.0.113.9;proto=https`},
		{"Forwarded/IPv6", HeaderForwarded, `for="[2001:db8:cafe::17]:4711"`},
		{"Forwarded/64KiB", HeaderForwarded, strings.Repeat("for=198.51.100.1, ", 64<<10/18) + "for=203.0.113.9"},
		{"Forwarded/64KiB malformed", HeaderForwarded, `for="` + big},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := clientAddrs{trusted: testTrusted, header: bc.header}
			r := &http.Request{RemoteAddr: "10.0.0.1:1234", Header: http.Header{bc.header: {bc.line}}}
			b.ReportAllocs()
			for b.Loop() {
				c.clientAddr(r)
			}
		})
	}
}

// BenchmarkThrottleRefusal: what a request over its address budget costs
// the server, from the handler's start to the 429 written (the flood's
// requests, nearly all of them).
func BenchmarkThrottleRefusal(b *testing.B) {
	th, err := NewThrottle(ThrottleConfig{Address: Rate{Burst: 1, Every: time.Hour}})
	if err != nil {
		b.Fatal(err)
	}
	h := th.Limit(http.NotFoundHandler())
	r := httptest.NewRequest("POST", "/auth/login", nil)
	r.RemoteAddr = "203.0.113.9:4321"
	h.ServeHTTP(httptest.NewRecorder(), r) // spends the one token
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusTooManyRequests {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkMemoryLimiter: a take of a held key, and of new keys with the
// table full (an eviction each).
func BenchmarkMemoryLimiter(b *testing.B) {
	r := Rate{Burst: 10, Every: 6 * time.Second}
	b.Run("held", func(b *testing.B) {
		l, _ := NewMemoryLimiter(MemoryLimiterConfig{})
		b.ReportAllocs()
		for b.Loop() {
			l.Take(context.Background(), "u:alice", r)
		}
	})
	b.Run("new keys, table full", func(b *testing.B) {
		l, _ := NewMemoryLimiter(MemoryLimiterConfig{MaxKeys: 1000})
		keys := make([]string, 100000)
		for i := range keys {
			keys[i] = "u:" + strconv.Itoa(i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l.Take(context.Background(), keys[i%len(keys)], r)
			i++
		}
	})
}
