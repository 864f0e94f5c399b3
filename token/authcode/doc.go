// Package authcode issues and redeems OAuth 2.0 / 2.1 authorization codes
// (RFC 6749 §4.1, OAuth 2.1 §4.1) with PKCE (RFC 7636), the way the OAuth
// 2.0 Security Best Current Practice (RFC 9700 §2.1.1, §4.5) asks: every
// code is single use, short-lived, stored hashed, and bound to its
// client, redirect URI, PKCE challenge, resource and DPoP key.
//
// # The flow
//
// The authorization endpoint, once the user has logged in and consented,
// calls [Manager.Issue] with a [Grant] (client, redirect URI, user,
// scope, resource, dpop_jkt, and the S256 code_challenge) and sends the
// code back to the client's redirect URI. The token endpoint, on a
// grant_type=authorization_code request, calls [Manager.Redeem] with the
// code, the client, the redirect_uri and the code_verifier of the
// request, and a function that mints the tokens for the grant; Redeem
// returns the grant and what was minted.
//
// # Codes
//
// A code is "ac_" and 43 base64url characters: 256 random bits, which no
// one guesses. [Check] refuses anything else before any store access. A
// [Store] keeps only its SHA-256 [Hash], so a copy of the database yields
// no usable code. A code lives Config.Lifetime, 60 seconds by default and
// at most (RFC 6749 §4.1.2 recommends at most 10 minutes; a client
// redeems its code within a second of receiving it).
//
// # PKCE
//
// PKCE is required, with S256 only: [Manager.Issue] refuses a grant
// without a code challenge of 43 base64url characters (the plain method,
// which RFC 9700 §2.1.1 advises against, cannot produce one), and Redeem
// refuses a verifier that is not 43 to 128 unreserved characters (RFC
// 7636 §4.1) before any store access, then compares base64url(SHA-256(
// verifier)) with the challenge in constant time (RFC 7636 §4.6). PKCE
// binds the code to the client instance that started the flow, so a code
// injected into another session (RFC 9700 §4.5) or stolen on its way
// back is worth nothing without the verifier.
//
// # What Redeem checks
//
// Client ID and redirect URI must equal the grant's exactly (RFC 6749
// §4.1.3; no normalization: an extra path, query or trailing slash is
// another URI). A code bound to a DPoP key (dpop_jkt, RFC 9449 §10) needs
// a proof by that key ([DPoPKey]). Resource (RFC 8707) and scope are the
// grant's: the function that mints the tokens reads them from the grant.
//
// Every refusal of a presented code wraps [ErrInvalidGrant] (RFC 6749
// §5.2 "invalid_grant") and a precise error: [ErrMalformed], [ErrNotFound],
// [ErrReused], [ErrExpired], [ErrMismatch], [ErrPKCE] or [ErrDPoP]. Store
// failures wrap neither: answer them with 503, and the client may retry.
//
// # A failed check does not spend the code
//
// A request with another client ID or redirect URI, a wrong verifier or
// DPoP key, is refused and leaves the code redeemable by its client. This
// is safe against guessing: the code is 256 random bits, and the verifier
// is checked against a SHA-256 challenge, so repeated attempts learn
// nothing (a client whose verifier has little entropy, against RFC 7636
// §7.1, is the exception, and the 60 seconds bound it). Spending the code
// instead would let anyone who saw it (in a log, a Referer header) deny
// the legitimate client its login without being able to use it. OAuth
// 2.1 leaves the choice open.
//
// # A second use revokes the tokens of the first
//
// Redeem spends the code in one atomic step of the store ([Store.Redeem]):
// of concurrent redemptions, on any instances, exactly one goes on to
// mint tokens. What it minted ([Issued]: the refresh token family, the
// access token) is then recorded with the code ([Store.SetIssued]).
//
// A code presented again after it was spent, by any client, with any
// verifier, expired or not, is refused with [ErrReused], and what was
// issued from it is revoked through Config.Revoker (RFC 6749 §4.1.2: the
// code has leaked, and whoever redeemed it first may be the thief). The
// window while the first redemption is still minting is closed by a
// handshake in the store: the second use marks the record reused
// ([Store.Reuse]) and reads what was issued in one step, and the first
// redemption records its tokens and reads the mark in one step. Whichever
// runs second sees the other: either the second use revokes the tokens
// recorded, or the first redemption finds the mark, revokes its own
// tokens and fails with ErrReused as well. So a code presented twice
// yields no live tokens, whatever the timing; in particular, of N
// concurrent redemptions of one code exactly one mints tokens, and those
// are revoked.
//
// When minting fails, the code stays spent (the client starts the
// authorization over: a code is cheap, and a retried redemption would
// be a second use). When recording what was minted fails, it is revoked
// at once, and the error returned: tokens a replay could not revoke are
// never handed out. A process that dies between spending a code and
// recording its tokens leaves a spent code with nothing to revoke.
//
// # Purging
//
// [Manager.Purge] deletes the codes that expired unused at once (they
// issued nothing) and keeps the redeemed ones for Config.KeepUsed (24
// hours by default): a replay within it revokes the tokens issued from
// the code; later, it is refused as an unknown code. Keep it at least as
// long as the access tokens live.
package authcode
