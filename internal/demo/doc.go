// Package demo is the runnable demo API of sessionless (cmd/demo-api): a
// REST service that logs users in with a password and hands out signed JWT
// access tokens (package token), which its protected endpoints then verify
// without any server-side session.
//
// Endpoints:
//
//	POST /auth/login             {"username","password"} → {"access_token","token_type","expires_in","scope"}
//	GET  /.well-known/jwks.json  the public signing keys (JWK Set)
//	GET  /api/me                 the claims of the bearer token
//	GET  /healthz                {"status":"ok"} once the database answers
//
// With no configuration it listens on 127.0.0.1:8080 and keeps its state in
// ./demo-data/: a SQLite database (demo.db) and an Ed25519 signing key
// (signing-key.pem, PKCS#8 PEM, mode 0600), both created on first start.
// The first start also seeds two users, demo and viewer; see [Config] for
// the password.
//
// A token's "sub" is the user's stable, opaque ID ("usr_" and 26 random
// base32 characters, fixed when the user is created), never the username,
// so renaming a user would not change who its tokens are about.
package demo
