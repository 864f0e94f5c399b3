package sessionless

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/audit"
	"github.com/sessionless/sessionless/token"
)

// Router is where [Auth.Mount] registers handlers: an *http.ServeMux or a
// chi.Router (both take "METHOD /path" patterns).
type Router interface {
	Handle(pattern string, h http.Handler)
}

// JWKSPath is where [Auth.Mount] serves the public keys, and where the
// endpoints' metadata says they are.
const JWKSPath = "/.well-known/jwks.json"

// Mount registers on r what the configuration turned on:
//   - the public keys at JWKSPath (RFC 7517; none for an HMAC secret);
//   - with Config.Endpoints, under prefix ("/auth"): POST login, token,
//     revoke, and, behind the middleware, logout and logout-all
//     (token/endpoint), and the RFC 8414 metadata at its well-known
//     locations;
//   - with Config.APITokens, behind the middleware: POST, GET
//     prefix/api-tokens and DELETE prefix/api-tokens/{id}, the users'
//     management of their API tokens (apitoken), each token created and
//     revoked written to Config.Audit;
//   - with Config.Middleware.Resources, the RFC 9728 documents.
func (a *Auth) Mount(r Router, prefix string) {
	r.Handle("GET "+JWKSPath, a.JWKS())
	if a.Endpoints != nil {
		if cc, on := a.Endpoints.Cookies(); on && cc.RefreshPath != strings.TrimRight(prefix, "/")+"/token" {
			// Right behind a proxy that strips a path; else browsers never
			// send the refresh cookie to the token endpoint.
			a.log.Warn("the refresh cookie's path is not the token endpoint's: browsers will not send it there unless a proxy strips a prefix",
				"refresh_path", cc.RefreshPath, "token_endpoint", strings.TrimRight(prefix, "/")+"/token")
		}
		a.Endpoints.Mount(r, prefix, a.Middleware)
		meta := a.Endpoints.Metadata(prefix)
		for _, path := range a.Endpoints.MetadataPaths() {
			r.Handle("GET "+path, meta)
		}
	}
	if a.APITokens != nil {
		a.APITokens.Handlers(apitoken.HandlerConfig{Logger: a.log, Hooks: audit.APITokenHooks(a.Audit)}).Mount(r, prefix+"/api-tokens", a.Middleware)
	}
	if a.resources {
		a.MountMetadata(r)
	}
}

// JWKS serves the public keys (RFC 7517), for other services that verify
// these tokens; nothing for an HMAC secret.
func (a *Auth) JWKS() http.Handler { return token.JWKSHandler(a.Keys, 0) }

// Shutdown ends what New started and closes what it opened, in reverse
// order: the purge of the database stops, the API tokens' last uses are
// written, then the revocation list, Redis and the database are closed
// (a list, store or database given in the Config stays open: it is the
// caller's). Call it once the server has stopped taking requests
// ([Serve] does). Later calls return the first one's error. ctx bounds
// the wait for the purge in progress.
func (a *Auth) Shutdown(ctx context.Context) error {
	a.shutdown.Do(func() {
		if a.stopWarming != nil {
			a.stopWarming()
			a.warming.Wait() // each fetch ends when cancelled
		}
		if a.stop != nil {
			a.stop()
			select {
			case <-a.done:
			case <-ctx.Done():
				a.err = ctx.Err()
			}
		}
		var errs []error
		for i := len(a.closers) - 1; i >= 0; i-- {
			errs = append(errs, a.closers[i]())
		}
		a.err = errors.Join(append(errs, a.err)...)
	})
	return a.err
}

// Close is Shutdown without a deadline.
func (a *Auth) Close() error { return a.Shutdown(context.Background()) }

// ShutdownTimeout bounds what [Serve] does after a signal: the requests
// in flight end, then auth shuts down, all within it (under the 30 s an
// orchestrator such as Kubernetes gives by default before SIGKILL).
const ShutdownTimeout = 25 * time.Second

// Serve runs srv (ListenAndServe, or ListenAndServeTLS when srv.TLSConfig
// holds a certificate) until ctx ends or the process gets SIGINT or
// SIGTERM, then shuts srv down (the requests in flight end) and auth
// ([Auth.Shutdown]), both within ShutdownTimeout; a second signal during
// that stops the process at once, as signals do by default. When the
// drain takes the whole deadline, the connections left are closed, and
// auth is shut down all the same (its stores are closed even if a purge
// was still running). It returns
// nil after such a stop, and the server's error if it could not serve
// (the port is taken): auth is shut down either way. It is the main of
// most programs:
//
//	if err := sessionless.Serve(context.Background(), &http.Server{Addr: ":8080", Handler: mux}, auth); err != nil {
//		log.Fatal(err)
//	}
func Serve(ctx context.Context, srv *http.Server, auth *Auth) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil && (len(srv.TLSConfig.Certificates) > 0 || srv.TLSConfig.GetCertificate != nil) {
			served <- srv.ListenAndServeTLS("", "")
		} else {
			served <- srv.ListenAndServe()
		}
	}()
	var err error
	var deadline context.Context
	select {
	case err = <-served:
		// It could not serve: nothing to drain.
		var cancel context.CancelFunc
		deadline, cancel = context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
		defer cancel()
	case <-ctx.Done():
		stop() // a second signal is the default again: it ends the process
		var cancel context.CancelFunc
		deadline, cancel = context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
		defer cancel()
		if err = srv.Shutdown(deadline); err != nil {
			srv.Close() // requests still in flight at the deadline: cut them off
		}
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, auth.Shutdown(deadline))
}
