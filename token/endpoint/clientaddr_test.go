package endpoint

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// testTrusted are the trusted proxies of the client address tests.
var testTrusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("2001:db8:ffff::/48"),
	netip.MustParsePrefix("127.0.0.1/32"),
}

type addrCase struct {
	name      string
	remote    string
	lines     []string // the forwarding header's lines
	want      string   // "" for the zero Addr
	malformed bool
}

// chain is n trusted hops: 10.0.0.1, 10.0.0.2, …
func chain(n int) string {
	var hops []string
	for i := range n {
		hops = append(hops, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
	}
	return strings.Join(hops, ", ")
}

var xffCases = []addrCase{
	// The connection
	{"no proxy trusted for this peer", "203.0.113.7:1234", []string{"198.51.100.1"}, "203.0.113.7", false},
	{"IPv6 peer", "[2001:db8::7]:443", []string{"198.51.100.1"}, "2001:db8::7", false},
	{"IPv4-mapped peer", "[::ffff:203.0.113.7]:1", nil, "203.0.113.7", false},
	{"bare IP peer", "203.0.113.7", nil, "203.0.113.7", false},
	{"zoned peer", "[fe80::1%eth0]:1", nil, "fe80::1", false},
	{"not an IP connection", "@", []string{"198.51.100.1"}, "", false},
	{"trusted peer without a header", "10.0.0.1:1", nil, "10.0.0.1", false},
	{"IPv4-mapped trusted peer", "[::ffff:10.0.0.1]:1", []string{"198.51.100.1"}, "198.51.100.1", false},

	// The walk from the right
	{"one proxy", "10.0.0.1:1", []string{"198.51.100.1"}, "198.51.100.1", false},
	{"spoofed entries on the left", "10.0.0.1:1", []string{"1.2.3.4, 5.6.7.8, 198.51.100.1"}, "198.51.100.1", false},
	{"trusted hops passed", "10.0.0.1:1", []string{"1.2.3.4, 198.51.100.1, 10.0.0.2, 10.0.0.3"}, "198.51.100.1", false},
	{"trusted IPv6 hop", "10.0.0.1:1", []string{"198.51.100.1, 2001:db8:ffff::9"}, "198.51.100.1", false},
	{"lines read from the last", "10.0.0.1:1", []string{"1.2.3.4", "198.51.100.1"}, "198.51.100.1", false},
	{"a line of trusted hops", "10.0.0.1:1", []string{"198.51.100.1", "10.0.0.2"}, "198.51.100.1", false},
	{"only trusted hops", "127.0.0.1:1", []string{"10.0.0.2, 10.0.0.3"}, "10.0.0.2", false},
	{"more trusted hops than maxHops", "10.0.0.1:1", []string{"198.51.100.1, " + chain(40)}, "10.0.0.9", false},
	{"empty elements and white space", "10.0.0.1:1", []string{" , ,\t198.51.100.1 ,, "}, "198.51.100.1", false},
	{"empty line", "10.0.0.1:1", []string{""}, "10.0.0.1", false},

	// Nodes
	{"port", "10.0.0.1:1", []string{"198.51.100.1:8080"}, "198.51.100.1", false},
	{"bare IPv6", "10.0.0.1:1", []string{"2001:db8::1"}, "2001:db8::1", false},
	{"bracketed IPv6", "10.0.0.1:1", []string{"[2001:db8::1]"}, "2001:db8::1", false},
	{"bracketed IPv6 and port", "10.0.0.1:1", []string{"[2001:db8::1]:443"}, "2001:db8::1", false},
	{"IPv4-mapped", "10.0.0.1:1", []string{"::ffff:198.51.100.1"}, "198.51.100.1", false},
	{"IPv4-mapped trusted hop", "10.0.0.1:1", []string{"198.51.100.1, ::ffff:10.0.0.2"}, "198.51.100.1", false},
	{"zone dropped", "10.0.0.1:1", []string{"fe80::1%eth0"}, "fe80::1", false},

	// Entries that name no address stop the walk at the proxy
	{"unknown", "10.0.0.1:1", []string{"198.51.100.1, unknown"}, "10.0.0.1", false},
	{"obfuscated", "10.0.0.1:1", []string{"198.51.100.1, _gazonk"}, "10.0.0.1", false},
	{"garbage on the right", "10.0.0.1:1", []string{"198.51.100.1, garbage"}, "10.0.0.1", true},
	{"garbage after a trusted hop", "10.0.0.1:1", []string{"198.51.100.1, bad, 10.0.0.2"}, "10.0.0.2", true},
	{"garbage on the left is never read", "10.0.0.1:1", []string{"\"bad, [::1, 198.51.100.1"}, "198.51.100.1", false},
	{"leading zero", "10.0.0.1:1", []string{"198.051.100.1"}, "10.0.0.1", true},
	{"port too long", "10.0.0.1:1", []string{"198.51.100.1:123456"}, "10.0.0.1", true},
	{"empty port", "10.0.0.1:1", []string{"198.51.100.1:"}, "10.0.0.1", true},
	{"IPv4 in brackets", "10.0.0.1:1", []string{"[198.51.100.1]"}, "10.0.0.1", true},
	{"host name", "10.0.0.1:1", []string{"client.example"}, "10.0.0.1", true},
	{"unclosed bracket", "10.0.0.1:1", []string{"[2001:db8::1"}, "10.0.0.1", true},
	{"junk after the bracket", "10.0.0.1:1", []string{"[2001:db8::1]x"}, "10.0.0.1", true},
}

var forwardedCases = []addrCase{
	{"RFC 7239 example", "10.0.0.1:1", []string{`for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com`}, "198.51.100.17", false},
	{"quoted IPv6 and port", "10.0.0.1:1", []string{`for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17", false},
	{"quoted IPv4", "10.0.0.1:1", []string{`for="198.51.100.1"`}, "198.51.100.1", false},
	{"parameter names without case", "10.0.0.1:1", []string{`proto=https;For="198.51.100.1:80"`}, "198.51.100.1", false},
	{"escapes", "10.0.0.1:1", []string{`for="198.51.\100.1"`}, "198.51.100.1", false},
	{"commas in a quoted string on the left", "10.0.0.1:1", []string{`for="x, for=1.2.3.4", for=198.51.100.1`}, "198.51.100.1", false},
	{"trusted hop passed", "10.0.0.1:1", []string{`for=198.51.100.1, for=10.0.0.2`}, "198.51.100.1", false},
	{"lines", "10.0.0.1:1", []string{`for=1.2.3.4`, `for=198.51.100.1`}, "198.51.100.1", false},
	{"a bad line on the left is never read", "10.0.0.1:1", []string{`for="1.2.3.4`, `for=198.51.100.1`}, "198.51.100.1", false},
	{"empty elements, white space, empty pairs", "10.0.0.1:1", []string{` ,for=1.2.3.4 ,,;for=198.51.100.1; , `}, "198.51.100.1", false},
	{"X-Forwarded-For is not read", "10.0.0.1:1", nil, "10.0.0.1", false},

	{"unknown", "10.0.0.1:1", []string{`for=198.51.100.1, for=unknown`}, "10.0.0.1", false},
	{"obfuscated", "10.0.0.1:1", []string{`for=198.51.100.1, for="_hidden:_port"`}, "10.0.0.1", false},
	{"no for", "10.0.0.1:1", []string{`for=198.51.100.1, proto=https`}, "10.0.0.1", false},
	{"for twice", "10.0.0.1:1", []string{`for=198.51.100.1;for=1.2.3.4`}, "10.0.0.1", true},
	{"a parameter twice", "10.0.0.1:1", []string{`for=198.51.100.1;proto=http;PROTO=https`}, "10.0.0.1", true},
	{"unterminated quote", "10.0.0.1:1", []string{`for="198.51.100.1`}, "10.0.0.1", true},
	{"quote left open on the left, closed by the proxy", "10.0.0.1:1", []string{`for="x, for="[2001:db8::1]"`}, "10.0.0.1", true},
	{"unquoted IPv6", "10.0.0.1:1", []string{`for=[2001:db8::1]`}, "10.0.0.1", true},
	{"quoted IPv6 without brackets", "10.0.0.1:1", []string{`for="2001:db8::1"`}, "10.0.0.1", true},
	{"white space before a semicolon", "10.0.0.1:1", []string{`for=198.51.100.1 ;proto=http`}, "10.0.0.1", true},
	{"white space around =", "10.0.0.1:1", []string{`for = 198.51.100.1`}, "10.0.0.1", true},
	{"empty value", "10.0.0.1:1", []string{`for=`}, "10.0.0.1", true},
	{"empty quoted value", "10.0.0.1:1", []string{`for=""`}, "10.0.0.1", true},
	{"no name", "10.0.0.1:1", []string{`=198.51.100.1`}, "10.0.0.1", true},
	{"junk after a quoted string", "10.0.0.1:1", []string{`for="198.51.100.1"x`}, "10.0.0.1", true},
	{"control character", "10.0.0.1:1", []string{"for=\"198.51.100.1\x01\""}, "10.0.0.1", true},
	{"dangling escape", "10.0.0.1:1", []string{`for="198.51.100.1\`}, "10.0.0.1", true},
	{"too many pairs", "10.0.0.1:1", []string{"for=198.51.100.1" + strings.Repeat(";a=b", maxPairs)}, "10.0.0.1", true},
}

func runAddrCases(t *testing.T, header string, cases []addrCase) {
	t.Helper()
	c := clientAddrs{trusted: testTrusted, header: header}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			for _, l := range tc.lines {
				r.Header.Add(header, l)
			}
			// The other header is never read.
			other := HeaderForwarded
			if header == HeaderForwarded {
				other = HeaderXForwardedFor
			}
			r.Header.Add(other, "for=192.0.2.66")
			r.Header.Add(other, "192.0.2.66")
			got, malformed := c.clientAddr(r)
			want := netip.Addr{}
			if tc.want != "" {
				want = netip.MustParseAddr(tc.want)
			}
			if got != want || malformed != tc.malformed {
				t.Fatalf("%q: got %v (malformed %v), want %v (malformed %v)", tc.lines, got, malformed, want, tc.malformed)
			}
		})
	}
}

// TestClientAddrXForwardedFor: the client address behind trusted
// proxies, from X-Forwarded-For.
func TestClientAddrXForwardedFor(t *testing.T) { runAddrCases(t, HeaderXForwardedFor, xffCases) }

// TestClientAddrForwarded: the same from Forwarded (RFC 7239), parsed
// strictly.
func TestClientAddrForwarded(t *testing.T) { runAddrCases(t, HeaderForwarded, forwardedCases) }

// TestAddressKey: IPv4 whole; IPv6 by its prefix (64 bits by default,
// IPv6PrefixLen otherwise); the key never holds the address.
func TestAddressKey(t *testing.T) {
	key := func(th *Throttle, remote string) string {
		return th.addressKey(&http.Request{RemoteAddr: remote, Header: http.Header{}})
	}
	th, _ := NewThrottle(ThrottleConfig{})
	th48, _ := NewThrottle(ThrottleConfig{IPv6PrefixLen: 48})
	for _, tc := range []struct {
		th         *Throttle
		a, b       string
		sameBudget bool
	}{
		{th, "192.0.2.1:1", "192.0.2.1:2", true},
		{th, "192.0.2.1:1", "192.0.2.2:1", false},
		{th, "[::ffff:192.0.2.1]:1", "192.0.2.1:1", true},
		{th, "[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:1", true},
		{th, "[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1", false},
		{th48, "[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1", true},
		{th48, "[2001:db8:1::1]:1", "[2001:db8:2::1]:1", false},
		{th, "not an IP", "@", true},
	} {
		if ka, kb := key(tc.th, tc.a), key(tc.th, tc.b); (ka == kb) != tc.sameBudget {
			t.Errorf("%s and %s: keys %s and %s, same budget: %v", tc.a, tc.b, ka, kb, tc.sameBudget)
		}
	}
	if k := key(th, "192.0.2.1:1"); strings.Contains(k, "192") || len(k) != 34 {
		t.Errorf("key %q", k)
	}
}

// TestFoldUsername: the default normalisation gives a name's case
// variants, as strings.EqualFold takes them, one budget.
func TestFoldUsername(t *testing.T) {
	for _, same := range [][2]string{
		{"alice", "ALICE"}, {" alice\t", "Alice"}, {"straße", "STRAẞE"}, {"ſam", "SAM"}, {"K", "\u212a"}, {"ǅ", "ǆ"},
	} {
		if foldUsername(same[0]) != foldUsername(same[1]) || !strings.EqualFold(strings.TrimSpace(same[0]), strings.TrimSpace(same[1])) {
			t.Errorf("%q and %q: %q and %q", same[0], same[1], foldUsername(same[0]), foldUsername(same[1]))
		}
	}
	for _, other := range [][2]string{{"alice", "alicia"}, {"a b", "ab"}} {
		if foldUsername(other[0]) == foldUsername(other[1]) {
			t.Errorf("%q and %q share a budget", other[0], other[1])
		}
	}
}

// FuzzClientAddr: nothing in a request makes the client address panic;
// a peer that is not a trusted proxy is the client whatever the headers
// say; and what a client writes to the left of what the proxies appended
// (a line before, or, in X-Forwarded-For, entries before) never changes
// an address read from the header.
func FuzzClientAddr(f *testing.F) {
	for _, tc := range xffCases {
		f.Add(tc.remote, strings.Join(tc.lines, ","), "", false, "1.2.3.4")
	}
	for _, tc := range forwardedCases {
		f.Add(tc.remote, strings.Join(tc.lines, ","), "for=1.2.3.4", true, `for="`)
	}
	f.Add("10.0.0.1:1", "for=198.51.100.1", "for=10.0.0.2", true, "for=1.2.3.4;for=5.6.7.8")
	f.Fuzz(func(t *testing.T, remote, l1, l2 string, rfc7239 bool, spoof string) {
		header := HeaderXForwardedFor
		if rfc7239 {
			header = HeaderForwarded
		}
		c := clientAddrs{trusted: testTrusted, header: header}
		addr := func(lines ...string) netip.Addr {
			r := &http.Request{RemoteAddr: remote, Header: http.Header{header: lines}}
			a, _ := c.clientAddr(r)
			return a
		}
		got := addr(l1, l2)
		peer := peerAddr(remote)
		if (!peer.IsValid() || !c.trusts(peer)) && got != peer {
			t.Fatalf("peer %v is no trusted proxy, yet the client is %v", peer, got)
		}
		if got.IsValid() && (got.Zone() != "" || got.Is4In6()) {
			t.Fatalf("not normalised: %v", got)
		}
		if got == peer || c.trusts(got) {
			return
		}
		if other := addr(spoof, l1, l2); other != got {
			t.Fatalf("a line %q on the left changed the client from %v to %v", spoof, got, other)
		}
		if !rfc7239 {
			if other := addr(spoof+","+l1, l2); other != got {
				t.Fatalf("entries %q on the left changed the client from %v to %v", spoof, got, other)
			}
		}
	})
}

// FuzzParseForwarded: the Forwarded parser and the node parser never
// panic, and an address they return is normalised and prints as itself.
func FuzzParseForwarded(f *testing.F) {
	for _, tc := range forwardedCases {
		for _, l := range tc.lines {
			f.Add(l)
		}
	}
	for _, tc := range xffCases {
		for _, l := range tc.lines {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		checkNode := func(v string, bare bool) {
			a, ok := parseNode(v, bare)
			if !a.IsValid() {
				return
			}
			if !ok || a.Zone() != "" || a.Is4In6() {
				t.Fatalf("parseNode(%q) = %v, %v", v, a, ok)
			}
			if b, err := netip.ParseAddr(a.String()); err != nil || b != a {
				t.Fatalf("parseNode(%q) = %v, which does not print as itself", v, a)
			}
		}
		elements := 0
		if parseForwarded(line, func(v string, has bool) {
			elements++
			if !has && v != "" {
				t.Fatalf("a value %q without for=", v)
			}
			checkNode(v, false)
		}) && elements > strings.Count(line, ",")+1 {
			t.Fatalf("%d elements in %q", elements, line)
		}
		checkNode(line, true)
		xffHops(line, func(h hop) bool {
			if h.addr.IsValid() && h.malformed {
				t.Fatalf("hop %+v", h)
			}
			return true
		})
	})
}
