// Package middleware authenticates every HTTP request on its own — no
// session, no per-user lock, no shared per-user state — and authorizes it
// by scope or role. It works with any router that takes
// func(http.Handler) http.Handler: net/http's ServeMux, chi (r.Use, r.With).
//
//	verifier, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: iss, Audience: "api"})
//	auth, err := middleware.New(middleware.Config{
//		JWT:   map[string]middleware.Verifier{iss: verifier}, // first-party and OIDC issuers
//		Realm: "api",
//	})
//
//	r := chi.NewRouter()
//	r.Use(auth.Middleware)
//	r.With(auth.RequireScopes("widgets:read")).Get("/widgets", list)
//
//	func list(w http.ResponseWriter, r *http.Request) {
//		p, _ := middleware.PrincipalFrom(r.Context()) // *identity.Principal
//		...
//	}
//
// The credential comes from "Authorization: Bearer" (RFC 6750 §2.1), and
// only when enabled from a cookie ([Config.CookieName]) or a query
// parameter ([Config.QueryParam]). It is routed to one [Verifier] by its
// shape: opaque tokens by prefix ([Config.Prefixes]), JWTs by their
// unverified "iss" ([Config.JWT]; an unknown issuer is rejected without a
// call; overlapping prefixes: the longest wins). A [RevocationChecker] runs
// after verification. Verified tokens are cached, keyed by a secret-keyed
// 128-bit hash of the token (the cache holds no token): never past exp,
// nor past a verifier's [CachePolicy], nor once the key that verified it
// is retired ([TrustChecker]); revocation is re-checked on every hit. Each request
// gets its own copy of the principal. [Authenticator.Authenticate] does
// the same for tokens from outside HTTP.
//
// During a migration from server sessions, [Config.Session] also accepts
// the legacy session cookie, read by a [SessionSource] (bridge/phpsession,
// bridge/gorilla): a request without a token is authenticated by its
// session, with a principal of Method identity.Session. A token always
// wins, and a bad token is refused whatever session comes with it; two
// session cookies are refused; an unsafe cross-origin request with the
// cookie is refused as CSRF ([ErrCrossOrigin]); a session's principal is
// cached for a second by default, ten at most ([MaxSessionCacheAge]),
// since the session can end in its store at any moment:
//
//	auth, err := middleware.New(middleware.Config{
//		JWT:     map[string]middleware.Verifier{iss: verifier},
//		Session: middleware.SessionConfig{CookieName: "PHPSESSID", Source: phpSessions},
//	})
//
// A server with protected resources (RFC 9728) that clients may ask
// tokens for by URL (RFC 8707 resource indicators) lists them in
// [Config.Resources], and the audiences of tokens for the whole API in
// [Config.Audiences]; [Authenticator.Protect] guards a resource's routes,
// letting through only tokens for the whole API or asked for that
// resource (or one it lies under), and points their challenges at its
// metadata document, which [Authenticator.MountMetadata] serves:
//
//	api := middleware.Resource{URL: "https://api.example/api", AuthorizationServers: []string{iss}, Scopes: scopes}
//	auth, err := middleware.New(middleware.Config{JWT: jwt, Resources: []middleware.Resource{api},
//		Audiences: []string{"api"}, ExternalURL: "https://api.example"})
//	mux.Handle("GET /api/widgets", auth.Protect(api)(auth.RequireScopes("widgets:read")(list)))
//	auth.MountMetadata(mux) // GET /.well-known/oauth-protected-resource/api
//
// token/endpoint takes the same values (endpoint.Config.Resources) to
// issue tokens for them.
//
// Refusals are mapped in one place ([Status], [WriteError]): 401 with a
// bare challenge without credentials, 401 invalid_token, 400
// invalid_request, 403 insufficient_scope with the scopes, and 503 when a
// backing store cannot answer — never 401 or 200 then. Bodies are
// application/problem+json (RFC 9457); the internal cause goes to the
// hooks and the logger, never to the client. By default every request must
// authenticate; [Config.Optional] lets credential-less requests through.
package middleware
