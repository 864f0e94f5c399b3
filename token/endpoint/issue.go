package endpoint

import (
	"net/http"
	"strings"
)

// IssueTokens answers r with an access token and a refresh token for u,
// in the shape of the login endpoint's answer (RFC 6749 §5.1), with all
// of u's scopes: for logins the application has verified itself, such as
// the callback of an OpenID Connect login (package oidc). u must be a
// user [Users.UserBySubject] finds, or its refresh token will not
// refresh. username is for the audit event and the log. A store that
// cannot answer is 503.
func (s *Server) IssueTokens(w http.ResponseWriter, r *http.Request, u User, username string) {
	t, err := s.issueTokens(r, u, username, strings.Join(u.Scopes, " "), "", false)
	if err != nil {
		s.fail(w, r, "issuing tokens", err)
		return
	}
	s.respond(w, t, false)
}
