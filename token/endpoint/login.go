package endpoint

import (
	"errors"
	"net/http"
	"strings"

	"github.com/sessionless/sessionless/internal/httpx"
)

// Login returns the JSON login endpoint: POST {"username": …,
// "password": …} (application/json), answered with an access token and a
// refresh token in the shape of RFC 6749 §5.1, or, with the header
// "Token-Delivery: cookie" and Config.Cookies, in HttpOnly cookies
// ([CookieConfig]; a request of another origin is then 403). A wrong password or an
// unknown user is 401 invalid_grant after the same work; a request over
// one of the [Throttle]'s budgets is 429 slow_down with Retry-After,
// before any password is checked; a user store that cannot answer is
// 503.
func (s *Server) Login() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !post(w, r) {
			return
		}
		// Cookie mode's origin check first: another origin's page spends
		// no budget of the user's.
		cookie, err := s.wantsCookies(r)
		if err != nil {
			s.fail(w, r, "login", err)
			return
		}
		if !s.limitAddress(w, r) {
			return
		}
		name, pw, oerr := s.loginBody(w, r)
		if oerr != nil {
			s.fail(w, r, "login", oerr)
			return
		}
		jkt, err := s.dpopKey(w, r)
		if err != nil {
			s.fail(w, r, "login", err)
			return
		}
		done, ok := s.beginPassword(w, r, name)
		if !ok {
			return
		}
		u, err := s.checkPasswordDone(r, name, pw, done)
		if isThrottled(err) { // the user's own budget
			s.throttled(w, r, name, err)
			return
		}
		if errors.Is(err, errBadCredentials) {
			s.fail(w, r, "login", &oauthError{http.StatusUnauthorized, "invalid_grant", "invalid username or password"})
			return
		}
		if err != nil {
			s.fail(w, r, "login", err)
			return
		}
		t, err := s.issueTokens(r, u, name, strings.Join(u.Scopes, " "), jkt, cookie)
		if err != nil {
			s.fail(w, r, "login: issuing tokens", err)
			return
		}
		s.respond(w, t, cookie)
	})
}

// post answers 405 to anything but POST.
func post(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	httpx.WriteOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
	return false
}

// loginBody reads {"username", "password"}: one JSON object, exact member
// names, none repeated (so no second "username" can stand in for the
// first) and no other, both non-empty strings.
func (s *Server) loginBody(w http.ResponseWriter, r *http.Request) (name, pw string, _ *oauthError) {
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := httpx.DecodeJSON(w, r, s.cfg.MaxBodyBytes, &body); err != nil {
		return "", "", bodyError(err, false)
	}
	if body.Username == "" || body.Password == "" {
		return "", "", invalidRequest("username and password are required")
	}
	if oerr := checkUsername(body.Username); oerr != nil {
		return "", "", oerr
	}
	return body.Username, body.Password, nil
}

// bodyError is the refusal of a body httpx refused: with its own status
// (400, 413, 415), or, at the OAuth endpoints (oauth), 400 whatever it
// is (RFC 6749 §5.2).
func bodyError(err error, oauth bool) *oauthError {
	be, ok := err.(*httpx.BodyError)
	if !ok {
		return invalidRequest("the body could not be read")
	}
	status := be.Status
	if oauth {
		status = http.StatusBadRequest
	}
	return &oauthError{status, "invalid_request", be.Message}
}
