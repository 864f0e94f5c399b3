package middleware

import (
	"fmt"
	"net/http"
	"strings"
)

// credential finds the one bearer token of r (RFC 6750 §2): in the
// Authorization header, and, when enabled, in a cookie or a query
// parameter. A token in two places, two Authorization headers, two
// cookies or query parameters of the configured name, or a malformed
// header is ErrInvalidRequest; no token at all is ErrNoCredentials. The
// token's length is checked by authenticate: too long is invalid_token,
// wherever it came from.
//
// With Config.DPoP set, "Authorization: DPoP <token>" (RFC 9449 §7.1) is
// a credential too, and dpop reports it. cookie reports a token from
// Config.CookieName: a browser attaches it to requests of other origins
// on its own, so an unsafe one must pass the cross-origin check
// (ErrCrossOrigin), done here, before the token is verified.
func (a *Authenticator) credential(r *http.Request) (tok string, dpop, cookie bool, err error) {
	n := 0 // places a token was found in
	switch hs := r.Header["Authorization"]; len(hs) {
	case 0:
	case 1:
		t, scheme, err := parseAuthorization(hs[0], a.cfg.DPoP != nil)
		if err != nil {
			return "", false, false, err
		}
		if scheme != "" {
			tok, dpop, n = t, scheme == "DPoP", n+1
		}
	default:
		return "", false, false, fmt.Errorf("%w: more than one Authorization header", ErrInvalidRequest)
	}
	if a.cfg.CookieName != "" {
		switch v, count := cookieValue(r, a.cfg.CookieName); {
		case count > 1:
			// Cookie tossing: a sibling subdomain sets a second cookie of
			// the name; which one the browser sends first is not ours to
			// guess.
			return "", false, false, fmt.Errorf("%w: more than one %s cookie", ErrInvalidRequest, a.cfg.CookieName)
		case count == 1 && v != "":
			tok, cookie, n = v, true, n+1
		}
	}
	if a.cfg.QueryParam != "" && r.URL.RawQuery != "" {
		if vs := r.URL.Query()[a.cfg.QueryParam]; len(vs) > 0 {
			if len(vs) > 1 {
				return "", false, false, fmt.Errorf("%w: more than one %s parameter", ErrInvalidRequest, a.cfg.QueryParam)
			}
			tok, n = vs[0], n+1
		}
	}
	switch {
	case n == 0:
		return "", false, false, ErrNoCredentials
	case n > 1:
		return "", false, false, fmt.Errorf("%w: a token in more than one place", ErrInvalidRequest)
	case cookie:
		if err := a.cross.Check(r); err != nil {
			return "", false, false, fmt.Errorf("%w: %w", ErrCrossOrigin, err)
		}
	}
	return tok, dpop, cookie, nil // its length and characters are checked next
}

// cookieValue returns the value of the first cookie named name in r's
// Cookie headers and how many there are, read as r.CookiesNamed reads
// them (parts split at ";" and trimmed, a value in double quotes
// unquoted), without allocating, and stricter: a part whose value holds
// a byte no cookie may hold counts too (net/http skips it), so that
// "at=<token>; at=<junk>" is two cookies (400), and a lone junk value is
// a token that fails the b64token check (400), not no token.
func cookieValue(r *http.Request, name string) (value string, n int) {
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, _ := strings.Cut(trimCookieSpace(part), "=")
			if trimCookieSpace(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if n == 0 {
				value = v
			}
			n++
		}
	}
	return value, n
}

// trimCookieSpace trims ASCII white space, as textproto.TrimString.
func trimCookieSpace(s string) string {
	for len(s) > 0 && isASCIISpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isASCIISpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isASCIISpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// parseAuthorization reads "Bearer <token>" (RFC 6750 §2.1), and with
// dpop "DPoP <token>" (RFC 9449 §7.1): the scheme in any letter case, one
// or more spaces, then the credential. Another scheme is not a credential
// of ours (scheme ""); a scheme alone is ErrInvalidRequest. The
// credential is one b64token or it is refused (ErrInvalidRequest, by
// authenticate before any verifier runs): white space inside it, as in
// "Bearer a b", is not a b64token character.
func parseAuthorization(h string, dpop bool) (tok, scheme string, err error) {
	s, rest, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(s, "Bearer"):
		scheme = "Bearer"
	case dpop && strings.EqualFold(s, "DPoP"):
		scheme = "DPoP"
	default:
		return "", "", nil
	}
	if rest = strings.TrimLeft(rest, " "); rest == "" {
		return "", "", fmt.Errorf("%w: want Authorization: %s <token>", ErrInvalidRequest, scheme)
	}
	return rest, scheme, nil
}

// isB64Token reports whether s is a b64token (RFC 6750 §2.1):
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// The loop has no branch per byte and reads eight at a time.
func isB64Token(s string) bool {
	end := len(s)
	if i := strings.IndexByte(s, '='); i >= 0 {
		for _, c := range []byte(s[i:]) {
			if c != '=' {
				return false
			}
		}
		end = i
	}
	if end == 0 {
		return false
	}
	b := s[:end]
	var bad uint8
	for len(b) >= 8 {
		bad |= notB64token[b[0]] | notB64token[b[1]] | notB64token[b[2]] | notB64token[b[3]] |
			notB64token[b[4]] | notB64token[b[5]] | notB64token[b[6]] | notB64token[b[7]]
		b = b[8:]
	}
	for i := 0; i < len(b); i++ {
		bad |= notB64token[b[i]]
	}
	return bad == 0
}

var notB64token = func() (t [256]uint8) {
	for i := range t {
		t[i] = 1
	}
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		t[c] = 0
	}
	return t
}()
