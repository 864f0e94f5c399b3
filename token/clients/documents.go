package clients

import (
	"container/list"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/sessionless/sessionless/internal/oauth"
	"github.com/sessionless/sessionless/internal/strictjson"
)

// DocumentsConfig configures [NewDocuments]. The zero value is the strict
// default for production.
type DocumentsConfig struct {
	// InsecureAllowPrivateAddresses lets documents be fetched from addresses that
	// are not public: loopback, private networks (RFC 1918, fc00::/7),
	// link-local (169.254.169.254, the cloud metadata service), shared
	// (100.64.0.0/10) and the like. It is for tests against an httptest
	// server on 127.0.0.1, and never acceptable in production: anyone
	// who can send an authorization request could make the server fetch
	// from its own network. Without it the address is checked when the
	// connection is made, on the very IP dialled, so that a name whose DNS
	// answer changes between two look-ups (DNS rebinding) gains nothing.
	InsecureAllowPrivateAddresses bool
	// RootCAs are the certificate authorities the documents' servers are
	// verified against. Nil: the system's.
	RootCAs *x509.CertPool
	// MaxBytes bounds a document. Zero: 5 KiB, the bound the draft
	// recommends; a larger document is refused.
	MaxBytes int64
	// Timeout bounds a whole fetch: connection, TLS, request and body.
	// Zero: 5 s.
	Timeout time.Duration
	// CacheTTL is how long a document is used before it is fetched again.
	// Zero: 5 minutes. A document served with Cache-Control max-age is
	// kept that long instead, but at least a minute and at most 24 hours;
	// one served with no-store is not kept. A failure (a document that
	// cannot be had, or is refused) is kept 30 s, whatever this says, so
	// that a bad URL does not make the server fetch it on every request.
	CacheTTL time.Duration
	// CacheSize bounds the number of documents, and of failures, kept;
	// the least recently used goes first. Zero: 1000.
	CacheSize int
	// MaxFetches bounds the fetches under way at once, of distinct URLs:
	// a lookup that would start one more gets ErrBusy (not cached), so
	// that a flood of distinct URLs holds a bounded number of
	// connections and goroutines. Zero: 32.
	MaxFetches int
	// Scopes are the scopes the server supports (its scopes_supported).
	// A document's "scope" is narrowed to these, and a document without
	// one gets all of them. Empty: a document's scopes are kept as they
	// are, and a document without any may ask for any scope the user
	// holds.
	Scopes []string
	// Now returns the current time, for the cache; it is called
	// concurrently. Nil: time.Now.
	Now func() time.Time
	// Logger receives a line for each fetch, with the cause of a failure
	// (which the error returned leaves out). Nil discards.
	Logger *slog.Logger
}

// Defaults and bounds of [DocumentsConfig].
const (
	docDefaultMaxBytes  = 5 << 10
	docDefaultTimeout   = 5 * time.Second
	docDefaultCacheTTL  = 5 * time.Minute
	docDefaultCacheSize = 1000
	docMinTTL           = time.Minute
	docMaxTTL           = 24 * time.Hour
	docFailureTTL       = 30 * time.Second
	docMaxHeaderBytes   = 16 << 10
	docUserAgent        = "sessionless (OAuth Client ID Metadata Document fetcher; +https://github.com/sessionless/sessionless)"
)

// Documents is a [Lookup] of the clients whose ID is the https URL of a
// Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document,
// the registration the MCP authorization specification prefers): the
// server fetches the JSON document at that URL, and its redirect_uris
// bind the authorization request. Such a client is public (AuthNone):
// a document can hold no secret.
//
// A document is fetched over https with TLS 1.2 or later, from a public
// address only (see [DocumentsConfig.InsecureAllowPrivateAddresses]), through no
// proxy, following no redirect, and must come back 200 with Content-Type
// application/json and at most [DocumentsConfig.MaxBytes] bytes. It must be
// a JSON object naming no member twice, whose client_id is the URL,
// byte for byte, with 1 to 20 redirect_uris, no secret, the "none"
// authentication method (or none named), the authorization_code grant
// (refresh_token too, if it likes) and the code response type. Anything
// else is refused with an error that wraps ErrUnknownClient and says why,
// in words fit for an error page, without the document.
//
// Documents, and failures, are cached (see [DocumentsConfig.CacheTTL]);
// concurrent look-ups of one URL share one fetch. Documents is safe for
// concurrent use, and holds no connection or goroutine between fetches.
type Documents struct {
	client   *http.Client
	maxBytes int64
	timeout  time.Duration
	ttl      time.Duration
	size     int
	fetches  int // MaxFetches
	scopes   []string
	now      func() time.Time
	log      *slog.Logger

	mu      sync.Mutex
	entries map[string]*list.Element // of *docEntry, by URL
	lru     list.List                // most recently used first
	flights map[string]*docFlight    // fetches under way, by URL
}

var _ Lookup = (*Documents)(nil)

// ErrBusy is what [Documents.Client] returns when MaxFetches fetches are
// under way: the lookup cannot be answered now (try again), which says
// nothing of the client.
var ErrBusy = errors.New("clients: too many client metadata documents are being fetched; try again in a moment")

// docEntry is a cached look-up: a client or the error that refused it.
type docEntry struct {
	id    string
	c     Client
	err   error
	until time.Time
}

// docFlight is a fetch under way, which the look-ups of its URL wait for.
type docFlight struct {
	done    chan struct{} // closed when c and err are set
	c       Client
	err     error
	waiters int // look-ups that joined it (for tests)
}

// NewDocuments returns a Documents configured by cfg.
func NewDocuments(cfg DocumentsConfig) (*Documents, error) {
	switch {
	case cfg.MaxBytes < 0:
		return nil, errors.New("clients: DocumentsConfig.MaxBytes is negative")
	case cfg.Timeout < 0:
		return nil, errors.New("clients: DocumentsConfig.Timeout is negative")
	case cfg.CacheTTL < 0 || cfg.CacheTTL > docMaxTTL:
		return nil, errors.New("clients: DocumentsConfig.CacheTTL must be between 0 (the default) and 24 hours")
	case cfg.CacheSize < 0:
		return nil, errors.New("clients: DocumentsConfig.CacheSize is negative")
	case cfg.MaxFetches < 0:
		return nil, errors.New("clients: DocumentsConfig.MaxFetches is negative")
	}
	var scopes []string
	for _, s := range cfg.Scopes {
		if !ValidScope(s) {
			return nil, fmt.Errorf("clients: DocumentsConfig.Scopes: invalid scope %q", s)
		}
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	if len(scopes) > 64 {
		return nil, errors.New("clients: DocumentsConfig.Scopes: at most 64 scopes")
	}
	d := &Documents{
		maxBytes: docOr(cfg.MaxBytes, docDefaultMaxBytes),
		timeout:  docOr(cfg.Timeout, docDefaultTimeout),
		ttl:      docOr(cfg.CacheTTL, docDefaultCacheTTL),
		size:     docOr(cfg.CacheSize, docDefaultCacheSize),
		fetches:  docOr(cfg.MaxFetches, 32),
		scopes:   scopes,
		now:      cfg.Now,
		log:      cfg.Logger,
		entries:  make(map[string]*list.Element),
		flights:  make(map[string]*docFlight),
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	// The fetch's context bounds it all: dialling, TLS, headers, body.
	dialer := &net.Dialer{KeepAlive: -1}
	if !cfg.InsecureAllowPrivateAddresses {
		dialer.Control = docDialControl
	}
	d.client = &http.Client{
		Transport: &http.Transport{
			Proxy:       nil, // a proxy would dial for us, unchecked
			DialContext: dialer.DialContext,
			TLSClientConfig: &tls.Config{
				MinVersion: tls.VersionTLS12,
				RootCAs:    cfg.RootCAs,
			},
			MaxResponseHeaderBytes: docMaxHeaderBytes,
			DisableKeepAlives:      true, // fetches are rare: no idle connection to keep or close
			DisableCompression:     true,
		},
		// The draft: the server must not follow redirects. A redirect
		// comes back as itself, and is refused.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return d, nil
}

// docOr is v, or def when v is zero.
func docOr[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Client returns the client whose metadata document is at the URL id,
// from the cache or fetched. A document that cannot be had or is
// refused gives an error wrapping ErrUnknownClient and saying why; the
// end of ctx gives ctx's error, while the fetch goes on for the other
// look-ups of id and for the cache (it is bounded by
// [DocumentsConfig.Timeout], not by ctx).
func (d *Documents) Client(ctx context.Context, id string) (Client, error) {
	if err := CheckDocumentURL(id); err != nil {
		return Client{}, docRefusal(err.Error())
	}
	if err := ctx.Err(); err != nil {
		return Client{}, err
	}
	d.mu.Lock()
	if e, ok := d.cached(id); ok {
		d.mu.Unlock()
		return clone(e.c), e.err
	}
	f, ok := d.flights[id]
	if !ok && len(d.flights) >= d.fetches {
		d.mu.Unlock()
		// Not the client's fault: an error that is not ErrUnknownClient,
		// which the endpoints answer 503 with Retry-After.
		return Client{}, ErrBusy
	}
	if !ok {
		f = &docFlight{done: make(chan struct{})}
		d.flights[id] = f
		go d.run(context.WithoutCancel(ctx), id, f)
	}
	f.waiters++
	d.mu.Unlock()
	select {
	case <-f.done:
		return clone(f.c), f.err
	case <-ctx.Done():
		return Client{}, ctx.Err()
	}
}

// cached returns the live cache entry of id, and marks it used. d.mu is
// held.
func (d *Documents) cached(id string) (*docEntry, bool) {
	el, ok := d.entries[id]
	if !ok {
		return nil, false
	}
	e := el.Value.(*docEntry)
	if !d.now().Before(e.until) {
		d.lru.Remove(el)
		delete(d.entries, id)
		return nil, false
	}
	d.lru.MoveToFront(el)
	return e, true
}

// store caches e, dropping the least recently used entry beyond the
// cache's size. d.mu is held.
func (d *Documents) store(e *docEntry) {
	if el, ok := d.entries[e.id]; ok {
		el.Value = e
		d.lru.MoveToFront(el)
		return
	}
	d.entries[e.id] = d.lru.PushFront(e)
	for d.lru.Len() > d.size {
		old := d.lru.Back()
		d.lru.Remove(old)
		delete(d.entries, old.Value.(*docEntry).id)
	}
}

// run fetches the document of flight f, caches the outcome and hands it
// to the look-ups waiting.
func (d *Documents) run(ctx context.Context, id string, f *docFlight) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	c, ttl, err := d.fetch(ctx, id)
	now := d.now()
	d.mu.Lock()
	delete(d.flights, id)
	switch {
	case err != nil:
		d.store(&docEntry{id: id, err: err, until: now.Add(docFailureTTL)})
	case ttl > 0:
		d.store(&docEntry{id: id, c: c, until: now.Add(ttl)})
	default: // no-store: a document removed or changed is seen at once
		if el, ok := d.entries[id]; ok {
			d.lru.Remove(el)
			delete(d.entries, id)
		}
	}
	f.c, f.err = c, err
	d.mu.Unlock()
	close(f.done)
}

// fetch gets and parses the document at id, and says how long it may be
// cached (0: not at all).
func (d *Documents) fetch(ctx context.Context, id string) (Client, time.Duration, error) {
	fail := func(reason string, cause error) (Client, time.Duration, error) {
		d.log.LogAttrs(ctx, slog.LevelInfo, "clients: metadata document refused",
			slog.String("client_id", id), slog.String("reason", reason), slog.Any("cause", cause))
		return Client{}, 0, docRefusal(reason)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, id, nil)
	if err != nil {
		return fail("the client_id is not a URL that can be fetched", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", docUserAgent)
	resp, err := d.client.Do(req)
	if err == nil && ctx.Err() != nil {
		resp.Body.Close()
		err = ctx.Err()
	}
	if err != nil {
		return fail(d.fetchFailure(ctx, err), err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fail(fmt.Sprintf("its server answered with a redirect (%d), which is not followed", resp.StatusCode), nil)
	case resp.StatusCode != http.StatusOK:
		return fail(fmt.Sprintf("its server answered %d, not 200", resp.StatusCode), nil)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fail("its server did not answer with Content-Type application/json", err)
	}
	if resp.ContentLength > d.maxBytes {
		return fail(fmt.Sprintf("it is larger than %d bytes", d.maxBytes), nil)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, d.maxBytes+1))
	if err == nil {
		// A response that ends after the deadline is late, however it
		// ends: the transport may have seen the server give up first.
		err = ctx.Err()
	}
	if err != nil {
		return fail(d.fetchFailure(ctx, err), err)
	}
	if int64(len(body)) > d.maxBytes {
		return fail(fmt.Sprintf("it is larger than %d bytes", d.maxBytes), nil)
	}
	c, err := parseDocument(id, body, d.scopes)
	if err != nil {
		d.log.LogAttrs(ctx, slog.LevelInfo, "clients: metadata document refused",
			slog.String("client_id", id), slog.String("reason", err.Error()))
		return Client{}, 0, err
	}
	d.log.LogAttrs(ctx, slog.LevelDebug, "clients: metadata document fetched", slog.String("client_id", id))
	return c, docCacheLifetime(resp.Header, d.ttl), nil
}

// fetchFailure says, in words for the user, why a request failed: the
// cause, which may name an internal address, is only logged.
func (d *Documents) fetchFailure(ctx context.Context, err error) string {
	var timeout net.Error
	switch {
	case errors.Is(err, errDocPrivateAddress):
		return "its host has no public address"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &timeout) && timeout.Timeout() || ctx.Err() != nil:
		return fmt.Sprintf("its server did not answer within %v", d.timeout)
	}
	return "it could not be fetched (no such host, no connection, or no valid TLS certificate)"
}

// docRefusal is the error of a refused document.
func docRefusal(reason string) error {
	return fmt.Errorf("%w: client metadata document: %s", ErrUnknownClient, reason)
}

// docCacheLifetime is how long a document served with header h is kept:
// def, or its Cache-Control max-age within [docMinTTL, docMaxTTL] (no-cache
// counts as max-age=0), or 0 with no-store.
func docCacheLifetime(h http.Header, def time.Duration) time.Duration {
	ttl, set := def, false
	for _, line := range h.Values("Cache-Control") {
		for dir := range strings.SplitSeq(line, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(dir), "=")
			var age time.Duration
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store":
				return 0
			case "no-cache":
				age = 0
			case "max-age":
				arg = strings.Trim(strings.TrimSpace(arg), `"`)
				n, err := strconv.ParseUint(arg, 10, 64)
				if arg == "" || err != nil && !errors.Is(err, strconv.ErrRange) {
					continue // not delta-seconds: ignored
				}
				age = docMaxTTL
				if err == nil && n < uint64(docMaxTTL/time.Second) {
					age = time.Duration(n) * time.Second
				}
			default:
				continue
			}
			if !set || age < ttl { // conflicting directives: the shortest
				ttl, set = age, true
			}
		}
	}
	if set {
		ttl = min(max(ttl, docMinTTL), docMaxTTL)
	}
	return ttl
}

// errDocPrivateAddress: the address dialled is not public.
var errDocPrivateAddress = errors.New("clients: not a public address")

// docDialControl refuses to connect to an address that is not public. It
// runs on the address about to be connected to, after name resolution:
// whatever DNS answered, this is the one checked.
func docDialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s %q", errDocPrivateAddress, network, address)
	}
	if !docPublicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", errDocPrivateAddress, ap.Addr())
	}
	return nil
}

// docNAT64 is the well-known NAT64 prefix (RFC 6052): its addresses embed
// an IPv4 address, which the translator connects to.
var docNAT64 = netip.MustParsePrefix("64:ff9b::/96")

// docGlobal6 is IPv6 global unicast (RFC 4291): everything else of IPv6
// (loopback, unspecified, unique-local, link-local, site-local,
// multicast, local-use NAT64 64:ff9b:1::/48, discard 100::/64, SRv6
// 5f00::/16, IPv4-compatible ::/96) is not public.
var docGlobal6 = netip.MustParsePrefix("2000::/3")

// docNotPublic are the ranges, besides those netip.Addr's methods name,
// that are not public (IANA special-purpose address registries,
// RFC 6890).
var docNotPublic = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"10.0.0.0/8",      // private (RFC 1918)
		"100.64.0.0/10",   // shared address space, carrier-grade NAT (RFC 6598)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, the cloud metadata service
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation (TEST-NET-1)
		"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation (TEST-NET-2)
		"203.0.113.0/24",  // documentation (TEST-NET-3)
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, and the broadcast address
		"2001::/23",       // IETF protocol assignments: Teredo, benchmarking, ORCHID
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4, which embeds an IPv4 address
		"3fff::/20",       // documentation (RFC 9637)
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// docPublicAddr reports whether a is a public unicast address: one a
// document may be fetched from. An IPv4 address in IPv6 form (mapped,
// ::ffff:a.b.c.d, or NAT64, 64:ff9b::a.b.c.d) is judged as the IPv4
// address it stands for.
func docPublicAddr(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	switch {
	case a.Is4In6():
		a = a.Unmap()
	case docNAT64.Contains(a):
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:]))
	case a.Is6() && !docGlobal6.Contains(a):
		return false
	}
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() ||
		a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range docNotPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// parseDocument reads the metadata document body fetched from id, and
// returns its client, its scopes narrowed to supported (when not empty).
func parseDocument(id string, body []byte, supported []string) (Client, error) {
	var clientID, redirects, grants, responses, method, name, scope []byte
	secret := false
	m := strictjson.Object(body)
	for m.Next() {
		switch string(m.Name()) {
		case "client_id":
			clientID = m.Value()
		case "redirect_uris":
			redirects = m.Value()
		case "grant_types":
			grants = m.Value()
		case "response_types":
			responses = m.Value()
		case "token_endpoint_auth_method":
			method = m.Value()
		case "client_name":
			name = m.Value()
		case "scope":
			scope = m.Value()
		case "client_secret", "client_secret_expires_at":
			secret = true
		}
	}
	if err := m.Err(); err != nil {
		if errors.Is(err, strictjson.ErrDuplicate) {
			return Client{}, docRefusal("it names a member twice")
		}
		return Client{}, docRefusal("it is not a JSON object")
	}

	if clientID == nil {
		return Client{}, docRefusal("it has no client_id")
	}
	if s, err := strictjson.String(clientID); err != nil || string(s) != id {
		return Client{}, docRefusal("its client_id is not the URL it was fetched from")
	}
	if secret {
		return Client{}, docRefusal("it holds a client_secret, which a metadata document must not")
	}
	if method != nil {
		s, err := strictjson.String(method)
		switch am := string(s); {
		case err != nil:
			return Client{}, docRefusal("its token_endpoint_auth_method is not a string")
		case am == AuthNone:
		case strings.HasPrefix(am, "client_secret_"):
			return Client{}, docRefusal(fmt.Sprintf("its token_endpoint_auth_method %s needs a shared secret, which a metadata document cannot have", docKnownMethod(am)))
		default:
			return Client{}, docRefusal(fmt.Sprintf("its token_endpoint_auth_method %s is not supported: only none, a public client", docKnownMethod(am)))
		}
	}

	uris, err := docStrings(redirects, "redirect_uris")
	switch {
	case err != nil:
		return Client{}, err
	case redirects == nil:
		return Client{}, docRefusal("it has no redirect_uris")
	case len(uris) == 0:
		return Client{}, docRefusal("its redirect_uris is empty")
	case len(uris) > 20:
		return Client{}, docRefusal("it has more than 20 redirect_uris")
	}
	for i, u := range uris {
		if err := oauth.CheckRedirectURI(u); err != nil {
			return Client{}, docRefusal(fmt.Sprintf("redirect_uris[%d] is not one this server accepts: %s",
				i, strings.TrimPrefix(err.Error(), oauth.ErrRedirectURI.Error()+": ")))
		}
	}

	grantTypes := []string{GrantAuthorizationCode, GrantRefreshToken}
	if grants != nil {
		gs, err := docStrings(grants, "grant_types")
		if err != nil {
			return Client{}, err
		}
		for _, g := range gs {
			if g != GrantAuthorizationCode && g != GrantRefreshToken {
				return Client{}, docRefusal("its grant_types may hold only authorization_code and refresh_token")
			}
		}
		if !slices.Contains(gs, GrantAuthorizationCode) {
			return Client{}, docRefusal("its grant_types must include authorization_code")
		}
		if !slices.Contains(gs, GrantRefreshToken) {
			grantTypes = grantTypes[:1]
		}
	}
	if responses != nil {
		rs, err := docStrings(responses, "response_types")
		if err != nil {
			return Client{}, err
		}
		if len(rs) != 1 || rs[0] != "code" {
			return Client{}, docRefusal(`its response_types must be ["code"]`)
		}
	}

	var clientName string
	if name != nil {
		s, err := strictjson.String(name)
		switch {
		case err != nil:
			return Client{}, docRefusal("its client_name is not a string")
		case len(s) > 200:
			return Client{}, docRefusal("its client_name is longer than 200 bytes")
		case !utf8.Valid(s) || strings.ContainsFunc(string(s), isControl):
			return Client{}, docRefusal("its client_name holds control characters")
		}
		clientName = string(s)
	}

	scopes, err := docScopes(scope, supported)
	if err != nil {
		return Client{}, err
	}

	c := Client{
		ID:           id,
		Kind:         Document,
		Name:         clientName,
		AuthMethod:   AuthNone,
		RedirectURIs: uris,
		Scopes:       scopes,
		GrantTypes:   grantTypes,
	}
	if err := c.Validate(); err != nil {
		return Client{}, docRefusal("it describes a client this server cannot accept")
	}
	return c, nil
}

// docKnownMethod quotes m if it is a method of the registry (RFC 7591,
// RFC 8705, OpenID Connect), and says "of another kind" otherwise: the
// document's text is not repeated.
func docKnownMethod(m string) string {
	switch m {
	case "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt",
		"tls_client_auth", "self_signed_tls_client_auth":
		return strconv.Quote(m)
	}
	return "of an unknown kind"
}

// docStrings reads v, the value of member, as an array of strings. A nil
// v (the member absent) gives nil.
func docStrings(v []byte, member string) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	bad := docRefusal(fmt.Sprintf("its %s is not an array of strings", member))
	out := []string{}
	e := strictjson.Array(v)
	for e.Next() {
		s, err := strictjson.String(e.Value())
		if err != nil || len(out) == 64 {
			if err == nil {
				return nil, docRefusal(fmt.Sprintf("its %s has too many entries", member))
			}
			return nil, bad
		}
		out = append(out, string(s))
	}
	if e.Err() != nil {
		return nil, bad
	}
	return out, nil
}

// docScopes reads v, the document's scope, a space-separated list of
// scope tokens, and narrows it to supported when not empty. An absent or
// empty scope gives supported.
func docScopes(v []byte, supported []string) ([]string, error) {
	var asked []string
	if v != nil {
		s, err := strictjson.String(v)
		if err != nil {
			return nil, docRefusal("its scope is not a string")
		}
		for tok := range strings.SplitSeq(string(s), " ") {
			switch {
			case tok == "":
			case !ValidScope(tok):
				return nil, docRefusal("its scope holds something that is not a scope token")
			case !slices.Contains(asked, tok):
				if len(asked) == 64 {
					return nil, docRefusal("its scope holds more than 64 scopes")
				}
				asked = append(asked, tok)
			}
		}
	}
	switch {
	case len(asked) == 0:
		return slices.Clone(supported), nil
	case len(supported) == 0:
		return asked, nil
	}
	narrowed := slices.DeleteFunc(asked, func(s string) bool { return !slices.Contains(supported, s) })
	if len(narrowed) == 0 {
		return nil, docRefusal("none of the scopes it asks for is one this server has")
	}
	return narrowed, nil
}
