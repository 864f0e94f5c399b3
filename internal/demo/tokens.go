package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sessionless/sessionless/apitoken"
	"github.com/sessionless/sessionless/audit"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/internal/sqlopen"
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
the same -db and -redis as the servers. create and revoke append a record
to the servers' -audit-log (actor "operator"). The server flags (-db,
-redis, -audit-log, …) are those of demo-api -h.`

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
func runTokens(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseTokensArgs(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	op, err := openOperator(ctx, "tokens", c.serverArgs, getenv, stderr)
	if err != nil {
		return err
	}
	defer op.Close()
	switch c.verb {
	case "create":
		return op.createToken(ctx, c.target, c.flags, stdout)
	case "list":
		return op.listTokens(ctx, c.target, stdout)
	default:
		return op.revokeToken(ctx, c.target, stdout)
	}
}

// tokensCommand is a "demo-api tokens" command line, taken apart.
type tokensCommand struct {
	// verb is create, list or revoke; target the username or token ID
	// it acts on.
	verb, target string
	// flags are the tokenFlags given, by name (create only).
	flags map[string]string
	// serverArgs are the other arguments, the server flags.
	serverArgs []string
}

// parseTokensArgs takes the arguments of "demo-api tokens" apart. For
// help, or for arguments without a verb and a target or with an unknown
// verb, it writes the usage text to stdout; for help it returns
// [flag.ErrHelp].
func parseTokensArgs(args []string, stdout io.Writer) (tokensCommand, error) {
	if wantsHelp(args) {
		fmt.Fprintln(stdout, tokensUsage)
		return tokensCommand{}, flag.ErrHelp
	}
	if len(args) < 2 || strings.HasPrefix(args[len(args)-1], "-") {
		fmt.Fprintln(stdout, tokensUsage)
		return tokensCommand{}, errors.New("tokens: want create, list or revoke, and a username or token id")
	}
	c := tokensCommand{verb: args[0], target: args[len(args)-1]}
	var err error
	if c.flags, c.serverArgs, err = splitTokenFlags(args[1 : len(args)-1]); err != nil {
		return tokensCommand{}, err
	}
	if c.verb != "create" && len(c.flags) > 0 {
		return tokensCommand{}, fmt.Errorf("tokens %s: -name, -scopes and -expires-in are for create", c.verb)
	}
	if c.verb != "create" && c.verb != "list" && c.verb != "revoke" {
		fmt.Fprintln(stdout, tokensUsage)
		return tokensCommand{}, fmt.Errorf("tokens: unknown command %q: want create, list or revoke", c.verb)
	}
	return c, nil
}

// wantsHelp reports whether any of args asks for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "help" {
			return true
		}
	}
	return false
}

// createToken creates a token of the user username, with the tokenFlags
// flags, and prints it: the only time its secret is shown.
func (op *operator) createToken(ctx context.Context, username string, flags map[string]string, stdout io.Writer) error {
	u, err := op.user(ctx, username)
	if err != nil {
		return err
	}
	req, err := createRequest(u.Scopes, flags)
	if err != nil {
		return err
	}
	// The user, as an access token issued now would present it (issued
	// after any cut-off of logging out everywhere).
	subject := &identity.Principal{Subject: u.ID, Issuer: op.cfg.Issuer, Method: identity.JWT, Scopes: u.Scopes, IssuedAt: time.Now()}
	raw, t, err := op.auth.APITokens.CreateFor(ctx, subject, req)
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	op.record(ctx, audit.Record{Event: audit.APITokenCreate, Subject: t.Subject, TokenID: t.ID})
	fmt.Fprintf(stdout, "token %s of %s (%s), expires %s, scopes %q:\n%s\n", t.ID, username, u.ID, stamp(t.ExpiresAt),
		strings.Join(t.Scopes, " "), raw)
	fmt.Fprintln(stdout, "it is shown only now: the database keeps its hash")
	return nil
}

// createRequest is what "tokens create" asks for: the name, scopes and
// lifetime of flags, by default "cli", the user's scopes userScopes but
// tokens:manage, and the manager's default lifetime.
func createRequest(userScopes []string, flags map[string]string) (apitoken.CreateRequest, error) {
	req := apitoken.CreateRequest{Name: "cli"}
	for _, sc := range userScopes {
		if sc != scopeManageTokens {
			req.Scopes = append(req.Scopes, sc)
		}
	}
	if v, ok := flags["name"]; ok {
		req.Name = v
	}
	if v, ok := flags["scopes"]; ok {
		req.Scopes = splitList(v)
	}
	if v, ok := flags["expires-in"]; ok {
		var err error
		if req.Lifetime, err = time.ParseDuration(v); err != nil || req.Lifetime <= 0 {
			return apitoken.CreateRequest{}, fmt.Errorf("tokens: -expires-in %q: want a positive duration such as 720h", v)
		}
	}
	return req, nil
}

// listTokens prints the tokens of the user username, without secrets.
func (op *operator) listTokens(ctx context.Context, username string, stdout io.Writer) error {
	u, err := op.user(ctx, username)
	if err != nil {
		return err
	}
	ts, err := op.auth.APITokens.List(ctx, u.ID)
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

// revokeToken revokes the token id, whoever owns it.
func (op *operator) revokeToken(ctx context.Context, id string, stdout io.Writer) error {
	t, err := op.auth.APITokens.OperatorRevoke(ctx, id)
	if errors.Is(err, apitoken.ErrNotFound) {
		return fmt.Errorf("tokens: no token %q", id)
	}
	if t.ID != "" { // revoked in the store, whatever telling the servers did
		op.record(ctx, audit.Record{Event: audit.APITokenRevoke, Subject: t.Subject, TokenID: t.ID})
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "token %s (%q) of %s revoked at %s\n", t.ID, t.Name, t.Subject, t.RevokedAt.UTC().Format(time.RFC3339))
	return nil
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
	if err := sqlopen.Exists(dbURL); err != nil {
		return fmt.Errorf("%w (run from the server's directory, or give -db)", err)
	}
	return nil
}
