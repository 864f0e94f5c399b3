package dpop

import "testing"

// FuzzNormalURL: htu comes from the client. Normalising never panics, is
// idempotent, and a URL equals itself.
func FuzzNormalURL(f *testing.F) {
	for _, s := range []string{"https://api.example/api/widgets", "HTTPS://API.example:443/a/./b/../%7e%2f|x?q#f",
		"http://[::1]:80/%2E%2E/", "https://a/caf\xc3\xa9;x", "https://a", "https://a/%", "https://a/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := normalURL(s)
		if !ok {
			return
		}
		if again, ok := normalURL(n); !ok || again != n {
			t.Fatalf("normalURL(%q) = %q, and again %q, %v", s, n, again, ok)
		}
		if !sameURL(s, s) {
			t.Fatalf("%q is not the same URL as itself", s)
		}
	})
}
