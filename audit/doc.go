// Package audit writes the security events of an API as log/slog records
// of a documented, stable schema: who logged in or failed to, and why;
// what was throttled; logouts, revocations and reuse detections; API
// tokens created and revoked, and by whom; passwords changed; the keys an
// instance signs and verifies with, and a provider's keys as they change.
//
// Every record has the message [Message] ("audit") and a fixed set of
// attribute keys ([KeyEvent], [KeyOutcome], [KeyReason], [KeyUsername],
// [KeySubject], [KeyClientID], [KeyTokenID], [KeyActor], [KeyClientIP],
// [KeyIssuer], [KeyKeyID]), all strings, besides slog's time and level;
// the event names are the [Event] constants. docs/audit.md is the table.
// A record never holds a token, a secret, a password or a code: only
// their identifiers (a "jti", an API token's id, a key's "kid").
//
// Give the records a handler of their own, apart from the application's
// log, and wire the parts' hooks to a [Logger]:
//
//	l := audit.New(slog.New(slog.NewJSONHandler(auditFile, nil)), audit.Config{
//		ClientAddr: endpoints.ClientAddr, // the client behind trusted proxies
//	})
//	endpointConfig.Hooks.Audit = audit.EndpointHook(l)         // logins, logouts, reuse, consents
//	handlerConfig.Hooks = audit.APITokenHooks(l)               // API tokens created and revoked
//	providerConfig.Hooks.OnKeysChanged = audit.ProviderKeysHook(l, providerConfig.Issuer)
//	l.LogKeys(ctx, issuer, keys)                               // the keys at start
//
// The short path does all of it with one field: sessionless.Config.Audit
// (then sessionless.Auth.Audit writes the application's own records).
// What only the application knows it writes itself with [Logger.Log] or
// [Logger.LogRequest], such as a password changed:
//
//	l.Log(ctx, audit.Record{Event: audit.PasswordChange, Subject: u.ID, Username: u.Name, Actor: audit.ActorOperator})
//
// A JSON handler writes a login refused for a wrong password as
//
//	{"time":"2030-01-02T03:04:05Z","level":"INFO","msg":"audit","event":"login","outcome":"failure",
//	 "reason":"unknown_user_or_bad_password","username":"alice","client_ip":"203.0.113.7","issuer":"https://api.example"}
package audit
