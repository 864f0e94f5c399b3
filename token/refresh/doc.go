// Package refresh issues and rotates opaque refresh tokens (RFC 6749 §6)
// the way OAuth 2.0 Security Best Current Practice (RFC 9700 §4.14) asks:
// every use spends the token and issues its successor in the same family,
// and presenting a spent token again revokes the whole family and the
// access tokens issued from it.
//
// A token is "rt_" and 43 base64url characters (256 bits). A [Store]
// keeps only its SHA-256 [Hash], with the family, the grant (subject,
// client, scope, the login's User-Agent), issue and spend times, the
// access token issued with it, and a random seed. A family expires an
// absolute lifetime after its first token (30 days by default) or an idle
// lifetime after its newest one (7 days by default: the stateless
// equivalent of a session idle timeout).
//
// A first token is random. Its successor is derived from it and its
// seed (HMAC-SHA256 keyed with the raw token), so that presenting a
// token again a few seconds after its rotation, as two tabs of one
// browser refreshing at once do, gets the same successor rather than
// revoking the family: the grace period of [Config]. Deriving it takes
// the raw token, which the store never holds, so a stolen database
// yields no usable token; it also takes the seed, which only the store
// holds, so an old token alone yields nothing either. A rotation forgets
// the seeds of the family's tokens spent before (their grace is over):
// only the token spent last, together with a copy of the store, yields
// the family's newest token, as the server derives it.
//
// A family is one signed-in device or browser: [Manager.Families] lists a
// subject's, for a devices page, and [Manager.EndFamily] signs one out.
package refresh
