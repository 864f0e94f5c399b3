package demo

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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
	// addrDefault says Addr is the default, no flag or variable gave it.
	addrDefault bool
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
	// RefreshGrace is the refresh tokens' grace period (-refresh-grace,
	// DEMO_REFRESH_GRACE, default 10s; 0: none).
	RefreshGrace time.Duration
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
	// OIDCAudiences overrides OIDCAudience for some providers, by issuer
	// (-oidc-audience ISSUER=AUDIENCE,…).
	OIDCAudiences map[string]string
	// OIDCMappings overrides OIDCMapping for some providers, by issuer
	// (-oidc-mapping ISSUER=NAME,…).
	OIDCMappings map[string]string
	// OIDCMapping says how the providers' claims become scopes and roles
	// (-oidc-mapping, OIDC_MAPPING): "generic" (default), "dex" (generic,
	// and the login's nonce in access tokens), "keycloak" (the audience
	// is the API's client), "auth0:NAMESPACE" (roles from the claim
	// NAMESPACE + "roles"), or "zitadel" or "zitadel:PROJECT_ID" (roles
	// from Zitadel's project roles claim).
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
	// TrustedProxies are the proxies in front of the demo (-trusted-proxy,
	// repeatable; DEMO_TRUSTED_PROXIES, comma-separated; a CIDR or one
	// address): from them, the login limits read the client address from
	// X-Forwarded-For (endpoint.ThrottleConfig.TrustedProxies). Empty:
	// the connection's address.
	TrustedProxies []netip.Prefix
	// Registration turns on dynamic client registration (-registration,
	// DEMO_REGISTRATION; default true): public clients only.
	Registration bool
	// ClientMetadataTestCA, for tests on one machine
	// (-client-metadata-test-ca, DEMO_CLIENT_METADATA_TEST_CA), is a PEM
	// CA that Client ID Metadata Documents are fetched with, from private
	// and loopback addresses too. Empty: the system's CAs, public
	// addresses only.
	ClientMetadataTestCA string
	// AuditLog is where the audit records go (-audit-log,
	// DEMO_AUDIT_LOG; default "-"): a file, appended to (created with
	// mode 0600), or "-" for stderr. They are JSON lines of their own
	// (package audit, docs/audit.md), apart from the text log.
	AuditLog string
	// RequestLog logs every request, method, path, status and duration
	// (-request-log, DEMO_REQUEST_LOG; default false): under load, a line
	// per request is more than most logs want.
	RequestLog bool
	// AuthorizeKey seals the pending authorization request into the
	// login page (DEMO_AUTHORIZE_KEY, 32 bytes in base64url; environment
	// only): instances behind one load balancer need the same. Empty: a
	// random key per process.
	AuthorizeKey []byte
	// Now returns the current time for issuing and verifying tokens.
	// Nil means time.Now. It exists for tests.
	Now func() time.Time

	// passwords is the password hashing cost; the zero value means
	// password.DefaultParams. Tests lower it to stay fast.
	passwords password.Config
}

// ParseConfig reads the configuration from command-line arguments (without
// the program name) and environment variables (through getenv), in that
// order of precedence, over the defaults. For -h or -help it writes the
// usage text to out and returns [flag.ErrHelp].
//
// It checks the values in the order of the steps below and reports the
// first problem, naming where the value came from.
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	s := &settings{getenv: getenv}
	if err := s.parseFlags(args, out); err != nil {
		return Config{}, err
	}
	s.resolve()
	cfg := s.stringFields()
	for _, step := range []func(*Config) error{
		s.requireValues,
		s.checkOwnIssuer,
		s.checkDatabasePath,
		s.checkKeyFileDir,
		s.parseAccessTTL,
		s.parseLifetimes,
		s.parseFailOpen,
		s.parseOIDC,
		s.parseDPoPNonceKey,
		s.checkCORSOrigins,
		s.parseTrustedProxies,
		s.parseAuthorization,
		s.parseLogs,
	} {
		if err := step(&cfg); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

// stringFields returns a Config with the settings that are used as given.
func (s *settings) stringFields() Config {
	return Config{
		Addr:           s.raw[optAddr],
		addrDefault:    !s.fromFlag[options[optAddr].flag] && s.getenv(options[optAddr].env) == "",
		DatabaseURL:    s.raw[optDB],
		KeyFile:        s.raw[optKeyFile],
		VerifyKeyFiles: s.verify.vals,
		Issuer:         s.raw[optIssuer],
		Audience:       s.raw[optAudience],
		RedisURL:       s.raw[optRedis],
		SeedPassword:   s.getenv(envPassword),
	}
}

// requireValues refuses an empty or blank address, database, key file or
// audience.
func (s *settings) requireValues(*Config) error {
	for _, i := range []int{optAddr, optDB, optKeyFile, optAudience} {
		if strings.TrimSpace(s.raw[i]) == "" {
			return fmt.Errorf("%s: must not be empty", s.source[i])
		}
	}
	return nil
}

// checkOwnIssuer checks the demo's issuer, when one is given.
func (s *settings) checkOwnIssuer(cfg *Config) error {
	if cfg.Issuer == "" {
		return nil
	}
	if err := checkIssuer(cfg.Issuer); err != nil {
		return fmt.Errorf("%s: %w", s.source[optIssuer], err)
	}
	return nil
}

// checkDatabasePath checks that a SQLite database is named the way the
// demo understands, in a directory that exists (see [checkDir]).
func (s *settings) checkDatabasePath(cfg *Config) error {
	if isPostgres(cfg.DatabaseURL) {
		return nil
	}
	_, path, err := sqliteSource(cfg.DatabaseURL)
	if err == nil && path != "" {
		err = checkDir(path)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.source[optDB], err)
	}
	return nil
}

// checkKeyFileDir checks that the key file's directory exists (see
// [checkDir]).
func (s *settings) checkKeyFileDir(cfg *Config) error {
	if err := checkDir(cfg.KeyFile); err != nil {
		return fmt.Errorf("%s: %w", s.source[optKeyFile], err)
	}
	return nil
}

// parseAccessTTL reads the access token lifetime, 1s to maxAccessTTL.
func (s *settings) parseAccessTTL(cfg *Config) (err error) {
	cfg.AccessTTL, err = s.parseDuration(optTTL, time.Second, maxAccessTTL, "15m or 1h", "1s and 24h")
	return err
}

// parseLifetimes reads the revocation list's staleness bound and the
// refresh token families' lifetimes, the idle one no longer than the
// absolute one.
func (s *settings) parseLifetimes(cfg *Config) error {
	for _, d := range []struct {
		opt      int
		min, max time.Duration
		dst      *time.Duration
	}{
		{optStaleness, 100 * time.Millisecond, time.Hour, &cfg.RevocationStaleness},
		{optRefreshLifetime, time.Minute, 365 * 24 * time.Hour, &cfg.RefreshLifetime},
		{optRefreshIdle, time.Minute, 365 * 24 * time.Hour, &cfg.RefreshIdle},
		{optRefreshGrace, 0, time.Minute, &cfg.RefreshGrace},
	} {
		v, err := s.parseDuration(d.opt, d.min, d.max, "5s or 720h", fmt.Sprintf("%v and %v", d.min, d.max))
		if err != nil {
			return err
		}
		*d.dst = v
	}
	if cfg.RefreshIdle > cfg.RefreshLifetime {
		return fmt.Errorf("%s (%v) is longer than %s (%v)", s.source[optRefreshIdle], cfg.RefreshIdle,
			s.source[optRefreshLifetime], cfg.RefreshLifetime)
	}
	return nil
}

// parseDuration reads option i, a duration from lo to hi. The error for
// a value that does not parse gives examples, the one for a value out of
// range the bounds, both as words.
func (s *settings) parseDuration(i int, lo, hi time.Duration, examples, bounds string) (time.Duration, error) {
	v, err := time.ParseDuration(s.raw[i])
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration such as %s", s.source[i], s.raw[i], examples)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%s: %s is not between %s", s.source[i], s.raw[i], bounds)
	}
	return v, nil
}

// parseFailOpen reads whether a stale revocation list keeps serving.
func (s *settings) parseFailOpen(cfg *Config) (err error) {
	if cfg.RevocationFailOpen, err = strconv.ParseBool(s.raw[optFailOpen]); err != nil {
		return fmt.Errorf("%s: %q is not true or false", s.source[optFailOpen], s.raw[optFailOpen])
	}
	return nil
}

// parseOIDC reads the OpenID Connect settings into cfg: the providers,
// the audience and claim mapping of their tokens, and the login through
// them.
func (s *settings) parseOIDC(cfg *Config) error {
	if err := checkOIDCIssuers(s.oidcIssuers.vals, cfg.Issuer); err != nil {
		return err
	}
	cfg.OIDCIssuers = s.oidcIssuers.vals
	aud, auds, err := perIssuer(s.raw[optOIDCAudience], cfg.OIDCIssuers, "audience")
	if err != nil {
		return fmt.Errorf("%s: %w", s.source[optOIDCAudience], err)
	}
	cfg.OIDCAudience, cfg.OIDCAudiences = cmp.Or(aud, cfg.Audience), auds
	mapping, mappings, err := perIssuer(s.raw[optOIDCMapping], cfg.OIDCIssuers, "mapping")
	if err != nil {
		return fmt.Errorf("%s: %w", s.source[optOIDCMapping], err)
	}
	cfg.OIDCMapping, cfg.OIDCMappings = cmp.Or(mapping, "generic"), mappings
	for _, iss := range append([]string{""}, cfg.OIDCIssuers...) {
		if _, err := oidcMapping(cfg.mappingOf(iss), cfg.audienceOf(iss)); err != nil {
			return fmt.Errorf("%s: %w", s.source[optOIDCMapping], err)
		}
	}
	return s.parseOIDCLogin(cfg)
}

// perIssuer reads an option of the providers (what: "mapping",
// "audience"): a value for every provider ("keycloak"), and,
// comma-separated, ISSUER=VALUE for one provider
// ("https://kc.example/realms/a=keycloak,https://x.eu.auth0.com/=auth0:https://ns/").
// An empty option gives neither.
func perIssuer(option string, issuers []string, what string) (all string, byIssuer map[string]string, err error) {
	if option == "" {
		return "", nil, nil
	}
	defaults := 0
	for part := range strings.SplitSeq(option, ",") {
		part = strings.TrimSpace(part)
		iss, value, pair := strings.Cut(part, "=")
		switch {
		case part == "" || pair && value == "":
			return "", nil, fmt.Errorf("an empty %s", what)
		case !pair:
			if defaults++; defaults > 1 {
				return "", nil, fmt.Errorf("%q: give one %s for every provider, and ISSUER=%s pairs for the others", option, what, strings.ToUpper(what))
			}
			all = part
		case !slices.Contains(issuers, iss):
			return "", nil, fmt.Errorf("%q names no -oidc-issuer", iss)
		case byIssuer[iss] != "":
			return "", nil, fmt.Errorf("%q has two %ss", iss, what)
		default:
			if byIssuer == nil {
				byIssuer = map[string]string{}
			}
			byIssuer[iss] = value
		}
	}
	return all, byIssuer, nil
}

// mappingOf returns the name of the mapping of the provider iss.
func (cfg *Config) mappingOf(iss string) string {
	return cmp.Or(cfg.OIDCMappings[iss], cfg.OIDCMapping)
}

// audienceOf returns the audience of the tokens of the provider iss.
func (cfg *Config) audienceOf(iss string) string {
	return cmp.Or(cfg.OIDCAudiences[iss], cfg.OIDCAudience)
}

// parseOIDCLogin reads the settings of the login through the first
// provider: the client, its secret, the redirect URL and the key that
// seals the state cookie.
func (s *settings) parseOIDCLogin(cfg *Config) error {
	cfg.OIDCClientID, cfg.OIDCRedirectURL = s.raw[optOIDCClientID], s.raw[optOIDCRedirect]
	cfg.OIDCClientSecret = s.getenv(envOIDCClientSecret)
	if cfg.OIDCClientID != "" && len(cfg.OIDCIssuers) == 0 {
		return fmt.Errorf("%s: the login needs a provider: give -oidc-issuer", s.source[optOIDCClientID])
	}
	if cfg.OIDCRedirectURL != "" {
		if u, err := url.Parse(cfg.OIDCRedirectURL); err != nil || !u.IsAbs() || u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("%s: %q is not an absolute http(s) URL", s.source[optOIDCRedirect], cfg.OIDCRedirectURL)
		}
	}
	var err error
	cfg.OIDCCookieKey, err = key32(s.getenv, envOIDCCookieKey)
	return err
}

// checkOIDCIssuers checks the providers' issuer identifiers: each valid,
// given once, and none the demo's own issuer.
func checkOIDCIssuers(issuers []string, own string) error {
	seen := map[string]bool{}
	for _, iss := range issuers {
		if err := checkProviderIssuer(iss); err != nil {
			return fmt.Errorf("%s: %w", listSource(optOIDCIssuer), err)
		}
		if seen[iss] || iss == own {
			return fmt.Errorf("%s: %q is given twice, or is the demo's own issuer", listSource(optOIDCIssuer), iss)
		}
		seen[iss] = true
	}
	return nil
}

// parseDPoPNonceKey reads the key that makes the demo require DPoP
// server nonces, when it is set.
func (s *settings) parseDPoPNonceKey(cfg *Config) (err error) {
	cfg.DPoPNonceKey, err = key32(s.getenv, envDPoPNonceKey)
	return err
}

// checkCORSOrigins checks the browser origins allowed to call the API.
func (s *settings) checkCORSOrigins(cfg *Config) error {
	for _, o := range s.corsOrigins.vals {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("%s: %w", listSource(optCORS), err)
		}
	}
	cfg.CORSOrigins = s.corsOrigins.vals
	return nil
}

// parseAuthorization reads the settings of the authorization endpoint.
func (s *settings) parseAuthorization(cfg *Config) (err error) {
	if cfg.Registration, err = strconv.ParseBool(s.raw[optRegistration]); err != nil {
		return fmt.Errorf("%s: %q is not true or false", s.source[optRegistration], s.raw[optRegistration])
	}
	cfg.ClientMetadataTestCA = s.raw[optMetadataCA]
	cfg.AuthorizeKey, err = key32(s.getenv, envAuthorizeKey)
	return err
}

// parseLogs reads where the audit records go, a file in a directory
// that exists or "-", and whether requests are logged.
func (s *settings) parseLogs(cfg *Config) (err error) {
	cfg.AuditLog = s.raw[optAuditLog]
	switch {
	case strings.TrimSpace(cfg.AuditLog) == "":
		return fmt.Errorf("%s: must not be empty (- is stderr)", s.source[optAuditLog])
	case cfg.AuditLog != "-":
		if err := checkDir(cfg.AuditLog); err != nil {
			return fmt.Errorf("%s: %w", s.source[optAuditLog], err)
		}
	}
	if cfg.RequestLog, err = strconv.ParseBool(s.raw[optRequestLog]); err != nil {
		return fmt.Errorf("%s: %q is not true or false", s.source[optRequestLog], s.raw[optRequestLog])
	}
	return nil
}

// parseTrustedProxies reads the proxies' prefixes: a CIDR, or one
// address (its /32 or /128).
func (s *settings) parseTrustedProxies(cfg *Config) error {
	for _, v := range s.trustedProxies.vals {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil || a.Zone() != "" {
				return fmt.Errorf("%s: %q is neither a CIDR (10.0.0.0/8) nor an IP address", listSource(optTrustedProxy), v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p != p.Masked() {
			return fmt.Errorf("%s: %q has bits set past its prefix length: did you mean %s?", listSource(optTrustedProxy), v, p.Masked())
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	return nil
}

// listSource names list option i in errors: both its flag and its
// variable, as a list may come from either.
func listSource(i int) string {
	return "-" + options[i].flag + "/" + options[i].env
}

// key32 reads a 32-byte key, in base64url with or without padding, from
// the environment variable env; nil when the variable is unset.
func key32(getenv func(string) string, env string) ([]byte, error) {
	k := getenv(env)
	if k == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k, "="))
	if err != nil || len(b) != 32 {
		return nil, errors.New(env + ": want 32 bytes in base64url (openssl rand -base64 32 | tr '+/' '-_')")
	}
	return b, nil
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

// checkProviderIssuer accepts the issuer of an OpenID Connect provider:
// an issuer checkIssuer takes, over https, or http on a loopback host
// (a provider on the same machine, for development), without a comma
// (two issuers given as one by mistake).
func checkProviderIssuer(s string) error {
	if err := checkIssuer(s); err != nil {
		return err
	}
	u, _ := url.Parse(s)
	switch {
	case strings.Contains(s, ","):
		return fmt.Errorf("%q: one issuer per -oidc-issuer (the variable takes a comma-separated list)", s)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return fmt.Errorf("%q: a provider is reached over https (http only on a loopback host)", s)
	}
	return nil
}

// isLoopback reports whether host is localhost (in any case) or a
// loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
