// Package endpoint is the HTTP side of first-party tokens: the endpoints
// a client calls to get, refresh and give up its tokens, so that an API
// drops server sessions without writing the delicate part itself.
//
//   - [Server.Login]: JSON username and password → access token and
//     refresh token (the shape of RFC 6749 §5.1);
//   - [Server.Token]: the OAuth 2.0 token endpoint (RFC 6749), password
//     and refresh_token grants, refresh tokens rotated with reuse
//     detection (package token/refresh);
//   - [Server.Revoke]: token revocation (RFC 7009), refresh and access
//     tokens;
//   - [Server.Logout], [Server.LogoutAll]: behind the authentication
//     middleware, revoke the caller's token, or all of the caller's
//     tokens, on every instance (package revocation).
//
// The application supplies its users through [Users] (find a user and
// its argon2id password hash by name, or by subject for a refresh); the
// package checks passwords itself (package password), with the same work
// for unknown users as for wrong passwords. Hooks throttle password
// attempts ([Hooks.Allow], 429) and audit outcomes ([Hooks.Audit]).
//
//	srv, err := endpoint.New(endpoint.Config{
//		Issuer: issuer, Verifier: verifier, // *token.Issuer, *token.Verifier
//		RefreshStore: refreshStore, Revocation: revocations, // token/refresh/sqlstore; *revocation.List
//		Users: myUsers, ClientID: "my-app",
//	})
//	srv.Mount(mux, "/auth", auth.Middleware) // POST /auth/login, /token, /revoke, /logout, /logout-all
//
// Guarantees, tested here: a store that cannot answer is 503 with
// Retry-After, never 401 and never 200; nothing but hashes of secrets is
// stored (refresh tokens as SHA-256, passwords as argon2id) and no secret
// is logged or put in an event; bodies are bounded (64 KiB) and of the
// right type (a JSON body that is not application/json is 415; the OAuth
// endpoints answer every refusal 400 invalid_request, as RFC 6749 §5.2
// has it), JSON is read with exact, unique member names, form parameters
// may not repeat; responses are never cached.
package endpoint
