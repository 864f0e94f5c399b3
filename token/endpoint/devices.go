package endpoint

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/refresh"
)

// device is one entry of the devices list: a refresh family of the
// caller, where the caller is logged in.
type device struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used"`
	UserAgent string    `json:"user_agent"`
	Current   bool      `json:"current"` // the family of the caller's own access token
}

// Devices returns the "where you are logged in" list, to be mounted
// behind the authentication middleware as GET …/devices: the caller's
// live refresh families (every login, newest use first, at most
// refresh.MaxFamilies), each with its ID, when it started, when it was
// last refreshed, the User-Agent of its login, and whether it is the
// family of the caller's own access token. It takes an access token of
// this server's issuer, for the whole server (not narrowed to one
// resource: 401); an API token is 400.
func (s *Server) Devices() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.deviceCaller(w, r)
		if !ok {
			return
		}
		fams, err := s.refresh.Families(r.Context(), p.Subject)
		if err != nil {
			s.fail(w, r, "devices", err)
			return
		}
		sid := s.sessionID(p)
		list := make([]device, 0, len(fams))
		for _, f := range fams {
			list = append(list, device{ID: f.ID, Created: f.Created.UTC(), LastUsed: f.LastUsed.UTC(),
				UserAgent: f.Grant.UserAgent, Current: f.ID == sid})
		}
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(w, http.StatusOK, struct {
			Devices []device `json:"devices"`
		}{list})
	})
}

// EndDevice returns DELETE …/devices/{id}, behind the authentication
// middleware (as [Server.Devices]): the caller's refresh family id is
// revoked, its refresh token stops at once and its access tokens are
// revoked on every instance sharing the revocation list. 204; 404 when
// id is not one of the caller's live families. Ending the caller's own
// family in cookie mode clears its cookies.
func (s *Server) EndDevice() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.deviceCaller(w, r)
		if !ok {
			return
		}
		id := r.PathValue("id")
		err := s.refresh.EndFamily(r.Context(), p.Subject, id)
		if errors.Is(err, refresh.ErrInvalidGrant) {
			httpx.WriteOAuthError(w, http.StatusNotFound, "not_found", "no such device")
			return
		}
		if err != nil {
			s.fail(w, r, "ending a device", err)
			return
		}
		s.log.InfoContext(r.Context(), "device ended", "sub", p.Subject, "family", id)
		s.audit(r, Event{Kind: DeviceEnded, Subject: p.Subject, TokenID: id, ClientID: p.ClientID})
		if p.FromCookie && id == s.sessionID(p) {
			s.clearCookies(w)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// deviceCaller returns the caller of the devices endpoints: an access
// token of this issuer for the whole server.
func (s *Server) deviceCaller(w http.ResponseWriter, r *http.Request) (*identity.Principal, bool) {
	p, ok := s.caller(w, r)
	switch {
	case !ok:
		return nil, false
	case !s.ours(p):
		// Families are keyed by this issuer's subjects; another issuer's
		// user of the same sub is someone else.
		httpx.WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "devices are the logins of this server: use one of its access tokens")
		return nil, false
	case s.narrowed(p):
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+s.cfg.Realm+`", error="invalid_token", error_description="a token for one resource cannot manage devices"`)
		httpx.WriteOAuthError(w, http.StatusUnauthorized, "invalid_token", "a token for one resource cannot manage devices")
		return nil, false
	}
	return p, s.firstPartyOnly(w, r, p)
}

// firstPartyOnly answers 403 to a token of a third-party client and
// reports whether p may go on: the user's logins, consents and logout
// everywhere are the account's, which the app's own clients manage, not
// an app the user allowed to see some widgets.
func (s *Server) firstPartyOnly(w http.ResponseWriter, r *http.Request, p *identity.Principal) bool {
	ok, err := s.isFirstPartyToken(r.Context(), p)
	if err != nil {
		s.fail(w, r, "checking the client of a token", err)
		return false
	}
	if !ok {
		httpx.WriteOAuthError(w, http.StatusForbidden, "access_denied", "a token of a third-party client cannot manage the account")
	}
	return ok
}

// isFirstPartyToken reports whether p's token was issued to a first-party
// client (or is another issuer's, or carries no client: the app's own).
// An error means the clients cannot be looked up now.
func (s *Server) isFirstPartyToken(ctx context.Context, p *identity.Principal) (bool, error) {
	if !s.ours(p) || p.ClientID == "" || p.ClientID == s.cfg.ClientID {
		return true, nil
	}
	if s.authz == nil || clients.IsDocumentURL(p.ClientID) {
		return false, nil // a document's client is never first-party, and is not fetched for this
	}
	c, err := s.client(ctx, p.ClientID)
	var uc *unknownClientError
	switch {
	case errors.As(err, &uc):
		return false, nil
	case err != nil:
		return false, err
	}
	return c.FirstParty, nil
}

// sessionID returns the refresh family p's access token was issued with
// (its "sid"), "" for none or for a token of another issuer.
func (s *Server) sessionID(p *identity.Principal) string {
	c, ok := p.Claims.(*token.Claims)
	if !ok || !s.ours(p) {
		return ""
	}
	var v struct {
		SID string `json:"sid"`
	}
	if c.Decode(&v) != nil {
		return ""
	}
	return v.SID
}
