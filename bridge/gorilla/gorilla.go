package gorilla

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/sessionless/sessionless/identity"
)

// ErrNoSession: no live session has the cookie's value: not a cookie a
// store of these keys made, past its MaxAge, its data gone from the store,
// or holding no logged-in user. Every error of [Source.Session] but a
// store's identity.ErrUnavailable wraps it.
var ErrNoSession = errors.New("gorilla: no live session")

// MaxValueLength bounds the cookie's value: what browsers keep of a
// cookie (RFC 6265 §6.1), and securecookie's default MaxLength.
const MaxValueLength = 4096

// Config configures a [Source].
type Config struct {
	// Principal returns the principal of a session's Values: who is
	// logged in, with which scopes and roles. A session of nobody (a
	// visitor's, or one whose user logged out without deleting it) is an
	// error: wrap ErrNoSession. It must be safe for concurrent use, and
	// only read the map. Required; [UserID] covers the common case.
	Principal func(values map[any]any) (*identity.Principal, error)
	// Scopes are the scopes of every principal Principal gives none:
	// what the application's logged-in pages could do, in the terms of
	// the API's routes. Default: none.
	Scopes []string
	// Issuer is the Issuer of every principal Principal gives none. Name
	// the first-party issuer (token.IssuerConfig.Issuer): logging a user
	// out everywhere (revocation.List.RevokeSubject) then refuses their
	// sessions too, for as long as that entry lasts. Default "".
	Issuer string
}

// Source reads the sessions of a gorilla/sessions store for the
// middleware (middleware.SessionSource) and the exchange
// (bridge.Exchange). It only reads: it calls the store's New, never Get
// (no registry) and never Save. It is safe for concurrent use when the
// store is, as CookieStore and FilesystemStore are.
type Source struct {
	store sessions.Store
	name  string
	cfg   Config
}

// New returns a source reading the session called name (the name the
// application gives store.Get, which is also its cookie's) from store: a
// *sessions.CookieStore, a *sessions.FilesystemStore, or another
// sessions.Store whose New reads the request's cookie (Redis and
// database stores do). Give it the store the application builds, with
// the same keys, MaxAge and path.
func New(store sessions.Store, name string, cfg Config) (*Source, error) {
	switch {
	case store == nil:
		return nil, errors.New("gorilla: no store")
	case name == "":
		return nil, errors.New("gorilla: no session name")
	case cfg.Principal == nil:
		return nil, errors.New("gorilla: Config.Principal is required: it says who a session's values are")
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	return &Source{store: store, name: name, cfg: cfg}, nil
}

// validValue reports whether v can be a cookie value: RFC 6265
// cookie-octets, at most MaxValueLength bytes.
func validValue(v string) bool {
	if v == "" || len(v) > MaxValueLength {
		return false
	}
	for _, c := range []byte(v) {
		if c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// load asks the store for the session the cookie value names, with a
// request that carries that cookie alone.
func (s *Source) load(ctx context.Context, value string) (*http.Request, *sessions.Session, error) {
	if !validValue(value) {
		return nil, nil, fmt.Errorf("%w: not a cookie value", ErrNoSession)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return nil, nil, err
	}
	r.Header.Set("Cookie", s.name+"="+value)
	sess, err := s.store.New(r, s.name)
	var codec securecookie.Error
	switch {
	case err == nil && (sess == nil || sess.IsNew):
		return nil, nil, fmt.Errorf("%w: no session", ErrNoSession)
	case err == nil:
		return r, sess, nil
	case errors.As(err, &codec) && codec.IsDecode(), errors.Is(err, fs.ErrNotExist),
		// securecookie v1.1.2 reports a value over a codec's MaxLength
		// with an error of no type.
		strings.HasPrefix(err.Error(), "securecookie: the value is too long"):
		// Forged, of other keys, past MaxAge; or a file deleted.
		return nil, nil, fmt.Errorf("%w: %w", ErrNoSession, err)
	}
	return nil, nil, fmt.Errorf("%w: gorilla: %w", identity.ErrUnavailable, err)
}

// Session returns the principal of the session the cookie's value names
// (middleware.SessionSource). Its Method is identity.Session and its
// Claims the session's Values (read them, do not write them) unless
// Principal sets others. Its ExpiresAt is Principal's: the cookie's
// age, which the store's codecs check against its MaxAge, is not
// exposed.
func (s *Source) Session(ctx context.Context, value string) (*identity.Principal, error) {
	_, sess, err := s.load(ctx, value)
	if err != nil {
		return nil, err
	}
	p, err := s.cfg.Principal(sess.Values)
	switch {
	case err != nil:
		return nil, err
	case p == nil || p.Subject == "":
		return nil, fmt.Errorf("%w: Principal returned no subject", ErrNoSession)
	}
	own := *p
	own.Method = identity.Session
	if own.Issuer == "" {
		own.Issuer = s.cfg.Issuer
	}
	if own.Scopes == nil {
		own.Scopes = s.cfg.Scopes
	}
	if own.Claims == nil {
		own.Claims = sess.Values
	}
	return &own, nil
}

// Destroy ends the session the cookie's value names as the application's
// logout does: MaxAge -1, then Save. A FilesystemStore (and a Redis or
// database store) deletes it; a CookieStore has nothing on the server to
// delete, so a copy of the cookie stays good until its MaxAge (the
// exchange clears the browser's). A session already gone is no error.
func (s *Source) Destroy(ctx context.Context, value string) error {
	r, sess, err := s.load(ctx, value)
	switch {
	case errors.Is(err, ErrNoSession):
		return nil
	case err != nil:
		return err
	}
	sess.Options.MaxAge = -1
	if err := s.store.Save(r, discard{}, sess); err != nil {
		return fmt.Errorf("%w: gorilla: %w", identity.ErrUnavailable, err)
	}
	return nil
}

// discard is a ResponseWriter for the cookie Save sets: the exchange
// answers the browser itself.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// UserID returns a Config.Principal for the common case: the logged-in
// user's id in Values[key] (session.Values["user_id"] = 42): a non-empty
// string, or an integer written in decimal, becomes the principal's
// Subject. A session without it (no one logged in) is ErrNoSession.
func UserID(key string) func(map[any]any) (*identity.Principal, error) {
	return func(values map[any]any) (*identity.Principal, error) {
		var sub string
		switch id := values[key].(type) {
		case string:
			sub = id
		case int:
			sub = strconv.Itoa(id)
		case int64:
			sub = strconv.FormatInt(id, 10)
		case int32:
			sub = strconv.FormatInt(int64(id), 10)
		case uint:
			sub = strconv.FormatUint(uint64(id), 10)
		case uint64:
			sub = strconv.FormatUint(id, 10)
		case uint32:
			sub = strconv.FormatUint(uint64(id), 10)
		}
		if sub == "" {
			return nil, fmt.Errorf("%w: no user id under %q", ErrNoSession, key)
		}
		return &identity.Principal{Subject: sub}, nil
	}
}
