package endpoint

import (
	"container/list"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sessionless/sessionless/internal/httpx"
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
	// DefaultThrottleKeys is how many usernames, and how many addresses,
	// a Throttle remembers at most.
	DefaultThrottleKeys = 10000
)

// ThrottleConfig configures a [Throttle]. The zero value of each field is
// its default.
type ThrottleConfig struct {
	// UsernameBurst and UsernameEvery: password attempts per username,
	// UsernameBurst at once, then one every UsernameEvery. Default
	// DefaultUsernameBurst (10) and DefaultUsernameEvery (6 s).
	UsernameBurst int
	UsernameEvery time.Duration
	// AddressBurst and AddressEvery: requests per client address (the
	// TCP peer, see [ClientAddr]), AddressBurst at once, then one every
	// AddressEvery. Default DefaultAddressBurst (30) and
	// DefaultAddressEvery (500 ms).
	AddressBurst int
	AddressEvery time.Duration
	// MaxKeys bounds the usernames, and the addresses, remembered: a
	// flood of distinct ones costs at most this many buckets each. When
	// the table is full, the least recently seen key is forgotten only
	// once its bucket is full again (forgetting it then loses nothing);
	// until then new keys are refused, so that a flood cannot reset a
	// depleted budget. Default DefaultThrottleKeys (10000).
	MaxKeys int
	// Now returns the current time. Nil: time.Now.
	Now func() time.Time
}

// Throttle limits password attempts per username ([Throttle.Allow], for
// Hooks.Allow) and requests per client address ([Throttle.Limit]): token
// buckets (golang.org/x/time/rate) in bounded memory, in this process.
// It is safe for concurrent use.
type Throttle struct {
	users, addrs *limiters
}

// NewThrottle checks cfg and returns a throttle.
func NewThrottle(cfg ThrottleConfig) (*Throttle, error) {
	if cfg.UsernameBurst < 0 || cfg.UsernameEvery < 0 || cfg.AddressBurst < 0 || cfg.AddressEvery < 0 || cfg.MaxKeys < 0 {
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
	keys := or(cfg.MaxKeys, DefaultThrottleKeys)
	return &Throttle{
		users: newLimiters(orDur(cfg.UsernameEvery, DefaultUsernameEvery), or(cfg.UsernameBurst, DefaultUsernameBurst), keys, cfg.Now),
		addrs: newLimiters(orDur(cfg.AddressEvery, DefaultAddressEvery), or(cfg.AddressBurst, DefaultAddressBurst), keys, cfg.Now),
	}, nil
}

// Allow implements Hooks.Allow: a password attempt takes one token of its
// username's bucket; with none left it is refused for as long as the
// bucket takes to refill one.
func (t *Throttle) Allow(_ *http.Request, username string) (ok bool, retryAfter time.Duration) {
	if res, wait := t.users.reserve(username); res == nil {
		return false, wait
	}
	return true, 0
}

// Limit limits every request of next per client address ([ClientAddr]):
// one over the budget is answered 429 Too Many Requests with Retry-After,
// as an OAuth 2.0 error (slow_down).
func (t *Throttle) Limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if res, wait := t.addrs.reserve(ClientAddr(r)); res == nil {
			tooMany(w, wait, "too many requests from this address; retry later")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tooMany answers 429 with a Retry-After of after, rounded up to a whole
// second, at least one.
func tooMany(w http.ResponseWriter, after time.Duration, description string) {
	secs := max(int64((after+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	httpx.WriteOAuthError(w, http.StatusTooManyRequests, "slow_down", description)
}

// ClientAddr is the address of the request's TCP peer, without the port;
// an IPv6 address stands for its /64, which one client usually has
// whole. Behind a proxy every client has the proxy's address: limit in
// the proxy instead.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if ip = ip.Unmap(); ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// limiters is a token bucket per key, for at most max keys.
type limiters struct {
	every time.Duration
	burst int
	max   int
	now   func() time.Time

	mu  sync.Mutex
	m   map[string]*list.Element
	lru *list.List // of *limiterEntry, most recent first
}

type limiterEntry struct {
	key string
	lim *rate.Limiter
}

func newLimiters(every time.Duration, burst, max int, now func() time.Time) *limiters {
	if now == nil {
		now = time.Now
	}
	return &limiters{every: every, burst: burst, max: max, now: now, m: map[string]*list.Element{}, lru: list.New()}
}

// reserve takes one token for key, or reports how long to wait for one
// (and takes nothing).
func (l *limiters) reserve(key string) (*rate.Reservation, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[key]
	if ok {
		l.lru.MoveToFront(e)
	} else {
		if l.lru.Len() >= l.max {
			// Forget the least recently seen key only if its bucket is
			// full again; otherwise refuse the new key for now.
			old := l.lru.Back()
			if missing := float64(l.burst) - old.Value.(*limiterEntry).lim.TokensAt(now); missing > 0 {
				// Until the oldest bucket is full again.
				return nil, time.Duration(missing * float64(l.every))
			}
			l.lru.Remove(old)
			delete(l.m, old.Value.(*limiterEntry).key)
		}
		e = l.lru.PushFront(&limiterEntry{key, rate.NewLimiter(rate.Every(l.every), l.burst)})
		l.m[key] = e
	}
	r := e.Value.(*limiterEntry).lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, d
	}
	return r, 0
}

// len returns the number of keys held.
func (l *limiters) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
