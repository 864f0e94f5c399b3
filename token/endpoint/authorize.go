package endpoint

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sessionless/sessionless/internal/token32"
	"github.com/sessionless/sessionless/token/authcode"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/consent"
)

// AuthorizationConfig turns on the authorization code grant with PKCE
// (OAuth 2.1 §4.1; RFC 6749 §4.1, RFC 7636): the authorization endpoint
// where users log in on a page of the server and consent to third-party
// clients, and grant_type=authorization_code at the token endpoint, for
// browser apps on other origins, mobile and desktop apps, CLIs and AI
// agents (MCP clients).
type AuthorizationConfig struct {
	// Clients finds the clients: a *clients.Registry of configured,
	// registered and metadata-document clients. Required. Config.ClientID,
	// the first-party client of the login endpoint and the password
	// grant, may be among them (then it must be FirstParty); otherwise it
	// is a public first-party client with the password and refresh_token
	// grants, as without this configuration.
	Clients clients.Lookup
	// Codes keeps the authorization codes, hashed: with several
	// instances, a store they share (token/authcode/sqlstore). Nil: an
	// authcode.MemoryStore, for one process.
	Codes authcode.Store
	// CodeLifetime is how long a code lives. Zero:
	// authcode.DefaultLifetime; at most 60 s.
	CodeLifetime time.Duration
	// Consents remembers which scopes a user granted which third-party
	// client. Nil: a consent.MemoryStore, for one process.
	Consents consent.Store
	// SealKeys are AES-256 keys (32 bytes each) that seal the pending
	// authorization request into the login page, so that no server
	// session holds it: the first seals, all open (rotate by putting the
	// new key first). Every instance needs the same keys. Nil: a random
	// key made at New, for one process (a restart fails the logins in
	// progress, which start over).
	SealKeys [][]byte
	// RequestLifetime is how long a user has to log in and consent.
	// Zero: 10 minutes; at most an hour.
	RequestLifetime time.Duration
	// Registration, when set, turns on dynamic client registration (RFC
	// 7591) at POST prefix/register: see clients.RegistrarConfig. Its
	// Store defaults to Clients' Registered store (a *clients.Registry's),
	// its Scopes to the scopes of Config.Resources, its Allow to the
	// Throttle's per-address budget. Nil: off.
	Registration *clients.RegistrarConfig
	// ServiceName names the server on its pages ("Sign in to …"). Empty:
	// the issuer's host.
	ServiceName string
	// ScopeDescriptions say in words what each scope allows, on the
	// consent page. A scope without one is shown as it is.
	ScopeDescriptions map[string]string
}

// Authorization response and error codes (RFC 6749 §4.1.2.1).
const (
	errInvalidRequest           = "invalid_request"
	errUnauthorizedClient       = "unauthorized_client"
	errAccessDenied             = "access_denied"
	errUnsupportedResponseType  = "unsupported_response_type"
	errInvalidScope             = "invalid_scope"
	errRequestNotSupported      = "request_not_supported"
	errRequestURINotSupported   = "request_uri_not_supported"
	defaultRequestLifetime      = 10 * time.Minute
	approvalLifetime            = 5 * time.Minute // the consent page's: a login is fresh
	maxStateLength              = 2048
	sealPending, sealApproval   = "authorize/pending", "authorize/approval"
	authorizeFormUsername       = "username"
	authorizeFormPassword       = "password"
	authorizeFormRequest        = "request"
	authorizeFormAction         = "action"
	actionLogin, actionApprove  = "login", "approve"
	actionDeny                  = "deny"
	jktLength                   = 43 // a SHA-256 thumbprint in base64url
	maxAuthorizeQuery           = 16 << 10
	maxAuthorizeScopeParameters = 64
)

// pending is an authorization request that passed its checks, sealed
// into the login page.
type pending struct {
	ClientID string `json:"c"`
	// RedirectURI is the redirect_uri parameter, where the response goes.
	// It is required, even when the client has one (OAuth 2.1 §4.1.1
	// lets it be left out then): the token request must repeat it, and
	// every client in use sends it.
	RedirectURI string `json:"r"`
	State       string `json:"s,omitempty"`
	// Scope is the scope asked for, narrowed to the client's; Explicit
	// says the request named one.
	Scope     string `json:"sc,omitempty"`
	Explicit  bool   `json:"e,omitempty"`
	Resource  string `json:"rs,omitempty"`
	Challenge string `json:"cc"`
	JKT       string `json:"j,omitempty"`
}

// approval is a pending request whose user has logged in, sealed into the
// consent page.
type approval struct {
	Pending  pending `json:"p"`
	Subject  string  `json:"sub"`
	Username string  `json:"n"`
	Scope    string  `json:"g"`
	AuthTime int64   `json:"at"`
}

// authzError is an error of an authorization request that goes back to
// the client at its redirect URI (RFC 6749 §4.1.2.1).
type authzError struct{ code, description string }

func (e *authzError) Error() string { return e.code + ": " + e.description }

// pageError is an error shown to the user, never redirected: about the
// client or its redirect URI (RFC 6749 §4.1.2.1), or a login page that
// has expired.
type pageError struct {
	status  int
	message string
}

func (e *pageError) Error() string { return e.message }

// Authorize returns the authorization endpoint (RFC 6749 §3.1, §4.1.1;
// OAuth 2.1 §4.1.1), mounted as GET and POST prefix/authorize.
//
// GET takes an authorization request: client_id, redirect_uri (required,
// compared exactly with the client's registered ones, but for the port of
// a loopback one, RFC 8252 §7.3),
// response_type=code, code_challenge with code_challenge_method=S256
// (required; "plain" is refused), and optional state, scope (narrowed
// to the client's scopes), resource (RFC 8707) and dpop_jkt (RFC 9449
// §10). An unknown client or a redirect URI that is not the client's is
// shown to the user on an error page and never redirected; the other
// errors go to the client's redirect URI with error, state and iss (RFC
// 9207) — for a configured client: a registered or metadata-document
// client names its redirect URIs itself, so its errors are shown too
// (RFC 9700 §4.11.2, no open redirector). A request that passes gets the login page, carrying the request
// sealed (no server session).
//
// POST is that page's form: the same password check and throttling as
// the login endpoint; then, for a third-party client the user has not
// consented to for these scopes, the consent page; then a redirect (303)
// to the client with code, state and iss. The form is refused from
// another origin (CSRF) and the pages cannot be framed.
func (s *Server) Authorize() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authz == nil {
			http.NotFound(w, r)
			return
		}
		securePage(w)
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.authorizeRequest(w, r)
		case http.MethodPost:
			s.authorizeForm(w, r)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			s.errorPage(w, r, &pageError{http.StatusMethodNotAllowed, "Use GET or POST."})
		}
	})
}

// authorizeRequest checks an authorization request and shows the login
// page, or an error.
func (s *Server) authorizeRequest(w http.ResponseWriter, r *http.Request) {
	p, c, err := s.checkAuthorization(r)
	var ae *authzError
	switch {
	case errors.As(err, &ae) && !redirectable(c, p.RedirectURI):
		// A client anyone could register (or publish) names any redirect
		// URI: redirecting its errors before anyone logged in would make
		// this server an open redirector (RFC 9700 §4.11.2). The user
		// sees the error instead.
		s.log.InfoContext(r.Context(), "authorization request refused", "error", ae.code, "client_id", p.ClientID)
		s.errorPage(w, r, &pageError{http.StatusBadRequest, "The application's request is invalid (" + ae.code + "): " + ae.description + "."})
		return
	case errors.As(err, &ae):
		s.redirectError(w, r, p, ae)
		return
	case err != nil:
		s.errorPage(w, r, err)
		return
	}
	sealed, err := s.authz.sealer.seal(sealPending, p, s.now().Add(s.authz.lifetime))
	if err != nil {
		s.errorPage(w, r, internalError{err})
		return
	}
	if len(sealed) > maxSealed {
		// It would not open when the form comes back (a state of
		// control characters, each escaped in six bytes).
		s.errorPage(w, r, &pageError{http.StatusBadRequest, "The authorization request is too large."})
		return
	}
	s.loginPage(w, r, http.StatusOK, c, p, sealed, "", "")
}

// checkAuthorization checks an authorization request. A *pageError (or a
// store error) is shown to the user; an *authzError goes back to the
// client at p.RedirectURI, which is set then.
func (s *Server) checkAuthorization(r *http.Request) (pending, clients.Client, error) {
	var p pending
	if len(r.URL.RawQuery) > maxAuthorizeQuery {
		return p, clients.Client{}, &pageError{http.StatusBadRequest, "The authorization request is too long."}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return p, clients.Client{}, &pageError{http.StatusBadRequest, "The authorization request does not parse."}
	}
	// RFC 6749 §3.1: no parameter twice. The client and redirect URI come
	// first: until both are known good, nothing goes back to the client.
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return p, clients.Client{}, &pageError{http.StatusBadRequest, "The authorization request names " + k + " more than once."}
		}
	}
	id := q.Get("client_id")
	if id == "" {
		return p, clients.Client{}, &pageError{http.StatusBadRequest, "The authorization request has no client_id."}
	}
	if clients.IsDocumentURL(id) {
		// Looking the client up may fetch its metadata document: a fetch
		// anyone can ask for takes the address budget of a login.
		if err := s.throttle.CheckAddress(r); err != nil {
			return p, clients.Client{}, err
		}
	}
	c, err := s.client(r.Context(), id)
	if err != nil {
		return p, clients.Client{}, err
	}
	p.ClientID = c.ID
	p.RedirectURI = q.Get("redirect_uri")
	switch {
	case p.RedirectURI == "":
		return p, c, &pageError{http.StatusBadRequest, "The authorization request has no redirect_uri."}
	case !c.MatchRedirectURI(p.RedirectURI):
		return p, c, &pageError{http.StatusBadRequest, "The redirect_uri is not one registered for this client."}
	}
	// From here on, errors go back to the client.
	p.State = q.Get("state")
	bad := func(code, desc string) (pending, clients.Client, error) {
		return p, c, &authzError{code, desc}
	}
	for k, v := range q {
		if len(v) > 1 {
			if k == "state" {
				p.State = "" // which one would be a guess
			}
			return bad(errInvalidRequest, "parameter "+k+" is repeated")
		}
	}
	if len(p.State) > maxStateLength {
		p.State = ""
		return bad(errInvalidRequest, "state is too long")
	}
	switch {
	case q.Has("request"):
		return bad(errRequestNotSupported, "request objects are not supported")
	case q.Has("request_uri"):
		return bad(errRequestURINotSupported, "request_uri is not supported")
	case q.Get("response_type") == "":
		return bad(errInvalidRequest, "response_type is required")
	case q.Get("response_type") != "code":
		return bad(errUnsupportedResponseType, "only response_type=code is supported")
	case !c.Allows(clients.GrantAuthorizationCode):
		return bad(errUnauthorizedClient, "this client may not use the authorization code grant")
	case slices.Contains(strings.Fields(q.Get("prompt")), "none"):
		// OpenID Connect's silent authentication: without a server
		// session there is never a login to reuse.
		return bad("login_required", "the user must log in: there is no session to reuse")
	case q.Has("response_mode") && q.Get("response_mode") != "query":
		return bad(errInvalidRequest, "only response_mode=query is supported")
	case q.Get("code_challenge") == "":
		return bad(errInvalidRequest, "code_challenge is required (PKCE, RFC 7636) with code_challenge_method=S256")
	case q.Get("code_challenge_method") != "S256":
		return bad(errInvalidRequest, "code_challenge_method must be S256; plain is not accepted")
	case !token32.Valid(q.Get("code_challenge")):
		return bad(errInvalidRequest, "code_challenge must be the 43 base64url characters of a SHA-256")
	}
	p.Challenge = q.Get("code_challenge")
	if jkt := q.Get("dpop_jkt"); q.Has("dpop_jkt") {
		switch {
		case s.cfg.DPoP == nil:
			return bad(errInvalidRequest, "DPoP is not supported")
		case len(jkt) != jktLength || !validB64URL(jkt):
			return bad(errInvalidRequest, "dpop_jkt must be a JWK SHA-256 thumbprint in base64url")
		}
		p.JKT = jkt
	}
	if q.Has("resource") {
		if q.Get("resource") == "" {
			return bad("invalid_target", "the resource parameter is empty")
		}
		aud, err := s.resource(q)
		var oerr *oauthError
		if errors.As(err, &oerr) {
			return bad(oerr.code, oerr.description)
		}
		if err != nil {
			return p, c, err
		}
		p.Resource = aud[0]
	}
	scope, err := clientScope(c, q.Get("scope"))
	if err != nil {
		return bad(errInvalidScope, err.Error())
	}
	p.Scope, p.Explicit = scope, q.Get("scope") != ""
	return p, c, nil
}

// trusted reports whether c's redirect URIs are the operator's: a
// configured client, not one that registered itself or is named by a
// metadata document.
func trusted(c clients.Client) bool { return c.Kind == "" || c.Kind == clients.Configured }

// redirectable reports whether an error may go to uri, c's redirect URI,
// before anyone logged in: always for a configured client; for another,
// only to a loopback port or an app's private-use scheme (a CLI, an MCP
// client waiting on its callback), which cannot send the user on to a
// website: no open redirector (RFC 9700 §4.11.2).
func redirectable(c clients.Client, uri string) bool {
	if trusted(c) {
		return true
	}
	u, err := url.Parse(uri)
	return err == nil && (u.Scheme == "http" || u.Scheme != "https" && u.Host == "")
}

// clientScope narrows the requested scope to what c may ask for (all of
// its scopes when the request names none); a request none of whose
// scopes c may have is an error.
func clientScope(c clients.Client, requested string) (string, error) {
	var want []string
	n := 0
	for sc := range strings.FieldsSeq(requested) {
		n++
		if n > maxAuthorizeScopeParameters || !clients.ValidScope(sc) {
			return "", errors.New("the scope is malformed or names too many scopes")
		}
		if (len(c.Scopes) == 0 || slices.Contains(c.Scopes, sc)) && !slices.Contains(want, sc) {
			want = append(want, sc)
		}
	}
	if requested == "" {
		return strings.Join(c.Scopes, " "), nil // empty: whatever the user holds
	}
	if len(want) == 0 {
		return "", errors.New("this client may not ask for any of these scopes")
	}
	return strings.Join(want, " "), nil
}

// userScope is the scope granted to u for p: the requested scope
// narrowed to u's scopes, or all of u's when neither the request nor the
// client names any. A request none of whose scopes u holds is
// invalid_scope.
func userScope(p pending, u User) (string, error) {
	if p.Scope == "" {
		return strings.Join(u.Scopes, " "), nil
	}
	var held []string
	for sc := range strings.FieldsSeq(p.Scope) {
		if slices.Contains(u.Scopes, sc) {
			held = append(held, sc)
		}
	}
	if len(held) == 0 && p.Explicit {
		return "", &authzError{errInvalidScope, "the user holds none of the scopes asked for"}
	}
	return strings.Join(held, " "), nil
}

func validB64URL(s string) bool {
	for i := range len(s) {
		if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// authorizeForm handles the login and consent pages' forms.
func (s *Server) authorizeForm(w http.ResponseWriter, r *http.Request) {
	// CSRF: the form of another origin's page must not log the user in
	// (login CSRF) or consent for them.
	if err := s.authz.cross.Check(r); err != nil {
		s.log.InfoContext(r.Context(), "authorization form refused", "err", err)
		s.errorPage(w, r, &pageError{http.StatusForbidden, "This form was sent from another site."})
		return
	}
	form, err := s.form(w, r)
	if err != nil {
		s.errorPage(w, r, &pageError{http.StatusBadRequest, "The form could not be read."})
		return
	}
	switch form.Get(authorizeFormAction) {
	case actionLogin:
		s.authorizeLogin(w, r, form)
	case actionApprove, actionDeny:
		s.authorizeConsent(w, r, form)
	default:
		s.errorPage(w, r, &pageError{http.StatusBadRequest, "The form has no valid action."})
	}
}

var errExpiredPage = &pageError{http.StatusBadRequest, "This page has expired or is invalid. Go back to the application and sign in again."}

// openPending opens the sealed request of a form and finds its client
// again (it may have gone since).
func (s *Server) openPending(r *http.Request, sealed string) (pending, clients.Client, error) {
	var p pending
	if err := s.authz.sealer.open(sealPending, sealed, s.now(), &p); err != nil {
		return p, clients.Client{}, errExpiredPage
	}
	c, err := s.client(r.Context(), p.ClientID)
	if err != nil {
		return p, c, err
	}
	if !c.MatchRedirectURI(p.RedirectURI) {
		return p, c, &pageError{http.StatusBadRequest, "The client's redirect URIs have changed. Go back to the application and sign in again."}
	}
	return p, c, nil
}

// authorizeLogin checks the login form's password, then consents or asks
// for consent.
func (s *Server) authorizeLogin(w http.ResponseWriter, r *http.Request, form url.Values) {
	sealed := form.Get(authorizeFormRequest)
	p, c, err := s.openPending(r, sealed)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	name, pw := form.Get(authorizeFormUsername), form.Get(authorizeFormPassword)
	if name == "" || pw == "" {
		s.loginPage(w, r, http.StatusBadRequest, c, p, sealed, name, "Enter your username and password.")
		return
	}
	if checkUsername(name) != nil {
		s.loginPage(w, r, http.StatusBadRequest, c, p, sealed, "", "Invalid username or password.")
		return
	}
	if !s.limitAddressPage(w, r) {
		return
	}
	done, err := s.throttle.PasswordAttempt(r, name)
	if err == nil && s.cfg.Hooks.Allow != nil {
		if ok, after := s.cfg.Hooks.Allow(r, name); !ok {
			done()
			err = &LimitError{Budget: BudgetUsername, RetryAfter: after}
		}
	}
	var u User
	if err == nil {
		u, err = s.checkPasswordDone(r, name, pw, done)
	}
	switch {
	case errors.As(err, new(*LimitError)):
		s.audit(r, Event{Kind: Throttled, Username: name, Reason: budgetOf(err)})
		writeRetryAfter(w, err)
		s.loginPage(w, r, http.StatusTooManyRequests, c, p, sealed, name, "Too many attempts. Wait a moment and try again.")
		return
	case errors.Is(err, errBadCredentials):
		s.loginPage(w, r, http.StatusUnauthorized, c, p, sealed, name, "Invalid username or password.")
		return
	case err != nil:
		s.errorPage(w, r, err)
		return
	}
	scope, err := userScope(p, u)
	if err == nil && scope == "" && !c.FirstParty {
		// Nothing to consent to: a token without scope acts for the user
		// wherever no scope is asked.
		err = &authzError{errInvalidScope, "the user holds none of the scopes this client may ask for"}
	}
	if err != nil {
		s.redirectError(w, r, p, err.(*authzError))
		return
	}
	a := approval{Pending: p, Subject: u.Subject, Username: name, Scope: scope, AuthTime: s.now().Unix()}
	s.audit(r, Event{Kind: LoginSucceeded, Username: name, Subject: u.Subject, ClientID: c.ID})
	if !c.FirstParty {
		have, err := s.authz.consents.Get(r.Context(), u.Subject, c.ID)
		if err != nil && !errors.Is(err, consent.ErrNotFound) {
			s.errorPage(w, r, err)
			return
		}
		if err != nil || !consent.Covers(have, strings.Fields(scope)) {
			sealedA, err := s.authz.sealer.seal(sealApproval, a, s.now().Add(min(s.authz.lifetime, approvalLifetime)))
			if err != nil {
				s.errorPage(w, r, internalError{err})
				return
			}
			if len(sealedA) > maxSealed {
				s.errorPage(w, r, &pageError{http.StatusBadRequest, "The authorization request is too large."})
				return
			}
			s.consentPage(w, r, c, a, sealedA)
			return
		}
	}
	s.issueCode(w, r, a)
}

// authorizeConsent handles the consent page's answer.
func (s *Server) authorizeConsent(w http.ResponseWriter, r *http.Request, form url.Values) {
	var a approval
	if err := s.authz.sealer.open(sealApproval, form.Get(authorizeFormRequest), s.now(), &a); err != nil {
		s.errorPage(w, r, errExpiredPage)
		return
	}
	if form.Get(authorizeFormAction) == actionDeny {
		s.audit(r, Event{Kind: ConsentDenied, Subject: a.Subject, ClientID: a.Pending.ClientID})
		s.redirectError(w, r, a.Pending, &authzError{errAccessDenied, "the user denied the request"})
		return
	}
	c, err := s.client(r.Context(), a.Pending.ClientID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if !c.MatchRedirectURI(a.Pending.RedirectURI) {
		s.errorPage(w, r, &pageError{http.StatusBadRequest, "The client's redirect URIs have changed. Go back to the application and sign in again."})
		return
	}
	// The user may have gone, or lost scopes, since the login.
	u, err := s.cfg.Users.UserBySubject(r.Context(), a.Subject)
	if errors.Is(err, ErrUnknownUser) {
		s.errorPage(w, r, errExpiredPage)
		return
	}
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	var held []string
	for sc := range strings.FieldsSeq(a.Scope) {
		if slices.Contains(u.Scopes, sc) {
			held = append(held, sc)
		}
	}
	a.Scope = strings.Join(held, " ")
	if a.Scope == "" {
		s.redirectError(w, r, a.Pending, &authzError{errInvalidScope, "the user holds none of the scopes asked for"})
		return
	}
	if err := s.authz.consents.Grant(r.Context(), a.Subject, c.ID, held, s.now()); err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.audit(r, Event{Kind: ConsentGranted, Subject: a.Subject, ClientID: c.ID})
	s.issueCode(w, r, a)
}

// issueCode issues the code of an approved request and redirects the
// user agent to the client with it.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, a approval) {
	p := a.Pending
	code, err := s.authz.codes.Issue(r.Context(), authcode.Grant{ClientID: p.ClientID, RedirectURI: p.RedirectURI,
		Subject: a.Subject, Scope: a.Scope, Resource: p.Resource, JKT: p.JKT, CodeChallenge: p.Challenge,
		AuthTime: time.Unix(a.AuthTime, 0)})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "authorization code issued", "sub", a.Subject, "client_id", p.ClientID)
	s.audit(r, Event{Kind: CodeIssued, Subject: a.Subject, ClientID: p.ClientID})
	s.redirect(w, r, p.RedirectURI, url.Values{"code": {code}}, p.State)
}

// redirectError sends an authorization error to the client's redirect
// URI (RFC 6749 §4.1.2.1).
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, p pending, e *authzError) {
	s.log.InfoContext(r.Context(), "authorization request refused", "error", e.code, "client_id", p.ClientID)
	s.redirect(w, r, p.RedirectURI, url.Values{"error": {e.code}, "error_description": {e.description}}, p.State)
}

// redirect answers 303 to uri with params, state and iss (RFC 9207)
// added to its query, whose own parameters stay (RFC 6749 §3.1.2).
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, uri string, params url.Values, state string) {
	u, err := url.Parse(uri)
	if err != nil { // checked at registration
		s.errorPage(w, r, internalError{err})
		return
	}
	// The redirect URI's own query stays as registered, byte for byte;
	// the response's parameters follow it.
	if state != "" {
		params.Set("state", state)
	}
	params.Set("iss", s.cfg.Issuer.Name())
	if u.RawQuery != "" {
		u.RawQuery += "&" + params.Encode()
	} else {
		u.RawQuery = params.Encode()
	}
	w.Header().Set("Location", u.String())
	w.WriteHeader(http.StatusSeeOther)
}

// client returns the client with id: Config.ClientID's first-party
// client, or one of AuthorizationConfig.Clients.
func (s *Server) client(ctx context.Context, id string) (clients.Client, error) {
	if s.authz != nil {
		c, err := s.authz.clients.Client(ctx, id)
		switch {
		case err == nil && c.ID == s.cfg.ClientID && !c.FirstParty:
			return clients.Client{}, internalError{errors.New("endpoint: Config.ClientID names a client that is not FirstParty")}
		case err == nil:
			return c, nil
		case !errors.Is(err, clients.ErrUnknownClient):
			return clients.Client{}, err
		case id != s.cfg.ClientID:
			return clients.Client{}, &unknownClientError{err}
		}
	}
	if id != s.cfg.ClientID {
		return clients.Client{}, &unknownClientError{clients.ErrUnknownClient}
	}
	return s.firstParty, nil
}

// unknownClientError: no client has the ID (or its metadata document
// cannot be had: err says why).
type unknownClientError struct{ err error }

func (e *unknownClientError) Error() string { return e.err.Error() }
func (e *unknownClientError) Unwrap() error { return e.err }

// writeRetryAfter sets Retry-After from a throttle's refusal.
func writeRetryAfter(w http.ResponseWriter, err error) {
	var le *LimitError
	if errors.As(err, &le) {
		w.Header().Set("Retry-After", retryAfterSeconds(le.RetryAfter))
	} else {
		w.Header().Set("Retry-After", "1")
	}
}

// limitAddressPage takes a token of the address budget, or answers with
// an error page.
func (s *Server) limitAddressPage(w http.ResponseWriter, r *http.Request) bool {
	err := s.throttle.CheckAddress(r)
	if err != nil {
		s.errorPage(w, r, err)
	}
	return err == nil
}
