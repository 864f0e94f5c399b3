// Package revocation makes logout work for stateless tokens: it revokes
// one token by its jti until it expires, or every token a subject was
// issued before a moment ("log out everywhere").
//
// A [List] keeps a local in-memory mirror of a shared [Store], so the
// per-request check ([List.Revoked]) is a map lookup without a network
// round trip. Stores push new entries to every instance's mirror, and the
// mirror resyncs in full after a reconnect. When the store cannot be
// reached for longer than the staleness bound (measured on the monotonic
// clock), Revoked fails with an error wrapping identity.ErrUnavailable
// (the middleware answers 503) unless the List is configured to fail open.
//
// Backends: [MemoryStore] (one process), sqlstore (SQLite, PostgreSQL)
// and redisstore (Redis), all checked by the storetest conformance suite.
package revocation
