package endpoint

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/sessionless/sessionless/internal/strictjson"
)

// Login returns the JSON login endpoint: POST {"username": …,
// "password": …} (application/json), answered with an access token and a
// refresh token in the shape of RFC 6749 §5.1. A wrong password or an
// unknown user is 401 invalid_grant after the same work; a user store
// that cannot answer is 503.
func (s *Server) Login() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !post(w, r) {
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
		if !s.allow(w, r, name) {
			return
		}
		u, err := s.checkPassword(r, name, pw)
		if errors.Is(err, errBadCredentials) {
			s.fail(w, r, "login", &oauthError{http.StatusUnauthorized, "invalid_grant", "invalid username or password"})
			return
		}
		if err != nil {
			s.fail(w, r, "login", err)
			return
		}
		resp, err := s.issueTokens(r, u, name, strings.Join(u.Scopes, " "), jkt)
		if err != nil {
			s.fail(w, r, "login: issuing tokens", err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// post answers 405 to anything but POST.
func post(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	writeError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
	return false
}

// loginBody reads {"username", "password"}: one JSON object, exact member
// names, none repeated (so no second "username" can stand in for the
// first), both non-empty strings.
func (s *Server) loginBody(w http.ResponseWriter, r *http.Request) (name, pw string, _ *oauthError) {
	body, oerr := s.readBody(w, r)
	switch {
	case oerr != nil:
		return "", "", oerr
	case len(body) == 0:
		return "", "", invalidRequest("the request body is empty")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return "", "", &oauthError{http.StatusUnsupportedMediaType, "invalid_request", "the body must be application/json"}
	}
	m := strictjson.Object(body)
	for m.Next() {
		var v []byte
		var err error
		switch string(m.Name()) {
		case "username":
			v, err = strictjson.String(m.Value())
			name = string(v)
		case "password":
			v, err = strictjson.String(m.Value())
			pw = string(v)
		}
		if err != nil {
			return "", "", invalidRequest("username and password must be strings")
		}
	}
	if m.Err() != nil {
		return "", "", invalidRequest(`the body must be one JSON object {"username": …, "password": …}, each member once`)
	}
	if name == "" || pw == "" {
		return "", "", invalidRequest("username and password are required")
	}
	if oerr := checkUsername(name); oerr != nil {
		return "", "", oerr
	}
	return name, pw, nil
}

// readBody reads the whole body, at most Config.MaxBodyBytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *oauthError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, invalidRequest("the body is larger than %d bytes", s.cfg.MaxBodyBytes)
	case err != nil:
		return nil, invalidRequest("the body could not be read")
	}
	return body, nil
}
