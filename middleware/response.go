package middleware

import (
	"errors"
	"net/http"
	"strings"

	"github.com/sessionless/sessionless/internal/httpx"
)

// Refusal is what an [ErrorHandler] gets: the reason (wrapping one of the
// package's sentinels and the internal cause) and the realm.
type Refusal struct {
	Err   error
	Realm string
	// Scopes are the scopes that would have been enough, for 403.
	Scopes []string
	// DPoPAlgs, when the middleware accepts DPoP, are the proof
	// algorithms, for a DPoP challenge beside the Bearer one.
	DPoPAlgs string
	// ResourceMetadata is the URL of the protected resource metadata
	// (RFC 9728), for the resource_metadata parameter of 401 challenges.
	ResourceMetadata string
	// DPoPNonce, for a use_dpop_nonce refusal, is the fresh nonce for the
	// DPoP-Nonce header.
	DPoPNonce string
	// Scheme is "DPoP" when the request used the DPoP scheme (and the
	// middleware accepts it): its error goes on the DPoP challenge (RFC
	// 9449 §7.1); otherwise "".
	Scheme string
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// ErrorHandler writes the response for a refused request.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, refusal *Refusal)

// Status returns the HTTP status and RFC 6750 error code for err: the one
// place where reasons become responses.
func Status(err error) (status int, code string) {
	switch {
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, "temporarily_unavailable"
	case errors.Is(err, ErrInvalidRequest):
		return http.StatusBadRequest, "invalid_request"
	case errors.Is(err, ErrInsufficientScope):
		return http.StatusForbidden, "insufficient_scope"
	case errors.Is(err, ErrCrossOrigin):
		return http.StatusForbidden, "cross_origin"
	case errors.Is(err, ErrNoCredentials), errors.Is(err, ErrInvalidSession):
		return http.StatusUnauthorized, ""
	case errors.Is(err, ErrInvalidDPoPProof):
		return http.StatusUnauthorized, "invalid_dpop_proof"
	case errors.Is(err, ErrUseDPoPNonce):
		return http.StatusUnauthorized, "use_dpop_nonce"
	}
	return http.StatusUnauthorized, "invalid_token" // ErrInvalidToken, ErrRevoked, anything else
}

// descriptions are the only words a client is told: terse, never the cause.
var descriptions = map[string]string{
	"":                        "authentication required",
	"invalid_request":         "malformed request: send exactly one bearer token",
	"invalid_token":           "the access token is invalid, expired or revoked",
	"insufficient_scope":      "the access token lacks the required scope",
	"temporarily_unavailable": "authentication is temporarily unavailable",
	"invalid_dpop_proof":      "the DPoP proof is missing, invalid, or not by the token's key",
	"use_dpop_nonce":          "the DPoP proof must carry the server's nonce (DPoP-Nonce)",
	"cross_origin":            "a request from another origin cannot use this browser's cookies: send a bearer token",
}

// WriteError is the default [ErrorHandler]: RFC 6750 §3 challenges and an
// application/problem+json body (RFC 9457).
//   - no credentials, or a session cookie naming no live session: 401,
//     WWW-Authenticate: Bearer realm="…" without error code;
//   - invalid, expired or revoked token: 401, error="invalid_token";
//   - missing scope: 403, error="insufficient_scope", scope="…";
//   - a cross-origin request with the session cookie: 403, error="cross_origin";
//   - malformed request: 400, error="invalid_request";
//   - backing store down: 503 with Retry-After, no challenge.
func WriteError(w http.ResponseWriter, r *http.Request, ref *Refusal) {
	status, code := Status(ref.Err)
	desc := descriptions[code]
	if code == "invalid_dpop_proof" && ref.DPoPAlgs != "" {
		// The names come from configuration, never from the proof.
		desc += "; accepted algs: " + ref.DPoPAlgs
	}
	scope := strings.Join(ref.Scopes, " ")
	h := w.Header()
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	} else {
		// With DPoP on, both schemes are offered (RFC 9449 §7.1). The
		// error and scope go on the challenge of the scheme the client
		// used: a DPoP error, or any error of a DPoP request, on the DPoP
		// one; the others on the Bearer one.
		var params string
		if code != "" {
			params = `, error="` + code + `", error_description="` + desc + `"`
		}
		if scope != "" {
			params += `, scope="` + scope + `"`
		}
		onDPoP := ref.DPoPAlgs != "" && (ref.Scheme == "DPoP" || code == "invalid_dpop_proof" || code == "use_dpop_nonce")
		bearer := `Bearer realm="` + ref.Realm + `"`
		if !onDPoP {
			bearer += params
		}
		meta := ""
		if ref.ResourceMetadata != "" && status == http.StatusUnauthorized {
			meta = `, resource_metadata="` + ref.ResourceMetadata + `"`
		}
		h.Set("WWW-Authenticate", bearer+meta)
		if ref.DPoPAlgs != "" {
			dp := `DPoP algs="` + ref.DPoPAlgs + `"`
			if onDPoP {
				dp += params
			}
			h.Add("WWW-Authenticate", dp+meta)
			if ref.DPoPNonce != "" {
				h.Set("DPoP-Nonce", ref.DPoPNonce)
			}
		}
	}
	httpx.WriteProblemDetails(w, httpx.Problem{Status: status, Detail: desc, Error: code, Scope: scope})
}
