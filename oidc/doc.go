// Package oidc accepts the access tokens of external OpenID Connect
// providers (Keycloak, Auth0, Okta, Entra ID, Dex, Zitadel, …) and logs
// users in through them, without a server session.
//
// # Access tokens
//
// A [Provider] verifies one provider's access tokens locally, with the
// provider's published keys: after the keys are fetched no request calls
// the provider. Register one per trusted issuer in the middleware, which
// routes a token by its unverified "iss" (an unknown issuer is refused
// before any network call):
//
//	kc, err := oidc.New(oidc.Config{
//		Issuer:    "https://sso.example/realms/demo",
//		Audiences: []string{"api"},         // the API's own identifier in "aud"
//		Mapping:   oidc.Keycloak("api"),    // realm and client roles, scope, azp
//	})
//	a0, err := oidc.New(oidc.Config{
//		Issuer:    "https://tenant.eu.auth0.com/",
//		Audiences: []string{"https://api.example"},
//		Mapping:   oidc.Auth0("https://example.com/"),
//	})
//	// New makes no network call: a mistyped issuer shows here, at start.
//	if err := kc.Warm(ctx); err != nil { // wraps identity.ErrUnavailable
//		logger.Warn("the provider's keys cannot be fetched yet", "err", err)
//	}
//	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{
//		issuer.Name(): firstParty, kc.Issuer(): kc, a0.Issuer(): a0,
//	}})
//
// What is checked: the signature with a key of the provider and an
// algorithm of Config.Algorithms (asymmetric only, RS256 by default; the
// token's header never chooses), iss, aud (a string or an array holding
// one of Config.Audiences), exp, nbf and iat with a leeway, the lifetime
// (Config.MaxTokenLifetime), azp or client_id against
// Config.AuthorizedParties, and what the profile requires (typ at+jwt,
// jti, iat, sub: token.Profile; each mapping brings the provider's). An ID
// token is refused ([ErrNotAccessToken]) under every mapping when it
// carries what only ID tokens carry (at_hash, c_hash, nonce, auth_time
// with its client in aud: [Provider.Authenticate]), and besides by its
// audience (the client, not the API), by Keycloak's typ claim, by typ
// at+jwt where the provider writes it. [Zitadel] maps Zitadel's JWT access
// tokens (roles from urn:zitadel:iam:org:project:roles).
//
// Keys are fetched on first use (discovery through go-oidc, or
// Config.JWKSURL alone), at most once per Config.RefreshInterval (30 s)
// whatever arrives: a flood of tokens with unknown kids causes one fetch,
// and a request the limiter turns away does not wait. A token signed with
// a key not known yet makes them be fetched again (a rotation at the
// provider), and they are refreshed in the background after
// Config.KeyMaxAge (5 min), so that a key the provider removed stops
// verifying, also for tokens the middleware has cached
// (Claims.StillTrusted; the middleware keeps a provider's token at most
// KeyMaxAge, [Provider.MaxCacheAge]). A fetch is abandoned after 20 s, and
// a request waits for one no longer than its own deadline. While the
// provider is down the last keys keep working; with no keys at all, or a
// token signed with a key not known yet while they cannot be fetched, a
// request gets identity.ErrUnavailable (a 503, never 401 or 200).
// Config.Hooks.OnKeysRefreshed is told of every fetch, and
// Config.Hooks.OnKeysChanged of the key IDs each fetch added and removed
// (an audit record: audit.ProviderKeysHook).
//
// # Login
//
// A [Login] runs the authorization code flow with PKCE (S256), state and
// nonce, carried in a short-lived encrypted cookie of the login's own
// (named after, and sealed to, its issuer and client) rather than a
// session, checks the response's iss (RFC 9207), verifies the ID token
// (nonce, azp, at_hash) and hands the identity to the application, which
// answers with its own tokens (the demo: endpoint.Server.IssueTokens).
//
// Package oidctest is a local provider for tests.
package oidc
