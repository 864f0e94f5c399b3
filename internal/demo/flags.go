package demo

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The command line of the demo API: its options, the usage text, and the
// reading of each option from a flag, its environment variable or its
// default. [ParseConfig] turns the result into a [Config].

// option is one setting: a flag and the environment variable behind it.
type option struct {
	flag, env, arg, def, help string
}

// Indexes of options.
const (
	optAddr = iota
	optDB
	optKeyFile
	optVerify
	optIssuer
	optAudience
	optTTL
	optRedis
	optStaleness
	optFailOpen
	optRefreshLifetime
	optRefreshIdle
	optRefreshGrace
	optOIDCIssuer
	optOIDCAudience
	optOIDCMapping
	optOIDCClientID
	optOIDCRedirect
	optCORS
	optTrustedProxy
	optRegistration
	optMetadataCA
	optAuditLog
	optRequestLog
)

// options are the settings that have a flag, in the order of the usage
// text.
var options = []option{
	optAddr:     {"addr", "DEMO_ADDR", "host:port", defaultAddr, "listen address; port 0 picks a free port"},
	optDB:       {"db", "DATABASE_URL", "url", defaultDatabaseURL, "database of users, refresh tokens, API tokens and revocations: a SQLite file path\n(.db, .sqlite or .sqlite3), sqlite:PATH, a SQLite file: URI, or postgres://user:pw@host/db"},
	optKeyFile:  {"key-file", "DEMO_KEY_FILE", "path", defaultKeyFile, "PEM private key that signs tokens; its type picks the algorithm;\nan Ed25519 key is generated there when the file does not exist"},
	optVerify:   {"verify-key-file", "DEMO_VERIFY_KEY_FILES", "path", "", "PEM key of a retired signing key whose tokens are still accepted;\nrepeatable (the variable takes a comma-separated list)"},
	optIssuer:   {"issuer", "DEMO_ISSUER", "url", "", "token issuer (iss); default http://<actual listen address>"},
	optAudience: {"audience", "DEMO_AUDIENCE", "name", defaultAudience, "token audience (aud)"},
	optTTL:      {"access-ttl", "DEMO_ACCESS_TTL", "duration", "15m", "access token lifetime, 1s to 24h"},
	optRedis:    {"redis", "REDIS_URL", "url", "", "share revocations through Redis (redis://host:port/db) instead of the database"},
	optStaleness: {"revocation-staleness", "DEMO_REVOCATION_STALENESS", "duration", "5s",
		"answer 503 once the revocation list has not synced for this long (100ms to 1h)"},
	optFailOpen: {"revocation-fail-open", "DEMO_REVOCATION_FAIL_OPEN", "bool", "false",
		"keep serving from a stale revocation list instead of answering 503\n(revocations made elsewhere meanwhile are missed)"},
	optRefreshLifetime: {"refresh-lifetime", "DEMO_REFRESH_LIFETIME", "duration", "720h", "absolute lifetime of a refresh token family (30 days)"},
	optRefreshIdle:     {"refresh-idle", "DEMO_REFRESH_IDLE", "duration", "168h", "idle lifetime of a refresh token family (7 days)"},
	optRefreshGrace:    {"refresh-grace", "DEMO_REFRESH_GRACE", "duration", "10s", "how long after a rotation the same refresh token gets the same successor (two tabs refreshing at once), 0s to 1m; 0s: never (a second use is reuse)"},
	optOIDCIssuer:      {"oidc-issuer", "OIDC_ISSUER", "url", "", "also accept the access tokens of this OpenID Connect provider (its exact iss);\nrepeatable (the variable takes a comma-separated list)"},
	optOIDCAudience:    {"oidc-audience", "OIDC_AUDIENCE", "name", "", "the audience the providers' tokens must carry; default -audience; for one\nprovider: ISSUER=AUDIENCE, comma-separated"},
	optOIDCMapping:     {"oidc-mapping", "OIDC_MAPPING", "name", "generic", "how provider claims become scopes and roles: generic, dex, keycloak,\nauth0:NAMESPACE (roles from the claim NAMESPACE+\"roles\"), zitadel or\nzitadel:PROJECT_ID; for one provider: ISSUER=NAME, comma-separated"},
	optOIDCClientID:    {"oidc-client-id", "OIDC_CLIENT_ID", "id", "", "log in through the first -oidc-issuer as this client: GET /auth/oidc/login\n(the secret comes from OIDC_CLIENT_SECRET only)"},
	optOIDCRedirect:    {"oidc-redirect-url", "OIDC_REDIRECT_URL", "url", "", "the callback URL registered at the provider; default <issuer>/auth/oidc/callback"},
	optCORS:            {"cors-origin", "DEMO_CORS_ORIGINS", "origin", "", "let browser apps of this origin (https://app.example) call the API, or * for any;\nrepeatable (the variable takes a comma-separated list); credentials are never allowed"},
	optRegistration:    {"registration", "DEMO_REGISTRATION", "bool", "true", "dynamic client registration (RFC 7591) at POST /auth/register, public clients\nonly, for AI agents and apps that register themselves; false: off"},
	optMetadataCA:      {"client-metadata-test-ca", "DEMO_CLIENT_METADATA_TEST_CA", "path", "", "FOR TESTS ON ONE MACHINE: trust this PEM CA when fetching Client ID Metadata\nDocuments, and fetch them from private and loopback addresses too"},
	optTrustedProxy:    {"trusted-proxy", "DEMO_TRUSTED_PROXIES", "cidr", "", "a proxy in front of the demo (10.0.0.0/8, or one address): the login limits\nread the client address from its X-Forwarded-For, from the right;\nrepeatable (the variable takes a comma-separated list)"},
	optAuditLog:        {"audit-log", "DEMO_AUDIT_LOG", "path", "-", "where the audit records go (logins, logouts, reuse, API tokens, keys; JSON lines,\ndocs/audit.md): a file, appended to (created 0600), or - for stderr"},
	optRequestLog:      {"request-log", "DEMO_REQUEST_LOG", "bool", "false", "log every request (method, path, status, duration) to stderr"},
}

// The settings without a flag, read from the environment only.
const (
	envPassword         = "DEMO_PASSWORD"
	envOIDCClientSecret = "OIDC_CLIENT_SECRET"
	envOIDCCookieKey    = "OIDC_COOKIE_KEY"
	envDPoPNonceKey     = "DEMO_DPOP_NONCE_KEY"
	envAuthorizeKey     = "DEMO_AUTHORIZE_KEY"
)

// usage writes the -h text: every flag with its environment variable.
func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString(`Usage: demo-api [flags]

demo-api is the sessionless demo API: POST /auth/login trades a username and
password for a signed JWT access token and a rotating refresh token,
POST /auth/token refreshes (OAuth 2.0), POST /auth/revoke revokes a token
(RFC 7009), POST /auth/logout and /auth/logout-all revoke on every instance,
GET /api/me verifies a token statelessly, GET /.well-known/jwks.json
publishes the verification keys. POST/GET /api/tokens and DELETE
/api/tokens/{id} manage API tokens (sl_…) for scripts, which work on the
same /api routes.

demo-api users set-password [-db URL] USERNAME sets a lost password.
demo-api tokens create|list|revoke … manages API tokens (demo-api tokens -h).
demo-api oidc-provider [-addr 127.0.0.1:9000] runs a local OpenID Connect
provider whose tokens -oidc-issuer accepts (demo-api oidc-provider -h).

Each flag has an environment variable; a flag wins over its variable, and the
variable over the default.

`)
	for _, o := range options {
		fmt.Fprintf(&b, "  -%s %s\n", o.flag, o.arg)
		for line := range strings.SplitSeq(o.help, "\n") {
			fmt.Fprintf(&b, "        %s\n", line)
		}
		fmt.Fprintf(&b, "        env %s", o.env)
		if o.def != "" {
			fmt.Fprintf(&b, ", default %s", o.def)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, `
Environment only:
  %s
        password of the users seeded on first start (demo and viewer);
        when unset, a random password is generated and printed once
  %s
        32 bytes (base64url) sealing the pending authorization request in
        the login page: the same on every instance; unset, a random key
`, envPassword, envAuthorizeKey)
	io.WriteString(w, b.String())
}

// settings are the options as given, before they are checked.
type settings struct {
	// getenv reads the environment.
	getenv func(string) string
	// raw is the text of each option, indexed like options.
	raw []string
	// source names where raw[i] came from, for error messages: "-flag",
	// the environment variable, or "default -flag".
	source []string
	// fromFlag holds the names of the flags the command line gave.
	fromFlag map[string]bool
	// The list options: repeatable flags whose variables are
	// comma-separated.
	verify, oidcIssuers, corsOrigins, trustedProxies stringList
}

// parseFlags reads the command line into s.raw and the list options, and
// notes which flags it gave. For -h or -help it writes the usage text to
// out and returns [flag.ErrHelp].
func (s *settings) parseFlags(args []string, out io.Writer) error {
	s.raw = make([]string, len(options))
	fs := s.flagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(out)
			return err
		}
		return fmt.Errorf("%w (see demo-api -h)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see demo-api -h)", fs.Arg(0))
	}
	s.fromFlag = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { s.fromFlag[f.Name] = true })
	return nil
}

// flagSet defines a flag for every option, silent on errors: a list
// option's flag fills its stringList, the others fill s.raw.
func (s *settings) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("demo-api", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	lists := s.lists()
	for i, o := range options {
		switch {
		case lists[i] != nil:
			fs.Var(lists[i], o.flag, o.help)
		case i == optFailOpen || i == optRequestLog:
			fs.Var(boolString{&s.raw[i]}, o.flag, o.help)
		default:
			fs.StringVar(&s.raw[i], o.flag, "", o.help)
		}
	}
	return fs
}

// lists maps the index of each list option to its values.
func (s *settings) lists() map[int]*stringList {
	return map[int]*stringList{optVerify: &s.verify, optOIDCIssuer: &s.oidcIssuers, optCORS: &s.corsOrigins, optTrustedProxy: &s.trustedProxies}
}

// resolve gives each option its value by precedence: the flag, else the
// environment variable, else the default; and notes in s.source where it
// came from. A list option no flag gave takes its variable's list.
func (s *settings) resolve() {
	s.source = make([]string, len(options))
	for i, o := range options {
		switch {
		case s.fromFlag[o.flag]:
			s.source[i] = "-" + o.flag
		case s.getenv(o.env) != "":
			s.raw[i], s.source[i] = s.getenv(o.env), o.env
		default:
			s.raw[i], s.source[i] = o.def, "default -"+o.flag
		}
	}
	for i, l := range s.lists() {
		if !l.set {
			l.vals = splitList(s.getenv(options[i].env))
		}
	}
}

// splitList splits a comma-separated list, trimming the spaces around
// each item and dropping the empty ones; nil when none is left.
func splitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// stringList is a repeatable flag. Once set, the flag wins as a whole:
// the variable's list is not read (see resolve).
type stringList struct {
	vals []string
	set  bool
}

// String returns the values, comma-separated.
func (l *stringList) String() string { return strings.Join(l.vals, ",") }

// Set adds a value, refusing an empty one.
func (l *stringList) Set(s string) error {
	if s == "" {
		return errors.New("empty path")
	}
	if !l.set {
		l.vals, l.set = nil, true
	}
	l.vals = append(l.vals, s)
	return nil
}

// boolString is a boolean flag (-name, -name=false) stored as a string,
// like the other options, so the environment can fill it too.
type boolString struct{ s *string }

// String returns the value, empty for the zero boolString.
func (b boolString) String() string {
	if b.s == nil {
		return ""
	}
	return *b.s
}

// Set stores v if it is a boolean strconv.ParseBool accepts.
func (b boolString) Set(v string) error {
	if _, err := strconv.ParseBool(v); err != nil {
		return errors.New("not true or false")
	}
	*b.s = v
	return nil
}

// IsBoolFlag lets the flag stand without a value.
func (boolString) IsBoolFlag() bool { return true }
