package token

import (
	"net/http"
	"strconv"
	"time"

	"github.com/sessionless/sessionless/internal/httpx"
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
			httpx.WriteOAuthError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET or HEAD")
			return
		}
		set := keys.KeySet()
		w.Header().Set("ETag", set.etag)
		if r.Header.Get("If-None-Match") == set.etag {
			w.Header().Set("Cache-Control", cacheControl)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		httpx.Write(w, r, http.StatusOK, "application/jwk-set+json", cacheControl, set.jwks)
	})
}
