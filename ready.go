package sessionless

import (
	"context"
	"net/http"
	"time"

	"github.com/sessionless/sessionless/internal/httpx"
)

// DefaultReadyTimeout bounds each check of [Auth.Ready] that asks a
// backend (the database, Redis).
const DefaultReadyTimeout = 2 * time.Second

// Readiness is what [Auth.Ready] found: each backend the instance needs,
// by name, with "ok" or what is wrong, and whether all of them let it
// serve.
type Readiness struct {
	Ready bool `json:"ready"`
	// Checks names each backend: "database" (Config.Database or DB),
	// "redis" (Config.Redis), "revocations" (the revocation list: "stale"
	// once it has not synced within its staleness bound), and
	// "provider <issuer>" for each provider ("no keys yet" until its keys
	// are fetched).
	Checks map[string]string `json:"checks"`
}

// Ready checks, now, every backend the instance needs to answer requests
// rather than 503: the database and Redis answer a ping (each within
// DefaultReadyTimeout), the revocation list is in sync (a list that fails
// open on purpose is reported "stale, failing open" and ready), and every
// provider has its keys. For a readiness probe: a load balancer or
// Kubernetes takes an instance that is not ready out of rotation, and
// puts it back when it is, while a liveness probe (the process answers)
// leaves it running.
func (a *Auth) Ready(ctx context.Context) Readiness {
	rd := Readiness{Ready: true, Checks: map[string]string{}}
	set := func(name, problem string, fatal bool) {
		if problem == "" {
			rd.Checks[name] = "ok"
			return
		}
		rd.Checks[name] = problem
		if fatal {
			rd.Ready = false
		}
	}
	if a.db != nil {
		cctx, cancel := context.WithTimeout(ctx, DefaultReadyTimeout)
		problem := ""
		if a.db.PingContext(cctx) != nil {
			problem = "unreachable"
		}
		cancel()
		set("database", problem, true)
	}
	if a.redis != nil {
		cctx, cancel := context.WithTimeout(ctx, DefaultReadyTimeout)
		problem := ""
		if a.redis.Ping(cctx).Err() != nil {
			problem = "unreachable"
		}
		cancel()
		set("redis", problem, true)
	}
	if a.Revocations != nil {
		switch {
		case !a.Revocations.Stale():
			set("revocations", "", true)
		case a.failOpen:
			set("revocations", "stale, failing open", false)
		default:
			set("revocations", "stale", true)
		}
	}
	for _, p := range a.Providers {
		problem := ""
		if !p.HasKeys() {
			problem = "no keys yet"
		}
		set("provider "+p.Issuer(), problem, true)
	}
	return rd
}

// ReadyHandler serves [Auth.Ready] for GET and HEAD (at /readyz, say):
// 200 with {"status": "ready", "checks": {…}} or 503 with {"status":
// "unavailable", "checks": {…}} naming what is wrong, never cached. It
// names backends, never addresses or errors: mount it where probes reach
// it.
func (a *Auth) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpx.WriteOAuthError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET or HEAD")
			return
		}
		rd := a.Ready(r.Context())
		status, word := http.StatusOK, "ready"
		if !rd.Ready {
			status, word = http.StatusServiceUnavailable, "unavailable"
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(w, status, struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}{word, rd.Checks})
	})
}
