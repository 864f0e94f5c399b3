package phpsession

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/sessionless/sessionless/identity"
)

// ErrNoSession: no live session has the id: not a PHP session id, no
// data under it, expired (past session.gc_maxlifetime), or holding no
// logged-in user. Every error of [Source.Session] but a store's
// [identity.ErrUnavailable] wraps it, or ErrSyntax or ErrLimit for data
// that does not decode.
var ErrNoSession = errors.New("phpsession: no live session")

// Store reads the data of PHP sessions where a save handler keeps it:
// [Files] for the files handler, redisstore.Store for phpredis. Its
// methods must be safe for concurrent use.
type Store interface {
	// Read returns the data of the session id, which the caller has
	// checked is a PHP session id ([A-Za-z0-9,-], at most 256 bytes),
	// and when the session expires unless it is used before (zero:
	// unknown). No session by that id, or an expired one, is an error
	// wrapping ErrNoSession; data over limit bytes, ErrLimit; a store
	// that cannot answer, identity.ErrUnavailable. It must not lock,
	// write or touch the session: reading it extends nothing.
	Read(ctx context.Context, id string, limit int) (data []byte, expires time.Time, err error)
}

// Destroyer is an optional interface of a [Store]: Destroy deletes the
// session id, as session_destroy() does; a session already gone is no
// error. [Files] and redisstore.Store implement it.
type Destroyer interface {
	Destroy(ctx context.Context, id string) error
}

// MaxIDLength is the longest session id PHP makes or accepts
// (session.sid_length is at most 256).
const MaxIDLength = 256

// DefaultMinIDLength is Config.MinIDLength when zero: the shortest
// session.sid_length PHP allows.
const DefaultMinIDLength = 22

// Config configures a [Source].
type Config struct {
	// Format is the application's session.serialize_handler. Default
	// FormatPHP, PHP's default.
	Format Format
	// Principal returns the principal of a session's variables: who is
	// logged in, with which scopes and roles. A session of nobody (a
	// visitor's, or one logged out without session_destroy()) is an
	// error: wrap ErrNoSession. It must be safe for concurrent use.
	// Required; [UserID] covers the common case.
	Principal func(vars Array) (*identity.Principal, error)
	// Scopes are the scopes of every principal Principal gives none:
	// what the application's logged-in pages could do, in the terms of
	// the API's routes (middleware.Authenticator.RequireScopes). Default:
	// none.
	Scopes []string
	// Issuer is the Issuer of every principal Principal gives none.
	// Name the first-party issuer (token.IssuerConfig.Issuer): logging a
	// user out everywhere (revocation.List.RevokeSubject) then refuses
	// their PHP sessions too, for as long as that entry lasts (their
	// IssuedAt is unknown, so every session of the subject is before the
	// cut-off). Default "".
	Issuer string
	// Limits bound the session data the decoder reads. Zero fields mean
	// the defaults of [Limits].
	Limits Limits
	// MinIDLength is the shortest session id accepted: the
	// application's session.sid_length, or less. Default
	// DefaultMinIDLength (22); at most MaxIDLength.
	MinIDLength int
}

// Source reads PHP sessions from a [Store] for the middleware
// (middleware.SessionSource) and the exchange (bridge.Exchange): it
// checks the id, reads the data, decodes it in the configured format and
// maps it to a principal. It only reads. It is safe for concurrent use.
type Source struct {
	store Store
	cfg   Config
}

// New returns a Source reading store.
func New(store Store, cfg Config) (*Source, error) {
	switch {
	case store == nil:
		return nil, errors.New("phpsession: no store")
	case cfg.Principal == nil:
		return nil, errors.New("phpsession: Config.Principal is required: it says who a session's variables are")
	}
	switch cfg.Format {
	case "":
		cfg.Format = FormatPHP
	case FormatPHP, FormatPHPSerialize:
	default:
		return nil, fmt.Errorf("phpsession: unknown format %q: want %q or %q", cfg.Format, FormatPHP, FormatPHPSerialize)
	}
	if cfg.MinIDLength == 0 {
		cfg.MinIDLength = DefaultMinIDLength
	}
	if cfg.MinIDLength < 1 || cfg.MinIDLength > MaxIDLength {
		return nil, fmt.Errorf("phpsession: MinIDLength %d: want 1 to %d", cfg.MinIDLength, MaxIDLength)
	}
	cfg.Limits = cfg.Limits.withDefaults()
	cfg.Scopes = slices.Clone(cfg.Scopes)
	return &Source{store: store, cfg: cfg}, nil
}

// ValidID reports whether id can be a PHP session id: 1 to 256 of
// [A-Za-z0-9,-], the characters PHP's files handler accepts. No other
// id reaches a Store: none can name a file outside the save path or
// another kind of key.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLength {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == ',' || c == '-') {
			return false
		}
	}
	return true
}

// Session returns the principal of the session whose id is the cookie's
// value (middleware.SessionSource). Its Method is identity.Session, its
// ExpiresAt when the session expires unless used (Principal may set an
// earlier one), its Claims the session's variables (an [Array]) unless
// Principal sets others.
func (s *Source) Session(ctx context.Context, id string) (*identity.Principal, error) {
	if len(id) < s.cfg.MinIDLength || !ValidID(id) {
		return nil, fmt.Errorf("%w: not a session id", ErrNoSession)
	}
	data, expires, err := s.store.Read(ctx, id, s.cfg.Limits.MaxBytes)
	if err != nil {
		return nil, err
	}
	vars, err := Decode(data, s.cfg.Format, s.cfg.Limits)
	if err != nil {
		return nil, err
	}
	p, err := s.cfg.Principal(vars)
	switch {
	case err != nil:
		return nil, err
	case p == nil || p.Subject == "":
		return nil, fmt.Errorf("%w: Principal returned no subject", ErrNoSession)
	}
	own := *p
	own.Method = identity.Session
	if own.ExpiresAt.IsZero() || !expires.IsZero() && expires.Before(own.ExpiresAt) {
		own.ExpiresAt = expires
	}
	if own.Issuer == "" {
		own.Issuer = s.cfg.Issuer
	}
	if own.Scopes == nil {
		own.Scopes = s.cfg.Scopes
	}
	if own.Claims == nil {
		own.Claims = vars
	}
	return &own, nil
}

// Destroy deletes the session id from the store, if the store can
// (bridge.Destroyer, for the exchange's destroy_session); a store that
// is no Destroyer gives an error wrapping errors.ErrUnsupported.
func (s *Source) Destroy(ctx context.Context, id string) error {
	d, ok := s.store.(Destroyer)
	if !ok {
		return fmt.Errorf("phpsession: the store cannot destroy sessions: %w", errors.ErrUnsupported)
	}
	if !ValidID(id) {
		return nil // no session has it
	}
	return d.Destroy(ctx, id)
}

// UserID returns a Config.Principal for the common case: the logged-in
// user's id in the session variable path[0] ($_SESSION['user_id']), or
// down the arrays it holds by the next keys (path "_sf2_attributes",
// "user_id" for Symfony's $session->set('user_id', …)). The id is a
// non-empty string, or an integer written in decimal, and becomes the
// principal's Subject. A session without it (no one logged in) is
// ErrNoSession. UserID panics without a path.
func UserID(path ...string) func(Array) (*identity.Principal, error) {
	if len(path) == 0 {
		panic("phpsession: UserID needs the name of the session variable")
	}
	path = slices.Clone(path)
	return func(vars Array) (*identity.Principal, error) {
		var v any = vars
		for _, k := range path {
			a, ok := v.(Array)
			if !ok {
				return nil, fmt.Errorf("%w: no %q in the session", ErrNoSession, path)
			}
			if v, ok = a.Get(k); !ok {
				return nil, fmt.Errorf("%w: no %q in the session", ErrNoSession, path)
			}
		}
		var sub string
		switch id := v.(type) {
		case string:
			sub = id
		case int64:
			sub = strconv.FormatInt(id, 10)
		}
		if sub == "" {
			return nil, fmt.Errorf("%w: %q is not a user id", ErrNoSession, path)
		}
		return &identity.Principal{Subject: sub}, nil
	}
}
