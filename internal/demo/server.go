package demo

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	graphql "github.com/graph-gophers/graphql-go"
	"github.com/rs/cors"

	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/audit"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/httpx"
	"github.com/sessionless/sessionless/metrics"
	"github.com/sessionless/sessionless/metrics/prometheus"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/oidc"
	"github.com/sessionless/sessionless/password"
	"github.com/sessionless/sessionless/revocation"
	"github.com/sessionless/sessionless/token"
	"github.com/sessionless/sessionless/token/endpoint"
)

const (
	clientID   = "demo-api" // "client_id" of the tokens /auth/login issues
	realm      = "demo-api" // of the WWW-Authenticate challenge
	scopeRead  = "widgets:read"
	scopeWrite = "widgets:write"
	// scopeManageTokens lets a caller create, list and revoke its API
	// tokens.
	scopeManageTokens = "tokens:manage"
	jwksMaxAge        = 5 * time.Minute
)

// server holds the handlers of the demo API.
type server struct {
	// authn is the demo's auth, built on the library's short path
	// (sessionless.New); the fields below are its parts.
	authn       *sessionless.Auth
	keys        token.KeySource
	auth        *middleware.Authenticator
	endpoints   *endpoint.Server
	oidcLogin   *oidc.Login // nil without -oidc-client-id
	resources   resources
	corsOrigins []string
	graphql     *graphql.Schema
	revocations *revocation.List
	apiTokens   *apitoken.Handlers
	widgets     *widgetStore
	failOpen    bool // the revocation list fails open
	metrics     *prometheus.Exporter
	requestLog  bool // -request-log: a line per request
	log         *slog.Logger
}

// deps are what the server is built on.
type deps struct {
	users     UserStore
	db        *sql.DB // the users' database, where the stores go too
	keys      *token.KeySet
	passwords *password.Hasher
	log       *slog.Logger
	// audit receives the audit records (-audit-log), apart from log; nil:
	// none.
	audit *slog.Logger
}

// newServer returns the API for cfg, its auth opened on -db and -redis
// (see newAuth); cfg.Issuer must be set. Close closes what it opened.
func newServer(cfg Config, d deps) (_ *server, err error) {
	log := d.log
	res := resourcesOf(cfg.Issuer)
	exp, err := prometheus.New(metrics.Config{})
	if err != nil {
		return nil, err
	}
	a, err := newAuth(cfg, d.users, d.db, d.keys, d.passwords, res, log, d.audit, exp.Metrics)
	if err != nil {
		exp.Shutdown(context.Background())
		return nil, err
	}
	defer func() {
		if err != nil {
			a.Close()
			exp.Shutdown(context.Background())
		}
	}()
	login, err := oidcLogin(cfg, d.users, a.Endpoints, log)
	if err != nil {
		return nil, err
	}
	srv := &server{authn: a, keys: a.Keys, auth: a.Authenticator, endpoints: a.Endpoints, oidcLogin: login,
		resources: res, corsOrigins: cfg.CORSOrigins, revocations: a.Revocations, widgets: newWidgetStore(),
		apiTokens: a.APITokens.Handlers(apitoken.HandlerConfig{
			Scope: scopeManageTokens,
			WriteError: func(w http.ResponseWriter, _ *http.Request, status int, code, description string) {
				httpx.WriteProblem(w, status, code, description)
			},
			Logger: log,
			// Each token created and revoked, and by whom, to the audit
			// log, and counted.
			Hooks: apiTokenHooks(audit.APITokenHooks(a.Audit), exp.Metrics),
		}),
		metrics:  exp,
		failOpen: cfg.RevocationFailOpen, requestLog: cfg.RequestLog, log: log}
	if srv.graphql, err = newGraphQL(srv); err != nil {
		return nil, err
	}
	return srv, nil
}

// Shutdown writes the API tokens' last uses and closes the stores (see
// sessionless.Auth.Shutdown), and stops the metrics.
func (s *server) Shutdown(ctx context.Context) error {
	err := s.authn.Shutdown(ctx)
	return errors.Join(err, s.metrics.Shutdown(ctx))
}

// apiTokenHooks runs the audit hooks, then counts.
func apiTokenHooks(h apitoken.HandlerHooks, m *metrics.Metrics) apitoken.HandlerHooks {
	created, revoked := h.OnCreated, h.OnRevoked
	h.OnCreated = func(r *http.Request, by *identity.Principal, t apitoken.Token) {
		if created != nil {
			created(r, by, t)
		}
		m.APITokenCreated(r.Context())
	}
	h.OnRevoked = func(r *http.Request, by *identity.Principal, t apitoken.Token) {
		if revoked != nil {
			revoked(r, by, t)
		}
		m.APITokenRevoked(r.Context())
	}
	return h
}

// The demo's protected resources (RFC 8707 resource indicators, RFC 9728
// resource identifiers): the whole server (its URL is the issuer's), the
// REST API under it, the GraphQL endpoint and the MCP endpoint. A token
// asked for /api, /graphql or /mcp has that URL as its audience and is
// accepted there only: what an AI agent got for /mcp calls no REST route.
type resources struct {
	all, api, graphql, mcp middleware.Resource
}

// resourcesOf returns the demo's resources under issuer.
func resourcesOf(issuer string) resources {
	base := strings.TrimRight(issuer, "/")
	r := func(u string, scopes ...string) middleware.Resource {
		return middleware.Resource{URL: u, AuthorizationServers: []string{issuer}, Scopes: scopes}
	}
	// The widgets' resources list the widgets' scopes; managing API
	// tokens (which outlive any consent) belongs to the whole server.
	api := r(base+"/api", scopeRead, scopeWrite)
	// The API tokens' routes act for the whole server (an API token is
	// good at every resource): they are not part of /api.
	api.Except = []string{base + "/api/tokens"}
	return resources{all: r(issuer, scopeRead, scopeWrite, scopeManageTokens), api: api,
		graphql: r(base+"/graphql", scopeRead, scopeWrite), mcp: r(base+"/mcp", scopeRead, scopeWrite)}
}

func (r resources) list() []middleware.Resource {
	return []middleware.Resource{r.all, r.api, r.graphql, r.mcp}
}

// generalAudiences are the audiences of the tokens good at every
// resource: the demo's own, and the providers' (with -oidc-issuer). An
// audience that is the URL of one of res is not: a token for it is
// narrowed to that resource (RFC 8707), whoever issued it.
func generalAudiences(cfg Config, res resources) []string {
	var auds []string
	candidates := []string{cfg.Audience}
	for _, iss := range cfg.OIDCIssuers {
		candidates = append(candidates, cfg.audienceOf(iss))
	}
	for _, aud := range candidates {
		if aud != "" && !slices.Contains(auds, aud) && !slices.Contains(res.urls(), aud) {
			auds = append(auds, aud)
		}
	}
	return auds
}

func (r resources) urls() []string { return []string{r.all.URL, r.api.URL, r.graphql.URL, r.mcp.URL} }

// cors lets the browser apps of -cors-origin call the API (rs/cors):
// preflights answered, the bearer token in Authorization, never
// credentials (cookies): the API authenticates with bearer tokens, and a
// wildcard origin with credentials would let any site act for the user.
func (s *server) cors(next http.Handler) http.Handler {
	if len(s.corsOrigins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins: s.corsOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete},
		// Mcp-Protocol-Version: browser MCP clients (the MCP Inspector)
		// send it on every request after initialize.
		AllowedHeaders:   []string{"Authorization", "Content-Type", "DPoP", "Mcp-Protocol-Version"},
		ExposedHeaders:   []string{"WWW-Authenticate", "Retry-After", "Location", "DPoP-Nonce"}, // RFC 9449 §8
		AllowCredentials: false,
		MaxAge:           600,
	}).Handler(next)
}

// routes returns the handler of the whole API, request logging included
// with -request-log.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	// Login, tokens and logout: package token/endpoint, which limits
	// password attempts (login, the password grant) per client address,
	// per username and per user.
	handle(mux, "/auth/login", route{http.MethodPost, s.endpoints.Login()})
	handle(mux, "/auth/token", route{http.MethodPost, s.endpoints.Token()})
	handle(mux, "/auth/revoke", route{http.MethodPost, s.endpoints.Revoke()})
	handle(mux, "/auth/logout", route{http.MethodPost, s.auth.Middleware(s.endpoints.Logout())})
	// Logging out everywhere acts on the whole server: a token narrowed
	// to one resource (RFC 8707) may not (it may log itself out).
	handle(mux, "/auth/logout-all", route{http.MethodPost, s.auth.Protect(s.resources.all)(s.endpoints.LogoutAll())})
	// Where the user is logged in (refresh families), and ending one:
	// for the whole server too.
	handle(mux, "/auth/devices", route{http.MethodGet, s.auth.Protect(s.resources.all)(s.endpoints.Devices())})
	handle(mux, "/auth/devices/{id}", route{http.MethodDelete, s.auth.Protect(s.resources.all)(s.endpoints.EndDevice())})
	// The authorization code grant (OAuth 2.1): the login and consent
	// pages, the third-party clients the user allowed, and registration
	// (RFC 7591, -registration) for apps and AI agents.
	handle(mux, "/auth/authorize", route{http.MethodGet, s.endpoints.Authorize()}, route{http.MethodPost, s.endpoints.Authorize()})
	handle(mux, "/auth/consents",
		route{http.MethodGet, s.auth.Protect(s.resources.all)(s.endpoints.Consents())},
		route{http.MethodDelete, s.auth.Protect(s.resources.all)(s.endpoints.RevokeConsent())})
	if reg := s.endpoints.Register(); reg != nil {
		handle(mux, "/auth/register", route{http.MethodPost, reg})
	}
	if s.oidcLogin != nil {
		// Log in through the OpenID Connect provider (-oidc-client-id):
		// the callback answers with the demo's own tokens. Under the same
		// address budget as the endpoints.
		limit := s.endpoints.Throttle().Limit
		handle(mux, "/auth/oidc/login", route{http.MethodGet, limit(s.oidcLogin.Start())})
		handle(mux, "/auth/oidc/callback", route{http.MethodGet, limit(s.oidcLogin.Callback())})
	}
	handle(mux, "/.well-known/jwks.json", route{http.MethodGet, token.JWKSHandler(s.keys, jwksMaxAge)})
	// Authorization server metadata (RFC 8414), and protected resource
	// metadata (RFC 9728), a document per resource.
	meta := s.endpoints.Metadata("/auth")
	for _, path := range s.endpoints.MetadataPaths() {
		handle(mux, path, route{http.MethodGet, meta})
	}
	handle(mux, middleware.WellKnownResourceMetadata, route{http.MethodGet, s.auth.Documents()})
	handle(mux, middleware.WellKnownResourceMetadata+"/", route{http.MethodGet, s.auth.Documents()})
	// Liveness (the process answers) and readiness (every backend it
	// needs answers: the database, Redis, the revocation list in sync,
	// the providers' keys), for load balancers and Kubernetes probes.
	handle(mux, "/healthz", route{http.MethodGet, http.HandlerFunc(s.healthz)})
	handle(mux, "/readyz", route{http.MethodGet, s.authn.ReadyHandler()})
	// Metrics for Prometheus (package metrics): authentications by method
	// and outcome, cache, latency, logins, endpoint events, API tokens,
	// the revocation list; no subject, token or path in a label.
	handle(mux, "/metrics", route{http.MethodGet, s.metrics.Handler})

	// Every /api/ route needs a valid access token; the widget routes
	// need a scope too.
	handle(mux, "/api/me", route{http.MethodGet, s.api(s.me)})
	handle(mux, "/api/widgets",
		route{http.MethodGet, s.api(s.listWidgets, scopeRead)},
		route{http.MethodPost, s.api(s.createWidget, scopeWrite)})
	handle(mux, "/api/widgets/{id}",
		route{http.MethodGet, s.api(s.getWidget, scopeRead)},
		route{http.MethodDelete, s.api(s.deleteWidget, scopeWrite)})
	// GraphQL: the same data behind the same middleware (401 as for /api);
	// fields check their scopes.
	handle(mux, "/graphql", route{http.MethodPost, s.protect(s.resources.graphql, s.graphqlHandler)})
	// MCP (streamable HTTP, stateless) for AI agents: the widget tools,
	// each needing the scope of its REST route (403 step-up challenge).
	handle(mux, "/mcp", route{http.MethodPost, s.mcpHandler()})
	// API tokens of the caller: package apitoken's handlers, which check
	// the tokens:manage scope and narrow what a new token may hold.
	// The scope is checked by the middleware first, so that its refusal
	// has the shape and challenge of every other /api route. An API token
	// is good at every resource: its routes act for the whole server, and
	// a token narrowed to /api or /graphql (RFC 8707) is refused there,
	// its challenge pointing at the whole server's metadata.
	handle(mux, "/api/tokens",
		route{http.MethodPost, s.protect(s.resources.all, s.apiTokens.Create().ServeHTTP, scopeManageTokens)},
		route{http.MethodGet, s.protect(s.resources.all, s.apiTokens.List().ServeHTTP, scopeManageTokens)})
	handle(mux, "/api/tokens/{id}", route{http.MethodDelete, s.protect(s.resources.all, s.apiTokens.Revoke().ServeHTTP, scopeManageTokens)})
	// The web app (GET /), logged in with cookie mode.
	registerWeb(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		errorFor(r.URL.Path)(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	// The metrics' timing goes around the routes' authentication (one
	// request in 128 timed).
	h := s.cors(limitBodies(s.metrics.Metrics.Middleware(mux)))
	if s.requestLog {
		h = s.logRequests(h)
	}
	return h
}

// api wraps h in the authentication middleware and, when scopes are
// given, a check that the token holds every one of them.
func (s *server) api(h http.HandlerFunc, scopes ...string) http.Handler {
	return s.protect(s.resources.api, h, scopes...)
}

// protect wraps h in the authentication middleware for res, which also
// refuses a token meant for another resource, and, when scopes are
// given, a check that the token holds every one of them.
func (s *server) protect(res middleware.Resource, h http.HandlerFunc, scopes ...string) http.Handler {
	var next http.Handler = h
	if len(scopes) > 0 {
		next = s.auth.RequireScopes(scopes...)(next)
	}
	return s.auth.Protect(res)(next)
}

// route is one method of a path.
type route struct {
	method string
	h      http.Handler
}

// handle registers the routes of path, and a JSON 405 for the path's
// other methods. A GET route also serves HEAD.
func handle(mux *http.ServeMux, path string, routes ...route) {
	var methods []string
	for _, rt := range routes {
		mux.Handle(rt.method+" "+path, rt.h)
		methods = append(methods, rt.method)
		if rt.method == http.MethodGet {
			methods = append(methods, http.MethodHead)
		}
	}
	allow := strings.Join(methods, ", ")
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		errorFor(path)(w, http.StatusMethodNotAllowed, "method_not_allowed", "use "+allow)
	})
}

// errorFor returns the error writer of path: problem+json under /api and
// /graphql, the OAuth 2.0 shape ({"error", "error_description"}, RFC 6749
// §5.2) elsewhere.
func errorFor(path string) func(http.ResponseWriter, int, string, string) {
	if path == "/api" || strings.HasPrefix(path, "/api/") || path == "/graphql" || strings.HasPrefix(path, "/graphql/") {
		return httpx.WriteProblem
	}
	return httpx.WriteOAuthError
}

// bodyProblem answers a request body httpx refused.
func bodyProblem(w http.ResponseWriter, err error) {
	var be *httpx.BodyError
	if !errors.As(err, &be) {
		be = &httpx.BodyError{Status: http.StatusBadRequest, Message: "the body could not be read"}
	}
	httpx.WriteProblem(w, be.Status, "invalid_request", be.Message)
}

// maxBodyBytes bounds every request body; endpoints read less.
const maxBodyBytes = 1 << 20

// limitBodies caps every request body at maxBodyBytes.
func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			errorFor(r.URL.Path)(w, http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

type meResponse struct {
	Subject    string   `json:"sub"`
	Issuer     string   `json:"iss"`
	Audience   []string `json:"aud"`
	ExpiresAt  int64    `json:"exp"`
	IssuedAt   int64    `json:"iat"`
	ID         string   `json:"jti"`
	ClientID   string   `json:"client_id,omitempty"`
	Scopes     []string `json:"scopes"`
	Roles      []string `json:"roles"`
	AuthMethod string   `json:"auth_method"`
	// Credential is where the credential came from: "cookie" (the web
	// app's HttpOnly cookie, or a legacy session's) or "header"
	// (Authorization).
	Credential string `json:"credential"`
}

// me returns what the authenticated principal is: who, from which issuer,
// with which scopes and roles.
func (s *server) me(w http.ResponseWriter, r *http.Request) {
	p, ok := identity.FromContext(r.Context())
	if !ok { // unreachable behind the middleware
		s.serverError(w, r, "/api/me", errors.New("no principal in the context"))
		return
	}
	resp := meResponse{
		Subject:    p.Subject,
		Issuer:     p.Issuer,
		Audience:   []string{},
		ExpiresAt:  unixOrZero(p.ExpiresAt),
		IssuedAt:   unixOrZero(p.IssuedAt),
		ID:         p.TokenID,
		ClientID:   p.ClientID,
		Scopes:     p.Scopes,
		Roles:      p.Roles,
		AuthMethod: string(p.Method),
		Credential: "header",
	}
	if p.FromCookie {
		resp.Credential = "cookie"
	}
	switch c := p.Claims.(type) {
	case *token.Claims:
		if c.Audience != nil {
			resp.Audience = c.Audience
		}
	case *oidc.Claims:
		if c.Audience != nil {
			resp.Audience = c.Audience
		}
	}
	if resp.Scopes == nil {
		resp.Scopes = []string{}
	}
	if resp.Roles == nil {
		resp.Roles = []string{}
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
}

// unixOrZero is t in Unix seconds, or 0 for the zero time.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// healthz is the liveness probe: the process serves requests. Whether
// its backends answer is /readyz's (sessionless.Auth.ReadyHandler): a
// database outage must take the instance out of rotation, not get it
// restarted.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	write := errorFor(r.URL.Path)
	if r.Context().Err() != nil { // the client is gone
		write(w, http.StatusServiceUnavailable, "temporarily_unavailable", "request cancelled")
		return
	}
	s.log.ErrorContext(r.Context(), what+" failed", "err", err)
	write(w, http.StatusInternalServerError, "server_error", "internal error")
}

// logRequests logs every request (-request-log): method, path (without
// the query, which could hold secrets), status and duration. Never
// headers or bodies. Off by default: under load it is a line per request
// (291 MB in two minutes); the audit log has what security needs.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)))
	})
}

// statusWriter records the status code of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
