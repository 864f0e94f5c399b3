package sqlschema_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/sqlschema"
)

var (
	epoch   = time.Unix(0, 0)
	maxTime = time.Unix(0, math.MaxInt64)
)

// TestNanos: the times the columns hold round-trip, in UTC; the others are
// refused with ErrTimeRange.
func TestNanos(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		epoch.Add(1),
		time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.FixedZone("CET", 3600)),
		maxTime,
	} {
		n, err := sqlschema.Nanos(tm)
		if err != nil {
			t.Errorf("Nanos(%v): %v", tm, err)
			continue
		}
		got := sqlschema.FromNanos(n)
		if !got.Equal(tm) || got.IsZero() != tm.IsZero() || !tm.IsZero() && got.Location() != time.UTC {
			t.Errorf("FromNanos(Nanos(%v)) = %v, want the same instant in UTC", tm, got)
		}
	}
	for _, tm := range []time.Time{
		epoch, // its 0 is the zero time's
		epoch.Add(-1),
		time.Time{}.Add(1),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		maxTime.Add(1),
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if n, err := sqlschema.Nanos(tm); !errors.Is(err, sqlschema.ErrTimeRange) {
			t.Errorf("Nanos(%v) = %d, %v; want ErrTimeRange", tm, n, err)
		}
		if _, err := sqlschema.NanosAll(time.Time{}, tm); !errors.Is(err, sqlschema.ErrTimeRange) {
			t.Errorf("NanosAll(zero, %v) = %v, want ErrTimeRange", tm, err)
		}
	}
	if ns, err := sqlschema.NanosAll(time.Time{}, epoch.Add(5)); err != nil || len(ns) != 2 || ns[0] != 0 || ns[1] != 5 {
		t.Errorf("NanosAll = %v, %v; want [0 5]", ns, err)
	}
}

// TestFromNanos: values no store writes decode too.
func TestFromNanos(t *testing.T) {
	if got := sqlschema.FromNanos(math.MinInt64); got.Year() != 1677 || got.Location() != time.UTC {
		t.Errorf("FromNanos(MinInt64) = %v", got)
	}
	if got := sqlschema.FromNanos(-1); !got.Equal(epoch.Add(-1)) {
		t.Errorf("FromNanos(-1) = %v", got)
	}
}

// TestBound: a stored value is at or before Bound(t) exactly when its
// time is at or before t, whatever t is.
func TestBound(t *testing.T) {
	times := []time.Time{
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Time{}.Add(-1),
		{},
		time.Time{}.Add(1),
		time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC),
		epoch,
		epoch.Add(1),
		time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC),
		maxTime,
		maxTime.Add(1),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, stored := range times {
		n, err := sqlschema.Nanos(stored)
		if err != nil {
			continue // not a stored time
		}
		for _, bound := range times {
			if got, want := n <= sqlschema.Bound(bound), !stored.After(bound); got != want {
				t.Errorf("stored %v (%d) <= Bound(%v) (%d) is %v, want %v", stored, n, bound, sqlschema.Bound(bound), got, want)
			}
		}
	}
	for _, c := range []struct {
		t    time.Time
		want int64
	}{
		{time.Time{}.Add(-1), -1},
		{time.Time{}, 0},
		{epoch, 0},
		{epoch.Add(7), 7},
		{maxTime.Add(1), math.MaxInt64},
	} {
		if got := sqlschema.Bound(c.t); got != c.want {
			t.Errorf("Bound(%v) = %d, want %d", c.t, got, c.want)
		}
	}
}
