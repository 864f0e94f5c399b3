package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/sessionless/sessionless"
	"github.com/sessionless/sessionless/audit"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
)

// operatorIssuer stands in for the servers' issuer in operator commands,
// which run without one: their API token manager only needs to know the
// subjects' issuer to serve principals of it, which these commands build
// themselves.
const operatorIssuer = "demo-api:operator"

// operator is what an operator command works on: the servers' database
// and backends.
type operator struct {
	cmd   string // "tokens", "users": what its errors start with
	cfg   Config // the servers' configuration; Issuer set
	store *sqlStore
	auth  *sessionless.Auth
	// issuer is the servers' issuer: -issuer, or the default their -addr
	// gives; "" when it cannot be known (port 0).
	issuer string
	// guessed says issuer is the default -addr's: neither -issuer nor
	// -addr was given, and the servers may run with others.
	guessed bool
	// audit writes what the operator did to the servers' -audit-log,
	// with ActorOperator.
	audit      *audit.Logger
	closeAudit func() error
}

// openOperator reads the server flags serverArgs of the operator command
// cmd as the servers do and opens their database, which must exist, and
// their backends (so that what it revokes reaches the running servers),
// and their -audit-log ("-": stderr). Close closes them.
func openOperator(ctx context.Context, cmd string, serverArgs []string, getenv func(string) string, stderr io.Writer) (_ *operator, err error) {
	cfg, err := ParseConfig(serverArgs, getenv, io.Discard)
	if err != nil {
		return nil, err
	}
	auditLog, closeAudit, err := openAuditLog(cfg.AuditLog, stderr)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			closeAudit()
		}
	}()
	issuer, guessed := cfg.Issuer, false
	if issuer == "" {
		issuer, guessed = issuerOfAddr(cfg.Addr), cfg.addrDefault
		cfg.Issuer = operatorIssuer
	}
	if err := databaseExists(cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	// The servers' stores, through the short path as the servers open
	// them, with a key of its own (it signs nothing) and without the
	// providers (it verifies nothing).
	key, err := token.GenerateKey(token.EdDSA)
	if err != nil {
		store.Close()
		return nil, err
	}
	keys, err := token.NewKeySet(key)
	if err != nil {
		store.Close()
		return nil, err
	}
	sc, err := authConfig(cfg, store, store.db, keys, nil, resources{}, slog.New(slog.DiscardHandler))
	if err != nil {
		store.Close()
		return nil, err
	}
	// What the servers verify, and where (providers, DPoP proofs, the
	// resources at their URL), is not the operator's business.
	sc.Providers, sc.DPoP, sc.Middleware = nil, nil, middleware.Config{}
	sc.Endpoints.ExternalURL, sc.Endpoints.Resources = "", nil
	a, err := sessionless.New(sc)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &operator{cmd: cmd, cfg: cfg, store: store, auth: a, issuer: issuer, guessed: guessed,
		audit: audit.New(auditLog, audit.Config{}), closeAudit: closeAudit}, nil
}

// issuerOfAddr returns the issuer a server listening on addr takes when
// -issuer is not given (see defaultIssuer), or "" when the port is chosen
// at start (0) or addr does not resolve.
func issuerOfAddr(addr string) string {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil || a.Port == 0 {
		return ""
	}
	return defaultIssuer(a)
}

// Close closes the stores, then the database and the audit log.
func (op *operator) Close() {
	op.auth.Close()
	op.store.Close()
	op.closeAudit()
}

// record writes what the operator did to the audit log.
func (op *operator) record(ctx context.Context, rec audit.Record) {
	rec.Actor = audit.ActorOperator
	op.audit.Log(ctx, rec)
}

// user returns the user named username.
func (op *operator) user(ctx context.Context, username string) (User, error) {
	u, err := op.store.UserByUsername(ctx, username)
	if errors.Is(err, ErrUserNotFound) {
		return User{}, fmt.Errorf("%s: no user %q", op.cmd, username)
	}
	return u, err
}
