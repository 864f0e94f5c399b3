// Package apitoken issues and checks opaque bearer API tokens kept in a
// database: the credential of scripts, CI jobs and service accounts,
// which cannot log in. A token looks like GitHub's:
//
//	sl_7Vq2cQ0yN8wF3kTzB5mA1sLhD9rXo410rwUC
//	└┬┘└──────── 30 random ───────┘└ crc┘
//
// a prefix (Config.Prefix, "sl_" by default), 30 base62 characters from
// crypto/rand (about 178 bits), and the CRC-32 of those in 6 base62
// characters. [Check] refuses a mistyped or random string before any
// database query, and secret scanners find leaked tokens with [Pattern]:
//
//	\bsl_[0-9A-Za-z]{36}\b
//
// Only a hash is stored (SHA-256, or HMAC-SHA256 under Config.Pepper), so
// a copy of the database holds no usable token; the plaintext is returned
// once, by [Manager.Create]. Authentication is one lookup through the
// hash's unique index, and no write: the last use of each token is noted
// in memory and written in the background, at most once per token per
// Config.FlushInterval (1 minute), in one write for all tokens, and on
// [Manager.Close].
//
// A [Manager] is a middleware.Verifier for an opaque-token prefix, and a
// middleware.CachePolicy: the middleware's cache serves a verified token
// for up to Config.CacheAge (1 minute) without a query. A revocation
// goes to the store first (which refuses the token from then on), then to
// Config.Revoker (a *revocation.List, which the middleware checks on every
// cache hit), so a revoked token is refused at once on the instance that
// revoked it and as soon as the list reaches the others:
//
//	store, err := sqlstore.New(ctx, db, sqlstore.Config{Dialect: sqlstore.Postgres})
//	tokens, err := apitoken.New(apitoken.Config{
//		Store:            store,
//		SubjectIssuer:    issuer.Name(), // whose users own tokens
//		CreatorAudiences: []string{aud}, // their access tokens for the whole API may create API tokens
//		Revoker:          list,
//	})
//	defer tokens.Close() // writes the last uses
//	auth, err := middleware.New(middleware.Config{
//		JWT:        map[string]middleware.Verifier{iss: verifier},
//		Prefixes:   map[string]middleware.Verifier{tokens.Prefix(): tokens},
//		Revocation: list,
//	})
//	tokens.Handlers(apitoken.HandlerConfig{}).Mount(mux, "/api/tokens", auth.Middleware)
//
// [Handlers] serve the management API for the authenticated caller:
// create (a token never holds a scope its creator lacks, one created by
// an API token does not outlive it, and a token bound to a key (DPoP) or
// asked for one resource creates none: Config.CreatorAudiences), list (no
// secrets, no hashes) and revoke (someone else's token is 404). A caller
// that is an API token is read from the store on each of them
// ([Manager.SubjectOf]): one revoked since the middleware cached it, or
// revoked on another instance before the revocation list got here,
// manages nothing.
//
// Logging out everywhere leaves API tokens alive: a flow that must end
// them calls [Manager.RevokeSubject].
//
// Stores: [MemoryStore] for tests, apitoken/sqlstore for SQLite and
// PostgreSQL; apitoken/storetest is the conformance suite every store
// passes.
package apitoken
