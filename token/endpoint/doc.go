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
//     middleware, revoke the caller's token (and the refresh family it
//     came from), or all of the caller's tokens, on every instance
//     (package revocation);
//   - [Server.Devices], [Server.EndDevice]: behind the middleware, the
//     caller's logins (refresh families) and ending one.
//
// # Browsers: cookie mode
//
// With Config.Cookies ([CookieConfig]) a login that sends
// "Token-Delivery: cookie" gets its tokens in HttpOnly cookies instead of
// the body, refreshes by cookie (a grant_type=refresh_token without the
// parameter), and has them cleared at logout; cookie-mode logins and
// refreshes pass a cross-origin check (login CSRF), as the middleware's
// routes do for the access cookie (middleware.Config.CrossOrigin). Two
// tabs refreshing at once both stay logged in (Config.RefreshGracePeriod).
// docs/browser-apps.md walks through it.
//
// The application supplies its users through [Users] (find a user and
// its argon2id password hash by name, or by subject for a refresh); the
// package checks passwords itself (package password), with the same work
// for unknown users as for wrong passwords. Hooks audit outcomes
// ([Hooks.Audit]) and may throttle further ([Hooks.Allow]).
//
//	srv, err := endpoint.New(endpoint.Config{
//		Issuer: issuer, Verifier: verifier, // *token.Issuer, *token.Verifier
//		RefreshStore: refreshStore, Revocation: revocations, // token/refresh/sqlstore; *revocation.List
//		Users: myUsers, ClientID: "my-app",
//	})
//	srv.Mount(mux, "/auth", auth.Middleware) // POST /auth/login, /token, /revoke, /logout, /logout-all; /auth/devices
//
// # Login protection
//
// The endpoints are throttled without a line of configuration ([Throttle],
// from Config.Throttle): every password attempt (login, the password
// grant) takes, before the password is checked, a token from its client
// address's bucket (30 at once, then one every 500 ms), one from its
// username's (10, then one every 6 s, whatever the address) and one from
// its user's, once the name is found (so that a user store matching names
// loosely gives no variant a budget of its own),
// and a slot of the password checks in flight for the username (one) and
// the address (two). A request over a budget is answered 429 Too Many
// Requests with Retry-After, as an OAuth error (slow_down) at both
// endpoints, and no password is checked. Memory stays bounded whatever
// the number of usernames and addresses ([MemoryLimiter]).
//
// The client address is the connection's, unless the connection comes
// from one of ThrottleConfig.TrustedProxies: then it is read from
// X-Forwarded-For (or Forwarded, RFC 7239), from the right, past the
// trusted proxies ([Throttle.ClientAddr]); an IPv6 client is its /64.
// Budgets are per instance unless ThrottleConfig.Shared keeps them in a
// store every instance shares (package token/endpoint/redisthrottle):
//
//	limiter, err := redisthrottle.New(redisClient, redisthrottle.Config{})
//	srv, err := endpoint.New(endpoint.Config{ /* … */
//		Throttle: endpoint.ThrottleConfig{
//			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, // your load balancers
//			Shared:         limiter,
//		},
//	})
//	mux.Handle("GET /auth/oidc/callback", srv.Throttle().Limit(callback)) // a route of your own, same budget
//
// Config.InsecureSkipThrottle turns it all off, for a deployment that
// limits in front of every instance.
//
// Guarantees, tested here: a store that cannot answer is 503 with
// Retry-After, never 401 and never 200 (the shared limiter, by default,
// falls back to the instance's own budgets instead); nothing but hashes of secrets is
// stored (refresh tokens as SHA-256, passwords as argon2id) and no secret
// is logged or put in an event; bodies are bounded (64 KiB) and of the
// right type (a JSON body that is not application/json is 415; the OAuth
// endpoints answer every refusal 400 invalid_request, as RFC 6749 §5.2
// has it), JSON is read with exact, unique member names, form parameters
// may not repeat; responses are never cached.
package endpoint
