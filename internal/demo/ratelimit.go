package demo

import (
	"container/list"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/sessionless/sessionless/internal/httpx"
	"golang.org/x/time/rate"
)

// Rate limits of the login and token endpoints.
const (
	// perUsername: 10 attempts at once, then one every 6 s, per username:
	// a password cannot be guessed faster from any number of addresses.
	perUsernameEvery, perUsernameBurst = 6 * time.Second, 10
	// perAddress: 30 requests at once, then 2 a second, per client
	// address (the TCP peer: behind a proxy, limit there instead).
	perAddressEvery, perAddressBurst = 500 * time.Millisecond, 30
	// limiterEntries bounds each limiter's memory: the least recently
	// seen keys are forgotten first, so a flood of distinct usernames or
	// addresses costs at most this many entries.
	limiterEntries = 10000
)

// limiters is a token bucket per key (golang.org/x/time/rate), for at most
// max keys.
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
			// full again (forgetting it loses nothing); otherwise refuse the
			// new key for now, rather than let a flood of other keys reset
			// a depleted budget.
			old := l.lru.Back()
			lim := old.Value.(*limiterEntry).lim
			if lim.TokensAt(now) < float64(l.burst) {
				return nil, l.every
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

// throttle holds the demo's limiters.
type throttle struct {
	users, addrs *limiters
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{
		users: newLimiters(perUsernameEvery, perUsernameBurst, limiterEntries, now),
		addrs: newLimiters(perAddressEvery, perAddressBurst, limiterEntries, now),
	}
}

// clientAddr is the request's peer address, without the port; an IPv6
// address stands for its /64, which one client usually has whole.
func clientAddr(r *http.Request) string {
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

// allowPassword is endpoint.Hooks.Allow: a password attempt counts
// against its username (the request, against its address: addresses).
func (t *throttle) allowPassword(_ *http.Request, username string) (bool, time.Duration) {
	if res, wait := t.users.reserve(username); res == nil {
		return false, wait
	}
	return true, 0
}

// addresses limits every request of next per client address, answering
// 429 with Retry-After in the endpoints' error shape.
func (t *throttle) addresses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if res, wait := t.addrs.reserve(clientAddr(r)); res == nil {
			w.Header().Set("Retry-After", strconv.FormatInt(max(int64((wait+time.Second-1)/time.Second), 1), 10))
			httpx.WriteOAuthError(w, http.StatusTooManyRequests, "slow_down", "too many requests from this address; retry later")
			return
		}
		next.ServeHTTP(w, r)
	})
}
