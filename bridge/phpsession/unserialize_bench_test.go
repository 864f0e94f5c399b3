package phpsession_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/sessionless/sessionless/bridge/phpsession"
)

// session is what testdata's login writes: a user, roles, a flash
// message and a cart with an object.
const session = `user_id|i:42;roles|a:2:{i:0;s:5:"admin";i:1;s:6:"editor";}logged_in_at|i:1796674716;` +
	`flash|s:38:"Welcome back, "friend"; {you|are} here";cart|a:4:{s:5:"lines";a:1:{i:0;O:8:"CartLine":3:` +
	`{s:3:"sku";s:5:"SKU-1";s:3:"qty";i:2;s:7:"` + "\x00*\x00" + `note";s:4:"gift";}}s:5:"total";d:19.99;s:6:"coupon";N;s:4:"gift";b:1;}`

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		data string
	}{
		{"session", session},
		// Attacker-sized: as much as the limits let through.
		{"1MiB string", `big|s:1048000:"` + strings.Repeat("x", 1048000) + `";`},
		{"100k values", "list|a:49999:{" + keys(49999) + "}"},
		{"32 deep", "deep|" + strings.Repeat("a:1:{i:0;", 31) + "N;" + strings.Repeat("}", 31)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := []byte(bc.data)
			if _, err := phpsession.Decode(data, phpsession.FormatPHP, phpsession.Limits{}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				phpsession.Decode(data, phpsession.FormatPHP, phpsession.Limits{})
			}
		})
	}
}

// keys writes n entries i:0;N; … i:n-1;N;.
func keys(n int) string {
	var s strings.Builder
	for i := range n {
		s.WriteString("i:" + strconv.Itoa(i) + ";N;")
	}
	return s.String()
}
