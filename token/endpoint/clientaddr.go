package endpoint

import (
	"net/http"
	"net/netip"
	"strings"
)

// The forwarding headers a trusted proxy may write
// (ThrottleConfig.ForwardedHeader).
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded" // RFC 7239
)

// maxHops bounds the trusted proxies walked through in a forwarding
// header: past them the client is the last one.
const maxHops = 32

// clientAddrs tells a request's client address: the connection's peer,
// or, when the peer is a trusted proxy, the address the forwarding
// header names, walked from the right.
type clientAddrs struct {
	trusted []netip.Prefix
	header  string // HeaderXForwardedFor or HeaderForwarded
}

// hop is one entry of a forwarding chain: an address, or an entry that
// names none (unknown, obfuscated, or malformed).
type hop struct {
	addr      netip.Addr
	malformed bool // not even a well-formed "unknown" or obfuscated node
}

// clientAddr returns the address of r's client and whether a trusted
// proxy sent a forwarding header that does not parse where it was read.
//
// Without trusted proxies, or from a peer that is not one, it is the
// peer's address: whatever the headers say. From a trusted proxy, the
// forwarding header is read from the right, entry by entry (the one a
// proxy appended last is the rightmost): an entry that is a trusted proxy
// is passed, the first that is not is the client. An entry that names no
// address (RFC 7239's "unknown" or an obfuscated node, or one that does
// not parse) stops the walk: the client is then the trusted proxy that
// forwarded it, never an entry further left, which anyone could have
// written. A chain of trusted proxies only, or of more than maxHops, ends
// at the last one read. The zero Addr means the peer's address does not
// parse (not an IP connection).
func (c *clientAddrs) clientAddr(r *http.Request) (client netip.Addr, malformed bool) {
	client = peerAddr(r.RemoteAddr)
	if !client.IsValid() || !c.trusts(client) {
		return client, false
	}
	n := 0
	for h := range c.hops(r.Header.Values(c.header)) {
		if !h.addr.IsValid() {
			return client, h.malformed
		}
		client = h.addr
		if n++; !c.trusts(client) || n == maxHops {
			break
		}
	}
	return client, false
}

// trusts reports whether a is one of the trusted proxies.
func (c *clientAddrs) trusts(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hops yields the entries of the forwarding header lines, from the
// rightmost: the lines from the last, each line's entries from its last.
// Empty list elements are skipped (RFC 9110 §5.6.1).
func (c *clientAddrs) hops(lines []string) func(yield func(hop) bool) {
	return func(yield func(hop) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			var ok bool
			if c.header == HeaderForwarded {
				ok = forwardedHops(lines[i], yield)
			} else {
				ok = xffHops(lines[i], yield)
			}
			if !ok {
				return
			}
		}
	}
}

// xffHops yields the entries of one X-Forwarded-For line, from the last:
// comma-separated addresses, IPv6 bare or in brackets, either with a port
// in the node syntax of RFC 7239 §6 ("192.0.2.1:8080", "[2001:db8::1]:8080").
// It returns false once yield does.
func xffHops(line string, yield func(hop) bool) bool {
	for line != "" {
		v := line
		if i := strings.LastIndexByte(line, ','); i >= 0 {
			v, line = line[i+1:], line[:i]
		} else {
			line = ""
		}
		v = strings.Trim(v, " \t")
		if v == "" {
			continue
		}
		a, ok := parseNode(v, true)
		if !yield(hop{addr: a, malformed: !ok}) {
			return false
		}
	}
	return true
}

// forwardedHops yields the nodes of the for= parameters of one Forwarded
// line (RFC 7239 §4), from the last element. The line is parsed whole
// first: a quoted string may hold commas, so only a line that parses
// says where its last element begins. A line that does not is one
// malformed entry. An element without for= is an entry that names no
// address. It returns false once yield does.
func forwardedHops(line string, yield func(hop) bool) bool {
	// The for= values of the last maxHops elements, in a ring.
	var ring [maxHops]struct {
		v   string
		has bool
	}
	n := 0
	if !parseForwarded(line, func(v string, has bool) {
		ring[n%maxHops].v, ring[n%maxHops].has = v, has
		n++
	}) {
		return yield(hop{malformed: true})
	}
	for i := n - 1; i >= max(0, n-maxHops); i-- {
		e := ring[i%maxHops]
		var h hop
		if e.has {
			var ok bool
			h.addr, ok = parseNode(e.v, false)
			h.malformed = !ok
		}
		if !yield(h) {
			return false
		}
	}
	return true
}

// parseForwarded parses one Forwarded line strictly and calls element
// with the for= value of each non-empty element (unescaped; has false
// when it has none), in order. It reports whether the line parses:
//
//	Forwarded         = 1#forwarded-element
//	forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
//	forwarded-pair    = token "=" value
//	value             = token / quoted-string
//
// with optional whitespace around the commas only, a parameter at most
// once per element (§4), at most maxPairs pairs per element, and
// parameter names compared without case.
func parseForwarded(line string, element func(forValue string, has bool)) bool {
	i := 0
	var names [maxPairs]string // of the element's pairs, for duplicates
	skipOWS := func() {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
	}
	for {
		skipOWS()
		if i == len(line) {
			return true
		}
		if line[i] == ',' { // an empty list element
			i++
			continue
		}
		// One element: pairs separated by ";", until "," or the end.
		pairs, forValue, hasFor := 0, "", false
		for i < len(line) && line[i] != ',' && line[i] != ' ' && line[i] != '\t' {
			if line[i] == ';' { // an empty pair
				i++
				continue
			}
			start := i
			for i < len(line) && isTchar(line[i]) {
				i++
			}
			name := line[start:i]
			if name == "" || i == len(line) || line[i] != '=' || pairs == maxPairs {
				return false
			}
			for _, seen := range names[:pairs] {
				if strings.EqualFold(seen, name) {
					return false // a parameter twice in one element
				}
			}
			names[pairs] = name
			pairs++
			value, next, ok := parseValue(line, i+1)
			if !ok {
				return false
			}
			i = next
			if strings.EqualFold(name, "for") {
				forValue, hasFor = value, true
			}
			if i < len(line) && line[i] != ';' && line[i] != ',' && line[i] != ' ' && line[i] != '\t' {
				return false
			}
		}
		element(forValue, hasFor)
		skipOWS()
		if i == len(line) {
			return true
		}
		if line[i] != ',' {
			return false
		}
		i++
	}
}

// maxPairs bounds the parameters of one Forwarded element: RFC 7239
// defines four.
const maxPairs = 16

// parseValue reads a token or a quoted-string at line[i:] and returns it,
// unescaped, with the index after it.
func parseValue(line string, i int) (value string, next int, ok bool) {
	if i == len(line) || line[i] != '"' {
		start := i
		for i < len(line) && isTchar(line[i]) {
			i++
		}
		return line[start:i], i, i > start
	}
	i++
	start := i
	var b []byte // the value, once it has an escape
	for i < len(line) {
		switch c := line[i]; {
		case c == '"':
			if b == nil {
				return line[start:i], i + 1, true
			}
			return string(b), i + 1, true
		case c == '\\':
			if i+1 == len(line) || !isQuotedPairChar(line[i+1]) {
				return "", i, false
			}
			if b == nil {
				b = append([]byte{}, line[start:i]...)
			}
			b = append(b, line[i+1])
			i += 2
			continue
		case isQdtext(c):
			if b != nil {
				b = append(b, c)
			}
		default:
			return "", i, false
		}
		i++
	}
	return "", i, false // unterminated
}

// Byte classes of RFC 9110 §5.6.2 and §5.6.4, as tables: the parser
// reads every byte of a header line.
var tchars, qdtexts, quotedPairs = byteClasses()

func byteClasses() (tchar, qdtext, quotedPair [256]bool) {
	for c := range 256 {
		b := byte(c)
		tchar[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
		qdtext[c] = b == '\t' || b == ' ' || b == 0x21 || (0x23 <= b && b <= 0x5b) || (0x5d <= b && b <= 0x7e) || b >= 0x80
		quotedPair[c] = b == '\t' || (0x20 <= b && b <= 0x7e) || b >= 0x80
	}
	return
}

// isTchar reports whether c may be part of a token.
func isTchar(c byte) bool { return tchars[c] }

// isQdtext reports whether c may stand unescaped in a quoted-string.
func isQdtext(c byte) bool { return qdtexts[c] }

// isQuotedPairChar reports whether c may follow a backslash.
func isQuotedPairChar(c byte) bool { return quotedPairs[c] }

// parseNode parses a node (RFC 7239 §6): an IPv4 address or an IPv6
// address in brackets, each with an optional port (digits, or an
// obfuscated port), or "unknown", or an obfuscated identifier ("_abc").
// It returns the address, the zero Addr for a well-formed node that names
// none, and false for a malformed one. With bareIPv6 (X-Forwarded-For) an
// IPv6 address may also stand without brackets and port. The address is
// normalised: an IPv4-mapped IPv6 address is its IPv4 address, and a zone
// is dropped.
func parseNode(v string, bareIPv6 bool) (netip.Addr, bool) {
	if strings.EqualFold(v, "unknown") {
		return netip.Addr{}, true
	}
	if strings.HasPrefix(v, "_") {
		name, port, hasPort := strings.Cut(v, ":")
		return netip.Addr{}, isObfuscated(name) && (!hasPort || validPort(port))
	}
	host, port := v, ""
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host, port = v[1:end], v[end+1:]
		if port != "" {
			if port[0] != ':' {
				return netip.Addr{}, false
			}
			port = port[1:]
			if port == "" {
				return netip.Addr{}, false
			}
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || (port != "" && !validPort(port)) {
			return netip.Addr{}, false
		}
		return a.Unmap().WithZone(""), true
	}
	if bareIPv6 && strings.Count(v, ":") >= 2 {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		return a.Unmap().WithZone(""), true
	}
	if i := strings.IndexByte(v, ':'); i >= 0 {
		host, port = v[:i], v[i+1:]
		if !validPort(port) {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// validPort reports whether p is a node-port: 1 to 5 digits, or an
// obfuscated port.
func validPort(p string) bool {
	if strings.HasPrefix(p, "_") {
		return isObfuscated(p)
	}
	if p == "" || len(p) > 5 {
		return false
	}
	for i := range len(p) {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// isObfuscated reports whether v is "_" followed by one or more ALPHA,
// DIGIT, ".", "_" or "-" (RFC 7239 §6.3).
func isObfuscated(v string) bool {
	if len(v) < 2 || v[0] != '_' {
		return false
	}
	for i := 1; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// peerAddr parses a connection's address ("ip:port", or a bare IP), the
// zero Addr when it is neither; normalised as parseNode does.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}
