package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sessionless/sessionless/audit"
	"github.com/sessionless/sessionless/password"
)

// Server limits.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 16 << 10
	// shutdownTimeout leaves, of the 10 s an orchestrator gives after
	// SIGTERM, time to close the backends (the last API token uses).
	shutdownTimeout = 8 * time.Second
)

// Run runs the demo API until ctx is cancelled, then shuts it down
// gracefully, letting requests in flight finish. args are the command-line
// arguments without the program name; getenv reads the environment. It
// prints the seeded password (first start only) and the line
// "demo-api listening on http://ADDR" to stdout, and logs to stderr. -h
// prints the usage to stdout and returns nil.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "users" {
		return runUsers(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "tokens" {
		return runTokens(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "oidc-provider" {
		return runProvider(ctx, args[1:], stdout)
	}
	cfg, err := ParseConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return run(ctx, cfg, stdout, stderr)
}

func run(ctx context.Context, cfg Config, stdout, stderr io.Writer) (err error) {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	defer func() {
		if err != nil && ctx.Err() != nil {
			// Stopped (SIGTERM) while starting: a stop, not a failure.
			log.Info("stopped while starting", "err", err)
			err = nil
		}
	}()
	// The audit records, JSON lines apart from this log (-audit-log).
	auditLog, closeAudit, err := openAuditLog(cfg.AuditLog, stderr)
	if err != nil {
		return err
	}
	defer closeAudit()

	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer store.Close()
	pw, err := password.New(cfg.passwords)
	if err != nil {
		return err
	}
	keys, err := loadKeys(cfg, log)
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if cfg.Issuer == "" {
		cfg.Issuer = defaultIssuer(ln.Addr())
	}
	srv, err := newServer(cfg, deps{users: store, db: store.db, keys: keys, passwords: pw, log: log, audit: auditLog})
	if err != nil {
		return err
	}
	defer func() {
		// Writes the last uses of API tokens: say so if that fails.
		if err := srv.Shutdown(context.WithoutCancel(ctx)); err != nil {
			log.Error("closing the stores", "err", err)
		}
	}()
	// Seeding waits until the server can serve: a first start that fails
	// (a port taken, a bad key file) must not swallow the printed password.
	if err := seedUsers(ctx, store, pw, cfg.SeedPassword, stdout, log); err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	fmt.Fprintf(stdout, "demo-api listening on http://%s\n", ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "audience", cfg.Audience,
		"access_ttl", cfg.AccessTTL, "signing_key", keys.SigningKey(), "verification_keys", len(keys.Keys())-1,
		"database", store.d.String(), "revocations", revocationsWhere(cfg), "revocation_staleness", cfg.RevocationStaleness,
		"revocation_fail_open", cfg.RevocationFailOpen, "oidc_issuers", cfg.OIDCIssuers, "audit_log", cfg.AuditLog,
		"request_log", cfg.RequestLog)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		// A client still sending or reading after the budget: cut it off,
		// and go on closing (a stop, not a failure).
		log.Warn("requests still in flight after the shutdown budget: closing their connections", "budget", shutdownTimeout)
		hs.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	log.Info("stopped")
	return nil
}

// defaultIssuer is "http://" + addr, with an unspecified host (0.0.0.0,
// ::) written as localhost.
func defaultIssuer(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// seedAccount is a user created on first start.
type seedAccount struct {
	username string
	scopes   []string
	roles    []string
}

var seedAccounts = []seedAccount{
	{"demo", []string{"widgets:read", "widgets:write", "tokens:manage"}, []string{"admin"}},
	{"viewer", []string{"widgets:read"}, []string{"viewer"}},
}

// seedUsers creates the seed accounts when there are no users at all, with
// password, or a random password that it prints to stdout: this first
// start is the only time it is shown.
func seedUsers(ctx context.Context, users UserStore, pw *password.Hasher, seed string, stdout io.Writer, log *slog.Logger) error {
	n, err := users.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		if seed != "" {
			log.Info(envPassword + " is ignored: users exist already, it only applies on first start")
		}
		return nil
	}
	random := seed == ""
	if random {
		seed = rand.Text()
	}
	var list []User
	var names []string
	for _, a := range seedAccounts {
		hash, err := pw.Hash(ctx, seed)
		if err != nil {
			return err
		}
		list = append(list, User{ID: newUserID(), Username: a.username, PasswordHash: hash, Scopes: a.scopes, Roles: a.roles})
		names = append(names, a.username)
	}
	err = users.CreateUsers(ctx, list...)
	if errors.Is(err, ErrUserExists) {
		return nil // another process seeded them meanwhile
	}
	if err != nil {
		return fmt.Errorf("seeding users: %w", err)
	}
	who := strings.Join(names, " and ")
	if random {
		fmt.Fprintf(stdout, "seeded users %s with password: %s\n", who, seed)
	} else {
		fmt.Fprintf(stdout, "seeded users %s with the password from %s\n", who, envPassword)
	}
	log.Info("seeded users", "users", names)
	return nil
}

const usersUsage = `usage: demo-api users set-password [-db URL] [-redis URL] [-issuer URL] USERNAME

Sets the password of USERNAME to $DEMO_PASSWORD, or to a random one it
prints, and revokes the user's refresh tokens, API tokens and access
tokens (as logging out everywhere does): the way back in when the password
printed at the first start is lost, or was stolen. -db (DATABASE_URL) and
-redis (REDIS_URL) name the database and the revocation store as for the
servers, which then refuse the tokens at once; -issuer (DEMO_ISSUER), or
-addr (DEMO_ADDR), names the servers' issuer: without either, the default
-addr's is assumed, and said to be; without one that can be known (-addr
with port 0), access tokens already issued expire within -access-ttl.
Access tokens issued before the command can no longer make API tokens.
The change is recorded in the servers' -audit-log (DEMO_AUDIT_LOG;
default stderr), with actor "operator".`

// runUsers runs "demo-api users set-password [flags] USERNAME".
func runUsers(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "set-password" || strings.HasPrefix(args[len(args)-1], "-") {
		fmt.Fprintln(stdout, usersUsage)
		return errors.New("users: want set-password and a username")
	}
	name := args[len(args)-1]
	// The backends first: if they cannot be opened (Redis down), nothing
	// changes.
	op, err := openOperator(ctx, "users", args[1:len(args)-1], getenv, stderr)
	if err != nil {
		return err
	}
	defer op.Close()
	u, err := op.user(ctx, name)
	if err != nil {
		return err
	}
	pw, err := password.New(op.cfg.passwords)
	if err != nil {
		return err
	}
	refreshes := op.auth.Endpoints.Refresh()
	secret, random := getenv(envPassword), false
	if secret == "" {
		secret, random = rand.Text(), true
	}
	hash, err := pw.Hash(ctx, secret)
	if err != nil {
		return err
	}
	if err := op.store.SetPasswordHash(ctx, u.ID, hash); err != nil {
		return fmt.Errorf("users: setting the password: %w", err)
	}
	rec := audit.Record{Event: audit.PasswordChange, Subject: u.ID, Username: name}
	if !op.guessed {
		rec.Issuer = op.issuer // "" when it cannot be known
	}
	op.record(ctx, rec)
	// Shown as soon as it is stored: whatever fails next, it is not lost.
	if random {
		fmt.Fprintf(stdout, "password of %s set to: %s\n", name, secret)
	} else {
		fmt.Fprintf(stdout, "password of %s set from %s\n", name, envPassword)
	}
	// Whoever had the password may have made refresh and API tokens:
	// revoke them all, and the access tokens, as logging out everywhere
	// does: every one issued before now, on every running server
	// (through the list). The API tokens last, with the same cut-off, so
	// that no access token of before mints one on a server that has not
	// heard of the revocation yet.
	if err := refreshes.RevokeSubject(ctx, u.ID); err != nil {
		return fmt.Errorf("users: the password is set, but revoking refresh tokens failed (run the command again): %w", err)
	}
	cut := time.Now()
	switch {
	case op.issuer == "":
		fmt.Fprintf(stdout, "its access tokens expire within -access-ttl (%v); give the servers' -issuer to revoke them at once\n", op.cfg.AccessTTL)
	default:
		if err := op.auth.Revocations.RevokeSubject(ctx, op.issuer, u.ID, cut); err != nil {
			return fmt.Errorf("users: the password is set, but revoking access tokens failed (run the command again): %w", err)
		}
		if op.guessed {
			fmt.Fprintf(stdout, "its access tokens of %s (the issuer of the default -addr) are revoked; if the servers run with another -addr or -issuer, "+
				"give it to revoke theirs, which otherwise expire within -access-ttl (%v)\n", op.issuer, op.cfg.AccessTTL)
		} else {
			fmt.Fprintf(stdout, "its access tokens of %s are revoked\n", op.issuer)
		}
	}
	n, err := op.auth.APITokens.RevokeSubjectBefore(ctx, u.ID, cut)
	if err != nil {
		return fmt.Errorf("users: the password is set, but revoking API tokens failed (run the command again): %w", err)
	}
	fmt.Fprintf(stdout, "its refresh tokens and its %d API tokens are revoked\n", n)
	return nil
}

// newUserID returns a new stable user ID: "usr_" and 26 random base32
// characters (130 bits).
func newUserID() string { return "usr_" + strings.ToLower(rand.Text()) }
