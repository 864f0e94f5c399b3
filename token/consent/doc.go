// Package consent remembers what users consented to at an OAuth 2.0
// authorization server's consent step (RFC 6749 §4.1, step B: the
// server "establishes whether the resource owner grants or denies the
// client's access request"): one [Consent] per user and client, the
// scopes approved so far, kept in a [Store] until the user revokes it.
//
// # The flow
//
// The authorization endpoint, once the user has logged in and the
// request is checked (client, redirect URI, scopes narrowed to those the
// client may have), asks the store whether the user consented already:
//
//	c, err := consents.Get(ctx, subject, clientID)
//	if err != nil && !errors.Is(err, consent.ErrNotFound) {
//		return err // 503: the store cannot answer now
//	}
//	if consent.Covers(c, scopes) && prompt != "consent" {
//		// Issue the authorization code without asking.
//	}
//
// Otherwise it shows the consent page, and when the user approves it
// records the approval with [Store.Grant] before issuing the code:
//
//	err := consents.Grant(ctx, subject, clientID, scopes, time.Now())
//
// A Grant adds to what was consented already: a client that later asks
// for one more scope is asked for it (the page may show only what is
// new), and the consent then covers both. [Covers] of the zero Consent
// that Get returns with [ErrNotFound] is false, so an unknown consent and
// an insufficient one are answered alike. An OpenID Connect request with
// prompt=consent asks again whatever the store says (OpenID Connect Core
// §3.1.2.1); one with prompt=none that is not covered gets
// consent_required.
//
// The account page lists the user's consents ([Store.List], the latest
// first) and withdraws one ([Store.Revoke]). Revoking a consent does not
// revoke the tokens issued under it: end the user's refresh token
// families of that client too (refresh.Manager's Families and
// EndFamily), or the client keeps its access until they expire. [Store.RevokeSubject] forgets every consent of a
// user, for the deletion of the account; logging out, even everywhere,
// is not a reason to, as the user would be asked everything again.
//
// # What a consent is keyed by
//
// The subject is the user's stable identifier (the tokens' "sub"), never
// a username or an email address, which can change hands along with
// their consents. The client ID is compared exactly: a consent to one
// client covers no other, whatever its name on the consent page, and a
// client identified by a Client ID Metadata Document is its https URL.
// A consent does not bind redirect URIs: the client's registration does.
//
// # Validation
//
// Every Store method first applies [Check] (or [CheckSubject]): subject
// and client ID of UTF-8 without NUL, at most MaxSubjectLen and
// MaxClientIDLen bytes; scopes that are RFC 6749 §3.3 scope-tokens, at
// most MaxScopes of at most MaxScopeLen bytes. It refuses anything else
// with [ErrInvalid] before any store access, and so does a Grant whose
// union of scopes would exceed MaxScopes ([Union]): what a client writes
// in an authorization request cannot grow a consent without bound. Any
// other error means that the store cannot answer now: answer 503.
//
// # Stores
//
// [MemoryStore] keeps consents in the memory of one process; package
// sqlstore keeps them in a SQLite or PostgreSQL table beside the users;
// package storetest is the conformance suite every Store passes. Grant is
// atomic across instances sharing a store: concurrent Grants for one user
// and client, of different scopes, all end up in the consent, none lost
// to another's write.
package consent
