// Package gorilla reads the sessions of github.com/gorilla/sessions
// (v1.4.0) — its CookieStore, its FilesystemStore, or any other
// sessions.Store — so that routes accept the session cookie of the Go
// application being moved to tokens (middleware.SessionSource), and the
// exchange endpoint (bridge.Exchange) trades it for tokens.
//
// It is a module of its own (github.com/sessionless/sessionless/bridge/gorilla),
// so that the main module does not require gorilla/sessions: only its
// users pay for it in their go.mod.
//
//	store := sessions.NewFilesystemStore("/var/lib/app/sessions", hashKey, blockKey) // the application's, same keys
//	store.MaxAge(7 * 24 * 3600)
//	legacy, err := gorilla.New(store, "session", gorilla.Config{ // store.Get(r, "session")
//		Principal: gorilla.UserID("user_id"),                    // session.Values["user_id"]
//		Scopes:    []string{"widgets:read", "widgets:write"},
//		Issuer:    "https://api.example",
//	})
//	auth, err := middleware.New(middleware.Config{
//		JWT:     map[string]middleware.Verifier{"https://api.example": verifier},
//		Session: middleware.SessionConfig{CookieName: "session", Source: legacy},
//	})
//
// A [Source] asks the store's New for the session, with a request that
// carries the cookie alone: the store's codecs check the cookie's MAC and
// age (MaxAge) and decode it, and a FilesystemStore reads the file it
// names. Nothing is saved, so nothing is extended: the cookie's age
// counts from the application's last Save. Values of types of your own
// decode only once registered with gob.Register, as in the application.
//
// A CookieStore keeps the whole session in the cookie: there is nothing
// on the server to destroy, so a logout in the application, or
// [Source.Destroy], ends it in that browser only, and a copy of the
// cookie stays good until its MaxAge. Keep that MaxAge short during the
// migration, or rotate the keys at the sunset, which ends every cookie.
package gorilla
