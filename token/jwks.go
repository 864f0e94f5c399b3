package token

import (
	"net/http"
	"strconv"
	"time"
)

// JWKSHandler serves the public keys of keys as a JWK Set (RFC 7517),
// for GET and HEAD, with Cache-Control "public, max-age=…" and an ETag.
// maxAge 0 means 5 minutes. Publish a new key at least maxAge before
// signing with it (see [KeySet]).
func JWKSHandler(keys KeySource, maxAge time.Duration) http.Handler {
	if maxAge <= 0 {
		maxAge = 5 * time.Minute
	}
	cacheControl := "public, max-age=" + strconv.Itoa(int(maxAge/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		set := keys.KeySet()
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", cacheControl)
		h.Set("ETag", set.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Header.Get("If-None-Match") == set.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(set.jwks)))
		if r.Method == http.MethodGet {
			w.Write(set.jwks)
		}
	})
}
