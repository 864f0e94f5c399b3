package sqlschema

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// The stores keep times in BIGINT columns as Unix nanoseconds, so that
// they round-trip exactly and compare in SQL as the times do. 0 stands
// for the zero time.Time; every other time must lie after the epoch (whose
// 0 is taken) and within int64 nanoseconds, so that the order of the
// stored values is the order of the times, the zero time first.
var (
	epoch   = time.Unix(0, 0)
	maxTime = time.Unix(0, math.MaxInt64) // 2262-04-11 23:47:16.854775807 UTC
)

// ErrTimeRange is the error of [Nanos] for a time its columns cannot
// hold. The stores wrap it in their own refusal where they have one
// (apitoken.ErrInvalid, revocation.ErrInvalidEntry).
var ErrTimeRange = errors.New("sqlschema: time out of range")

// Nanos returns t as stored: 0 for the zero time, its Unix nanoseconds
// for a time after the epoch and at or before 2262-04-11 23:47:16.854775807 UTC,
// and an error wrapping [ErrTimeRange] for any other.
func Nanos(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	if !t.After(epoch) || t.After(maxTime) {
		return 0, fmt.Errorf("%w: %v: want the zero time or one after 1970-01-01 and before 2262-04-12 UTC", ErrTimeRange, t)
	}
	return t.UnixNano(), nil
}

// NanosAll returns the [Nanos] of each of ts, or the first error.
func NanosAll(ts ...time.Time) ([]int64, error) {
	ns := make([]int64, len(ts))
	for i, t := range ts {
		var err error
		if ns[i], err = Nanos(t); err != nil {
			return nil, err
		}
	}
	return ns, nil
}

// FromNanos is the inverse of [Nanos]: the zero time for 0, otherwise the
// time in UTC, whatever the local time zone. A value no store wrote (a
// negative one, written by hand) decodes all the same.
func FromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Bound returns the largest stored value at or before t, for the "at or
// before t" and "after t" comparisons of purges and snapshots, whatever t
// is: -1 for a time before the zero time (no stored value is at or before
// it), 0 for one at or before the epoch (only the zero time's 0 is),
// math.MaxInt64 for one past the range of [Nanos], and otherwise its Unix
// nanoseconds.
func Bound(t time.Time) int64 {
	switch {
	case t.Before(time.Time{}):
		return -1
	case !t.After(epoch):
		return 0
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}
