// Package bridge moves the logged-in users of a session-based
// application to tokens without logging anyone out: during the
// migration, the middleware accepts the legacy session cookie beside
// tokens (middleware.SessionConfig, with a middleware.SessionSource:
// bridge/phpsession for PHP's native sessions, bridge/gorilla for
// github.com/gorilla/sessions), and the [Exchange] endpoint gives a
// client whose session is live first-party access and refresh tokens,
// ending the session in the same step if the client asks. The client
// then calls with "Authorization: Bearer" and refreshes at the token
// endpoints like any other; the session, and this package, can go once
// no client needs them (docs/migrating-from-sessions.md: day 0, the
// switch, the sunset).
//
//	endpoints, err := endpoint.New(endpoint.Config{Issuer: issuer, Verifier: verifier, Users: users,
//		Revocation: list, ClientID: "web"})
//	exchange, err := bridge.New(bridge.Config{
//		CookieName: "PHPSESSID",
//		Source:     sessions,              // the middleware's SessionSource
//		Issuer:     issuer,                // the endpoints' own
//		Refresh:    endpoints.Refresh(),   // so /auth/token refreshes what it issues
//		ClientID:   "web",
//		Users:      users,                 // tokens carry what a login would give
//		Revocation: list,                  // no tokens for a user logged out everywhere
//	})
//	mux.Handle("POST /auth/session/exchange", exchange)
//
// The request is a POST with a JSON body and the session cookie:
//
//	POST /auth/session/exchange HTTP/1.1
//	Content-Type: application/json
//	Cookie: PHPSESSID=q8mv0s3c5dd1l6tbg8a2u7k0rj
//
//	{"destroy_session": true}
//
// "scope" (optional) narrows the scopes granted; "destroy_session"
// ends the session in its store when the source can ([Destroyer]) and
// clears the cookie either way. The answer is the token endpoints' (RFC
// 6749 §5.1): access_token, token_type "Bearer", expires_in,
// refresh_token and scope, never cached; refusals are RFC 6749 §5.2
// errors: 401 invalid_grant for no live session (unknown, expired,
// logged out, revoked), 400 invalid_request for two session cookies or
// a body that is not a JSON object, 415 for another media type, 403 for
// a cross-origin request, 503 when a store cannot answer.
//
// The session cookie is a credential the browser attaches by itself, so
// a page on another site could make the browser POST here. Such a
// request gets nothing and destroys nothing: the body must be
// application/json, which no HTML form sends and no cross-origin fetch
// sends without a CORS preflight this endpoint does not grant; and
// requests the browser marks as cross-origin (Sec-Fetch-Site, else an
// Origin other than the Host) are refused with
// http.CrossOriginProtection ([Config.CrossOrigin]). Do not wrap the
// endpoint in a CORS middleware that allows credentials from other
// origins.
package bridge
