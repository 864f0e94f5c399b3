// Package demo is the runnable demo API of sessionless (cmd/demo-api): a
// REST service that logs users in with a password and hands out signed JWT
// access tokens (package token), which its protected endpoints then verify
// without any server-side session.
//
// Endpoints (the /auth ones are package token/endpoint, mounted):
//
//	POST /auth/login             {"username","password"} → {"access_token","token_type","expires_in",
//	                             "refresh_token","scope"}
//	POST /auth/token             OAuth 2.0 token endpoint (form): grant_type=refresh_token rotates
//	                             a refresh token, grant_type=password as /auth/login (RFC 6749)
//	POST /auth/revoke            token revocation (form, RFC 7009): token=… → 200
//	POST /auth/logout            Bearer; optional {"refresh_token"} → 204: that access token and
//	                             that refresh family stop working on every instance
//	POST /auth/logout-all        Bearer → 204: every token of the user issued before now stops
//	GET  /.well-known/jwks.json  the public signing keys (JWK Set)
//	GET  /api/me                 who the bearer token is about: sub, iss, aud, exp, iat, jti,
//	                             client_id, scopes, roles, auth_method
//	GET  /api/widgets            {"widgets":[…]}, sorted by id (scope widgets:read)
//	GET  /api/widgets/{id}       one widget, or 404 (scope widgets:read)
//	POST /api/widgets            {"name"} (1 to 100 characters) → 201 and Location, the
//	                             widget recording "created_by": the sub (scope widgets:write)
//	GET  /healthz                {"status":"ok"} while the process serves (liveness)
//	GET  /readyz                 {"status":"ready","checks":{…}}, or 503 naming the backend
//	                             that does not answer (readiness)
//	GET  /metrics                metrics for Prometheus (package metrics)
//
// Every /api/ route goes through the authentication middleware (package
// middleware): no token is a 401 with the challenge Bearer realm="demo-api",
// an invalid, expired or forged token a 401 invalid_token, a malformed
// Authorization header a 400 invalid_request, a token without the route's
// scope a 403 insufficient_scope naming the scope; these refusals are
// application/problem+json. The seeded user demo holds widgets:read,
// widgets:write and tokens:manage; viewer only widgets:read.
//
// Widgets live in memory (two are seeded: 1 sprocket, 2 gear) and vanish
// on restart. Every widget route takes ?delay_ms=N (0 to 5000), which waits
// N milliseconds before answering, or until the client gives up: simulated
// slow work, to show that one token serves parallel requests in parallel.
//
// With no configuration it listens on 127.0.0.1:8080 and keeps its state in
// ./demo-data/: a SQLite database (demo.db: users, refresh tokens and
// revocations, so a logout survives a restart) and an Ed25519 signing key
// (signing-key.pem, PKCS#8 PEM, mode 0600), both created on first start.
// The first start also seeds two users, demo and viewer, once the server
// can listen; see [Config] for the password. "demo-api users set-password
// [-db URL] USERNAME" sets a new one when it is lost. "demo-api
// oidc-provider [-addr 127.0.0.1:9000]" runs a local OpenID Connect
// provider (oidctest.Server) whose tokens the demo accepts with
// -oidc-issuer, to try them without a real provider. Paths are not
// created on a typo: a -db or -key-file whose directory does not exist is
// an error (only ./demo-data is created), as is a -db that is neither a
// postgres:// URL nor a SQLite file (.db, .sqlite, .sqlite3) and an
// -issuer that is not an absolute http(s) URL.
//
// It logs to stderr as text; its audit records (package audit: logins,
// logouts, reuse, consents, API tokens, passwords set, keys; JSON lines)
// go apart, to -audit-log (a file appended to, or "-", stderr, the
// default), the operator commands' too. Each request is logged only
// with -request-log.
//
// Several instances share a PostgreSQL database (-db postgres://…) and,
// optionally, Redis for revocations (-redis); each keeps a local copy of
// the revocation list (package revocation), and answers 503 when that copy
// is older than -revocation-staleness.
//
// A token's "sub" is the user's stable, opaque ID ("usr_" and 26 random
// base32 characters, fixed when the user is created), never the username,
// so renaming a user would not change who its tokens are about.
package demo
