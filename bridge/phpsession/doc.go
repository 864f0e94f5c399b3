// Package phpsession reads PHP's native sessions (PHPSESSID), so that a Go
// API beside a PHP application (plain PHP, Symfony) accepts the
// application's logged-in users while they move to tokens: the
// middleware's legacy session source
// (middleware.SessionSource), and the source of the exchange endpoint
// (bridge.Exchange) that trades a session for tokens.
//
// A [Source] reads a session from a [Store] — [Files] for the files
// save handler, redisstore.Store for phpredis — decodes it in the
// application's session.serialize_handler format ([FormatPHP], the
// default, or [FormatPHPSerialize]) and maps its variables to a
// principal with a function of yours; [UserID] covers the common
// case, the user's id in one session variable:
//
//	files, err := phpsession.NewFiles(phpsession.FilesConfig{
//		Dir:         "/var/lib/php/sessions", // session.save_path
//		MaxLifetime: 1440 * time.Second,      // session.gc_maxlifetime
//	})
//	sessions, err := phpsession.New(files, phpsession.Config{
//		Format:    phpsession.FormatPHP,         // session.serialize_handler
//		Principal: phpsession.UserID("user_id"), // $_SESSION['user_id']
//		Scopes:    []string{"widgets:read", "widgets:write"},
//		Issuer:    "https://api.example", // the tokens' issuer: logout-all ends sessions too
//	})
//	auth, err := middleware.New(middleware.Config{
//		JWT:     map[string]middleware.Verifier{"https://api.example": verifier},
//		Session: middleware.SessionConfig{CookieName: "PHPSESSID", Source: sessions},
//	})
//
// The session is only read: never locked (PHP's files handler holds an
// exclusive lock on the file for a whole request; reading here waits for
// none), never written, and its lifetime is not extended — a user who
// only calls the Go API is logged out gc_maxlifetime after their last
// PHP request, which is why the exchange exists. Its expiry is honoured
// as PHP's garbage collector would: a file last written more than
// gc_maxlifetime ago, or a Redis key past its TTL, holds no session.
//
// Everything here reads input an attacker shapes: the session id comes
// from a cookie, and session data holds what users typed. The id must be
// 22 to 256 of [A-Za-z0-9,-] ([ValidID], [Config.MinIDLength]) before it
// becomes a file name (opened with os.OpenInRoot besides) or a key. The
// decoders ([Unserialize], [Decode]) are strict — PHP's encodings only,
// nothing after the data, no key twice — bounded ([Limits]: size, depth,
// number of values; no count in the data allocates more than the data
// can fill), fuzzed, and never panic. They build plain values (an
// [Array] for a PHP array, an [Object] for an object): no class is
// instantiated, no code runs.
package phpsession
