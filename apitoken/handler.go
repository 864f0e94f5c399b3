package apitoken

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/httpx"
)

// DefaultManageScope is the scope the management handlers require.
const DefaultManageScope = "tokens:manage"

// HandlerConfig configures [Manager.Handlers].
type HandlerConfig struct {
	// Scope is what the caller's principal must hold to create, list or
	// revoke its tokens. Default DefaultManageScope ("tokens:manage").
	// An API token can manage tokens only if it holds it itself, and
	// only while the store holds it neither revoked nor expired.
	Scope string
	// MaxBodyBytes bounds a request body. Default 16 KiB.
	MaxBodyBytes int64
	// WriteError writes a refusal: status, a machine-readable code
	// ("invalid_request", "insufficient_scope", "not_found",
	// "temporarily_unavailable", …) and a description fit for the client.
	// Default: a JSON object {"error": code, "error_description":
	// description}.
	WriteError func(w http.ResponseWriter, r *http.Request, status int, code, description string)
	// Logger receives unexpected failures (never a token). Default:
	// discard.
	Logger *slog.Logger
	// Hooks observe the tokens the handlers create and revoke, for an
	// audit log (audit.APITokenHooks).
	Hooks HandlerHooks
}

// HandlerHooks observe [Handlers]. Nil fields are skipped; hooks run on
// the request's goroutine, once the store holds the change, before the
// answer is written. by is the caller's principal: who did it. t never
// carries the secret.
type HandlerHooks struct {
	// OnCreated runs after Create made t.
	OnCreated func(r *http.Request, by *identity.Principal, t Token)
	// OnRevoked runs after Revoke revoked t in the store (again, for a
	// token revoked already), also when telling the caches failed
	// afterwards (the answer is then 503, and a retry revokes again).
	OnRevoked func(r *http.Request, by *identity.Principal, t Token)
}

// Handlers serve the management API of API tokens for the authenticated
// caller (the principal an authentication middleware put in the
// request's context): create, list and revoke its own tokens. Each
// refuses a caller whose API token the store holds revoked or expired,
// or no longer holds, though the middleware's cache still holds it: 401
// invalid_token.
type Handlers struct {
	m   *Manager
	cfg HandlerConfig
	log *slog.Logger
}

// Handlers returns the management handlers of m.
func (m *Manager) Handlers(cfg HandlerConfig) *Handlers {
	if cfg.Scope == "" {
		cfg.Scope = DefaultManageScope
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 16 << 10
	}
	if cfg.WriteError == nil {
		cfg.WriteError = writeError
	}
	h := &Handlers{m: m, cfg: cfg, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// Router is where [Handlers.Mount] registers the handlers: an
// *http.ServeMux or a chi.Router.
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Mount registers, behind authenticate (the middleware that puts the
// caller's principal in the context):
//
//	POST   prefix         Create
//	GET    prefix         List
//	DELETE prefix/{id}    Revoke
func (h *Handlers) Mount(mux Router, prefix string, authenticate func(http.Handler) http.Handler) {
	base := strings.TrimRight(prefix, "/")
	collection := base
	if collection == "" {
		collection = "/{$}" // "/" alone would match every path
	}
	mux.Handle("POST "+collection, authenticate(h.Create()))
	mux.Handle("GET "+collection, authenticate(h.List()))
	mux.Handle("DELETE "+base+"/{id}", authenticate(h.Revoke()))
}

// TokenJSON is a token in the management API's responses. The secret
// appears only in the answer to its creation.
type TokenJSON struct {
	ID         string     `json:"id"`
	Token      string     `json:"token,omitempty"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func tokenJSON(t Token) TokenJSON {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	j := TokenJSON{ID: t.ID, Name: t.Name, Scopes: t.Scopes, CreatedAt: t.CreatedAt.UTC(),
		ExpiresAt: opt(t.ExpiresAt), LastUsedAt: opt(t.LastUsedAt), RevokedAt: opt(t.RevokedAt)}
	if j.Scopes == nil {
		j.Scopes = []string{}
	}
	return j
}

// caller is the principal of a request the handlers act for.
type caller struct {
	subject string
	p       *identity.Principal
	live    *Token // the caller's API token as the store holds it; nil for a principal of Config.SubjectIssuer
}

// caller returns the request's caller, if its principal holds the scope
// and [Manager.SubjectOf] accepts it (reading an API token from the
// store: 401 invalid_token for one revoked, expired or gone since it was
// authenticated); or writes the refusal, with an RFC 6750 challenge.
func (h *Handlers) caller(w http.ResponseWriter, r *http.Request) (caller, bool) {
	p, ok := identity.FromContext(r.Context())
	if !ok {
		w.Header().Set("WWW-Authenticate", "Bearer")
		h.cfg.WriteError(w, r, http.StatusUnauthorized, "invalid_token", "authentication required")
		return caller{}, false
	}
	if !p.HasScope(h.cfg.Scope) {
		h.insufficientScope(w, r, "managing API tokens needs the scope "+h.cfg.Scope)
		return caller{}, false
	}
	subject, live, err := h.m.caller(r.Context(), p)
	if err != nil {
		h.fail(w, r, "checking the caller's API token", err)
		return caller{}, false
	}
	return caller{subject: subject, p: p, live: live}, true
}

// insufficientScope writes a 403 insufficient_scope with its challenge
// (RFC 6750 §3.1).
func (h *Handlers) insufficientScope(w http.ResponseWriter, r *http.Request, description string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+h.cfg.Scope+`"`)
	h.cfg.WriteError(w, r, http.StatusForbidden, "insufficient_scope", description)
}

// Create answers POST with a JSON body {"name": …, "scopes": […],
// "expires_in": seconds} (application/json; only name is required; each
// member at most once, no others): 201 with the token, its secret
// included, created for the caller with [Manager.CreateFor]. A scope the
// caller lacks is 403 insufficient_scope, and so is a caller whose token
// is bound to a key (DPoP) or was asked for one resource (RFC 8707; see
// Config.CreatorAudiences): the token is good, but may not mint bearer
// tokens good everywhere, and another try with it would fail the same
// way. Any other refusal of the request is 400 invalid_request.
func (h *Handlers) Create() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := h.caller(w, r)
		if !ok {
			return
		}
		req, status, msg := h.createBody(w, r)
		if msg != "" {
			h.cfg.WriteError(w, r, status, "invalid_request", msg)
			return
		}
		raw, t, err := h.m.createFor(r.Context(), c.p, c.subject, c.live, req)
		if err != nil {
			h.fail(w, r, "creating an API token", err)
			return
		}
		if f := h.cfg.Hooks.OnCreated; f != nil {
			f(r, c.p, t)
		}
		j := tokenJSON(t)
		j.Token = raw
		httpx.WriteJSON(w, http.StatusCreated, j)
	})
}

// createBody reads the body of Create; a refusal is a status and a
// message.
func (h *Handlers) createBody(w http.ResponseWriter, r *http.Request) (CreateRequest, int, string) {
	var body struct {
		Name      *string  `json:"name"`
		Scopes    []string `json:"scopes"`
		ExpiresIn *int64   `json:"expires_in"`
	}
	if err := httpx.DecodeJSON(w, r, h.cfg.MaxBodyBytes, &body); err != nil {
		var be *httpx.BodyError
		if !errors.As(err, &be) {
			return CreateRequest{}, http.StatusBadRequest, "the body could not be read"
		}
		return CreateRequest{}, be.Status, be.Message
	}
	switch {
	case body.Name == nil:
		return CreateRequest{}, http.StatusBadRequest, "name is required"
	case len(body.Scopes) > MaxScopes:
		return CreateRequest{}, http.StatusBadRequest, fmt.Sprintf("scopes must be an array of at most %d strings", MaxScopes)
	case body.ExpiresIn != nil && (*body.ExpiresIn < 1 || *body.ExpiresIn > math.MaxInt64/int64(time.Second)):
		return CreateRequest{}, http.StatusBadRequest, "expires_in must be a whole number of seconds, from 1 to the maximum lifetime"
	}
	req := CreateRequest{Name: *body.Name, Scopes: body.Scopes}
	if body.ExpiresIn != nil {
		req.Lifetime = time.Duration(*body.ExpiresIn) * time.Second
	}
	return req, 0, ""
}

// List answers GET: 200 {"tokens": […]}, the caller's tokens, oldest
// first, without secrets or hashes; revoked and expired ones too, until
// purged.
func (h *Handlers) List() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := h.caller(w, r)
		if !ok {
			return
		}
		ts, err := h.m.List(r.Context(), c.subject)
		if err != nil {
			h.fail(w, r, "listing API tokens", err)
			return
		}
		out := struct {
			Tokens []TokenJSON `json:"tokens"`
		}{Tokens: make([]TokenJSON, 0, len(ts))}
		for _, t := range ts {
			out.Tokens = append(out.Tokens, tokenJSON(t))
		}
		httpx.WriteJSON(w, http.StatusOK, out)
	})
}

// Revoke answers DELETE …/{id} (the path value "id"): 204 once the
// caller's token is revoked (again, if it was already); 404 for an id
// that is not one of the caller's tokens.
func (h *Handlers) Revoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := h.caller(w, r)
		if !ok {
			return
		}
		t, err := h.m.Revoke(r.Context(), c.subject, r.PathValue("id"))
		if f := h.cfg.Hooks.OnRevoked; f != nil && t.ID != "" {
			f(r, c.p, t) // revoked in the store, whatever the push did
		}
		if err != nil {
			h.fail(w, r, "revoking an API token", err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	})
}

// fail writes the answer to a failed operation.
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, ErrScope):
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
		h.cfg.WriteError(w, r, http.StatusForbidden, "insufficient_scope", "a token cannot hold a scope its creator lacks")
	case errors.Is(err, ErrConstrained):
		description := "a token asked for one resource cannot create API tokens, which are good at every resource"
		switch {
		case errors.Is(err, errBound):
			description = "a token bound to a key (DPoP) cannot create API tokens, which are bearer tokens"
		case errors.Is(err, errNoCreatorAudiences):
			description = "access tokens cannot create API tokens on this server"
			h.log.WarnContext(r.Context(), "apitoken: an access token was refused: Config.CreatorAudiences is empty")
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", error_description="`+description+`"`)
		h.cfg.WriteError(w, r, http.StatusForbidden, "insufficient_scope", description)
	case errors.Is(err, errCaller), errors.Is(err, errCutoff):
		// The caller's API token, revoked, expired or gone since the
		// middleware authenticated it: a cache still holds it, or
		// another instance revoked it before this one heard of it; or
		// its access token, issued before its user's cut-off.
		description := "the API token is no longer valid"
		switch {
		case errors.Is(err, errCutoff):
			description = "the access token was issued before its user logged out everywhere"
		case errors.Is(err, ErrRevoked):
			description = "the API token has been revoked"
		case errors.Is(err, ErrExpired):
			description = "the API token has expired"
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+description+`"`)
		h.cfg.WriteError(w, r, http.StatusUnauthorized, "invalid_token", description)
	case errors.Is(err, ErrForeignIssuer):
		h.cfg.WriteError(w, r, http.StatusForbidden, "forbidden", "API tokens belong to this API's own users; this credential's issuer is not theirs")
	case errors.Is(err, ErrInvalid):
		h.cfg.WriteError(w, r, http.StatusBadRequest, "invalid_request", strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	case errors.Is(err, ErrNotFound):
		h.cfg.WriteError(w, r, http.StatusNotFound, "not_found", "no such token")
	case r.Context().Err() != nil:
		h.cfg.WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "request cancelled")
	default:
		// The store, or the revocation list after the store revoked.
		h.log.ErrorContext(r.Context(), what+" failed", "err", err)
		w.Header().Set("Retry-After", "1")
		h.cfg.WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "the token store cannot answer; retry")
	}
}

func writeError(w http.ResponseWriter, _ *http.Request, status int, code, description string) {
	httpx.WriteOAuthError(w, status, code, description)
}
