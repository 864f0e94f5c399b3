package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/identity"
)

const tokensUsage = `usage:
  demo-api tokens create [-name NAME] [-scopes S1,S2] [-expires-in DURATION] [server flags] USERNAME
  demo-api tokens list [server flags] USERNAME
  demo-api tokens revoke [server flags] ID

API tokens for operators, on the server's database. create prints a new
token of USERNAME once (it is stored only hashed): -name defaults to
"cli", -scopes (comma-separated) to the user's scopes but tokens:manage (a
token never holds a scope its user lacks; ask for tokens:manage to let the
token mint tokens), -expires-in (e.g. 720h) to a year. list shows a
user's tokens, without secrets. revoke revokes the token ID whoever owns
it; the running servers refuse it within their revocation list's
propagation (at once with Redis, within 200 ms with a database), so give
the same -db and -redis as the servers. The server flags (-db, -redis, …)
are those of demo-api -h.`

// tokenFlags are the flags of "tokens create", taken out of the
// arguments before the server flags are parsed.
var tokenFlags = map[string]bool{"name": true, "scopes": true, "expires-in": true}

// splitTokenFlags takes "-name X", "--name=X" (and the other tokenFlags)
// out of args.
func splitTokenFlags(args []string) (map[string]string, []string, error) {
	got := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !tokenFlags[name] {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("tokens: flag -%s needs a value", name)
			}
			i++
			value = args[i]
		}
		if _, dup := got[name]; dup {
			return nil, nil, fmt.Errorf("tokens: flag -%s given twice", name)
		}
		got[name] = value
	}
	return got, rest, nil
}

// runTokens runs "demo-api tokens create|list|revoke".
func runTokens(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "help" {
			fmt.Fprintln(stdout, tokensUsage)
			return nil
		}
	}
	if len(args) < 2 || strings.HasPrefix(args[len(args)-1], "-") {
		fmt.Fprintln(stdout, tokensUsage)
		return errors.New("tokens: want create, list or revoke, and a username or token id")
	}
	verb, target := args[0], args[len(args)-1]
	flags, rest, err := splitTokenFlags(args[1 : len(args)-1])
	if err != nil {
		return err
	}
	if verb != "create" && len(flags) > 0 {
		return fmt.Errorf("tokens %s: -name, -scopes and -expires-in are for create", verb)
	}
	switch verb {
	case "create", "list", "revoke":
	default:
		fmt.Fprintln(stdout, tokensUsage)
		return fmt.Errorf("tokens: unknown command %q: want create, list or revoke", verb)
	}
	cfg, err := ParseConfig(rest, getenv, io.Discard)
	if err != nil {
		return err
	}
	if cfg.Issuer == "" {
		cfg.Issuer = operatorIssuer
	}
	if err := databaseExists(cfg.DatabaseURL); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer store.Close()
	b, err := openOperatorBackends(ctx, cfg, store)
	if err != nil {
		return err
	}
	defer b.Close()
	m := b.apiTokens

	if verb == "revoke" {
		t, err := m.OperatorRevoke(ctx, target)
		if errors.Is(err, apitoken.ErrNotFound) {
			return fmt.Errorf("tokens: no token %q", target)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %s (%q) of %s revoked at %s\n", t.ID, t.Name, t.Subject, t.RevokedAt.UTC().Format(time.RFC3339))
		return nil
	}
	u, err := store.UserByUsername(ctx, target)
	if errors.Is(err, ErrUserNotFound) {
		return fmt.Errorf("tokens: no user %q", target)
	}
	if err != nil {
		return err
	}
	if verb == "list" {
		ts, err := m.List(ctx, u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-32s  %-20s  %-20s  %-20s  %-8s  %s\n", "ID", "CREATED", "EXPIRES", "LAST USED", "STATE", "NAME / SCOPES")
		for _, t := range ts {
			fmt.Fprintf(stdout, "%-32s  %-20s  %-20s  %-20s  %-8s  %q %s\n", t.ID, stamp(t.CreatedAt), stamp(t.ExpiresAt),
				stamp(t.LastUsedAt), state(t, time.Now()), t.Name, strings.Join(t.Scopes, " "))
		}
		return nil
	}

	req := apitoken.CreateRequest{Name: "cli"}
	for _, sc := range u.Scopes {
		if sc != scopeManageTokens {
			req.Scopes = append(req.Scopes, sc)
		}
	}
	if v, ok := flags["name"]; ok {
		req.Name = v
	}
	if v, ok := flags["scopes"]; ok {
		req.Scopes = nil
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				req.Scopes = append(req.Scopes, s)
			}
		}
	}
	if v, ok := flags["expires-in"]; ok {
		if req.Lifetime, err = time.ParseDuration(v); err != nil || req.Lifetime <= 0 {
			return fmt.Errorf("tokens: -expires-in %q: want a positive duration such as 720h", v)
		}
	}
	// The user, as its own access token would present it.
	subject := &identity.Principal{Subject: u.ID, Issuer: cfg.Issuer, Method: identity.JWT, Scopes: u.Scopes}
	raw, t, err := m.CreateFor(ctx, subject, req)
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	fmt.Fprintf(stdout, "token %s of %s (%s), expires %s, scopes %q:\n%s\n", t.ID, target, u.ID, stamp(t.ExpiresAt),
		strings.Join(t.Scopes, " "), raw)
	fmt.Fprintln(stdout, "it is shown only now: the database keeps its hash")
	return nil
}

// operatorIssuer stands in for the servers' issuer in operator commands,
// which run without one: their API token manager only needs to know the
// subjects' issuer to serve principals of it, which these commands build
// themselves.
const operatorIssuer = "demo-api:operator"

// openOperatorBackends opens the backends as the servers do, for an
// operator command: the same revocation list, so that what it revokes
// reaches the running servers.
func openOperatorBackends(ctx context.Context, cfg Config, store *sqlStore) (*backends, error) {
	if cfg.Issuer == "" {
		cfg.Issuer = operatorIssuer
	}
	return openBackends(ctx, cfg, store, slog.New(slog.DiscardHandler))
}

// stamp formats t for the token list; "-" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// state is what the list says of t at now.
func state(t apitoken.Token, now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "active"
}

// databaseExists refuses a SQLite database that does not exist: an
// operator command run from the wrong directory must not create an empty
// one.
func databaseExists(dbURL string) error {
	if isPostgres(dbURL) {
		return nil
	}
	if _, path, err := sqliteSource(dbURL); err == nil && path != "" {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no database at %s (run from the server's directory, or give -db)", path)
		}
	}
	return nil
}
