package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionless/sessionless/revocation"
)

// subscribeTimeout bounds the wait for Redis to confirm a subscription,
// unless the context ends earlier.
const subscribeTimeout = 10 * time.Second

// minWait is the shortest wait of Next (PubSub.ReceiveTimeout takes 0 as
// no timeout at all).
const minWait = time.Millisecond

// pingPrefix starts the payload of the heartbeat pings.
const pingPrefix = "sessionless-heartbeat-"

// subscription is a [revocation.Subscription] on one PubSub connection.
// It never reconnects: go-redis's PubSub would, but the messages
// published meanwhile are lost, so the first error breaks it for good.
type subscription struct {
	ps      *redis.PubSub
	channel string
	pings   uint64 // pings sent; the last one's payload ends with it
	err     error  // what broke the subscription

	closeOnce sync.Once
	closeErr  error
}

// Next implements [revocation.Subscription]. When no entry arrives within
// wait, it sends a PING on the subscription's connection and returns
// (false, nil) when the answer arrives: Redis answers in order, so every
// entry published before the PING has been received. It returns an error
// if there is no answer within another wait, so it returns within about
// twice wait, or earlier at the deadline of ctx. After an error, Next
// keeps failing: close the subscription and subscribe again.
func (s *subscription) Next(ctx context.Context, wait time.Duration) (revocation.Entry, bool, error) {
	if s.err != nil {
		return revocation.Entry{}, false, s.err
	}
	e, ok, err := s.next(ctx, wait)
	if err != nil {
		s.err = err
	}
	return e, ok, err
}

func (s *subscription) next(ctx context.Context, wait time.Duration) (revocation.Entry, bool, error) {
	wait = max(wait, minWait)
	deadline := time.Now().Add(wait)
	ping := "" // the payload of the PING of this call, once sent
	for {
		if err := ctx.Err(); err != nil {
			return revocation.Entry{}, false, fmt.Errorf("redisstore: next: %w", err)
		}
		timeout := time.Until(deadline)
		if timeout <= 0 {
			if ping != "" {
				return revocation.Entry{}, false, fmt.Errorf("redisstore: next: no answer to a PING within %v", wait)
			}
			s.pings++
			ping = pingPrefix + strconv.FormatUint(s.pings, 10)
			if err := s.ps.Ping(ctx, ping); err != nil {
				return revocation.Entry{}, false, fmt.Errorf("redisstore: next: ping: %w", err)
			}
			deadline = time.Now().Add(wait)
			continue
		}
		msg, err := s.ps.ReceiveTimeout(ctx, timeout)
		if err != nil {
			if isTimeout(err) {
				continue // the loop checks ctx and the deadline
			}
			return revocation.Entry{}, false, fmt.Errorf("redisstore: next: %w", err)
		}
		switch m := msg.(type) {
		case *redis.Message:
			if m.Channel != s.channel {
				continue
			}
			e, err := decodeMessage(m.Payload)
			if err != nil {
				return revocation.Entry{}, false, fmt.Errorf("redisstore: next: message %s on %s: %w", quoteShort(m.Payload), s.channel, err)
			}
			return e, true, nil
		case *redis.Pong:
			if ping != "" && m.Payload == ping {
				return revocation.Entry{}, false, nil
			}
			// The answer to the PING of an earlier call, which returned
			// an entry before the answer came: it says nothing of the
			// entries added since that PING.
		case *redis.Subscription:
			// Subscribe consumed the confirmation: another one means
			// that go-redis resubscribed on a new connection, and what
			// was published in between is lost.
			return revocation.Entry{}, false, fmt.Errorf("redisstore: next: unexpected %s of %s (the connection was replaced)", m.Kind, quoteShort(m.Channel))
		}
	}
}

// isTimeout reports whether err is a read timeout, which leaves the
// connection usable.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Close implements [revocation.Subscription]. It closes the
// subscription's connection; closing again does nothing.
func (s *subscription) Close() error {
	s.closeOnce.Do(func() {
		if err := s.ps.Close(); err != nil {
			s.closeErr = fmt.Errorf("redisstore: close subscription: %w", err)
		}
	})
	return s.closeErr
}
