package clients

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/internal/oauth"
	"github.com/sessionless/sessionless/internal/strictjson"
)

// Defaults of a [RegistrarConfig].
const (
	// DefaultUnusedLifetime is how long a registration lasts unused.
	DefaultUnusedLifetime = 24 * time.Hour
	// DefaultRegistrationBytes bounds a registration request's body.
	DefaultRegistrationBytes = 16 << 10
	// DefaultRegistrationRate and DefaultRegistrationBurst are the
	// limit on registrations across all clients: one a second, in bursts
	// of 20.
	DefaultRegistrationRate  rate.Limit = 1
	DefaultRegistrationBurst int        = 20
)

// RegisteredIDPrefix starts the client ID of every registration: 22
// random base64url characters (128 bits) follow it.
const RegisteredIDPrefix = "rc_"

// Error codes of a registration refused (RFC 7591 §3.2.2).
const (
	codeInvalidRedirectURI    = "invalid_redirect_uri"
	codeInvalidClientMetadata = "invalid_client_metadata"
)

// RegistrarConfig configures a [Registrar]. Store and Scopes are
// required.
type RegistrarConfig struct {
	// Store keeps the registrations. Required.
	Store Store
	// AllowConfidential lets clients register with a secret
	// (token_endpoint_auth_method client_secret_basic or
	// client_secret_post). False, the default: public clients only
	// ("none"), which is what browser, native and mobile apps, CLIs and
	// AI agents are, and which leaves the server no secret to hand out.
	AllowConfidential bool
	// Scopes are the scopes a registration may ask for: the server's
	// scopes_supported. A registration asking for none gets all of them;
	// one asking for others gets those it asked for that are among them
	// (RFC 7591 §3.2.1 lets the server replace what a client asked for),
	// or all of them when none is. Required, because a client without
	// scopes ([Client.Scopes] empty) could ask for any scope a user holds.
	Scopes []string
	// UnusedLifetime is how long a registration lasts before it is used:
	// its ExpiresAt is its creation plus UnusedLifetime until the token
	// endpoint issues tokens to it ([Registry.MarkUsed]). Zero:
	// DefaultUnusedLifetime (24 hours).
	UnusedLifetime time.Duration
	// MaxBodyBytes bounds the request body (413 beyond). Zero:
	// DefaultRegistrationBytes (16 KiB).
	MaxBodyBytes int64
	// Allow, when set, runs first on every request: a budget per client
	// address, which the server wires (token/endpoint: its Throttle).
	// When it returns false the request is refused with 429 Too Many
	// Requests and a Retry-After of retryAfter (at least one second),
	// before its body is read.
	Allow func(r *http.Request) (ok bool, retryAfter time.Duration)
	// Rate and Burst limit registrations across all clients, in this
	// process, after Allow and before the body is read: 429 with a
	// Retry-After beyond. Zero: DefaultRegistrationRate (one a second)
	// and DefaultRegistrationBurst (20); rate.Inf: no limit.
	Rate  rate.Limit
	Burst int
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// Logger receives a line per registration and per refusal (never a
	// secret). Nil: nothing is logged.
	Logger *slog.Logger
}

// Registrar is the dynamic client registration endpoint (RFC 7591):
// an http.Handler for POST /register (token/endpoint mounts it at
// /auth/register) that registers clients in a [Store]. Anyone may
// register: a registration is not trusted (never FirstParty, so the user
// is always asked to consent; never the password grant; the scopes of
// RegistrarConfig.Scopes at most), and what it asks for is checked as
// strictly as the configured clients are ([Client.Validate]).
//
// # The request
//
// A JSON object (Content-Type application/json; no member twice; members
// this server does not know are ignored, RFC 7591 §2) with
//
//   - redirect_uris, required: one to 20 redirect URIs, each https, http
//     on a loopback host, or a private-use scheme with a dot (RFC 8252
//     §7; [Client.RedirectURIs]);
//   - token_endpoint_auth_method: "none" (a public client), or, with
//     RegistrarConfig.AllowConfidential, "client_secret_basic" or
//     "client_secret_post"; by default "none", and client_secret_basic
//     with AllowConfidential (RFC 7591 §2 makes client_secret_basic the
//     default; §3.2.1 lets a server that registers public clients only
//     register "none" instead);
//   - grant_types: authorization_code, and refresh_token for refresh
//     tokens; by default authorization_code alone (RFC 7591 §2), so a
//     client that wants refresh tokens asks for them;
//   - response_types: ["code"], the default;
//   - client_name: at most 200 bytes, without control or bidirectional
//     formatting characters (it is shown on the consent page);
//   - scope: the space-separated scopes the client may ask for.
//
// A member whose value is null counts as omitted.
// Other metadata (client_uri, logo_uri, contacts, tos_uri, policy_uri,
// jwks, software_statement, …) is ignored, and not in the response: no
// page shows a link or a logo the client chose.
//
// # The response
//
// 201 Created with the registration (RFC 7591 §3.2.1): client_id
// ("rc_" and 22 random characters), client_id_issued_at, and what was
// registered — redirect_uris, grant_types, response_types,
// token_endpoint_auth_method, client_name, scope — which may differ from
// what was asked (the scopes narrowed, the defaults filled in). A
// confidential client also gets its client_secret, once (the store keeps
// only its hash), and client_secret_expires_at 0: it does not expire. A
// refusal is 400 with an error of RFC 7591 §3.2.2 (invalid_redirect_uri
// or invalid_client_metadata) and an error_description; 405 for a method
// other than POST, 413 for a body over RegistrarConfig.MaxBodyBytes, 429
// with Retry-After beyond the rate limits, and 503 with Retry-After when
// the store cannot answer. No response is cached (Cache-Control
// no-store).
//
// # Unused registrations expire
//
// Registration is open, so most registrations may never be used: a
// registration lasts RegistrarConfig.UnusedLifetime (24 hours by
// default) until the token endpoint first issues tokens to it and calls
// [Registry.MarkUsed], which makes it permanent. A [Registry] ignores
// expired registrations at once; the operator deletes them from time to
// time (an hourly job, or at each start) with the store's Purge:
//
//	n, err := store.Purge(ctx, time.Now())
//
// and deletes a registration for good, used or not, with Store.Delete.
//
// A Registrar is safe for concurrent use.
type Registrar struct {
	store        Store
	confidential bool
	scopes       []string
	lifetime     time.Duration
	maxBody      int64
	allow        func(*http.Request) (bool, time.Duration)
	limiter      *rate.Limiter
	now          func() time.Time
	log          *slog.Logger
}

// NewRegistrar checks cfg and returns a Registrar.
func NewRegistrar(cfg RegistrarConfig) (*Registrar, error) {
	g := &Registrar{
		store: cfg.Store, confidential: cfg.AllowConfidential, lifetime: cfg.UnusedLifetime,
		maxBody: cfg.MaxBodyBytes, allow: cfg.Allow, now: cfg.Now, log: cfg.Logger,
	}
	switch {
	case cfg.Store == nil:
		return nil, errors.New("clients: RegistrarConfig.Store is required")
	case len(cfg.Scopes) == 0:
		return nil, errors.New("clients: RegistrarConfig.Scopes is required: a registered client without scopes could ask for any")
	case len(cfg.Scopes) > 64:
		return nil, errors.New("clients: RegistrarConfig.Scopes: at most 64 scopes")
	case cfg.UnusedLifetime < 0:
		return nil, errors.New("clients: RegistrarConfig.UnusedLifetime is negative")
	case cfg.MaxBodyBytes < 0:
		return nil, errors.New("clients: RegistrarConfig.MaxBodyBytes is negative")
	case cfg.Rate < 0 || cfg.Burst < 0:
		return nil, errors.New("clients: RegistrarConfig.Rate and Burst must not be negative")
	}
	for i, s := range cfg.Scopes {
		if !ValidScope(s) {
			return nil, fmt.Errorf("clients: RegistrarConfig.Scopes: %q is not a scope token", s)
		}
		if slices.Contains(cfg.Scopes[:i], s) {
			return nil, fmt.Errorf("clients: RegistrarConfig.Scopes: %q is there twice", s)
		}
	}
	g.scopes = slices.Clone(cfg.Scopes)
	if g.lifetime == 0 {
		g.lifetime = DefaultUnusedLifetime
	}
	if g.maxBody == 0 {
		g.maxBody = DefaultRegistrationBytes
	}
	limit, burst := cfg.Rate, cfg.Burst
	if limit == 0 {
		limit = DefaultRegistrationRate
	}
	if burst == 0 {
		burst = DefaultRegistrationBurst
	}
	g.limiter = rate.NewLimiter(limit, burst)
	if g.now == nil {
		g.now = time.Now
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	return g, nil
}

// registrationError is a request refused: the status, and what the
// client is told (an RFC 7591 §3.2.2 error code and a description in the
// characters RFC 6749 §5.2 allows it: printable ASCII without quotes or
// backslashes; nothing from the request is echoed).
type registrationError struct {
	status            int
	code, description string
}

func (e *registrationError) Error() string { return "clients: " + e.code + ": " + e.description }

func regInvalid(format string, args ...any) *registrationError {
	return &registrationError{http.StatusBadRequest, codeInvalidClientMetadata, fmt.Sprintf(format, args...)}
}

func regInvalidRedirect(format string, args ...any) *registrationError {
	return &registrationError{http.StatusBadRequest, codeInvalidRedirectURI, fmt.Sprintf(format, args...)}
}

// registrationResponse is the client information response (RFC 7591
// §3.2.1).
type registrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	ClientName              string   `json:"client_name,omitempty"`
	Scope                   string   `json:"scope"`
}

// ServeHTTP registers the client the request describes. The checks run
// in this order: the method, Allow, the global rate limit (none of which
// reads the body), the body's size and media type, its metadata, and
// then the store.
func (g *Registrar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if g.allow != nil {
		if ok, after := g.allow(r); !ok {
			g.log.DebugContext(r.Context(), "client registration refused: the client's budget is spent")
			tooManyRegistrations(w, after, "too many registrations from this client; retry later")
			return
		}
	}
	now := g.now()
	if res := g.limiter.ReserveN(now, 1); !res.OK() {
		tooManyRegistrations(w, time.Second, "too many registrations; retry later")
		return
	} else if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		g.log.DebugContext(r.Context(), "client registration refused: the global rate limit is reached")
		tooManyRegistrations(w, d, "too many registrations; retry later")
		return
	}
	body, err := httpx.ReadBody(w, r, httpx.MediaJSON, g.maxBody)
	if err != nil {
		// Too large: 413; empty, unreadable or of another media type: 400
		// (RFC 7591 §3.2.2 has no other status).
		re := regInvalid("the body must be a JSON object (Content-Type application/json)")
		if be := (*httpx.BodyError)(nil); errors.As(err, &be) {
			re.description = be.Message
			if be.Status == http.StatusRequestEntityTooLarge {
				re.status = be.Status
			}
		}
		g.refuse(w, r, re)
		return
	}
	c, err := g.client(body, now)
	if err != nil {
		g.refuse(w, r, err)
		return
	}
	var secret string
	if !c.Public() {
		var h SecretHash
		secret, h = NewSecret()
		c.SecretHashes = []SecretHash{h}
	}
	if err := c.Validate(); err != nil {
		// The checks of client() are Validate's and more: this is a
		// rule one of them misses.
		g.log.WarnContext(r.Context(), "client registration refused by Client.Validate", "err", err)
		g.refuse(w, r, regInvalid("the registration breaks a rule of this server"))
		return
	}
	if err := g.store.Create(r.Context(), c); err != nil {
		if r.Context().Err() != nil {
			httpx.WriteOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "request cancelled")
			return
		}
		g.log.ErrorContext(r.Context(), "client registration failed: the store cannot answer", "err", err)
		w.Header().Set("Retry-After", "1")
		httpx.WriteOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable",
			"the client store is unavailable; retry later")
		return
	}
	g.log.InfoContext(r.Context(), "client registered", "client_id", c.ID, "auth_method", c.AuthMethod,
		"grant_types", c.GrantTypes, "scopes", c.Scopes, "expires_at", c.ExpiresAt)
	resp := registrationResponse{
		ClientID:                c.ID,
		ClientIDIssuedAt:        c.CreatedAt.Unix(),
		ClientSecret:            secret,
		RedirectURIs:            c.RedirectURIs,
		GrantTypes:              c.GrantTypes,
		ResponseTypes:           []string{"code"},
		TokenEndpointAuthMethod: c.AuthMethod,
		ClientName:              c.Name,
		Scope:                   strings.Join(c.Scopes, " "),
	}
	if secret != "" {
		resp.ClientSecretExpiresAt = new(int64) // 0: never
	}
	httpx.WriteJSON(w, http.StatusCreated, resp)
}

// refuse answers a registrationError: the one place that maps refusals
// to responses.
func (g *Registrar) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var re *registrationError
	if !errors.As(err, &re) {
		re = regInvalid("the registration is invalid")
	}
	g.log.DebugContext(r.Context(), "client registration refused", "error", re.code, "description", re.description)
	httpx.WriteOAuthError(w, re.status, re.code, re.description)
}

// tooManyRegistrations answers 429 with a Retry-After of after, rounded
// up to a whole second, at least one.
func tooManyRegistrations(w http.ResponseWriter, after time.Duration, description string) {
	secs := int64(after / time.Second)
	if after%time.Second > 0 {
		secs++
	}
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	httpx.WriteOAuthError(w, http.StatusTooManyRequests, "slow_down", description)
}

// registrationMembers are the members of a registration request this
// server reads; any other is ignored (RFC 7591 §2).
var registrationMembers = []string{
	"redirect_uris", "token_endpoint_auth_method", "grant_types", "response_types", "client_name", "scope",
}

// client reads the registration request body and returns the client it
// registers, without a secret, or a *registrationError.
func (g *Registrar) client(body []byte, now time.Time) (Client, error) {
	md := make(map[string][]byte, len(registrationMembers))
	m := strictjson.Object(body)
	for m.Next() {
		if name := string(m.Name()); slices.Contains(registrationMembers, name) && !strictjson.IsNull(m.Value()) {
			md[name] = m.Value() // null: as if omitted
		}
	}
	switch err := m.Err(); {
	case errors.Is(err, strictjson.ErrDuplicate):
		return Client{}, regInvalid("a member is repeated")
	case err != nil:
		return Client{}, regInvalid("the body must be one JSON object")
	}

	c := Client{ID: newRegisteredID(), Kind: Registered, CreatedAt: now, ExpiresAt: now.Add(g.lifetime)}

	// redirect_uris: required.
	uris, ok, err := regStrings(md, "redirect_uris", 20, regInvalidRedirect("at most 20 redirect_uris"))
	switch {
	case err != nil:
		return Client{}, err
	case !ok || len(uris) == 0:
		return Client{}, regInvalidRedirect("redirect_uris is required: at least one redirect URI")
	}
	for i, u := range uris {
		if err := oauth.CheckRedirectURI(u); err != nil {
			reason := strings.TrimPrefix(err.Error(), oauth.ErrRedirectURI.Error()+": ")
			return Client{}, regInvalidRedirect("redirect_uris[%d] is not a redirect URI this server accepts: %s", i, reason)
		}
	}
	c.RedirectURIs = uris

	// token_endpoint_auth_method. RFC 7591 §2 makes client_secret_basic
	// the default, but §3.2.1 lets the server register other values than
	// those asked for: a server that registers public clients only makes
	// "none" the default, so that a client that says nothing is one.
	method, ok, err := regString(md, "token_endpoint_auth_method")
	if err != nil {
		return Client{}, err
	}
	switch {
	case !ok && g.confidential:
		method = AuthSecretBasic
	case !ok:
		method = AuthNone
	case method == AuthNone:
	case method == AuthSecretBasic || method == AuthSecretPost:
		if !g.confidential {
			return Client{}, regInvalid("this server registers public clients only: token_endpoint_auth_method must be none")
		}
	default:
		if g.confidential {
			return Client{}, regInvalid("token_endpoint_auth_method must be none, client_secret_basic or client_secret_post")
		}
		return Client{}, regInvalid("token_endpoint_auth_method must be none")
	}
	c.AuthMethod = method

	// grant_types: authorization_code by default (RFC 7591 §2).
	grants, ok, err := regStrings(md, "grant_types", 8, regInvalid("grant_types has too many values"))
	switch {
	case err != nil:
		return Client{}, err
	case !ok:
		grants = []string{GrantAuthorizationCode}
	case len(grants) == 0:
		return Client{}, regInvalid("grant_types must not be empty")
	}
	for _, gt := range grants {
		switch gt {
		case GrantAuthorizationCode, GrantRefreshToken:
		case GrantPassword:
			return Client{}, regInvalid("the password grant is not available to registered clients (RFC 9700 section 2.4)")
		default:
			return Client{}, regInvalid("grant_types may hold authorization_code and refresh_token only")
		}
	}
	c.GrantTypes = grants

	// response_types: code by default, and only code, which needs the
	// authorization_code grant (RFC 7591 §2.1).
	responses, ok, err := regStrings(md, "response_types", 8, regInvalid("response_types has too many values"))
	switch {
	case err != nil:
		return Client{}, err
	case ok && (len(responses) == 0 || slices.ContainsFunc(responses, func(s string) bool { return s != "code" })):
		return Client{}, regInvalid("response_types must be code")
	case !slices.Contains(grants, GrantAuthorizationCode):
		return Client{}, regInvalid("the response type code needs the authorization_code grant type (RFC 7591 section 2.1)")
	}

	// client_name.
	name, _, err := regString(md, "client_name")
	if err != nil {
		return Client{}, err
	}
	name = strings.TrimSpace(name)
	if len(name) > 200 || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) ||
		strings.ContainsFunc(name, isBidiControl) {
		return Client{}, regInvalid("client_name must have at most 200 bytes, without control or bidirectional formatting characters")
	}
	c.Name = name

	// scope: narrowed to the server's scopes.
	scope, _, err := regString(md, "scope")
	if err != nil {
		return Client{}, err
	}
	c.Scopes, err = g.narrow(scope)
	if err != nil {
		return Client{}, err
	}
	return c, nil
}

// narrow returns the scopes of a registration that asked for scope:
// those of the server it names, in its order, or all of them when it
// names none.
func (g *Registrar) narrow(scope string) ([]string, error) {
	var asked []string
	for s := range strings.SplitSeq(scope, " ") {
		switch {
		case s == "":
			continue // leading, trailing or doubled spaces
		case !ValidScope(s):
			return nil, regInvalid("scope must be space-separated scope tokens (RFC 6749 section 3.3)")
		case !slices.Contains(asked, s):
			asked = append(asked, s)
		}
	}
	if len(asked) == 0 {
		return slices.Clone(g.scopes), nil
	}
	var scopes []string
	for _, s := range asked {
		if slices.Contains(g.scopes, s) {
			scopes = append(scopes, s)
		}
	}
	if len(scopes) == 0 {
		// None the server knows (claude.ai registers "claudeai"): RFC
		// 7591 §3.2.1 lets the server replace them, with its own set, as
		// when none is asked for; the response says which.
		return slices.Clone(g.scopes), nil
	}
	return scopes, nil
}

// regString reads the string member name of md; ok is false when it
// is absent (or null).
func regString(md map[string][]byte, name string) (s string, ok bool, err error) {
	v, ok := md[name]
	if !ok {
		return "", false, nil
	}
	b, err := strictjson.String(v)
	if err != nil {
		return "", false, regInvalid("%s must be a string", name)
	}
	return string(b), true, nil
}

// regStrings reads the array of strings name of md, without repeats;
// ok is false when it is absent (or null). More than limit distinct
// strings is the error tooMany.
func regStrings(md map[string][]byte, name string, limit int, tooMany error) (ss []string, ok bool, err error) {
	v, ok := md[name]
	if !ok {
		return nil, false, nil
	}
	e := strictjson.Array(v)
	ss = []string{}
	for e.Next() {
		b, err := strictjson.String(e.Value())
		if err != nil {
			return nil, false, regInvalid("%s must be an array of strings", name)
		}
		if s := string(b); !slices.Contains(ss, s) {
			ss = append(ss, s)
		}
		if len(ss) > limit {
			return nil, false, tooMany
		}
	}
	if e.Err() != nil {
		return nil, false, regInvalid("%s must be an array of strings", name)
	}
	return ss, true, nil
}

// newRegisteredID returns a new client ID: RegisteredIDPrefix and 16
// random bytes in base64url, 22 characters.
func newRegisteredID() string {
	var b [16]byte
	rand.Read(b[:])
	return RegisteredIDPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}
