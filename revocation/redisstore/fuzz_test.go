package redisstore

import (
	"testing"
	"time"

	"github.com/sessionless/sessionless/revocation"
)

// FuzzDecodeMessage: whatever arrives on the channel, decoding never
// panics, and what it accepts is a valid entry that encodes back to the
// same message.
func FuzzDecodeMessage(f *testing.F) {
	e := revocation.Entry{Kind: revocation.KindSubject, Issuer: "https://iss", Key: "usr:1",
		Before: time.Unix(0, 1795348800123456789), Expires: time.Unix(0, 1795435200000000000)}
	v, err := encodeValue(e)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v + ":" + encodeField(e.Kind, e.Issuer, e.Key))
	f.Add("")
	f.Add(":::")
	f.Add("1:3:iss:jti")
	f.Fuzz(func(t *testing.T, m string) {
		got, err := decodeMessage(m)
		if err != nil {
			return
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("decoded an invalid entry %+v from %q: %v", got, m, err)
		}
		v, err := encodeValue(got)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", got, err)
		}
		if again, err := decodeMessage(v + ":" + encodeField(got.Kind, got.Issuer, got.Key)); err != nil || again != got {
			t.Fatalf("round trip of %q: %+v, %v", m, again, err)
		}
	})
}
