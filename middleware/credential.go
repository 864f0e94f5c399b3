package middleware

import (
	"fmt"
	"net/http"
	"strings"
)

// credential finds the one bearer token of r (RFC 6750 §2): in the
// Authorization header, and, when enabled, in a cookie or a query
// parameter. A token in two places, two Authorization headers, or a
// malformed header is ErrInvalidRequest; no token at all is
// ErrNoCredentials. Sizes are checked before anything is parsed.
func (a *Authenticator) credential(r *http.Request) (string, error) {
	var tok string
	n := 0 // places a token was found in
	switch hs := r.Header["Authorization"]; len(hs) {
	case 0:
	case 1:
		t, ok, err := parseAuthorization(hs[0], a.maxLen)
		if err != nil {
			return "", err
		}
		if ok {
			tok, n = t, n+1
		}
	default:
		return "", fmt.Errorf("%w: more than one Authorization header", ErrInvalidRequest)
	}
	if a.cfg.CookieName != "" {
		if c, err := r.Cookie(a.cfg.CookieName); err == nil && c.Value != "" {
			if len(c.Value) > a.maxLen {
				return "", fmt.Errorf("%w: cookie too large", ErrInvalidRequest)
			}
			tok, n = c.Value, n+1
		}
	}
	if a.cfg.QueryParam != "" && r.URL.RawQuery != "" {
		if len(r.URL.RawQuery) > a.maxLen+len(a.cfg.QueryParam)+1 && strings.Contains(r.URL.RawQuery, a.cfg.QueryParam+"=") {
			return "", fmt.Errorf("%w: query too large", ErrInvalidRequest)
		}
		if vs := r.URL.Query()[a.cfg.QueryParam]; len(vs) > 0 {
			if len(vs) > 1 {
				return "", fmt.Errorf("%w: more than one %s parameter", ErrInvalidRequest, a.cfg.QueryParam)
			}
			tok, n = vs[0], n+1
		}
	}
	switch n {
	case 0:
		return "", ErrNoCredentials
	case 1:
		return tok, nil // its characters are checked on a cache miss
	}
	return "", fmt.Errorf("%w: a token in more than one place", ErrInvalidRequest)
}

// parseAuthorization reads "Bearer <token>" (RFC 6750 §2.1): the scheme in
// any letter case, one or more spaces, one b64token. Another scheme is not
// a bearer credential (ok false); a Bearer header without exactly one
// token is ErrInvalidRequest.
func parseAuthorization(h string, maxLen int) (tok string, ok bool, err error) {
	if len(h) > maxLen+len("Bearer ")+16 {
		return "", false, fmt.Errorf("%w: Authorization header too large", ErrInvalidRequest)
	}
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, nil
	}
	rest = strings.TrimLeft(rest, " ")
	if rest == "" || strings.IndexByte(rest, ' ') >= 0 || strings.IndexByte(rest, '\t') >= 0 {
		return "", false, fmt.Errorf("%w: want Authorization: Bearer <token>", ErrInvalidRequest)
	}
	return rest, true, nil
}

// isB64Token reports whether s is a b64token (RFC 6750 §2.1):
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s) && b64tokenChars[s[i]]; i++ {
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

var b64tokenChars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		t[c] = true
	}
	return t
}()
