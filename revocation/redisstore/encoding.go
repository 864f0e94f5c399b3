package redisstore

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sessionless/sessionless/revocation"
)

// The encodings below are described in the package documentation. The
// Lua scripts in redisstore.go depend on them: keep them in step.

const (
	// timeLen is the length of an encoded time: a uint64 in decimal,
	// zero-padded.
	timeLen = 20
	// valueLen is the length of a hash value: "<before>:<expires>".
	valueLen = 2*timeLen + 1
	// nsOffset maps int64 nanoseconds onto uint64 preserving order.
	nsOffset = uint64(1) << 63
)

// zeroTime encodes the zero time.Time (no Before).
var zeroTime = strings.Repeat("0", timeLen)

// The times a store keeps: those whose nanoseconds since the Unix epoch
// fit an int64, less the least, whose encoding is that of the zero time.
var (
	minTime = time.Unix(0, math.MinInt64+1).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// errOutOfRange is returned (wrapped in revocation.ErrInvalidEntry) for
// times a store cannot keep to the nanosecond.
var errOutOfRange = fmt.Errorf("a time outside %s to %s", minTime.Format(time.RFC3339Nano), maxTime.Format(time.RFC3339Nano))

// encodeNs encodes nanoseconds since the Unix epoch so that the string
// order of encodings is the order of the times.
func encodeNs(ns int64) string {
	return fmt.Sprintf("%0*d", timeLen, uint64(ns)^nsOffset)
}

// encodeTime encodes t, or the zero time as all zeros.
func encodeTime(t time.Time) (string, error) {
	if t.IsZero() {
		return zeroTime, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return "", errOutOfRange
	}
	return encodeNs(t.UnixNano()), nil
}

// decodeTime reverses encodeTime.
func decodeTime(s string) (time.Time, error) {
	if len(s) != timeLen || !allDigits(s) {
		return time.Time{}, errors.New("malformed time")
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return time.Time{}, errors.New("malformed time")
	}
	if u == 0 {
		return time.Time{}, nil
	}
	return time.Unix(0, int64(u^nsOffset)).UTC(), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ceilMs is ns in milliseconds rounded up: the expiry index's score.
func ceilMs(ns int64) int64 {
	ms := ns / 1e6
	if ns%1e6 > 0 {
		ms++
	}
	return ms
}

// encodeField is the hash field of an entry:
// "<kind>:<len(issuer)>:<issuer>:<key>". The issuer's length makes it
// unambiguous whatever bytes the issuer and key contain.
func encodeField(kind revocation.Kind, issuer, key string) string {
	return strconv.Itoa(int(kind)) + ":" + strconv.Itoa(len(issuer)) + ":" + issuer + ":" + key
}

// decodeField reverses encodeField. It accepts only what encodeField
// returns.
func decodeField(f string) (kind revocation.Kind, issuer, key string, err error) {
	bad := errors.New("malformed field")
	k, rest, ok := cutNumber(f)
	if !ok || k > math.MaxUint8 {
		return 0, "", "", bad
	}
	n, rest, ok := cutNumber(rest)
	if !ok || n > len(rest)-1 || rest[n] != ':' {
		return 0, "", "", bad
	}
	return revocation.Kind(k), rest[:n], rest[n+1:], nil
}

// cutNumber cuts a canonical decimal number and the colon after it from
// the start of s.
func cutNumber(s string) (n int, rest string, ok bool) {
	digits, rest, found := strings.Cut(s, ":")
	if !found || digits == "" || len(digits) > 9 || !allDigits(digits) ||
		(digits[0] == '0' && len(digits) > 1) {
		return 0, "", false
	}
	n, err := strconv.Atoi(digits)
	return n, rest, err == nil
}

// encodeValue is the hash value of an entry: "<before>:<expires>".
func encodeValue(e revocation.Entry) (string, error) {
	before, err := encodeTime(e.Before)
	if err != nil {
		return "", err
	}
	expires, err := encodeTime(e.Expires)
	if err != nil {
		return "", err
	}
	return before + ":" + expires, nil
}

// decodeEntry decodes a hash field and its value, and checks the result
// the way Create checks what it stores: nothing read from Redis is trusted.
func decodeEntry(field, value string) (revocation.Entry, error) {
	kind, issuer, key, err := decodeField(field)
	if err != nil {
		return revocation.Entry{}, err
	}
	if len(value) != valueLen || value[timeLen] != ':' {
		return revocation.Entry{}, errors.New("malformed value")
	}
	before, err := decodeTime(value[:timeLen])
	if err != nil {
		return revocation.Entry{}, err
	}
	expires, err := decodeTime(value[timeLen+1:])
	if err != nil {
		return revocation.Entry{}, err
	}
	e := revocation.Entry{Kind: kind, Issuer: issuer, Key: key, Before: before, Expires: expires}
	if err := e.Validate(); err != nil {
		// Not wrapped: this is not the caller's invalid entry.
		return revocation.Entry{}, fmt.Errorf("malformed entry: %v", err)
	}
	return e, nil
}

// decodeMessage decodes a message published by Create: "<value>:<field>".
func decodeMessage(m string) (revocation.Entry, error) {
	if len(m) <= valueLen || m[valueLen] != ':' {
		return revocation.Entry{}, errors.New("malformed message")
	}
	return decodeEntry(m[valueLen+1:], m[:valueLen])
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
