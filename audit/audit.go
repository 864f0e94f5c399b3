package audit

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// Message is the message of every audit record: what tells them apart
// from other lines when they share a log.
const Message = "audit"

// Event names what a record reports: the value of its "event" key.
// docs/audit.md says when each one is written.
type Event string

// The events. Their names are part of the schema: they do not change.
const (
	// Login: a login with a password (the login endpoint, the password
	// grant, the authorization endpoint's login form) or through an
	// OpenID Connect provider. Outcome Failure with Reason
	// ReasonBadCredentials, ReasonLocked or ReasonThrottled.
	Login Event = "login"
	// Throttled: a request refused 429 by the endpoints' throttle that
	// was not a password attempt, or came before its username was read;
	// Reason is the budget it was over ("address", mostly). A password
	// attempt refused so is a Login failure with ReasonThrottled.
	Throttled Event = "throttled"
	// Logout: an access token revoked by its holder (and the refresh
	// family it came from).
	Logout Event = "logout"
	// LogoutAll: every token of a subject revoked ("log out everywhere").
	LogoutAll Event = "logout_all"
	// TokenRevoke: a token revoked at the revocation endpoint (RFC 7009).
	TokenRevoke Event = "token_revoke"
	// RefreshReuse: a spent refresh token presented again; its whole
	// family (and the family's access tokens) is revoked.
	RefreshReuse Event = "refresh_reuse"
	// DeviceEnd: a login (a refresh family) ended from the devices list.
	DeviceEnd Event = "device_end"
	// CodeIssue: an authorization code issued to a client.
	CodeIssue Event = "code_issue"
	// CodeReuse: an authorization code presented again; the tokens it
	// gave are revoked.
	CodeReuse Event = "code_reuse"
	// ConsentGrant: a user allowed a third-party client.
	ConsentGrant Event = "consent_grant"
	// ConsentDeny: a user refused a third-party client.
	ConsentDeny Event = "consent_deny"
	// ConsentRevoke: a user withdrew a consent; the client's tokens are
	// revoked.
	ConsentRevoke Event = "consent_revoke"
	// APITokenCreate: an API token created; Actor says by whom.
	APITokenCreate Event = "apitoken_create"
	// APITokenRevoke: an API token revoked; Actor says by whom.
	APITokenRevoke Event = "apitoken_revoke"
	// PasswordChange: a user's password set (by an operator: Actor).
	PasswordChange Event = "password_change"
	// SigningKey: the key that signs the issuer's tokens, as an instance
	// starts with it: a rotation is a new KeyID.
	SigningKey Event = "signing_key"
	// VerificationKey: a key whose tokens the issuer still accepts but
	// which signs no more (retired by a rotation), or not yet (the next
	// one, published first), as an instance starts with it.
	VerificationKey Event = "verification_key"
	// ProviderKeysChange: a key of an OpenID Connect provider added to
	// or removed from those the instance holds (Reason ReasonAdded or
	// ReasonRemoved), one record per key.
	ProviderKeysChange Event = "provider_keys_change"
)

// Outcome is the value of the "outcome" key.
type Outcome string

// The outcomes.
const (
	Success Outcome = "success" // what was asked was done
	Failure Outcome = "failure" // refused, or a detected attack
)

// The keys of a record's attributes: the whole schema, besides slog's own
// "time", "level" and "msg". A key whose value would be empty is left
// out; every value is a string.
const (
	KeyEvent    = "event"
	KeyOutcome  = "outcome"
	KeyReason   = "reason"
	KeyUsername = "username"
	KeySubject  = "subject"
	KeyClientID = "client_id"
	KeyTokenID  = "token_id"
	KeyActor    = "actor"
	KeyClientIP = "client_ip"
	KeyIssuer   = "issuer"
	KeyKeyID    = "key_id"
)

// Reasons, the values of the "reason" key. A Throttled record's reason is
// the budget the request was over: "address", "username" or "inflight"
// (endpoint.Budget).
const (
	// ReasonBadCredentials: no user of that name, or a wrong password;
	// one reason for both, as the answer is one.
	ReasonBadCredentials = "unknown_user_or_bad_password"
	// ReasonLocked: the user exists but cannot log in with a password
	// (locked, or an account of a provider's users).
	ReasonLocked = "locked"
	// ReasonThrottled: the attempt was refused 429 before any password
	// was checked.
	ReasonThrottled = "throttled"
	// ReasonAdded and ReasonRemoved: a provider's key, new or gone.
	ReasonAdded   = "added"
	ReasonRemoved = "removed"
)

// ActorOperator is the Actor of what an operator did from the command
// line rather than a user through the API.
const ActorOperator = "operator"

// Record is one audit event. Empty fields are left out of the log record.
// None of them may hold a secret: a token, a password, a code or a key;
// only identifiers.
type Record struct {
	Event Event
	// Outcome defaults to Failure for Throttled, RefreshReuse and
	// CodeReuse, and to Success otherwise.
	Outcome Outcome
	// Reason says why, for the events that have reasons.
	Reason string
	// Username is the login name as the client sent it (login events;
	// PasswordChange).
	Username string
	// Subject is the user's stable identifier (the tokens' "sub").
	Subject string
	// ClientID is the OAuth client concerned.
	ClientID string
	// TokenID identifies the credential issued or revoked: an access
	// token's "jti", an API token's id, a refresh family's id
	// (DeviceEnd).
	TokenID string
	// Actor is who did it, where that may be someone else than Subject:
	// the subject of the caller's credential, or ActorOperator.
	Actor string
	// ClientIP is the client's address as the endpoints saw it: behind
	// trusted proxies, the address they forwarded.
	ClientIP netip.Addr
	// Issuer is the issuer of Subject's tokens, or of the key (KeyID).
	Issuer string
	// KeyID is a key's "kid".
	KeyID string
}

// Config configures a [Logger]. The zero value is usable.
type Config struct {
	// ClientAddr returns the client address of a request, for
	// [Logger.LogRequest]: give endpoint.Server.ClientAddr, which reads
	// it behind the trusted proxies. Nil: the connection's address.
	ClientAddr func(r *http.Request) netip.Addr
	// Now returns the time of the records. Nil means time.Now.
	Now func() time.Time
}

// Logger writes audit records to a *slog.Logger, one record per event. A
// nil *Logger writes nothing. It is safe for concurrent use.
type Logger struct {
	h          slog.Handler
	clientAddr func(*http.Request) netip.Addr
	now        func() time.Time
}

// New returns a Logger that writes to l (nil: nowhere). Give it a
// handler of its own, apart from the application's log: a JSON handler
// on a file the security team reads.
func New(l *slog.Logger, cfg Config) *Logger {
	if l == nil {
		return nil
	}
	a := &Logger{h: l.Handler(), clientAddr: cfg.ClientAddr, now: cfg.Now}
	if a.clientAddr == nil {
		a.clientAddr = peerAddr
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a
}

// Log writes rec: message [Message], level WARN for RefreshReuse and
// CodeReuse and INFO otherwise, the attributes in the order of the Key
// constants.
func (l *Logger) Log(ctx context.Context, rec Record) {
	if l == nil {
		return
	}
	level := slog.LevelInfo
	if rec.Event == RefreshReuse || rec.Event == CodeReuse {
		level = slog.LevelWarn
	}
	if !l.h.Enabled(ctx, level) {
		return
	}
	if rec.Outcome == "" {
		rec.Outcome = Success
		if rec.Event == Throttled || rec.Event == RefreshReuse || rec.Event == CodeReuse {
			rec.Outcome = Failure
		}
	}
	r := slog.NewRecord(l.now(), level, Message, 0)
	r.AddAttrs(slog.String(KeyEvent, string(rec.Event)), slog.String(KeyOutcome, string(rec.Outcome)))
	for _, kv := range [...]struct{ k, v string }{
		{KeyReason, rec.Reason},
		{KeyUsername, rec.Username},
		{KeySubject, rec.Subject},
		{KeyClientID, rec.ClientID},
		{KeyTokenID, rec.TokenID},
		{KeyActor, rec.Actor},
		{KeyClientIP, addrString(rec.ClientIP)},
		{KeyIssuer, rec.Issuer},
		{KeyKeyID, rec.KeyID},
	} {
		if kv.v != "" {
			r.AddAttrs(slog.String(kv.k, kv.v))
		}
	}
	_ = l.h.Handle(ctx, r) // an audit log that cannot be written is the handler's to report
}

// LogRequest writes rec, an event of the request r: its ClientIP, when
// not set, is r's client address (Config.ClientAddr).
func (l *Logger) LogRequest(r *http.Request, rec Record) {
	if l == nil {
		return
	}
	if !rec.ClientIP.IsValid() {
		rec.ClientIP = l.clientAddr(r)
	}
	l.Log(r.Context(), rec)
}

// addrString is a's text, "" for the zero Addr.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// peerAddr is the address of r's connection, the zero Addr when it is not
// an IP address.
func peerAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}
