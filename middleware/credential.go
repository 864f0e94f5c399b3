package middleware

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sessionless/sessionless/internal/httpx"
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
		switch v, count := httpx.CookieValue(r, a.cfg.CookieName); {
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
		if err := checkOrigin(a.cross, r); err != nil {
			return "", false, false, fmt.Errorf("%w: %w", ErrCrossOrigin, err)
		}
	}
	return tok, dpop, cookie, nil // its length and characters are checked next
}

// checkOrigin is cross.Check, with a WebSocket handshake taken as an
// unsafe method: it is a GET, but it opens a connection that acts for
// the user, and browsers apply neither CORS nor SameSite=Strict's
// cross-origin rules to it (a page of a sibling subdomain, same site,
// would otherwise open one with the user's cookies).
func checkOrigin(cross *http.CrossOriginProtection, r *http.Request) error {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && isWebSocket(r) {
		unsafe := *r
		unsafe.Method = http.MethodPost
		return cross.Check(&unsafe)
	}
	return cross.Check(r)
}

// isWebSocket reports whether r asks to upgrade to WebSocket (RFC 6455
// §4.1: "Upgrade: websocket", any letter case, maybe among others).
func isWebSocket(r *http.Request) bool {
	for _, v := range r.Header["Upgrade"] {
		for p := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "websocket") {
				return true
			}
		}
	}
	return false
}

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
