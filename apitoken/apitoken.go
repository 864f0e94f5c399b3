package apitoken

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sessionless/sessionless/identity"
)

// Defaults and limits of a [Config].
const (
	// DefaultIssuer, followed by the prefix ("sessionless:apitoken:sl_"),
	// is the Issuer of API token principals: what the revocation list keys
	// their entries on, and how a manager knows its own tokens.
	DefaultIssuer = "sessionless:apitoken:"
	// DefaultCacheAge is how long the middleware may keep a verified
	// token ([Manager.MaxCacheAge]).
	DefaultCacheAge = time.Minute
	// DefaultFlushInterval is how often last-use times are written.
	DefaultFlushInterval = time.Minute
	// DefaultMaxLifetime is the longest lifetime of a token, and the
	// lifetime of one created without any.
	DefaultMaxLifetime = 365 * 24 * time.Hour
	// DefaultMaxPerSubject bounds the tokens of one subject.
	DefaultMaxPerSubject = 100
	// MinPepperLen is the shortest Config.Pepper.
	MinPepperLen = 32
	// Limits on what a token is created with.
	MaxNameLen     = 100 // bytes
	MaxScopes      = 50
	MaxScopeLen    = 128 // bytes
	MaxSubjectLen  = 1024
	flushTimeout   = 30 * time.Second
	pushTimeout    = 10 * time.Second // a revocation's push to the Revoker, once the store has it
	revokedLingers = 2                // × the cache age: how long a revocation list entry lasts
)

// lastExpiry is the latest expiry a token can have: what every store
// holds (int64 nanoseconds end in April 2262).
var lastExpiry = time.Date(2261, 12, 31, 0, 0, 0, 0, time.UTC)

// Revoker is where revocations of API tokens are pushed so that the
// middleware's cache, which checks it on every hit, drops them at once,
// on every instance sharing it. *revocation.List implements it.
type Revoker interface {
	RevokeToken(ctx context.Context, issuer, jti string, exp time.Time) error
}

// Config configures a [Manager]. The zero value of each optional field is
// the strict default.
type Config struct {
	// Store keeps the tokens. Required.
	Store Store
	// SubjectIssuer is the "iss" of the principals whose subjects own
	// tokens: the application's own access tokens (token.Issuer.Name()).
	// Required. [Manager.CreateFor] and the handlers serve only principals
	// of this issuer and the manager's own API tokens (which act for such
	// a subject): another trusted issuer (an OpenID Connect provider) may
	// use the same subject for someone else, so its principals get
	// ErrForeignIssuer.
	SubjectIssuer string
	// Prefix starts every token: [a-z][a-z0-9_]*_, at most MaxPrefixLen
	// bytes. Default DefaultPrefix ("sl_"). Register the manager in
	// middleware.Config.Prefixes under the same prefix.
	Prefix string
	// Issuer is the Issuer of the principals, which the revocation list
	// keys on, and by which [Manager.SubjectOf] knows the manager's own API
	// tokens: managers sharing a middleware or a revocation list need
	// distinct ones. Default DefaultIssuer + Prefix
	// ("sessionless:apitoken:sl_"), distinct for distinct prefixes.
	Issuer string
	// Pepper, when set, is a server-side secret of at least MinPepperLen
	// bytes: the store then holds HMAC-SHA256(Pepper, token) instead of
	// SHA-256(token), so a copy of the database alone cannot even confirm
	// a guessed token. Changing it invalidates every token.
	Pepper []byte
	// Revoker receives every revocation (by Issuer and token id), so that
	// the middleware's cache refuses a revoked token at once, and on other
	// instances as soon as the list reaches them. Nil: a revoked token
	// stays in the caches that hold it for up to CacheAge.
	Revoker Revoker
	// CacheAge is how long the middleware may serve a verified token from
	// its cache ([Manager.MaxCacheAge]) before asking the store again: the
	// longest a deleted token, or a revoked one without a Revoker, keeps
	// working. Default DefaultCacheAge (1 min); negative: no caching.
	CacheAge time.Duration
	// FlushInterval is how often the last-use times noted in memory are
	// written, in one write for all tokens: each token's row is written
	// at most once per interval by each instance. Default
	// DefaultFlushInterval (1 min); at least 1 s.
	FlushInterval time.Duration
	// MaxLifetime is the longest lifetime a token can be created with,
	// and the lifetime of one created without any. Default
	// DefaultMaxLifetime (365 days); negative: no limit, and tokens
	// created without a lifetime never expire.
	MaxLifetime time.Duration
	// MaxPerSubject bounds how many active tokens (neither revoked nor
	// expired) one subject can have. Default DefaultMaxPerSubject.
	MaxPerSubject int
	// CreatorAudiences are the audiences of SubjectIssuer's access tokens
	// that act for the whole API: their general audience
	// (token.IssuerConfig.Audience, what middleware.Config.Audiences
	// lists), and the URL of a resource covering the whole API if tokens
	// may be asked for it. An API token is good at every resource, so
	// [Manager.CreateFor] refuses, with ErrConstrained, a creator whose
	// Claims report audiences (implement Audiences() []string, as
	// *token.Claims does) none of which is listed here: a token asked for
	// one resource (RFC 8707) cannot mint a token for all of them.
	// Principals whose Claims do not report audiences (API tokens,
	// principals built without Claims) are not concerned. Empty: every
	// creator whose Claims report audiences is refused; list the general
	// audience to let users of access tokens create API tokens.
	CreatorAudiences []string
	// InsecureAllowBoundCreators lets a sender-constrained token (its
	// Claims implement BoundKey() string and return a key, as a DPoP-bound
	// *token.Claims does) create API tokens. They are bearer tokens: the
	// proof of possession that protects the creator protects none of
	// them, and whoever steals one uses it without the key. False (the
	// default): such a creator gets ErrConstrained. Acceptable only where
	// the same users can get bearer access tokens anyway, so that binding
	// was never what kept their credentials from thieves.
	InsecureAllowBoundCreators bool
	// Logger receives failures of background writes. Default: discard.
	Logger *slog.Logger
	// Now returns the current time. Nil: time.Now.
	Now func() time.Time
}

// Manager creates, authenticates and revokes API tokens. It implements
// middleware.Verifier and middleware.CachePolicy. It is safe for
// concurrent use; Close it to write the last uses.
type Manager struct {
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
	hashes sync.Pool // of hash.Hash, for a pepper

	mu      sync.Mutex
	pending map[string]time.Time // last uses not written yet

	closeOnce sync.Once
	closeErr  error

	stop chan struct{}
	done chan struct{}
}

// New checks cfg and returns a manager whose background writer of last
// uses runs until Close.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("apitoken: Config.Store is required")
	}
	if cfg.SubjectIssuer == "" {
		return nil, errors.New("apitoken: Config.SubjectIssuer is required: the issuer of the principals that own tokens")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if err := checkPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer + cfg.Prefix
	}
	if cfg.Issuer == cfg.SubjectIssuer {
		return nil, errors.New("apitoken: Config.Issuer must differ from SubjectIssuer: revocations key on it")
	}
	if cfg.Pepper != nil && len(cfg.Pepper) < MinPepperLen {
		return nil, fmt.Errorf("apitoken: Config.Pepper has %d bytes, want at least %d", len(cfg.Pepper), MinPepperLen)
	}
	switch {
	case cfg.CacheAge == 0:
		cfg.CacheAge = DefaultCacheAge
	case cfg.CacheAge < 0:
		cfg.CacheAge = 0
	}
	switch {
	case cfg.FlushInterval == 0:
		cfg.FlushInterval = DefaultFlushInterval
	case cfg.FlushInterval < time.Second:
		return nil, errors.New("apitoken: Config.FlushInterval must be at least 1s")
	}
	switch {
	case cfg.MaxLifetime == 0:
		cfg.MaxLifetime = DefaultMaxLifetime
	case cfg.MaxLifetime > 100*365*24*time.Hour:
		return nil, errors.New("apitoken: Config.MaxLifetime over 100 years: use a negative one for no limit")
	}
	if cfg.MaxPerSubject <= 0 {
		cfg.MaxPerSubject = DefaultMaxPerSubject
	}
	if slices.Contains(cfg.CreatorAudiences, "") {
		return nil, errors.New("apitoken: Config.CreatorAudiences holds an empty audience")
	}
	cfg.CreatorAudiences = slices.Clone(cfg.CreatorAudiences)
	m := &Manager{cfg: cfg, now: cfg.Now, log: cfg.Logger, pending: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Pepper != nil {
		pepper := append([]byte(nil), cfg.Pepper...)
		m.hashes.New = func() any { return hmac.New(sha256.New, pepper) }
	}
	go m.flushLoop()
	return m, nil
}

// Prefix returns the prefix of the manager's tokens.
func (m *Manager) Prefix() string { return m.cfg.Prefix }

// MaxCacheAge implements middleware.CachePolicy: Config.CacheAge.
func (m *Manager) MaxCacheAge() time.Duration { return m.cfg.CacheAge }

// hash returns the hash the store keeps for raw.
func (m *Manager) hash(raw string) []byte {
	if m.cfg.Pepper == nil {
		sum := sha256.Sum256([]byte(raw))
		return sum[:]
	}
	h := m.hashes.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(raw))
	sum := h.Sum(nil)
	m.hashes.Put(h)
	return sum
}

// CreateRequest describes a token to create.
type CreateRequest struct {
	// Subject is the subject the token acts for. Required.
	Subject string
	// Name says what the token is for ("CI deploy"): 1 to MaxNameLen
	// bytes of UTF-8 without control characters.
	Name string
	// Scopes are the token's scopes: RFC 6749 scope tokens, at most
	// MaxScopes of at most MaxScopeLen bytes; duplicates are dropped.
	Scopes []string
	// Lifetime is how long the token lives. Zero: Config.MaxLifetime (or
	// never expires when that is negative). More than Config.MaxLifetime:
	// ErrInvalid.
	Lifetime time.Duration
}

// Create makes a token for req and returns its plaintext, which exists
// nowhere else: show it once and forget it. The store keeps its hash.
// Refusals wrap ErrInvalid.
func (m *Manager) Create(ctx context.Context, req CreateRequest) (string, Token, error) {
	return m.create(ctx, req, time.Time{})
}

// create is Create of a token that expires at notAfter at the latest
// (zero: no such bound). The clock is read once: the token's times and
// every check of its lifetime come from that one reading, so a clock that
// moves meanwhile cannot stretch the token past notAfter.
func (m *Manager) create(ctx context.Context, req CreateRequest, notAfter time.Time) (string, Token, error) {
	now := m.now()
	scopes, err := m.check(req, now)
	if err != nil {
		return "", Token{}, err
	}
	t := Token{Subject: req.Subject, Name: req.Name, Scopes: scopes, CreatedAt: now}
	switch {
	case req.Lifetime > 0:
		t.ExpiresAt = now.Add(req.Lifetime)
	case m.cfg.MaxLifetime > 0:
		t.ExpiresAt = now.Add(m.cfg.MaxLifetime)
	}
	if !notAfter.IsZero() {
		switch {
		case !now.Before(notAfter):
			return "", Token{}, fmt.Errorf("%w: %w", ErrExpired, errCaller)
		case req.Lifetime > 0 && t.ExpiresAt.After(notAfter):
			return "", Token{}, fmt.Errorf("%w: the lifetime is longer than the creating token has left", ErrInvalid)
		case t.ExpiresAt.IsZero() || t.ExpiresAt.After(notAfter):
			t.ExpiresAt = notAfter
		}
	}
	for range 3 { // a collision of 128 random bits is not going to happen; a retry costs nothing
		var id [16]byte
		rand.Read(id[:])
		t.ID = hex.EncodeToString(id[:])
		raw := generate(m.cfg.Prefix)
		err = m.cfg.Store.Create(ctx, Record{Token: t, Hash: m.hash(raw)}, m.cfg.MaxPerSubject)
		if err == nil {
			return raw, own(t), nil
		}
		if errors.Is(err, ErrTooMany) {
			return "", Token{}, fmt.Errorf("%w: %w: the subject has %d active tokens, the most allowed (revoke some)", ErrInvalid, err, m.cfg.MaxPerSubject)
		}
		if errors.Is(err, ErrInvalid) {
			return "", Token{}, err
		}
		if !errors.Is(err, ErrExists) {
			return "", Token{}, unavailable(err)
		}
	}
	return "", Token{}, fmt.Errorf("apitoken: creating a token: %w", err)
}

// CreateFor makes a token for creator, the authenticated principal asking
// for it (from the request's context), once [Manager.SubjectOf] has
// accepted it (reading an API token from the store): the token's subject
// is creator's subject, and it can hold no scope creator lacks
// (ErrScope). A token created by an API token cannot outlive it: it
// expires at the latest when the store says its creator does (without a
// Lifetime it expires with its creator, and a longer Lifetime is
// ErrInvalid), and a creator that has expired meanwhile is ErrExpired.
// A creator whose token is bound to a key (DPoP) or asked for one resource
// (see Config.CreatorAudiences and Config.InsecureAllowBoundCreators)
// gets ErrConstrained. A creator that is not an API token and was issued
// (Principal.IssuedAt) before its subject's cut-off
// ([Manager.RevokeSubjectBefore]) gets ErrRevoked: a principal built by
// hand (an operator's command) sets IssuedAt to now, since zero is
// before every cut-off.
func (m *Manager) CreateFor(ctx context.Context, creator *identity.Principal, req CreateRequest) (string, Token, error) {
	subject, live, err := m.caller(ctx, creator)
	if err != nil {
		return "", Token{}, err
	}
	return m.createFor(ctx, creator, subject, live, req)
}

// createFor is CreateFor once caller has accepted creator, as the
// subject's principal or as live, the API token the store holds.
func (m *Manager) createFor(ctx context.Context, creator *identity.Principal, subject string, live *Token, req CreateRequest) (string, Token, error) {
	if err := m.unconstrained(creator); err != nil {
		return "", Token{}, err
	}
	req.Subject = subject
	for _, s := range req.Scopes {
		if !creator.HasScope(s) || live != nil && !slices.Contains(live.Scopes, s) {
			return "", Token{}, fmt.Errorf("%w: %q", ErrScope, s)
		}
	}
	var notAfter time.Time
	if live != nil {
		notAfter = live.ExpiresAt
	}
	// Checked before the insert (an API token was just read by caller),
	// so that a credential ended by a cut-off takes no slot of the
	// subject's, and again after it: the creator may
	// have been revoked while the token was made, its subject's
	// credentials by RevokeSubjectBefore (logging out everywhere, on any
	// instance, whose caches have not heard of it yet), or the creating
	// API token alone. The second read sees a revocation that missed the
	// new token.
	if live == nil {
		if err := m.stillGood(ctx, subject, creator.IssuedAt, nil); err != nil {
			return "", Token{}, err
		}
	}
	raw, t, err := m.create(ctx, req, notAfter)
	if err != nil {
		return "", Token{}, err
	}
	if err := m.stillGood(ctx, subject, creator.IssuedAt, live); err != nil {
		if _, rerr := m.cfg.Store.Revoke(context.WithoutCancel(ctx), subject, t.ID, m.now()); rerr != nil {
			m.log.ErrorContext(ctx, "apitoken: a token made by a creator revoked meanwhile could not be revoked: revoke it",
				"id", t.ID, "subject", subject, "err", rerr)
			err = errors.Join(err, unavailable(rerr))
		}
		return "", Token{}, err
	}
	return raw, t, nil
}

// stillGood returns nil when the creator is still good: an access token
// (live nil) issued at issued, not before its subject's cut-off; an API
// token, live as read before, neither revoked nor gone. (An API token
// made before the cut-off is revoked: its CreatedAt, from the clock of
// the instance that made it, is not compared with the cut-off, from
// another's.)
func (m *Manager) stillGood(ctx context.Context, subject string, issued time.Time, live *Token) error {
	if live != nil {
		return m.parentGood(ctx, live)
	}
	cut, err := m.cfg.Store.Cutoff(ctx, subject)
	switch {
	case err != nil:
		return unavailable(err)
	case !cut.IsZero() && issued.Before(cut):
		return fmt.Errorf("%w: %w", ErrRevoked, errCutoff)
	}
	return nil
}

// parentGood returns nil when the API token live is still in the store,
// not revoked.
func (m *Manager) parentGood(ctx context.Context, live *Token) error {
	t, err := m.cfg.Store.Get(ctx, live.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, errCaller)
	case err != nil:
		return unavailable(err)
	case !t.RevokedAt.IsZero():
		return fmt.Errorf("%w: %w", ErrRevoked, errCaller)
	}
	return nil
}

// Why a creator is refused, for the handlers' answers.
var (
	errBound              = fmt.Errorf("%w: the creating token is bound to a key (DPoP), and API tokens are bearer tokens", ErrConstrained)
	errNarrowed           = fmt.Errorf("%w: the creating token was asked for one resource, and API tokens are good at all of them", ErrConstrained)
	errNoCreatorAudiences = fmt.Errorf("%w: Config.CreatorAudiences lists no audience, so no access token may create API tokens: "+
		"list the general audience of the access tokens (token.IssuerConfig.Audience)", ErrConstrained)
	// errCutoff: the creator was issued before its subject's cut-off
	// (RevokeSubjectBefore: logging out everywhere).
	errCutoff = errors.New("the creating token was issued before its user's credentials were revoked")
)

// unconstrained returns nil when creator's token may mint bearer API
// tokens good at every resource: it is bound to no key (unless
// Config.InsecureAllowBoundCreators), and has one of
// Config.CreatorAudiences when its claims report audiences.
func (m *Manager) unconstrained(creator *identity.Principal) error {
	if b, ok := creator.Claims.(interface{ BoundKey() string }); ok && b.BoundKey() != "" && !m.cfg.InsecureAllowBoundCreators {
		return errBound
	}
	if a, ok := creator.Claims.(interface{ Audiences() []string }); ok {
		if len(m.cfg.CreatorAudiences) == 0 {
			return errNoCreatorAudiences
		}
		if !slices.ContainsFunc(a.Audiences(), func(aud string) bool { return slices.Contains(m.cfg.CreatorAudiences, aud) }) {
			return errNarrowed
		}
	}
	return nil
}

// SubjectOf returns the subject whose tokens p may manage: its subject,
// when p is a principal of Config.SubjectIssuer or one of the manager's
// API tokens (which acts for its subject). Any other principal: an error
// wrapping ErrForeignIssuer.
//
// An API token is read from the store on every call, since its principal
// may come from a cache (the middleware keeps one for Config.CacheAge,
// and another instance's revocation reaches it later): one revoked,
// expired or deleted since it was authenticated is ErrRevoked,
// ErrExpired or ErrNotFound, and a store that cannot answer wraps
// identity.ErrUnavailable. Call it before acting for p on the subject's
// tokens ([Manager.List], [Manager.Revoke], [Manager.RevokeSubject]), as
// the handlers do; [Manager.CreateFor] calls it.
func (m *Manager) SubjectOf(ctx context.Context, p *identity.Principal) (string, error) {
	subject, _, err := m.caller(ctx, p)
	return subject, err
}

// errCaller marks a refusal of the caller's own API token (revoked,
// expired or gone since it was authenticated), which the handlers answer
// 401 invalid_token, where an ErrNotFound of another token is a 404.
var errCaller = errors.New("the caller's API token")

// caller is SubjectOf, which also returns, when p is one of the manager's
// API tokens, that token as the store holds it now.
func (m *Manager) caller(ctx context.Context, p *identity.Principal) (string, *Token, error) {
	switch {
	case p == nil || p.Subject == "":
		return "", nil, fmt.Errorf("%w: no principal", ErrForeignIssuer)
	case p.Issuer == m.cfg.SubjectIssuer && p.Method != identity.APIToken:
		return p.Subject, nil, nil
	case p.Issuer != m.cfg.Issuer || p.Method != identity.APIToken:
		return "", nil, fmt.Errorf("%w: tokens belong to subjects of %q, not %q", ErrForeignIssuer, m.cfg.SubjectIssuer, p.Issuer)
	case p.TokenID == "":
		return "", nil, fmt.Errorf("%w: %w", ErrNotFound, errCaller)
	}
	t, err := m.cfg.Store.Get(ctx, p.TokenID)
	switch {
	case errors.Is(err, ErrNotFound):
		return "", nil, fmt.Errorf("%w: %w", ErrNotFound, errCaller)
	case err != nil:
		return "", nil, unavailable(err)
	case t.Subject != p.Subject:
		return "", nil, fmt.Errorf("%w: %w", ErrNotFound, errCaller)
	case !t.RevokedAt.IsZero():
		return "", nil, fmt.Errorf("%w: %w", ErrRevoked, errCaller)
	case !t.ExpiresAt.IsZero() && !m.now().Before(t.ExpiresAt):
		return "", nil, fmt.Errorf("%w: %w", ErrExpired, errCaller)
	}
	return p.Subject, &t, nil
}

// check validates req, made at now, and returns its scopes without
// duplicates.
func (m *Manager) check(req CreateRequest, now time.Time) ([]string, error) {
	switch {
	case req.Subject == "" || len(req.Subject) > MaxSubjectLen || !utf8.ValidString(req.Subject) || strings.IndexByte(req.Subject, 0) >= 0:
		return nil, fmt.Errorf("%w: the subject must be 1 to %d bytes of UTF-8 without NUL", ErrInvalid, MaxSubjectLen)
	case req.Name == "" || len(req.Name) > MaxNameLen || !utf8.ValidString(req.Name) || strings.ContainsFunc(req.Name, unicode.IsControl):
		return nil, fmt.Errorf("%w: the name must be 1 to %d bytes of UTF-8 without control characters", ErrInvalid, MaxNameLen)
	case req.Lifetime < 0:
		return nil, fmt.Errorf("%w: a negative lifetime", ErrInvalid)
	case m.cfg.MaxLifetime > 0 && req.Lifetime > m.cfg.MaxLifetime:
		return nil, fmt.Errorf("%w: the lifetime is longer than the maximum, %v", ErrInvalid, m.cfg.MaxLifetime)
	case req.Lifetime > 0 && now.Add(req.Lifetime).After(lastExpiry):
		return nil, fmt.Errorf("%w: the token would expire after %d", ErrInvalid, lastExpiry.Year())
	case len(req.Scopes) > MaxScopes:
		return nil, fmt.Errorf("%w: more than %d scopes", ErrInvalid, MaxScopes)
	}
	scopes := make([]string, 0, len(req.Scopes))
	for _, s := range req.Scopes {
		if !validScope(s) {
			return nil, fmt.Errorf("%w: scope %q is not an RFC 6749 scope token of at most %d bytes", ErrInvalid, s, MaxScopeLen)
		}
		if !contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return scopes, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// validScope reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ), within MaxScopeLen.
func validScope(s string) bool {
	if s == "" || len(s) > MaxScopeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Authenticate implements middleware.Verifier: it returns the principal
// of raw (Method identity.APIToken, Subject the subject, TokenID the
// token's id, the token's scopes), refusing a malformed token before the
// store, and notes the use for the background writer (no write here).
// Errors wrap ErrMalformed, ErrNotFound, ErrRevoked or ErrExpired, or
// identity.ErrUnavailable when the store cannot answer.
func (m *Manager) Authenticate(ctx context.Context, raw string) (*identity.Principal, error) {
	if err := Check(m.cfg.Prefix, raw); err != nil {
		return nil, err
	}
	h := m.hash(raw)
	r, err := m.cfg.Store.GetByHash(ctx, h)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, ErrNotFound
	case err != nil:
		return nil, unavailable(err)
	case subtle.ConstantTimeCompare(r.Hash, h) != 1: // a store that matched loosely
		return nil, ErrNotFound
	case !r.RevokedAt.IsZero():
		return nil, ErrRevoked
	}
	now := m.now()
	if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
		return nil, ErrExpired
	}
	m.noteUse(r.ID, now)
	t := r.Token
	return &identity.Principal{
		Subject:   t.Subject,
		Issuer:    m.cfg.Issuer,
		Method:    identity.APIToken,
		Scopes:    t.Scopes,
		TokenID:   t.ID,
		IssuedAt:  t.CreatedAt,
		ExpiresAt: t.ExpiresAt,
		Claims:    &t,
	}, nil
}

// List returns the tokens of subject, oldest first, without secrets or
// hashes; revoked and expired ones too, until purged.
func (m *Manager) List(ctx context.Context, subject string) ([]Token, error) {
	ts, err := m.cfg.Store.List(ctx, subject)
	if err != nil {
		return nil, unavailable(err)
	}
	return ts, nil
}

// Get returns the token with this id, whoever owns it (for operators).
func (m *Manager) Get(ctx context.Context, id string) (Token, error) {
	t, err := m.cfg.Store.Get(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Token{}, unavailable(err)
	}
	return t, err
}

// Revoke revokes the token id of subject: in the store, which refuses it
// from then on, then on the Revoker, so that caches drop it at once.
// Someone else's token, or no token: ErrNotFound. Revoking a revoked
// token again succeeds (and pushes it to the Revoker again, so a call
// that failed there can be retried).
func (m *Manager) Revoke(ctx context.Context, subject, id string) (Token, error) {
	t, err := m.cfg.Store.Revoke(ctx, subject, id, m.now())
	if errors.Is(err, ErrNotFound) {
		return Token{}, err
	}
	if err != nil {
		return Token{}, unavailable(err)
	}
	// The store has revoked it: tell the caches even if the client that
	// asked is gone.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pushTimeout)
	defer cancel()
	return t, m.push(pctx, t)
}

// OperatorRevoke revokes the token id whoever owns it (for operators).
func (m *Manager) OperatorRevoke(ctx context.Context, id string) (Token, error) {
	t, err := m.Get(ctx, id)
	if err != nil {
		return Token{}, err
	}
	return m.Revoke(ctx, t.Subject, id)
}

// RevokeSubject revokes every token of subject and returns how many it
// revoked. It pushes to the Revoker every token of subject revoked recently
// enough for a cache to hold it, not only those it revoked: calling it
// again after a failure there completes the job.
//
// Logging out everywhere (token/endpoint's LogoutAll) ends the subject's
// access and refresh tokens, not its API tokens: they belong to scripts,
// not to a login, and keep working until they expire or RevokeSubject is
// called, unless token/endpoint's Config.APITokens is set, which calls
// [Manager.RevokeSubjectBefore]. A flow that must end them too (a password
// reset, an account locked) calls RevokeSubjectBefore too, with the
// cut-off it gives the access tokens, so that a credential it ends cannot
// mint a new API token on an instance that has not heard of it yet; it
// passes a subject of Config.SubjectIssuer, never another issuer's (whose
// same subject may be someone else). RevokeSubject alone (a user's "revoke
// all my API tokens") leaves the user's access tokens able to create new
// ones. It takes a subject, not a caller: a flow acting for an
// authenticated principal gets the subject from [Manager.SubjectOf].
func (m *Manager) RevokeSubject(ctx context.Context, subject string) (int, error) {
	return m.revokeSubject(ctx, subject, time.Time{})
}

// RevokeSubjectBefore is RevokeSubject for a flow that ends every
// credential of subject issued before the moment before (logging out
// everywhere, token/endpoint's LogoutAll with Config.APITokens; a
// password reset): it records before as the subject's cut-off first,
// then revokes the subject's tokens. From then on, on every instance, a
// token is created for none of the subject's credentials issued before
// it: neither an access token not yet known there as revoked (an
// instance's revocation list syncs within its propagation bound) nor an
// API token made before it. A creation racing it is undone: the new
// token is revoked, and the creator told ErrRevoked. A later cut-off
// replaces an earlier one; an earlier one changes nothing. before is meant
// to be now (the moment the access tokens are revoked by): every token of
// the subject is revoked whatever before says, and one in the future
// refuses every credential of the subject until then.
func (m *Manager) RevokeSubjectBefore(ctx context.Context, subject string, before time.Time) (int, error) {
	if before.IsZero() {
		return 0, fmt.Errorf("%w: a zero cut-off", ErrInvalid)
	}
	return m.revokeSubject(ctx, subject, before)
}

// SubjectIssuer returns Config.SubjectIssuer: the issuer of the subjects
// whose tokens the manager keeps. token/endpoint checks it against its
// own.
func (m *Manager) SubjectIssuer() string { return m.cfg.SubjectIssuer }

// revokeSubject is RevokeSubject, recording the cut-off before first
// unless it is zero.
func (m *Manager) revokeSubject(ctx context.Context, subject string, before time.Time) (int, error) {
	if !before.IsZero() {
		if err := m.cfg.Store.SetCutoff(ctx, subject, before); err != nil {
			if errors.Is(err, ErrInvalid) {
				return 0, err
			}
			return 0, unavailable(err)
		}
	}
	revoked, err := m.cfg.Store.RevokeSubject(ctx, subject, m.now())
	if err != nil {
		return 0, unavailable(err)
	}
	if m.cfg.Revoker == nil || m.cfg.CacheAge == 0 {
		return len(revoked), nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pushTimeout)
	defer cancel()
	all, err := m.cfg.Store.List(ctx, subject)
	if err != nil {
		return len(revoked), fmt.Errorf("apitoken: the tokens are revoked in the store, but caches may keep them for up to %v: %w", m.cfg.CacheAge, err)
	}
	var errs []error
	for _, t := range all {
		if !t.RevokedAt.IsZero() {
			errs = append(errs, m.push(ctx, t))
		}
	}
	return len(revoked), errors.Join(errs...)
}

// push tells the Revoker that t is revoked, for as long as a cache could
// still hold it: twice the cache age after the revocation (the margin
// covers clocks of instances that disagree), or until it expires.
func (m *Manager) push(ctx context.Context, t Token) error {
	if m.cfg.Revoker == nil || m.cfg.CacheAge == 0 {
		return nil
	}
	until := t.RevokedAt.Add(revokedLingers * m.cfg.CacheAge)
	if !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(until) {
		until = t.ExpiresAt
	}
	if !until.After(m.now()) {
		return nil // no cache holds it any more
	}
	if err := m.cfg.Revoker.RevokeToken(ctx, m.cfg.Issuer, t.ID, until); err != nil {
		return fmt.Errorf("apitoken: the token is revoked in the store, but caches may keep it for up to %v: %w", m.cfg.CacheAge, err)
	}
	return nil
}

// Purge deletes the tokens that expired or were revoked more than
// retention ago, and returns how many.
func (m *Manager) Purge(ctx context.Context, retention time.Duration) (int64, error) {
	if retention < 0 {
		return 0, errors.New("apitoken: negative retention")
	}
	n, err := m.cfg.Store.Purge(ctx, m.now().Add(-retention))
	if err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}

func unavailable(err error) error {
	if errors.Is(err, identity.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", identity.ErrUnavailable, err)
}

// noteUse remembers that id was used at at, for the next flush.
func (m *Manager) noteUse(id string, at time.Time) {
	m.mu.Lock()
	if prev, ok := m.pending[id]; !ok || at.After(prev) {
		m.pending[id] = at
	}
	m.mu.Unlock()
}

// Flush writes the last uses noted since the previous flush, in one
// Store.Touch. On failure they are kept for the next one.
func (m *Manager) Flush(ctx context.Context) error {
	m.mu.Lock()
	if len(m.pending) == 0 {
		m.mu.Unlock()
		return nil
	}
	batch := m.pending
	m.pending = map[string]time.Time{}
	m.mu.Unlock()
	uses := make([]Use, 0, len(batch))
	for id, at := range batch {
		uses = append(uses, Use{ID: id, At: at})
	}
	// In the order of the ids: instances flushing at once then lock the
	// rows in one order and never deadlock.
	slices.SortFunc(uses, func(a, b Use) int { return strings.Compare(a.ID, b.ID) })
	err := m.cfg.Store.Touch(ctx, uses)
	if err != nil {
		m.mu.Lock()
		for id, at := range batch { // keep them, unless newer uses came in
			if prev, ok := m.pending[id]; !ok || at.After(prev) {
				m.pending[id] = at
			}
		}
		m.mu.Unlock()
		return fmt.Errorf("apitoken: writing last uses: %w", err)
	}
	return nil
}

func (m *Manager) flushLoop() {
	defer close(m.done)
	t := time.NewTicker(m.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
			if err := m.Flush(ctx); err != nil {
				m.log.Warn("writing the last uses of API tokens failed; retrying at the next flush", "err", err)
			}
			cancel()
		}
	}
}

// Close stops the background writer and writes the last uses still in
// memory (within 30 s). Authenticate keeps working after Close, but its
// uses are no longer written. Every call waits for that last write and
// returns its error.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		close(m.stop)
		<-m.done
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		m.closeErr = m.Flush(ctx)
	})
	return m.closeErr
}
