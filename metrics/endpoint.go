package metrics

import (
	"context"
	"net/http"

	"github.com/sessionless/sessionless/token/endpoint"
)

// loginOutcomes are the values of sessionless.logins' outcome.
var loginOutcomes = [...]string{"ok", "failed", "throttled"}

const (
	loginOK = iota
	loginFailed
	loginThrottled
	numLogins
)

// events are the values of sessionless.endpoint.events' event: the
// endpoint.EventKind of every event but the password attempts'
// (sessionless.logins), and "other" for a kind this package does not
// know.
var events = [...]string{
	string(endpoint.Refreshed), string(endpoint.RefreshReused), string(endpoint.LoggedOut),
	string(endpoint.LoggedOutAll), string(endpoint.Revoked), string(endpoint.Throttled),
	string(endpoint.DeviceEnded), string(endpoint.CodeIssued), string(endpoint.CodeReused),
	string(endpoint.ConsentGranted), string(endpoint.ConsentDenied), string(endpoint.ConsentRevoked),
	"other",
}

// EndpointAudit counts an event of the token endpoints, for
// endpoint.Hooks.Audit (beside another audit hook: a func that calls
// both):
//   - password attempts (the login form, the password grant) in
//     sessionless.logins: outcome "ok" (endpoint.LoginSucceeded),
//     "failed" (endpoint.LoginFailed), "throttled" (endpoint.Throttled with
//     a username);
//   - every other event in sessionless.endpoint.events, by its kind:
//     refresh, refresh_reuse (a spent refresh token presented: its family
//     revoked), logout, logout_all, revoke, throttled (a request refused
//     429 that was not a password attempt), device_end, authorize (a code
//     issued), code_reuse, consent, consent_deny, consent_revoke; "other"
//     for a kind added since.
//
// Nothing of the event but its kind is recorded: no username, subject or
// client.
func (m *Metrics) EndpointAudit(r *http.Request, e endpoint.Event) {
	if m == nil {
		return
	}
	ctx := r.Context()
	switch e.Kind {
	case endpoint.LoginSucceeded:
		m.logins.Add(ctx, 1, m.loginSets[loginOK]...)
	case endpoint.LoginFailed:
		m.logins.Add(ctx, 1, m.loginSets[loginFailed]...)
	case endpoint.Throttled:
		if e.Username != "" {
			m.logins.Add(ctx, 1, m.loginSets[loginThrottled]...)
			return
		}
		m.events.Add(ctx, 1, m.eventSets[string(endpoint.Throttled)]...)
	default:
		set, ok := m.eventSets[string(e.Kind)]
		if !ok {
			set = m.eventSets["other"]
		}
		m.events.Add(ctx, 1, set...)
	}
}

// APITokenCreated counts an API token created (sessionless.apitokens.created),
// for the hook the API token handlers call after creating one.
func (m *Metrics) APITokenCreated(ctx context.Context) {
	if m != nil {
		m.apiCreated.Add(ctx, 1)
	}
}

// APITokenRevoked counts an API token revoked (sessionless.apitokens.revoked),
// for the hook the API token handlers call after revoking one.
func (m *Metrics) APITokenRevoked(ctx context.Context) {
	if m != nil {
		m.apiRevoked.Add(ctx, 1)
	}
}
