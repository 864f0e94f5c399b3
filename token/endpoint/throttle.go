package endpoint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/internal/strictjson"
)

// Defaults of a [ThrottleConfig].
const (
	// DefaultUsernameBurst password attempts at once per username, then
	// one every DefaultUsernameEvery: a password cannot be guessed faster
	// from any number of addresses.
	DefaultUsernameBurst = 10
	DefaultUsernameEvery = 6 * time.Second
	// DefaultAddressBurst requests at once per client address, then one
	// every DefaultAddressEvery.
	DefaultAddressBurst = 30
	DefaultAddressEvery = 500 * time.Millisecond
	// DefaultMaxHashesPerUsername and DefaultMaxHashesPerAddress bound
	// the password checks in flight at once on an instance for one
	// username (a second login of a name while the first is checked is a
	// double submit or an attack), and for one client address (two, for
	// users behind one NAT logging in at the same moment).
	DefaultMaxHashesPerUsername = 1
	DefaultMaxHashesPerAddress  = 2
	// DefaultIPv6PrefixLen is how much of an IPv6 client address names its
	// budget: its /64, which one client usually has whole.
	DefaultIPv6PrefixLen = 64
	// DefaultSharedTimeout bounds each call to ThrottleConfig.Shared.
	DefaultSharedTimeout = 250 * time.Millisecond
)

// sharedRetry is how long a Throttle decides alone after its shared
// limiter failed, before it asks it again.
const sharedRetry = time.Second

// ThrottleConfig configures a [Throttle]. The zero value of each field is
// its default: [New] builds a Throttle from Config.Throttle, so a
// [Server] is throttled without a line of configuration.
type ThrottleConfig struct {
	// Username is the budget of password attempts per username (login
	// and the password grant), taken before any password is checked,
	// whatever address they come from; successful logins count too.
	// Zero fields: DefaultUsernameBurst (10) and DefaultUsernameEvery
	// (6 s). Anyone can spend a username's budget: its user then waits
	// too (429 with Retry-After, never a lockout an administrator must
	// lift).
	Username Rate
	// Address is the budget of requests per client address (see
	// TrustedProxies) that check a password (login, the password grant,
	// the authorization endpoint's login form), that name a client by
	// the URL of its metadata document (which may be fetched), and of
	// what [Throttle.Limit] wraps; other refresh grants, code grants and
	// revocations take none (their secrets cannot be guessed, and the
	// clients behind one address refresh often). Zero fields: DefaultAddressBurst
	// (30) and DefaultAddressEvery (500 ms).
	Address Rate
	// MaxHashesPerUsername and MaxHashesPerAddress bound the password
	// checks in flight at once, on this instance, for one username and
	// for one client address: one more is answered 429 at once, so that
	// neither can take the password hasher's slots (password.Config.
	// MaxConcurrent) from the others. Zero: DefaultMaxHashesPerUsername
	// (1) and DefaultMaxHashesPerAddress (2).
	MaxHashesPerUsername, MaxHashesPerAddress int
	// MaxKeys bounds the usernames, and the addresses, whose buckets the
	// instance keeps exactly (see MemoryLimiterConfig.MaxKeys): memory
	// stays bounded whatever the number of usernames and addresses.
	// Zero: DefaultThrottleKeys (10000).
	MaxKeys int

	// TrustedProxies are the proxies whose forwarding header names the
	// client: a request whose connection comes from one of these
	// prefixes has its client address read from ForwardedHeader, from the
	// right, passing the entries that are trusted proxies too (see
	// [Throttle.ClientAddr]). Empty: the client address is the
	// connection's, whatever the headers say; behind a proxy every client
	// then shares the proxy's budget. List only your own proxies: a
	// client in these prefixes can claim any address.
	TrustedProxies []netip.Prefix
	// ForwardedHeader is the header the trusted proxies write:
	// HeaderXForwardedFor (the default; nginx, HAProxy, Caddy, Traefik,
	// Envoy and the cloud load balancers append to it) or HeaderForwarded
	// (RFC 7239). The other one is never read: a proxy passes it on as
	// the client wrote it.
	ForwardedHeader string
	// IPv6PrefixLen is how many leading bits of an IPv6 client address
	// name its budget, 32 to 128: a client usually holds a whole /64 and
	// could otherwise take a new budget with each of its addresses. IPv4
	// addresses count whole. Zero: DefaultIPv6PrefixLen (64).
	IPv6PrefixLen int

	// NormalizeUsername maps a username to the name its budget is kept
	// under, so that the variants a user store takes for one name share
	// one budget. Nil: the name without surrounding white space, case
	// folded as strings.EqualFold compares (so "Alice", "ALICE" and
	// "alice" share one); give your own when the store normalises more
	// (Unicode NFKC, say, or a database collation that ignores accents).
	// Fold as your store matches: a user found by a name is also held to
	// a budget of their own (ten names of one user do not get ten
	// budgets), and where the store matches more loosely than this
	// function, a 429 for a new variant of a name tells that its user
	// exists.
	NormalizeUsername func(string) string

	// Shared, when set, keeps the budgets in a store every instance
	// shares (token/endpoint/redisthrottle): a client spends one budget
	// however many instances it reaches. Each request takes a token from
	// the instance's own bucket and then from the shared one. Nil: the
	// budgets are per instance, and a client that reaches n instances
	// gets n times them. The in-flight bounds (MaxHashesPer…) are per
	// instance either way.
	Shared Limiter
	// SharedTimeout bounds each call to Shared. Zero:
	// DefaultSharedTimeout (250 ms).
	SharedTimeout time.Duration
	// FailClosed says what happens when Shared cannot answer (an error or
	// SharedTimeout): false (the default), the instance's own buckets
	// decide alone, so a client gets at most the budgets times the number
	// of instances while the store is down, and logins go on; true, the
	// endpoints answer 503 with Retry-After until it answers again. After
	// a failure the instance asks the store again after one second; the
	// Logger says when it stops and starts answering.
	FailClosed bool

	// Logger receives a warning when Shared stops answering (and a line
	// when it answers again), when a trusted proxy's forwarding header
	// does not parse, and, once, when requests from a loopback or private
	// address carry a forwarding header while TrustedProxies is empty.
	// Nil: New gives Config.Logger; NewThrottle discards.
	Logger *slog.Logger
	// Now returns the current time. Nil: New gives Config.Now;
	// NewThrottle, time.Now.
	Now func() time.Time
}

// Throttle is the login protection of a [Server]: per client address
// and per username token buckets, bounds on password checks in flight,
// and the client address behind trusted proxies. New builds one from
// Config.Throttle ([Server.Throttle] returns it); NewThrottle builds one
// for a login of your own. Budgets are kept in memory (bounded, see
// [MemoryLimiter]) and, with ThrottleConfig.Shared, in a store every
// instance shares. It is safe for concurrent use. A nil *Throttle
// throttles nothing.
type Throttle struct {
	username, address            Rate
	maxHashesUser, maxHashesAddr int
	users, addrs                 *MemoryLimiter
	shared                       Limiter
	sharedTimeout                time.Duration
	failClosed                   bool
	addrsOf                      clientAddrs
	v6bits                       int
	normalize                    func(string) string
	log                          *slog.Logger
	now                          func() time.Time

	mu       sync.Mutex
	inflight map[string]int // password checks in flight, by key

	sharedSkipUntil atomic.Int64 // Unix ns: decide alone until then
	sharedDown      atomic.Bool  // the last call to Shared failed
	headerWarned    atomic.Int64 // Unix ns of the last malformed-header warning
	proxyHinted     atomic.Bool  // the missing TrustedProxies hint was logged
}

// Sentinel errors of the throttle.
var (
	// ErrThrottled is matched by every [*LimitError]: the request is over
	// a budget; answer 429 Too Many Requests with its Retry-After.
	ErrThrottled = errors.New("endpoint: too many requests")
	// ErrLimiterUnavailable: ThrottleConfig.Shared cannot answer and
	// FailClosed is set; answer 503 with Retry-After.
	ErrLimiterUnavailable = errors.New("endpoint: the shared limiter cannot answer")
)

// Budget names what a [LimitError] is over.
type Budget string

// The budgets of a [Throttle].
const (
	BudgetAddress  Budget = "address"  // requests per client address
	BudgetUsername Budget = "username" // password attempts per username
	BudgetInFlight Budget = "inflight" // password checks in flight for the username or the address
)

// LimitError is the refusal of a request over a budget. It matches
// [ErrThrottled].
type LimitError struct {
	Budget Budget
	// RetryAfter is how long until the budget has room again, at least a
	// nanosecond; the Retry-After header rounds it up to whole seconds.
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("endpoint: over the %s budget; retry after %v", e.Budget, e.RetryAfter)
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *LimitError) Is(target error) bool { return target == ErrThrottled }

// description is what the client is told.
func (e *LimitError) description() string {
	switch e.Budget {
	case BudgetAddress:
		return "too many requests from this address; retry later"
	case BudgetInFlight:
		return "a login with these credentials is in progress; retry in a moment"
	}
	return "too many attempts; retry later"
}

// NewThrottle checks cfg and returns a throttle.
func NewThrottle(cfg ThrottleConfig) (*Throttle, error) {
	if cfg.Username.Burst < 0 || cfg.Username.Every < 0 || cfg.Address.Burst < 0 || cfg.Address.Every < 0 ||
		cfg.MaxHashesPerUsername < 0 || cfg.MaxHashesPerAddress < 0 || cfg.MaxKeys < 0 || cfg.SharedTimeout < 0 {
		return nil, errors.New("endpoint: negative ThrottleConfig value")
	}
	or := func(v, def int) int {
		if v == 0 {
			return def
		}
		return v
	}
	orDur := func(v, def time.Duration) time.Duration {
		if v == 0 {
			return def
		}
		return v
	}
	t := &Throttle{
		username:      Rate{or(cfg.Username.Burst, DefaultUsernameBurst), orDur(cfg.Username.Every, DefaultUsernameEvery)},
		address:       Rate{or(cfg.Address.Burst, DefaultAddressBurst), orDur(cfg.Address.Every, DefaultAddressEvery)},
		maxHashesUser: or(cfg.MaxHashesPerUsername, DefaultMaxHashesPerUsername),
		maxHashesAddr: or(cfg.MaxHashesPerAddress, DefaultMaxHashesPerAddress),
		shared:        cfg.Shared,
		sharedTimeout: orDur(cfg.SharedTimeout, DefaultSharedTimeout),
		failClosed:    cfg.FailClosed,
		v6bits:        or(cfg.IPv6PrefixLen, DefaultIPv6PrefixLen),
		normalize:     cfg.NormalizeUsername,
		log:           cfg.Logger,
		now:           cfg.Now,
		inflight:      map[string]int{},
	}
	if !t.username.valid() || !t.address.valid() {
		return nil, errors.New("endpoint: a ThrottleConfig Rate fills in more than a century")
	}
	if t.v6bits < 32 || t.v6bits > 128 {
		return nil, fmt.Errorf("endpoint: ThrottleConfig.IPv6PrefixLen %d is not between 32 and 128", t.v6bits)
	}
	switch h := http.CanonicalHeaderKey(cfg.ForwardedHeader); h {
	case "", HeaderXForwardedFor:
		t.addrsOf.header = HeaderXForwardedFor
	case HeaderForwarded:
		t.addrsOf.header = HeaderForwarded
	default:
		return nil, fmt.Errorf("endpoint: ThrottleConfig.ForwardedHeader %q is neither %s nor %s", cfg.ForwardedHeader, HeaderXForwardedFor, HeaderForwarded)
	}
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() || p.Addr().Zone() != "" {
			return nil, fmt.Errorf("endpoint: invalid trusted proxy prefix %v", p)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 { // ::ffff:10.0.0.0/104 is 10.0.0.0/8
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		t.addrsOf.trusted = append(t.addrsOf.trusted, p.Masked())
	}
	if t.normalize == nil {
		t.normalize = foldUsername
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.now == nil {
		t.now = time.Now
	}
	var err error
	mc := MemoryLimiterConfig{MaxKeys: cfg.MaxKeys, Now: t.now}
	if t.users, err = NewMemoryLimiter(mc); err != nil {
		return nil, err
	}
	if t.addrs, err = NewMemoryLimiter(mc); err != nil {
		return nil, err
	}
	return t, nil
}

// Limit limits every request of next per client address: one over the
// budget is answered 429 Too Many Requests with Retry-After, as an OAuth
// 2.0 error (slow_down). The endpoints of a [Server] are limited already:
// wrap only other routes with it (they then share the same budget), such
// as the callback of an OpenID Connect login.
func (t *Throttle) Limit(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := t.CheckAddress(r); err != nil {
			writeThrottled(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckAddress takes a token from the budget of r's client address. It
// returns a [*LimitError] over it, an error wrapping
// [ErrLimiterUnavailable] (with FailClosed), or the request context's
// error.
func (t *Throttle) CheckAddress(r *http.Request) error {
	if t == nil {
		return nil
	}
	return t.take(r.Context(), t.addrs, t.addressKey(r), t.address, BudgetAddress)
}

// subjectAttempt takes a token from the budget of the user subject, found
// by a password attempt's username, before the password is checked: with
// the username's budget, it bounds the attempts on one account however
// many names the user store resolves to it.
func (t *Throttle) subjectAttempt(r *http.Request, subject string) error {
	if t == nil {
		return nil
	}
	return t.take(r.Context(), t.users, budgetKey("s", subject), t.username, BudgetUsername)
}

// PasswordAttempt is to be called before the password of username is
// checked: it takes one in-flight slot of the username and of r's client
// address, and a token from the username's budget. Call done once the
// check is over (not after a refusal). A refusal is a [*LimitError], an
// error wrapping [ErrLimiterUnavailable] (with FailClosed), or the
// request context's error. The address budget is not taken here: the
// endpoints take it for every request ([Throttle.CheckAddress]).
func (t *Throttle) PasswordAttempt(r *http.Request, username string) (done func(), err error) {
	if t == nil {
		return func() {}, nil
	}
	user := t.usernameKey(username)
	addr := t.addressKey(r)
	if !t.enter(user, addr) {
		return nil, &LimitError{Budget: BudgetInFlight, RetryAfter: time.Second}
	}
	var once sync.Once
	done = func() { once.Do(func() { t.leave(user, addr) }) }
	if err := t.take(r.Context(), t.users, user, t.username, BudgetUsername); err != nil {
		done()
		return nil, err
	}
	return done, nil
}

// ClientAddr returns the address of r's client: the connection's, or,
// when the connection comes from one of ThrottleConfig.TrustedProxies,
// the address ForwardedHeader names after the trusted proxies in it,
// read from the right. An entry that names no address ("unknown", an
// obfuscated node, or one that does not parse) stops the walk at the
// trusted proxy that forwarded it: the request counts as that proxy's,
// and no entry further left, which the client may have written, is
// believed. IPv4-mapped IPv6 addresses are their IPv4 address; zones are
// dropped. The zero Addr means the connection's address is not an IP.
func (t *Throttle) ClientAddr(r *http.Request) netip.Addr {
	a, _ := t.clientAddr(r)
	return a
}

// clientAddr is ClientAddr, logging what an operator should hear of.
func (t *Throttle) clientAddr(r *http.Request) (netip.Addr, bool) {
	a, malformed := t.addrsOf.clientAddr(r)
	switch {
	case malformed:
		// At most once a minute: a proxy that writes what does not parse
		// makes every client it forwards share its budget.
		now := t.now().UnixNano()
		if last := t.headerWarned.Load(); now-last >= int64(time.Minute) && t.headerWarned.CompareAndSwap(last, now) {
			t.log.WarnContext(r.Context(), "a trusted proxy's forwarding header does not parse: its requests count as the proxy's own",
				"header", t.addrsOf.header, "proxy", a.String())
		}
	case len(t.addrsOf.trusted) == 0 && a.IsValid() && (a.IsLoopback() || a.IsPrivate()) &&
		r.Header.Get(t.addrsOf.header) != "" && t.proxyHinted.CompareAndSwap(false, true):
		t.log.WarnContext(r.Context(), "requests from a proxy carry a forwarding header, but no trusted proxy is configured: every client behind it shares one address budget (ThrottleConfig.TrustedProxies)",
			"header", t.addrsOf.header, "peer", a.String())
	}
	return a, malformed
}

// addressKey is the budget key of r's client address: an IPv4 address
// whole, an IPv6 address's prefix of IPv6PrefixLen bits.
func (t *Throttle) addressKey(r *http.Request) string {
	a, _ := t.clientAddr(r)
	if !a.IsValid() {
		return budgetKey("a", "not an IP connection")
	}
	if a.Is6() {
		p, _ := a.Prefix(t.v6bits)
		return budgetKey("a", p.String())
	}
	return budgetKey("a", a.String())
}

// usernameKey is the budget key of a username.
func (t *Throttle) usernameKey(name string) string {
	return budgetKey("u", t.normalize(name))
}

// budgetKey is kind, a colon, and a hash of name: keys have one length
// whatever the name, and a shared store holds no username or address.
func budgetKey(kind, name string) string {
	sum := sha256.Sum256([]byte(name))
	return kind + ":" + hex.EncodeToString(sum[:16])
}

// foldUsername is the default ThrottleConfig.NormalizeUsername: trimmed,
// and folded as strings.EqualFold compares.
func foldUsername(name string) string { return strictjson.FoldKey(strings.TrimSpace(name)) }

// enter takes an in-flight slot of each key, or none.
func (t *Throttle) enter(user, addr string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inflight[user] >= t.maxHashesUser || t.inflight[addr] >= t.maxHashesAddr {
		return false
	}
	t.inflight[user]++
	t.inflight[addr]++
	return true
}

// leave gives the slots back; the map keeps only keys in flight.
func (t *Throttle) leave(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		if t.inflight[k]--; t.inflight[k] <= 0 {
			delete(t.inflight, k)
		}
	}
}

// take takes a token of key from the instance's bucket, then from the
// shared one.
func (t *Throttle) take(ctx context.Context, local *MemoryLimiter, key string, r Rate, budget Budget) error {
	if wait, _ := local.Take(ctx, key, r); wait > 0 {
		return &LimitError{Budget: budget, RetryAfter: wait}
	}
	if t.shared == nil {
		return nil
	}
	now := t.now()
	if now.UnixNano() < t.sharedSkipUntil.Load() {
		return t.alone(nil)
	}
	sctx, cancel := context.WithTimeout(ctx, t.sharedTimeout)
	wait, err := t.shared.Take(sctx, key, r)
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err() // the client is gone
	case err != nil:
		t.sharedSkipUntil.Store(now.Add(sharedRetry).UnixNano())
		if t.sharedDown.CompareAndSwap(false, true) {
			what := "this instance's budgets decide alone"
			if t.failClosed {
				what = "answering 503 (FailClosed)"
			}
			t.log.WarnContext(ctx, "the shared limiter cannot answer: "+what, "err", err)
		}
		return t.alone(err)
	}
	if t.sharedDown.CompareAndSwap(true, false) {
		t.log.InfoContext(ctx, "the shared limiter answers again")
	}
	if wait > 0 {
		return &LimitError{Budget: budget, RetryAfter: wait}
	}
	return nil
}

// alone is the answer when the shared limiter cannot give one: none
// (the instance's bucket decided), or ErrLimiterUnavailable.
func (t *Throttle) alone(cause error) error {
	if !t.failClosed {
		return nil
	}
	if cause == nil {
		return ErrLimiterUnavailable
	}
	return fmt.Errorf("%w: %w", ErrLimiterUnavailable, cause)
}

// writeThrottled answers a refusal of the throttle: 429 with Retry-After
// for a LimitError, 503 with Retry-After otherwise (the shared limiter
// cannot answer, or the request was cancelled). Both as OAuth 2.0 errors.
func writeThrottled(w http.ResponseWriter, r *http.Request, err error) {
	var le *LimitError
	switch {
	case errors.As(err, &le):
		tooMany(w, le.RetryAfter, le.description())
	case r.Context().Err() != nil:
		httpx.WriteOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "request cancelled")
	default:
		w.Header().Set("Retry-After", "1")
		httpx.WriteOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the rate limiter is unavailable; retry later")
	}
}

// tooMany answers 429 with a Retry-After of after, rounded up to a whole
// second, at least one.
func tooMany(w http.ResponseWriter, after time.Duration, description string) {
	w.Header().Set("Retry-After", retryAfterSeconds(after))
	httpx.WriteOAuthError(w, http.StatusTooManyRequests, "slow_down", description)
}

// retryAfterSeconds is after rounded up to a whole second, at least one.
func retryAfterSeconds(after time.Duration) string {
	secs := int64(after / time.Second)
	if after%time.Second > 0 {
		secs++
	}
	secs = max(secs, 1) // never 0, nor negative (a Hooks.Allow's)
	return strconv.FormatInt(secs, 10)
}
