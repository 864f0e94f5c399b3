package demo

import (
	"cmp"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sessionless/sessionless/password"
)

// Defaults of [Config]; the access token lifetime defaults to 15m (see options).
const (
	defaultAddr        = "127.0.0.1:8080"
	defaultDatabaseURL = "./demo-data/demo.db"
	defaultKeyFile     = "./demo-data/signing-key.pem"
	defaultAudience    = "demo-api"

	// maxAccessTTL bounds -access-ttl. It is the MaxTokenLifetime of the
	// issuer, the verifier (which refuses longer-lived tokens) and the
	// revocation list (how long it keeps a "log out everywhere"), so that
	// every token a revocation names has expired when it is dropped.
	maxAccessTTL = 24 * time.Hour
)

// Config is the configuration of the demo API. [ParseConfig] fills it from
// flags and environment variables; the zero value is not usable.
type Config struct {
	// Addr is the TCP listen address (-addr, DEMO_ADDR). Port 0 picks a
	// free port; the actual address is printed on start.
	Addr string
	// DatabaseURL names the database that holds the users, the refresh
	// tokens and, without RedisURL, the revocations (-db, DATABASE_URL): a
	// SQLite file path, "sqlite:PATH", "sqlite:///abs/path", a SQLite
	// "file:" URI, or a PostgreSQL "postgres://" URL (pgx). A plain path
	// or sqlite: URL without a query gets busy_timeout(5000) and
	// journal_mode(WAL).
	DatabaseURL string
	// RedisURL, when set, shares revocations through Redis (pub/sub to
	// every instance) instead of the database (-redis, REDIS_URL):
	// redis://[user:password@]host:port/db or rediss:// for TLS.
	RedisURL string
	// RevocationStaleness is how long an instance may go without syncing
	// its revocation list before authenticated requests get 503
	// (-revocation-staleness, DEMO_REVOCATION_STALENESS; default 5s).
	RevocationStaleness time.Duration
	// RevocationFailOpen keeps serving from a stale revocation list
	// instead (-revocation-fail-open, DEMO_REVOCATION_FAIL_OPEN).
	RevocationFailOpen bool
	// RefreshLifetime and RefreshIdle are the absolute and idle lifetimes
	// of refresh token families (-refresh-lifetime, DEMO_REFRESH_LIFETIME,
	// default 720h; -refresh-idle, DEMO_REFRESH_IDLE, default 168h).
	RefreshLifetime, RefreshIdle time.Duration
	// KeyFile is the PEM private key that signs tokens (-key-file,
	// DEMO_KEY_FILE). Its key type decides the algorithm (Ed25519 → EdDSA,
	// P-256 → ES256, P-384 → ES384, P-521 → ES512, RSA → RS256). When the
	// file does not exist, an Ed25519 key is generated and written there
	// (PKCS#8, mode 0600, missing directories 0700).
	KeyFile string
	// VerifyKeyFiles are PEM keys, public or private, whose tokens are
	// still accepted but which no longer sign: the previous signing keys,
	// during a rotation (-verify-key-file, repeatable; DEMO_VERIFY_KEY_FILES,
	// comma-separated). They are published in the JWK Set.
	VerifyKeyFiles []string
	// Issuer is the "iss" of the tokens (-issuer, DEMO_ISSUER). Empty means
	// "http://" + the actual listen address, with an unspecified host
	// (0.0.0.0, ::) written as localhost; with port 0 it changes on every
	// start, and so tokens of an earlier run stop verifying.
	Issuer string
	// Audience is the "aud" of the tokens and the audience /api/me
	// requires (-audience, DEMO_AUDIENCE).
	Audience string
	// AccessTTL is the lifetime of access tokens (-access-ttl,
	// DEMO_ACCESS_TTL): 15 minutes by default, 1s to 24h.
	AccessTTL time.Duration
	// SeedPassword is the password of the users seeded on first start
	// (DEMO_PASSWORD; there is no flag, so it does not show in ps). Empty
	// means a random password, printed once to stdout.
	SeedPassword string
	// OIDCIssuers are OpenID Connect providers whose access tokens the
	// API accepts too (-oidc-issuer, repeatable; OIDC_ISSUER,
	// comma-separated): their issuer identifiers, exactly as in their
	// tokens' "iss".
	OIDCIssuers []string
	// OIDCAudience is the audience the providers' tokens must carry
	// (-oidc-audience, OIDC_AUDIENCE; default: Audience).
	OIDCAudience string
	// OIDCMapping says how the providers' claims become scopes and roles
	// (-oidc-mapping, OIDC_MAPPING): "generic" (default), "keycloak" (the
	// audience is the API's client), or "auth0:NAMESPACE" (roles from
	// the claim NAMESPACE + "roles").
	OIDCMapping string
	// OIDCClientID, OIDCClientSecret and OIDCRedirectURL enable the login
	// through the first provider: GET /auth/oidc/login and
	// /auth/oidc/callback (-oidc-client-id, OIDC_CLIENT_ID;
	// OIDC_CLIENT_SECRET, environment only; -oidc-redirect-url,
	// OIDC_REDIRECT_URL, default the issuer + /auth/oidc/callback).
	OIDCClientID, OIDCClientSecret, OIDCRedirectURL string
	// OIDCCookieKey seals the login's state cookie (OIDC_COOKIE_KEY, 32
	// bytes in base64url; environment only): instances behind one load
	// balancer need the same. Empty: a random key per process.
	OIDCCookieKey []byte
	// DPoPNonceKey, when set (DEMO_DPOP_NONCE_KEY, 32 bytes in base64url;
	// environment only, the same on every instance), makes the demo
	// require DPoP server nonces (RFC 9449 §8).
	DPoPNonceKey []byte
	// CORSOrigins are the browser origins allowed to call the API
	// (-cors-origin, repeatable; DEMO_CORS_ORIGINS, comma-separated), or
	// "*" for any. Empty: no cross-origin access.
	CORSOrigins []string
	// Now returns the current time for issuing and verifying tokens.
	// Nil means time.Now. It exists for tests.
	Now func() time.Time

	// passwords is the password hashing cost; the zero value means
	// password.DefaultParams. Tests lower it to stay fast.
	passwords password.Config
}

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
	optOIDCIssuer
	optOIDCAudience
	optOIDCMapping
	optOIDCClientID
	optOIDCRedirect
	optCORS
)

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
	optOIDCIssuer:      {"oidc-issuer", "OIDC_ISSUER", "url", "", "also accept the access tokens of this OpenID Connect provider (its exact iss);\nrepeatable (the variable takes a comma-separated list)"},
	optOIDCAudience:    {"oidc-audience", "OIDC_AUDIENCE", "name", "", "the audience the providers' tokens must carry; default -audience"},
	optOIDCMapping:     {"oidc-mapping", "OIDC_MAPPING", "name", "generic", "how provider claims become scopes and roles: generic, keycloak,\nor auth0:NAMESPACE (roles from the claim NAMESPACE+\"roles\")"},
	optOIDCClientID:    {"oidc-client-id", "OIDC_CLIENT_ID", "id", "", "log in through the first -oidc-issuer as this client: GET /auth/oidc/login\n(the secret comes from OIDC_CLIENT_SECRET only)"},
	optOIDCRedirect:    {"oidc-redirect-url", "OIDC_REDIRECT_URL", "url", "", "the callback URL registered at the provider; default <issuer>/auth/oidc/callback"},
	optCORS:            {"cors-origin", "DEMO_CORS_ORIGINS", "origin", "", "let browser apps of this origin (https://app.example) call the API, or * for any;\nrepeatable (the variable takes a comma-separated list); credentials are never allowed"},
}

// envPassword is the one setting without a flag.
const envPassword = "DEMO_PASSWORD"

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
`, envPassword)
	io.WriteString(w, b.String())
}

// stringList is a repeatable flag. The first Set replaces the values that
// came from the environment, so the flag wins as a whole.
type stringList struct {
	vals []string
	set  bool
}

func (l *stringList) String() string { return strings.Join(l.vals, ",") }

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

// ParseConfig reads the configuration from command-line arguments (without
// the program name) and environment variables (through getenv), in that
// order of precedence, over the defaults. For -h or -help it writes the
// usage text to out and returns [flag.ErrHelp].
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	fs := flag.NewFlagSet("demo-api", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	raw := make([]string, len(options))
	var verify, oidcIssuers, corsOrigins stringList
	for i, o := range options {
		switch i {
		case optVerify:
			fs.Var(&verify, o.flag, o.help)
		case optOIDCIssuer:
			fs.Var(&oidcIssuers, o.flag, o.help)
		case optCORS:
			fs.Var(&corsOrigins, o.flag, o.help)
		case optFailOpen:
			fs.Var(boolString{&raw[i]}, o.flag, o.help)
		default:
			fs.StringVar(&raw[i], o.flag, "", o.help)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(out)
			return Config{}, err
		}
		return Config{}, fmt.Errorf("%w (see demo-api -h)", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (see demo-api -h)", fs.Arg(0))
	}
	fromFlag := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { fromFlag[f.Name] = true })

	// source names where value i came from, for error messages.
	source := make([]string, len(options))
	for i, o := range options {
		switch {
		case fromFlag[o.flag]:
			source[i] = "-" + o.flag
		case getenv(o.env) != "":
			raw[i], source[i] = getenv(o.env), o.env
		default:
			raw[i], source[i] = o.def, "default -"+o.flag
		}
	}
	for _, l := range []struct {
		list *stringList
		opt  int
	}{{&verify, optVerify}, {&oidcIssuers, optOIDCIssuer}, {&corsOrigins, optCORS}} {
		if !l.list.set {
			for p := range strings.SplitSeq(getenv(options[l.opt].env), ",") {
				if p = strings.TrimSpace(p); p != "" {
					l.list.vals = append(l.list.vals, p)
				}
			}
		}
	}

	cfg := Config{
		Addr:           raw[optAddr],
		DatabaseURL:    raw[optDB],
		KeyFile:        raw[optKeyFile],
		VerifyKeyFiles: verify.vals,
		Issuer:         raw[optIssuer],
		Audience:       raw[optAudience],
		SeedPassword:   getenv(envPassword),
	}
	for _, i := range []int{optAddr, optDB, optKeyFile, optAudience} {
		if strings.TrimSpace(raw[i]) == "" {
			return Config{}, fmt.Errorf("%s: must not be empty", source[i])
		}
	}
	if cfg.Issuer != "" {
		if err := checkIssuer(cfg.Issuer); err != nil {
			return Config{}, fmt.Errorf("%s: %w", source[optIssuer], err)
		}
	}
	if !isPostgres(cfg.DatabaseURL) {
		_, path, err := sqliteSource(cfg.DatabaseURL)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", source[optDB], err)
		}
		if path != "" {
			if err := checkDir(path); err != nil {
				return Config{}, fmt.Errorf("%s: %w", source[optDB], err)
			}
		}
	}
	if err := checkDir(cfg.KeyFile); err != nil {
		return Config{}, fmt.Errorf("%s: %w", source[optKeyFile], err)
	}
	ttl, err := time.ParseDuration(raw[optTTL])
	if err != nil {
		return Config{}, fmt.Errorf("%s: %q is not a duration such as 15m or 1h", source[optTTL], raw[optTTL])
	}
	if ttl < time.Second || ttl > maxAccessTTL {
		return Config{}, fmt.Errorf("%s: %s is not between 1s and 24h", source[optTTL], raw[optTTL])
	}
	cfg.AccessTTL = ttl
	cfg.RedisURL = raw[optRedis]
	durations := []struct {
		i        int
		min, max time.Duration
		dst      *time.Duration
	}{
		{optStaleness, 100 * time.Millisecond, time.Hour, &cfg.RevocationStaleness},
		{optRefreshLifetime, time.Minute, 365 * 24 * time.Hour, &cfg.RefreshLifetime},
		{optRefreshIdle, time.Minute, 365 * 24 * time.Hour, &cfg.RefreshIdle},
	}
	for _, d := range durations {
		v, err := time.ParseDuration(raw[d.i])
		if err != nil {
			return Config{}, fmt.Errorf("%s: %q is not a duration such as 5s or 720h", source[d.i], raw[d.i])
		}
		if v < d.min || v > d.max {
			return Config{}, fmt.Errorf("%s: %s is not between %v and %v", source[d.i], raw[d.i], d.min, d.max)
		}
		*d.dst = v
	}
	if cfg.RefreshIdle > cfg.RefreshLifetime {
		return Config{}, fmt.Errorf("%s (%v) is longer than %s (%v)", source[optRefreshIdle], cfg.RefreshIdle,
			source[optRefreshLifetime], cfg.RefreshLifetime)
	}
	if cfg.RevocationFailOpen, err = strconv.ParseBool(raw[optFailOpen]); err != nil {
		return Config{}, fmt.Errorf("%s: %q is not true or false", source[optFailOpen], raw[optFailOpen])
	}
	if err := parseOIDC(&cfg, oidcIssuers.vals, raw, source, getenv); err != nil {
		return Config{}, err
	}
	if k := getenv("DEMO_DPOP_NONCE_KEY"); k != "" {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k, "="))
		if err != nil || len(b) != 32 {
			return Config{}, errors.New("DEMO_DPOP_NONCE_KEY: want 32 bytes in base64url (openssl rand -base64 32 | tr '+/' '-_')")
		}
		cfg.DPoPNonceKey = b
	}
	for _, o := range corsOrigins.vals {
		if err := checkOrigin(o); err != nil {
			return Config{}, fmt.Errorf("-cors-origin/DEMO_CORS_ORIGINS: %w", err)
		}
	}
	cfg.CORSOrigins = corsOrigins.vals
	return cfg, nil
}

// parseOIDC reads the OpenID Connect settings into cfg.
func parseOIDC(cfg *Config, issuers []string, raw, source []string, getenv func(string) string) error {
	seen := map[string]bool{}
	for _, iss := range issuers {
		if err := checkIssuer(iss); err != nil {
			return fmt.Errorf("-oidc-issuer/OIDC_ISSUER: %w", err)
		}
		if seen[iss] || iss == cfg.Issuer {
			return fmt.Errorf("-oidc-issuer/OIDC_ISSUER: %q is given twice, or is the demo's own issuer", iss)
		}
		seen[iss] = true
	}
	cfg.OIDCIssuers = issuers
	cfg.OIDCAudience = cmp.Or(raw[optOIDCAudience], cfg.Audience)
	cfg.OIDCMapping = raw[optOIDCMapping]
	if _, err := oidcMapping(cfg.OIDCMapping, cfg.OIDCAudience); err != nil {
		return fmt.Errorf("%s: %w", source[optOIDCMapping], err)
	}
	cfg.OIDCClientID, cfg.OIDCRedirectURL = raw[optOIDCClientID], raw[optOIDCRedirect]
	cfg.OIDCClientSecret = getenv("OIDC_CLIENT_SECRET")
	if cfg.OIDCClientID != "" && len(issuers) == 0 {
		return fmt.Errorf("%s: the login needs a provider: give -oidc-issuer", source[optOIDCClientID])
	}
	if cfg.OIDCRedirectURL != "" {
		if u, err := url.Parse(cfg.OIDCRedirectURL); err != nil || !u.IsAbs() || u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("%s: %q is not an absolute http(s) URL", source[optOIDCRedirect], cfg.OIDCRedirectURL)
		}
	}
	if k := getenv("OIDC_COOKIE_KEY"); k != "" {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k, "="))
		if err != nil || len(b) != 32 {
			return errors.New("OIDC_COOKIE_KEY: want 32 bytes in base64url (openssl rand -base64 32 | tr '+/' '-_')")
		}
		cfg.OIDCCookieKey = b
	}
	return nil
}

// checkOrigin accepts "*" or a browser origin: scheme://host[:port],
// nothing after it.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "/") {
		return fmt.Errorf("%q is not an origin such as https://app.example or http://localhost:5173 (no path, no trailing slash)", o)
	}
	return nil
}

// checkIssuer accepts an absolute http or https URL with a host and
// without user info, query or fragment (an issuer identifier, RFC 8414
// §2).
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%q is not an absolute http(s) URL such as https://api.example", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return fmt.Errorf("%q: an issuer has no user info, query or fragment", s)
	}
	return nil
}

// defaultDataDir is the one directory the demo creates by itself.
const defaultDataDir = "demo-data"

// checkDir refuses a file path whose directory does not exist, except the
// default ./demo-data, which the demo creates: a typo in a path is an
// error, not a new directory.
func checkDir(path string) error {
	dir := filepath.Dir(path)
	if filepath.Clean(dir) == defaultDataDir {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("directory %s does not exist (only ./%s is created)", dir, defaultDataDir)
	}
	return nil
}

// boolString is a boolean flag (-name, -name=false) stored as a string,
// like the other options, so the environment can fill it too.
type boolString struct{ s *string }

func (b boolString) String() string {
	if b.s == nil {
		return ""
	}
	return *b.s
}

func (b boolString) Set(v string) error {
	if _, err := strconv.ParseBool(v); err != nil {
		return errors.New("not true or false")
	}
	*b.s = v
	return nil
}

func (boolString) IsBoolFlag() bool { return true }
