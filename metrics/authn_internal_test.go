package metrics

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
)

// TestOutcomeOf: every sentinel of the middleware has an outcome of its
// own (but ErrInvalidToken, split by its cause), wrapped as the
// middleware wraps them.
func TestOutcomeOf(t *testing.T) {
	invalid := func(cause error) error { return fmt.Errorf("%w: %w", middleware.ErrInvalidToken, cause) }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		// The middleware's sentinels.
		{middleware.ErrNoCredentials, "no_credentials"},
		{fmt.Errorf("%w: more than one Authorization header", middleware.ErrInvalidRequest), "invalid_request"},
		{fmt.Errorf("%w: unrecognized token kind", middleware.ErrInvalidToken), "invalid_token"},
		{middleware.ErrRevoked, "revoked"},
		{fmt.Errorf("%w: want exactly one DPoP header, got 0", middleware.ErrInvalidDPoPProof), "invalid_proof"},
		{fmt.Errorf("%w: %w", middleware.ErrUseDPoPNonce, dpop.ErrUseNonce), "dpop_nonce_required"},
		{fmt.Errorf("%w: subject %q", middleware.ErrInsufficientScope, "alice"), "forbidden_scope"},
		{fmt.Errorf("%w: unknown session", middleware.ErrInvalidSession), "invalid_session"},
		{fmt.Errorf("%w: %w", middleware.ErrCrossOrigin, errors.New("cross-origin request")), "cross_origin"},
		{fmt.Errorf("%w: revocation check: %w", middleware.ErrUnavailable, errors.New("stale")), "unavailable"},
		{errors.New("no sentinel"), "invalid_token"},
		// DPoP's causes.
		{fmt.Errorf("%w: %w", middleware.ErrInvalidDPoPProof, dpop.ErrReplayed), "replayed_proof"},
		{fmt.Errorf("%w: %w", middleware.ErrInvalidDPoPProof, dpop.ErrInvalidProof), "invalid_proof"},
		{fmt.Errorf("%w: the DPoP replay cache: %w", identity.ErrUnavailable, errors.New("down")), "unavailable"},
		// The verifiers' causes.
		{invalid(token.ErrMalformed), "malformed"},
		{invalid(token.ErrUnsupported), "malformed"},
		{invalid(apitoken.ErrMalformed), "malformed"},
		{invalid(token.ErrSignature), "invalid_signature"},
		{invalid(token.ErrAlgorithm), "invalid_signature"},
		{invalid(token.ErrUnknownKey), "unknown_key"},
		{invalid(token.ErrExpired), "expired"},
		{invalid(apitoken.ErrExpired), "expired"},
		{invalid(token.ErrNotYetValid), "not_yet_valid"},
		{invalid(token.ErrAudience), "wrong_audience"},
		{invalid(token.ErrIssuer), "wrong_issuer"},
		{invalid(apitoken.ErrRevoked), "revoked"},
		{invalid(apitoken.ErrNotFound), "invalid_token"},
		{invalid(token.ErrWrongType), "invalid_token"},
		{invalid(token.ErrMissingClaim), "invalid_token"},
		{invalid(token.ErrLifetime), "invalid_token"},
	} {
		if got := outcomes[outcomeOf(tc.err)]; got != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, got, tc.want)
		}
	}
}

// TestMethodIndex: the principal's methods, and any other as "other".
func TestMethodIndex(t *testing.T) {
	for m, want := range map[identity.Method]string{
		identity.JWT: "jwt", identity.OIDC: "oidc", identity.APIToken: "apitoken", identity.Session: "session",
		"": "other", "saml": "other",
	} {
		if got := methods[methodIndex(m)]; got != want {
			t.Errorf("%q: %s, want %s", m, got, want)
		}
	}
}
