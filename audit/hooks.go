package audit

import (
	"context"
	"net/http"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
)

// EndpointHook returns the endpoint.Hooks.Audit that writes the events of
// the login, token, logout, devices and authorization endpoints to l, or
// nil for a nil l. A refresh token's rotation (endpoint.Refreshed) is
// routine, not an audit record; a password attempt refused by the
// throttle is a [Login] failure with [ReasonThrottled].
func EndpointHook(l *Logger) func(*http.Request, endpoint.Event) {
	if l == nil {
		return nil
	}
	return func(r *http.Request, e endpoint.Event) {
		rec := Record{Username: e.Username, Subject: e.Subject, ClientID: e.ClientID, TokenID: e.TokenID,
			ClientIP: e.ClientAddr, Issuer: e.Issuer}
		switch e.Kind {
		case endpoint.LoginSucceeded:
			rec.Event = Login
		case endpoint.LoginFailed:
			rec.Event, rec.Outcome, rec.Reason = Login, Failure, e.Reason
		case endpoint.Throttled:
			rec.Event, rec.Reason = Throttled, e.Reason
			if e.Username != "" {
				rec.Event, rec.Outcome, rec.Reason = Login, Failure, ReasonThrottled
			}
		case endpoint.RefreshReused:
			rec.Event = RefreshReuse
		case endpoint.LoggedOut:
			rec.Event = Logout
		case endpoint.LoggedOutAll:
			rec.Event = LogoutAll
		case endpoint.Revoked:
			rec.Event = TokenRevoke
		case endpoint.DeviceEnded:
			rec.Event = DeviceEnd
		case endpoint.CodeIssued:
			rec.Event = CodeIssue
		case endpoint.CodeReused:
			rec.Event = CodeReuse
		case endpoint.ConsentGranted:
			rec.Event = ConsentGrant
		case endpoint.ConsentDenied:
			rec.Event = ConsentDeny
		case endpoint.ConsentRevoked:
			rec.Event = ConsentRevoke
		default: // endpoint.Refreshed, and kinds this schema does not know
			return
		}
		l.Log(r.Context(), rec) // the client address as the endpoints read it
	}
}

// APITokenHooks returns the apitoken.HandlerHooks that write
// [APITokenCreate] and [APITokenRevoke] to l, with the caller's subject
// as the Actor and the client address of Config.ClientAddr; none for a
// nil l.
func APITokenHooks(l *Logger) apitoken.HandlerHooks {
	if l == nil {
		return apitoken.HandlerHooks{}
	}
	hook := func(ev Event) func(*http.Request, *identity.Principal, apitoken.Token) {
		return func(r *http.Request, by *identity.Principal, t apitoken.Token) {
			rec := Record{Event: ev, Subject: t.Subject, TokenID: t.ID}
			if by != nil {
				rec.Actor = by.Subject
			}
			l.LogRequest(r, rec)
		}
	}
	return apitoken.HandlerHooks{OnCreated: hook(APITokenCreate), OnRevoked: hook(APITokenRevoke)}
}

// ProviderKeysHook returns the oidc.Hooks.OnKeysChanged of the provider
// issuer that writes one [ProviderKeysChange] per key added or removed to
// l, or nil for a nil l.
func ProviderKeysHook(l *Logger, issuer string) func(added, removed []string) {
	if l == nil {
		return nil
	}
	return func(added, removed []string) {
		ctx := context.Background()
		for _, kid := range added {
			l.Log(ctx, Record{Event: ProviderKeysChange, Reason: ReasonAdded, Issuer: issuer, KeyID: kid})
		}
		for _, kid := range removed {
			l.Log(ctx, Record{Event: ProviderKeysChange, Reason: ReasonRemoved, Issuer: issuer, KeyID: kid})
		}
	}
}

// LogKeys writes the keys of issuer that set holds, as an instance starts
// with them or swaps them in (token.KeyRing.Store): one [SigningKey]
// record, and a [VerificationKey] record per other key.
func (l *Logger) LogKeys(ctx context.Context, issuer string, set *token.KeySet) {
	if l == nil || set == nil {
		return
	}
	signing := set.SigningKey()
	if signing != nil {
		l.Log(ctx, Record{Event: SigningKey, Issuer: issuer, KeyID: signing.ID()})
	}
	for _, k := range set.Keys() {
		if k != signing {
			l.Log(ctx, Record{Event: VerificationKey, Issuer: issuer, KeyID: k.ID()})
		}
	}
}
