package middleware

import (
	"errors"

	"github.com/sessionless/sessionless/identity"
)

// The reasons a request is refused. Errors from [Authenticator.Authenticate]
// and those passed to an [ErrorHandler] wrap exactly one of them.
var (
	// ErrNoCredentials: the request carries no bearer token. 401 with a
	// bare challenge (RFC 6750 §3.1).
	ErrNoCredentials = errors.New("middleware: no credentials")
	// ErrInvalidRequest: a malformed Authorization header, a token with
	// characters outside b64token, or a token in more than one place (two
	// headers, cookies or query parameters). 400 invalid_request. A token
	// over the size limit is ErrInvalidToken.
	ErrInvalidRequest = errors.New("middleware: invalid request")
	// ErrInvalidToken: the token is malformed, forged, expired, of an
	// unknown kind or issuer. 401 invalid_token. The verifier's cause is
	// wrapped for logs, never shown to the client.
	ErrInvalidToken = errors.New("middleware: invalid token")
	// ErrRevoked: the token verified but has been revoked. 401 invalid_token.
	ErrRevoked = errors.New("middleware: token revoked")
	// ErrInvalidDPoPProof: a DPoP-bound token came without exactly one
	// valid proof by its key for this request (RFC 9449 §7.1). 401
	// invalid_dpop_proof, with a DPoP challenge.
	ErrInvalidDPoPProof = errors.New("middleware: invalid DPoP proof")
	// ErrUseDPoPNonce: the DPoP proof lacks the server's fresh nonce (RFC
	// 9449 §8). 401 use_dpop_nonce with a DPoP-Nonce header.
	ErrUseDPoPNonce = errors.New("middleware: DPoP proof without the server's nonce")
	// ErrInsufficientScope: the principal lacks a required scope or role.
	// 403 insufficient_scope.
	ErrInsufficientScope = errors.New("middleware: insufficient scope")
	// ErrInvalidSession: the legacy session cookie ([SessionConfig]) names
	// no live session: unknown, expired, destroyed, logged out or
	// malformed. 401 with a bare challenge, as without credentials (a
	// browser keeps a session cookie after its session ends); with
	// Config.Optional the request goes through anonymously. The source's
	// cause is wrapped for logs.
	ErrInvalidSession = errors.New("middleware: invalid session")
	// ErrCrossOrigin: a request authenticated by a cookie (the token
	// cookie, Config.CrossOrigin, or the legacy session's,
	// SessionConfig.CrossOrigin) comes from another origin with an
	// unsafe method (a CSRF attempt). 403 cross_origin.
	ErrCrossOrigin = errors.New("middleware: cross-origin request with a cookie credential")
	// ErrUnavailable: a backing store (revocation list, API token
	// database) or a provider cannot answer. 503: never 401, never 200.
	// It is [identity.ErrUnavailable] itself, so verifiers and revocation
	// checkers wrap it without importing this package.
	ErrUnavailable = identity.ErrUnavailable
)
