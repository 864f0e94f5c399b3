package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
)

// BenchmarkSession is a request authenticated by its session cookie:
// served from the cache, and read from the source every time.
func BenchmarkSession(b *testing.B) {
	for _, bc := range []struct {
		name string
		age  int // CacheAge in seconds; negative: off
	}{{"cached", 10}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			src := &sessions{m: map[string]*identity.Principal{sessionValue: {Subject: "legacy-1", Scopes: []string{"widgets:read"}}}}
			a, err := middleware.New(middleware.Config{
				Session: middleware.SessionConfig{CookieName: "PHPSESSID", Source: src, CacheAge: secondsOf(bc.age)},
				Now:     func() time.Time { return now },
			})
			if err != nil {
				b.Fatal(err)
			}
			h := a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			r := httptest.NewRequest("POST", "/", nil)
			r.Header.Set("Cookie", "PHPSESSID="+sessionValue)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			if w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
		})
	}
}

func secondsOf(n int) time.Duration { return time.Duration(n) * time.Second }
