// Package oauth holds the rules of OAuth 2.0 that the authorization
// server's parts share: which redirect URIs a client may register, and
// whether a redirect URI of a request is one of a client's (RFC 6749
// §3.1.2, RFC 8252 §7, OAuth 2.1 §2.3.1 and §8.4); client secrets, made
// and kept only hashed.
package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/sessionless/sessionless/internal/token32"
)

// MaxRedirectURI bounds a redirect URI's length.
const MaxRedirectURI = 2000

// ErrRedirectURI: a redirect URI a client may not register.
var ErrRedirectURI = errors.New("oauth: invalid redirect URI")

// CheckRedirectURI reports whether uri may be registered as a client's
// redirect URI: an absolute URI without fragment (RFC 6749 §3.1.2) or
// user information, at most MaxRedirectURI bytes, and one of
//
//   - https (a web client);
//   - http on a loopback host — 127.0.0.1, [::1] or localhost — for
//     native apps and CLIs listening on a port of their own (RFC 8252
//     §7.3; localhost, which RFC 8252 §8.3 does not recommend, because
//     MCP clients register it);
//   - a private-use scheme in reverse domain order, with a dot
//     (com.example.app:/callback, RFC 8252 §7.1), for mobile apps.
//
// Schemes that run or read things in the browser (javascript:, data:,
// file:, …), plain http elsewhere, and anything that does not parse are
// refused.
func CheckRedirectURI(uri string) error {
	if uri == "" || len(uri) > MaxRedirectURI || strings.ContainsAny(uri, " \t\r\n\\") || strings.ContainsRune(uri, 0x7f) {
		return fmt.Errorf("%w: empty, too long, or with white space or backslashes", ErrRedirectURI)
	}
	for i := 0; i < len(uri); i++ {
		if uri[i] < 0x20 {
			return fmt.Errorf("%w: a control character", ErrRedirectURI)
		}
		if uri[i] >= 0x80 {
			// A URI is ASCII (RFC 3986 §2); an internationalized host
			// could pass for another one on the login page (а, Cyrillic,
			// for a): write it in punycode.
			return fmt.Errorf("%w: a character outside ASCII (write an internationalized host in punycode)", ErrRedirectURI)
		}
	}
	u, err := url.Parse(uri)
	switch {
	case err != nil || !u.IsAbs():
		return fmt.Errorf("%w: not an absolute URI", ErrRedirectURI)
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return fmt.Errorf("%w: a fragment", ErrRedirectURI)
	case u.User != nil:
		return fmt.Errorf("%w: user information", ErrRedirectURI)
	}
	switch scheme := u.Scheme; {
	case scheme == "https":
		if u.Host == "" {
			return fmt.Errorf("%w: https without a host", ErrRedirectURI)
		}
		return nil
	case scheme == "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("%w: http is for loopback hosts only (127.0.0.1, [::1], localhost)", ErrRedirectURI)
		}
		return nil
	case strings.Contains(scheme, ".") && u.Opaque == "" && u.Host == "":
		// com.example.app:/callback: a path, no authority (RFC 8252 §7.1).
		return nil
	}
	return fmt.Errorf("%w: the scheme must be https, http on loopback, or a private-use scheme such as com.example.app", ErrRedirectURI)
}

// isLoopback reports whether host (without port or brackets) is a
// loopback host of RFC 8252 §7.3 and §8.3.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback)) && !strings.Contains(host, "%")
}

// MatchRedirectURI reports whether requested, the redirect_uri of an
// authorization request, is one of the registered URIs: the same string
// (RFC 6749 §3.1.2.3, OAuth 2.1 §2.3.1: simple string comparison), or,
// for an http loopback URI registered without a port, the same but for
// the port, which a native app picks when it starts (RFC 8252 §7.3). Nothing else varies: not the
// path, not the query, not the letter case, not a trailing slash.
func MatchRedirectURI(registered []string, requested string) bool {
	if requested == "" || len(requested) > MaxRedirectURI {
		return false
	}
	for _, r := range registered {
		if subtle.ConstantTimeCompare([]byte(r), []byte(requested)) == 1 {
			return true
		}
	}
	req, err := url.Parse(requested)
	// The scheme as written (url.Parse lowers it), and a port after a
	// colon: "HTTP://" and "127.0.0.1:/" are not what was registered.
	if err != nil || !strings.HasPrefix(requested, "http://") || !isLoopback(req.Hostname()) || req.User != nil ||
		strings.Contains(requested, "#") || strings.HasSuffix(req.Host, ":") {
		return false
	}
	for _, r := range registered {
		reg, err := url.Parse(r)
		if err != nil || reg.Scheme != "http" || !isLoopback(reg.Hostname()) {
			continue
		}
		// A loopback URI registered with a port keeps it: the client
		// listens there, and no other local program takes its codes.
		if reg.Port() == "" && reg.Hostname() == req.Hostname() && reg.EscapedPath() == req.EscapedPath() &&
			reg.RawQuery == req.RawQuery && reg.ForceQuery == req.ForceQuery && validPort(req.Port()) {
			return true
		}
	}
	return false
}

// validPort reports whether p is empty or a port number 1–65535 in
// canonical decimal.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	if len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for _, c := range []byte(p) {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n >= 1 && n <= 65535
}

// SecretPrefix starts every client secret NewSecret makes.
const SecretPrefix = "cs_"

// SecretHash is the SHA-256 of a client secret: all that is stored of
// it. A secret carries 256 random bits, so a fast hash is as strong as a
// slow one, and a stolen database yields no usable secret.
type SecretHash [sha256.Size]byte

// NewSecret returns a new client secret and its hash.
func NewSecret() (string, SecretHash) {
	raw := token32.New(SecretPrefix)
	return raw, HashSecret(raw)
}

// HashSecret returns the hash of a client secret.
func HashSecret(raw string) SecretHash { return sha256.Sum256([]byte(raw)) }

// VerifySecret reports whether raw is the secret of hash, in constant
// time.
func VerifySecret(hash SecretHash, raw string) bool {
	got := HashSecret(raw)
	return subtle.ConstantTimeCompare(got[:], hash[:]) == 1
}
