package endpoint

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/exturl"
	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/refresh"
)

// Token returns the OAuth 2.0 token endpoint (RFC 6749 §3.2),
// form-encoded:
//
//   - grant_type=authorization_code (§4.1.3, with Config.Authorization):
//     code, redirect_uri (as in the authorization request) and the PKCE
//     code_verifier (RFC 7636); a code presented twice revokes the tokens
//     issued from it;
//   - grant_type=password (§4.3), for the first-party client only
//     (Config.ClientID): username, password, optional scope (a subset of
//     the user's scopes);
//   - grant_type=refresh_token (§6): refresh_token, optional scope (a
//     subset of the family's). The token is spent and a new one returned
//     in the same family; presenting a spent token revokes the family
//     and its access tokens (RFC 9700 §4.14).
//
// Clients authenticate as registered: a public client with client_id
// alone (the first-party client may leave it out), a confidential one
// with its secret by HTTP Basic or in the form, whichever it registered.
// Answers are §5.1 responses and §5.2 errors (invalid_request,
// invalid_client (401 with a Basic challenge after HTTP Basic
// authentication, 400 otherwise), invalid_grant, invalid_scope,
// unauthorized_client, unsupported_grant_type); a password grant over one
// of the [Throttle]'s budgets is 429 slow_down with Retry-After, before
// any password is checked, and so is a request of a metadata-document
// client, whose lookup may fetch (the other grants take none: their secrets
// cannot be guessed, and clients behind one address refresh often); a
// store that cannot answer is 503.
func (s *Server) Token() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !post(w, r) {
			return
		}
		form, c, err := s.clientForm(w, r)
		var jkt string
		if err == nil {
			jkt, err = s.dpopKey(w, r)
		}
		var t issued
		var cookie bool
		if err == nil {
			grant := form.Get("grant_type")
			supported := grant == clients.GrantRefreshToken || grant == clients.GrantPassword ||
				grant == clients.GrantAuthorizationCode && s.authz != nil
			if supported && !c.Allows(grant) {
				err = &oauthError{http.StatusBadRequest, "unauthorized_client", "this client may not use the " + grant + " grant"}
			}
			if err != nil {
				s.fail(w, r, "token request", err)
				return
			}
			switch grant {
			case clients.GrantRefreshToken:
				t, cookie, err = s.refreshGrant(w, r, form, c, jkt)
			case clients.GrantAuthorizationCode:
				if s.authz == nil {
					err = &oauthError{http.StatusBadRequest, "unsupported_grant_type", "the authorization code grant is not enabled"}
					break
				}
				t, err = s.codeGrant(r, form, c, jkt)
			case clients.GrantPassword:
				if len(r.Header.Values(TokenDeliveryHeader)) > 0 {
					// Cookie mode is the browser's login, at Login.
					err = invalidRequest("%s is for the login endpoint, not the password grant", TokenDeliveryHeader)
					break
				}
				t, err = s.passwordGrant(w, r, form, c, jkt)
				if errors.Is(err, errThrottled) {
					return // answered
				}
			case "":
				err = invalidRequest("grant_type is required")
			default:
				err = &oauthError{http.StatusBadRequest, "unsupported_grant_type", "use authorization_code or refresh_token"}
			}
		}
		if err != nil {
			s.fail(w, r, "token request", err)
			return
		}
		if !c.Allows(clients.GrantRefreshToken) {
			t.refresh = ""
		}
		s.respond(w, t, cookie)
	})
}

// form reads a form-encoded body. Parameters may appear once (RFC 6749
// §3.2); those in the URL query are not read. Like every refusal of the
// OAuth endpoints, another media type or an oversized body is 400
// invalid_request (§5.2).
func (s *Server) form(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	form, err := httpx.ReadForm(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return nil, bodyError(err, true)
	}
	return form, nil
}

// clientForm reads the form of a request to the token or revocation
// endpoint and authenticates its client.
func (s *Server) clientForm(w http.ResponseWriter, r *http.Request) (url.Values, clients.Client, error) {
	form, err := s.form(w, r)
	if err != nil {
		return nil, clients.Client{}, err
	}
	c, err := s.checkClient(r, form)
	return form, c, err
}

// checkClient authenticates the client (RFC 6749 §2.3): client_id and
// client_secret in the form, or HTTP Basic authentication (§2.3.1), not
// both. A public client sends no secret (an empty Basic password is
// taken, as some libraries send it); a confidential one must use the
// method it registered. No client_id at all means Config.ClientID, the
// first-party client.
func (s *Server) checkClient(r *http.Request, form url.Values) (clients.Client, error) {
	user, pass, basic := r.BasicAuth()
	if h := r.Header.Get("Authorization"); !basic && len(h) >= 6 && strings.EqualFold(h[:6], "Basic ") {
		// RFC 6749 §5.2: the client tried the header; 401 with a challenge.
		return clients.Client{}, &oauthError{http.StatusUnauthorized, "invalid_client", "malformed HTTP Basic credentials"}
	}
	if basic && (form.Has("client_id") || form.Has("client_secret")) {
		return clients.Client{}, invalidRequest("use one client authentication method")
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	method := clients.AuthSecretPost
	if basic {
		// §2.3.1: the client id and secret are form-urlencoded first.
		var err1, err2 error
		id, err1 = url.QueryUnescape(user)
		secret, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return clients.Client{}, &oauthError{http.StatusUnauthorized, "invalid_client", "the Basic credentials are not form-urlencoded"}
		}
		method = clients.AuthSecretBasic
	}
	// RFC 6749 §5.2: 401 with a challenge for a client that tried the
	// Authorization header; 400 for one that sent its id in the body.
	status := http.StatusBadRequest
	if basic {
		status = http.StatusUnauthorized
	}
	refuse := func(desc string) (clients.Client, error) {
		return clients.Client{}, &oauthError{status, "invalid_client", desc}
	}
	if id == "" && !basic {
		if secret != "" {
			return refuse("a client_secret without a client_id")
		}
		id = s.cfg.ClientID
	}
	if clients.IsDocumentURL(id) {
		// The lookup may fetch a document: the address budget of a login,
		// as at the authorization endpoint.
		if err := s.throttle.CheckAddress(r); err != nil {
			return clients.Client{}, err
		}
	}
	c, err := s.client(r.Context(), id)
	var uc *unknownClientError
	switch {
	case errors.As(err, &uc):
		return refuse("unknown client")
	case err != nil:
		return clients.Client{}, err
	case c.Public() && secret != "":
		return refuse("a public client has no secret")
	case c.Public():
		return c, nil
	case secret == "" || method != c.AuthMethod:
		return refuse("this client authenticates with " + c.AuthMethod)
	case !c.VerifySecret(secret):
		return refuse("invalid client secret")
	}
	return c, nil
}

// narrowScope returns the scope a token request asks for: all of granted
// when requested is empty, else requested, which must be a subset of
// granted (RFC 6749 §3.3, §6).
func narrowScope(requested string, granted []string) (string, error) {
	if requested == "" {
		return strings.Join(granted, " "), nil
	}
	var want []string
	for sc := range strings.FieldsSeq(requested) {
		if !slices.Contains(granted, sc) {
			return "", &oauthError{http.StatusBadRequest, "invalid_scope", "scope " + sc + " is not granted"}
		}
		if !slices.Contains(want, sc) {
			want = append(want, sc)
		}
	}
	return strings.Join(want, " "), nil
}

// errThrottled: the throttle or Hooks.Allow refused the request, which
// has been answered.
var errThrottled = errors.New("endpoint: throttled")

// passwordGrant is the resource owner password credentials grant (RFC
// 6749 §4.3), with the rules of Login; a wrong password is 400
// invalid_grant (§5.2).
func (s *Server) passwordGrant(w http.ResponseWriter, r *http.Request, form url.Values, c clients.Client, jkt string) (issued, error) {
	if !c.FirstParty { // Validate keeps it so; a Lookup of one's own might not
		return issued{}, &oauthError{http.StatusBadRequest, "unauthorized_client", "only the first-party client may use the password grant"}
	}
	name, pw := form.Get("username"), form.Get("password")
	if name == "" || pw == "" {
		return issued{}, invalidRequest("username and password are required")
	}
	if oerr := checkUsername(name); oerr != nil {
		return issued{}, oerr
	}
	if !s.limitAddress(w, r) {
		return issued{}, errThrottled
	}
	done, ok := s.beginPassword(w, r, name)
	if !ok {
		return issued{}, errThrottled
	}
	u, err := s.checkPasswordDone(r, name, pw, done)
	if isThrottled(err) { // the user's own budget
		s.throttled(w, r, name, err)
		return issued{}, errThrottled
	}
	if errors.Is(err, errBadCredentials) {
		return issued{}, &oauthError{http.StatusBadRequest, "invalid_grant", "invalid username or password"}
	}
	if err != nil {
		return issued{}, err
	}
	scope, err := narrowScope(form.Get("scope"), u.Scopes)
	if err != nil {
		return issued{}, err
	}
	aud, err := s.resource(form)
	if err != nil {
		return issued{}, err
	}
	return s.issueTokensFor(r, c, u, name, scope, jkt, aud, false)
}

// serves reports whether url is the URL of one of Config.Resources.
func (s *Server) serves(url string) bool {
	return slices.ContainsFunc(s.cfg.Resources, func(r middleware.Resource) bool { return r.URL == url })
}

// resource returns the audience a token request's resource parameter
// (RFC 8707) asks for, nil for none: the URL of the one of
// Config.Resources that covers it, the most specific (a client that read
// the document of a protected URL, RFC 9728 §3.3, names that URL). A
// resource with a query or a fragment (RFC 8707 §2), dot or empty
// segments, or covered by no resource is 400 invalid_target.
func (s *Server) resource(form url.Values) ([]string, error) {
	res := form.Get("resource")
	if res == "" {
		return nil, nil
	}
	u, err := url.Parse(res)
	if err != nil || !u.IsAbs() || u.User != nil || strings.ContainsAny(res, "?#") || exturl.HasDotSegment(u.EscapedPath()) || strings.Contains(u.EscapedPath(), "//") {
		return nil, &oauthError{http.StatusBadRequest, "invalid_target", "the resource must be an absolute URL without user information, query, fragment or dot segments"}
	}
	of, ok := middleware.ResourceFor(s.cfg.Resources, res)
	if !ok {
		return nil, &oauthError{http.StatusBadRequest, "invalid_target", "the resource is not one this server issues tokens for"}
	}
	return []string{of.URL}, nil
}

// dpopKey returns the thumbprint of the key of the request's DPoP proof,
// or "" without one (or without Config.DPoP). A proof that does not
// verify is 400 invalid_dpop_proof (RFC 9449 §5); more than one, too.
func (s *Server) dpopKey(w http.ResponseWriter, r *http.Request) (string, error) {
	proofs := r.Header.Values("DPoP")
	if s.cfg.DPoP == nil || len(proofs) == 0 {
		return "", nil
	}
	if len(proofs) > 1 {
		return "", &oauthError{http.StatusBadRequest, "invalid_dpop_proof", "send one DPoP proof"}
	}
	jkt, err := s.cfg.DPoP.CheckProof(r.Context(), proofs[0], r.Method, s.requestURL(r), "")
	var nonce interface{ NonceRequired() bool }
	switch {
	case err != nil && errors.Is(err, identity.ErrUnavailable):
		return "", err
	case err != nil && errors.As(err, &nonce) && nonce.NonceRequired():
		w.Header().Set("DPoP-Nonce", s.cfg.DPoP.Nonce())
		return "", &oauthError{http.StatusBadRequest, "use_dpop_nonce", "the DPoP proof must carry the server's nonce"}
	case err != nil:
		s.log.InfoContext(r.Context(), "DPoP proof refused", "err", err)
		desc := "the DPoP proof is invalid"
		var algs interface{ AcceptedAlgorithms() []string }
		if errors.As(err, &algs) {
			desc = "the DPoP proof's alg is not accepted"
		}
		// The names come from configuration, never from the proof.
		return "", &oauthError{http.StatusBadRequest, "invalid_dpop_proof", desc + "; accepted algs: " + strings.Join(s.cfg.DPoP.AlgNames(), " ")}
	}
	if n := s.cfg.DPoP.Nonce(); n != "" { // the current nonce, for the next proof (RFC 9449 §8.2)
		w.Header().Set("DPoP-Nonce", n)
	}
	return jkt, nil
}

// requestURL is the URL the client used, for a proof's htu.
func (s *Server) requestURL(r *http.Request) string {
	return exturl.RequestURL(s.cfg.ExternalURL, r)
}

// errJustUsed: a refresh within the grace period whose access token
// (reissued with the same jti) would expire within a second.
var errJustUsed = &oauthError{http.StatusBadRequest, "invalid_grant", "the refresh token was just used by another request"}

var errUserGone = &oauthError{http.StatusBadRequest, "invalid_grant", "the user of this refresh token no longer exists"}

// refreshGrant rotates a refresh token (RFC 6749 §6): the refresh_token
// parameter, or, without one, the refresh token's cookie (cookie mode,
// reported by cookie; a refused one clears the cookies). The new access
// token carries the user's current roles and the scopes both granted to
// the family and still held by the user, narrowed by the scope parameter.
func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, form url.Values, c clients.Client, jkt string) (_ issued, cookie bool, _ error) {
	ctx := r.Context()
	rt := form.Get("refresh_token")
	if rt == "" {
		var err error
		if rt, err = s.refreshCookie(r); err != nil {
			return issued{}, false, err
		}
		if rt == "" {
			return issued{}, false, invalidRequest("refresh_token is required")
		}
		cookie = true
	}
	aud, err := s.resource(form)
	if err != nil {
		return issued{}, false, err
	}
	var t issued
	var bind string
	next, g, err := s.refresh.Rotate(ctx, rt, func(ctx context.Context, m refresh.Minting) (refresh.AccessToken, error) {
		g := m.Grant
		if g.ClientID != c.ID {
			return refresh.AccessToken{}, &oauthError{http.StatusBadRequest, "invalid_grant", "the refresh token was issued to another client"}
		}
		// A bound family refreshes only with a proof by its key (RFC 9449
		// §5); refused before the token is spent.
		if g.JKT != "" && subtle.ConstantTimeCompare([]byte(jkt), []byte(g.JKT)) != 1 {
			return refresh.AccessToken{}, &oauthError{http.StatusBadRequest, "invalid_dpop_proof", "this refresh token is bound to a DPoP key: send a proof by it"}
		}
		bind = cmp.Or(g.JKT, jkt)
		// A family granted for one resource stays for it (RFC 8707 §2.2):
		// another is invalid_target, none means that one.
		if g.Resource != "" {
			switch {
			case aud != nil && aud[0] != g.Resource:
				return refresh.AccessToken{}, &oauthError{http.StatusBadRequest, "invalid_target", "this refresh token was granted for another resource"}
			case !s.serves(g.Resource):
				return refresh.AccessToken{}, &oauthError{http.StatusBadRequest, "invalid_target", "the resource of this refresh token is no longer served"}
			}
			aud = []string{g.Resource}
		}
		if m.Reissue.ID != "" && !m.Reissue.ExpiresAt.After(s.now().Add(time.Second)) {
			// Another request rotated this token within the grace period,
			// and the access token issued then has (nearly) expired: its
			// jti cannot be reissued. Refused, nothing revoked.
			return refresh.AccessToken{}, errJustUsed
		}
		if err := s.checkConsent(ctx, c, g.Subject, g.Scope); err != nil {
			return refresh.AccessToken{}, err
		}
		u, err := s.cfg.Users.UserBySubject(ctx, g.Subject)
		if errors.Is(err, ErrUnknownUser) {
			return refresh.AccessToken{}, errUserGone
		}
		if err != nil {
			return refresh.AccessToken{}, err
		}
		var held []string
		for sc := range strings.FieldsSeq(g.Scope) {
			if slices.Contains(u.Scopes, sc) {
				held = append(held, sc)
			}
		}
		scope, err := narrowScope(form.Get("scope"), held)
		if err != nil {
			return refresh.AccessToken{}, err
		}
		if t.access, t.claims, err = s.issueAccessFor(c, u, scope, bind, aud, m.Family, m.Reissue); err != nil {
			return refresh.AccessToken{}, err
		}
		if cookie {
			if err := checkCookieSize(t.access); err != nil {
				return refresh.AccessToken{}, err
			}
		}
		t.roles = rolesFor(c, u)
		abs, idle := s.refresh.Lifetimes()
		t.refreshAge = min(m.Created.Add(abs).Sub(s.now()), idle)
		return accessOf(t.claims), nil
	}, refresh.BindTo(jkt))
	if errors.Is(err, refresh.ErrInvalidGrant) {
		if errors.Is(err, refresh.ErrReused) {
			s.log.WarnContext(ctx, "refresh token reused: family revoked")
			if s.cfg.Hooks.Audit != nil {
				// Whose family: the spent token's record says (one read,
				// on a path an attacker cannot take often).
				e := Event{Kind: RefreshReused, ClientID: c.ID}
				if g, err := s.refresh.Lookup(ctx, rt); err == nil {
					e.Subject, e.ClientID = g.Subject, g.ClientID
				}
				s.audit(r, e)
			}
		}
		if cookie {
			s.clearCookies(w) // a dead cookie the browser would send for ever
		}
		return issued{}, false, &oauthError{http.StatusBadRequest, "invalid_grant", grantDescription(err)}
	}
	if errors.Is(err, refresh.ErrMint) {
		return issued{}, false, internalError{err}
	}
	if err != nil {
		var oerr *oauthError
		if cookie && errors.As(err, &oerr) && oerr.code == "invalid_grant" && oerr != errJustUsed {
			// Not when another tab has just set new cookies, nor for a
			// planted cookie: the browser's own are good.
			s.clearCookies(w)
		}
		return issued{}, false, err
	}
	t.refresh = next
	s.log.InfoContext(ctx, "refresh token rotated", "sub", t.claims.Subject, "jti", t.claims.ID)
	s.audit(r, Event{Kind: Refreshed, Subject: g.Subject, TokenID: t.claims.ID, ClientID: c.ID})
	return t, cookie, nil
}

// grantDescription says why a refresh token was refused.
func grantDescription(err error) string {
	switch {
	case errors.Is(err, refresh.ErrReused):
		return "the refresh token was already used; its family has been revoked"
	case errors.Is(err, refresh.ErrExpired):
		return "the refresh token has expired"
	case errors.Is(err, refresh.ErrRevoked):
		return "the refresh token has been revoked"
	}
	return "the refresh token is invalid"
}
