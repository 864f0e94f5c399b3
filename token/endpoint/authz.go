package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/token/authcode"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/consent"
)

// authz is the state of the authorization code grant.
type authz struct {
	clients   clients.Lookup
	codes     *authcode.Manager
	consents  consent.Store
	sealer    *sealer
	lifetime  time.Duration
	cross     *http.CrossOriginProtection
	service   string
	scopeText map[string]string
	registrar *clients.Registrar // nil: no dynamic registration
	documents bool               // metadata documents are looked up
}

func (s *Server) newAuthz(ac AuthorizationConfig) (*authz, error) {
	if ac.Clients == nil {
		return nil, errors.New("endpoint: AuthorizationConfig.Clients is required")
	}
	a := &authz{clients: ac.Clients, consents: ac.Consents, lifetime: ac.RequestLifetime, service: ac.ServiceName,
		scopeText: ac.ScopeDescriptions}
	switch {
	case a.lifetime == 0:
		a.lifetime = defaultRequestLifetime
	case a.lifetime < 0 || a.lifetime > time.Hour:
		return nil, errors.New("endpoint: AuthorizationConfig.RequestLifetime must be at most an hour")
	}
	if a.service == "" {
		a.service = s.cfg.Issuer.Name()
		if u, err := url.Parse(a.service); err == nil && u.Host != "" {
			a.service = u.Host
		}
	}
	if a.consents == nil {
		a.consents = consent.NewMemoryStore()
	}
	var err error
	if a.sealer, err = newSealer(ac.SealKeys); err != nil {
		return nil, err
	}
	codes := ac.Codes
	if codes == nil {
		codes = authcode.NewMemoryStore()
	}
	a.codes, err = authcode.New(authcode.Config{Store: codes, Lifetime: ac.CodeLifetime, Now: s.now,
		Revoker: authcode.RevokerFunc(s.revokeIssued)})
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	// Its own check, trusting no other origin: the origins cookie mode
	// trusts may call the API, not fill in the login and consent forms.
	a.cross = http.NewCrossOriginProtection()
	reg, _ := ac.Clients.(*clients.Registry)
	a.documents = reg != nil && reg.Documents != nil
	if rc := ac.Registration; rc != nil {
		cfg := *rc
		if cfg.Store == nil && reg != nil {
			cfg.Store = reg.Registered
		}
		if cfg.Store == nil {
			return nil, errors.New("endpoint: registration needs a store: RegistrarConfig.Store, or Clients a *clients.Registry with Registered")
		}
		if reg != nil && reg.Registered != cfg.Store {
			return nil, errors.New("endpoint: the registration store is not the one Clients looks registered clients up in")
		}
		if cfg.Scopes == nil {
			cfg.Scopes = s.scopesSupported()
		}
		if cfg.Allow == nil && s.throttle != nil {
			cfg.Allow = func(r *http.Request) (bool, time.Duration) {
				var le *LimitError
				if err := s.throttle.CheckAddress(r); errors.As(err, &le) {
					return false, le.RetryAfter
				}
				return true, 0 // a throttle that cannot answer: the registrar's global limit still holds
			}
		}
		if cfg.Now == nil {
			cfg.Now = s.now
		}
		if cfg.Logger == nil {
			cfg.Logger = s.log
		}
		if a.registrar, err = clients.NewRegistrar(cfg); err != nil {
			return nil, fmt.Errorf("endpoint: %w", err)
		}
	}
	return a, nil
}

// Register returns the dynamic client registration endpoint (RFC 7591)
// of AuthorizationConfig.Registration, for POST …/register, or nil when
// registration is off.
func (s *Server) Register() http.Handler {
	if s.authz == nil || s.authz.registrar == nil {
		return nil
	}
	return s.authz.registrar
}

// PurgeAuthorization deletes the authorization codes past their
// lifetime (and the used ones past authcode.Config.KeepUsed), and the
// client registrations that expired unused (with a *clients.Registry
// whose Registered store is set): for a periodic job. Nothing without
// Config.Authorization.
func (s *Server) PurgeAuthorization(ctx context.Context) error {
	if s.authz == nil {
		return nil
	}
	_, err := s.authz.codes.Purge(ctx)
	if reg, ok := s.authz.clients.(*clients.Registry); ok && reg.Registered != nil {
		_, rerr := reg.Registered.Purge(ctx, s.now())
		err = errors.Join(err, rerr)
	}
	return err
}

// scopesSupported lists the scopes of Config.Resources.
func (s *Server) scopesSupported() []string {
	var out []string
	for _, res := range s.cfg.Resources {
		for _, sc := range res.Scopes {
			if !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		}
	}
	return out
}

// revokeIssued revokes what a code issued, for a code presented twice
// (RFC 6749 §4.1.2): its refresh family, and its access token.
func (s *Server) revokeIssued(ctx context.Context, i authcode.Issued) error {
	var errs []error
	if i.RefreshFamily != "" {
		errs = append(errs, s.refresh.RevokeFamily(ctx, i.RefreshFamily))
	}
	if i.AccessID != "" {
		errs = append(errs, s.cfg.Revocation.RevokeToken(ctx, i.AccessIssuer, i.AccessID, i.AccessExpiresAt))
	}
	return errors.Join(errs...)
}

// consentEntry is one entry of the consents list.
type consentEntry struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name,omitempty"`
	Scopes     []string  `json:"scopes"`
	GrantedAt  time.Time `json:"granted_at"`
}

// Consents returns GET …/consents, behind the authentication middleware
// (as [Server.Devices]): the third-party clients the caller has allowed,
// with the scopes and when, newest first.
func (s *Server) Consents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authz == nil {
			http.NotFound(w, r)
			return
		}
		p, ok := s.deviceCaller(w, r)
		if !ok {
			return
		}
		list, err := s.authz.consents.List(r.Context(), p.Subject, 0)
		if err != nil {
			s.fail(w, r, "consents", err)
			return
		}
		out := make([]consentEntry, 0, len(list))
		for _, c := range list {
			e := consentEntry{ClientID: c.ClientID, Scopes: c.Scopes, GrantedAt: c.GrantedAt.UTC()}
			// A document's client is named by its URL here: no fetch per
			// entry of a list.
			if !clients.IsDocumentURL(c.ClientID) {
				if cl, err := s.client(r.Context(), c.ClientID); err == nil && cl.Name != "" {
					e.ClientName = cl.Name
				}
			}
			out = append(out, e)
		}
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(w, http.StatusOK, struct {
			Consents []consentEntry `json:"consents"`
		}{out})
	})
}

// RevokeConsent returns DELETE …/consents?client_id=…, behind the
// authentication middleware: the caller withdraws the consent, and the
// refresh families the client holds for the caller are revoked with
// their access tokens. 204; 404 when there is no such consent.
func (s *Server) RevokeConsent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authz == nil {
			http.NotFound(w, r)
			return
		}
		p, ok := s.deviceCaller(w, r)
		if !ok {
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		id := q.Get("client_id")
		if err != nil || id == "" || len(q["client_id"]) > 1 {
			httpx.WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "name the client with one client_id parameter")
			return
		}
		ctx := r.Context()
		if !clients.IsDocumentURL(id) { // a document's client is never first-party: no fetch
			if c, err := s.client(ctx, id); err == nil && c.FirstParty {
				// The app's own clients need no consent, and "withdrawing"
				// one would end every login of the user in the app.
				httpx.WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "a first-party client has no consent to withdraw")
				return
			}
		}
		found, err := s.authz.consents.Revoke(ctx, p.Subject, id)
		if err != nil {
			s.fail(w, r, "revoking a consent", err)
			return
		}
		// The client's tokens end too: that is what withdrawing means.
		fams, err := s.refresh.Families(ctx, p.Subject)
		if err != nil {
			s.fail(w, r, "revoking a consent", err)
			return
		}
		n := 0
		for _, f := range fams {
			if f.Grant.ClientID == id {
				if err := s.refresh.RevokeFamily(ctx, f.ID); err != nil {
					s.fail(w, r, "revoking a consent", err)
					return
				}
				n++
			}
		}
		if !found && n == 0 {
			httpx.WriteOAuthError(w, http.StatusNotFound, "not_found", "no consent for this client")
			return
		}
		s.log.InfoContext(ctx, "consent revoked", "sub", p.Subject, "client_id", id, "families", n)
		s.audit(r, Event{Kind: ConsentRevoked, Subject: p.Subject, ClientID: id})
		w.WriteHeader(http.StatusNoContent)
	})
}
