// Package refresh issues and rotates opaque refresh tokens (RFC 6749 §6)
// the way OAuth 2.0 Security Best Current Practice (RFC 9700 §4.14) asks:
// every use spends the token and issues its successor in the same family,
// and presenting a spent token again revokes the whole family and the
// access tokens issued from it.
//
// A token is "rt_" and 43 base64url characters (256 random bits). A
// [Store] keeps only its SHA-256 [Hash], with the family, the grant
// (subject, client, scope), issue and spend times, and the access token
// issued with it. A family expires an absolute lifetime after its first
// token (30 days by default) or an idle lifetime after its newest one (7
// days by default: the stateless equivalent of a session idle timeout).
package refresh
