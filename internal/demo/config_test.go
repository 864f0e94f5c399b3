package demo

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/password"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfigPrecedence(t *testing.T) {
	allEnv := map[string]string{
		"DEMO_ADDR":             "127.0.0.1:9001",
		"DATABASE_URL":          "sqlite:/tmp/env.db",
		"DEMO_KEY_FILE":         "/tmp/env.pem",
		"DEMO_VERIFY_KEY_FILES": "/tmp/old1.pem, /tmp/old2.pem,,",
		"DEMO_ISSUER":           "https://env.example",
		"DEMO_AUDIENCE":         "env-api",
		"DEMO_ACCESS_TTL":       "5m",
		"DEMO_PASSWORD":         "env-password",
	}
	allFlags := []string{
		"-addr", "127.0.0.1:9002",
		"-db", "/tmp/flag.db",
		"-key-file", "/tmp/flag.pem",
		"-verify-key-file", "/tmp/f1.pem", "-verify-key-file=/tmp/f2.pem",
		"-issuer", "https://flag.example",
		"-audience", "flag-api",
		"-access-ttl", "1h",
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want Config
	}{
		{"defaults", nil, nil, Config{
			Addr: "127.0.0.1:8080", DatabaseURL: "./demo-data/demo.db", KeyFile: "./demo-data/signing-key.pem",
			Audience: "demo-api", AccessTTL: 15 * time.Minute,
		}},
		{"environment over defaults", nil, allEnv, Config{
			Addr: "127.0.0.1:9001", DatabaseURL: "sqlite:/tmp/env.db", KeyFile: "/tmp/env.pem",
			VerifyKeyFiles: []string{"/tmp/old1.pem", "/tmp/old2.pem"}, Issuer: "https://env.example",
			Audience: "env-api", AccessTTL: 5 * time.Minute, SeedPassword: "env-password",
		}},
		{"flags over environment", allFlags, allEnv, Config{
			Addr: "127.0.0.1:9002", DatabaseURL: "/tmp/flag.db", KeyFile: "/tmp/flag.pem",
			VerifyKeyFiles: []string{"/tmp/f1.pem", "/tmp/f2.pem"}, Issuer: "https://flag.example",
			Audience: "flag-api", AccessTTL: time.Hour, SeedPassword: "env-password",
		}},
		{"flags over defaults", allFlags, nil, Config{
			Addr: "127.0.0.1:9002", DatabaseURL: "/tmp/flag.db", KeyFile: "/tmp/flag.pem",
			VerifyKeyFiles: []string{"/tmp/f1.pem", "/tmp/f2.pem"}, Issuer: "https://flag.example",
			Audience: "flag-api", AccessTTL: time.Hour,
		}},
		{"some flags, some environment", []string{"-addr=:0"}, map[string]string{"DEMO_ADDR": "x:1", "DEMO_AUDIENCE": "a"}, Config{
			Addr: ":0", DatabaseURL: "./demo-data/demo.db", KeyFile: "./demo-data/signing-key.pem",
			Audience: "a", AccessTTL: 15 * time.Minute,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got.Addr != tt.want.Addr || got.DatabaseURL != tt.want.DatabaseURL || got.KeyFile != tt.want.KeyFile ||
				!slices.Equal(got.VerifyKeyFiles, tt.want.VerifyKeyFiles) || got.Issuer != tt.want.Issuer ||
				got.Audience != tt.want.Audience || got.AccessTTL != tt.want.AccessTTL || got.SeedPassword != tt.want.SeedPassword ||
				got.Now != nil || got.passwords != (password.Config{}) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		mention string
	}{
		{"unknown flag", []string{"-nope"}, nil, "-nope"},
		{"positional argument", []string{"serve"}, nil, `"serve"`},
		{"bad TTL flag", []string{"-access-ttl", "soon"}, nil, "-access-ttl"},
		{"bad TTL env", nil, map[string]string{"DEMO_ACCESS_TTL": "15"}, "DEMO_ACCESS_TTL"},
		{"negative TTL", []string{"-access-ttl=-1m"}, nil, "-access-ttl"},
		{"sub-second TTL", []string{"-access-ttl=500ms"}, nil, "-access-ttl"},
		{"TTL too long", nil, map[string]string{"DEMO_ACCESS_TTL": "48h"}, "DEMO_ACCESS_TTL"},
		{"empty addr flag", []string{"-addr="}, map[string]string{"DEMO_ADDR": "127.0.0.1:1"}, "-addr"},
		{"empty audience", []string{"-audience", " "}, nil, "-audience"},
		{"empty verify key file", []string{"-verify-key-file="}, nil, "verify-key-file"},

		// Typos are refused instead of creating things.
		{"issuer without scheme", []string{"-issuer", "api.example"}, nil, "-issuer"},
		{"issuer ftp", []string{"-issuer", "ftp://api.example"}, nil, "-issuer"},
		{"issuer without host", []string{"-issuer", "https://"}, nil, "-issuer"},
		{"issuer a path", []string{"-issuer", "/api"}, nil, "-issuer"},
		{"issuer with a query", nil, map[string]string{"DEMO_ISSUER": "https://api.example?x=1"}, "DEMO_ISSUER"},
		{"issuer with a fragment", []string{"-issuer", "https://api.example#x"}, nil, "-issuer"},
		{"issuer with user info", []string{"-issuer", "https://u:p@api.example"}, nil, "-issuer"},
		{"db host:port", []string{"-db", "localhost:5432/app"}, nil, "-db"},
		{"db postgres with one slash", []string{"-db", "postgres:/app"}, nil, "-db"},
		{"db a word", nil, map[string]string{"DATABASE_URL": "demo"}, "DATABASE_URL"},
		{"db mysql", []string{"-db", "mysql://u@h/db"}, nil, "-db"},
		{"db file: URI without an extension", []string{"-db", "file:/tmp/typo"}, nil, "-db"},
		{"db in a missing directory", []string{"-db", "/nonexistent-dir/demo.db"}, nil, "does not exist"},
		{"db in a mistyped directory", []string{"-db", "./demo-dta/demo.db"}, nil, "-db"},
		{"audit log in a missing directory", []string{"-audit-log", "/nonexistent-dir/audit.jsonl"}, nil, "-audit-log"},
		{"empty audit log", nil, map[string]string{"DEMO_AUDIT_LOG": " "}, "DEMO_AUDIT_LOG"},
		{"request log not a bool", nil, map[string]string{"DEMO_REQUEST_LOG": "yes please"}, "DEMO_REQUEST_LOG"},
		{"key file in a missing directory", []string{"-key-file", "/nonexistent-dir/key.pem"}, nil, "-key-file"},

		// OpenID Connect.
		{"oidc issuer without scheme", []string{"-oidc-issuer", "idp.example"}, nil, "oidc-issuer"},
		{"oidc issuer twice", []string{"-oidc-issuer", "https://idp.example", "-oidc-issuer", "https://idp.example"}, nil, "twice"},
		{"oidc issuer the demo's own", []string{"-issuer", "https://api.example", "-oidc-issuer", "https://api.example"}, nil, "own issuer"},
		{"oidc issuer list with a typo", nil, map[string]string{"OIDC_ISSUER": "https://a.example, b.example"}, "OIDC_ISSUER"},
		{"oidc issuers as one flag value", []string{"-oidc-issuer", "https://a.example,https://b.example"}, nil, "one issuer per -oidc-issuer"},
		{"oidc issuer over http", []string{"-oidc-issuer", "http://idp.example"}, nil, "https"},
		{"oidc issuer with a query", []string{"-oidc-issuer", "https://idp.example/?realm=a"}, nil, "query"},
		{"oidc mapping unknown", []string{"-oidc-mapping", "okta"}, nil, "-oidc-mapping"},
		{"oidc mapping for an unknown issuer", []string{"-oidc-issuer", "https://a.example", "-oidc-mapping", "https://b.example=keycloak"}, nil, "names no -oidc-issuer"},
		{"oidc mapping twice for one issuer", []string{"-oidc-issuer", "https://a.example", "-oidc-mapping", "https://a.example=keycloak,https://a.example=generic"}, nil, "two mappings"},
		{"oidc two default mappings", []string{"-oidc-issuer", "https://a.example", "-oidc-mapping", "keycloak,generic"}, nil, "one mapping for every provider"},
		{"oidc mapping unknown for one issuer", []string{"-oidc-issuer", "https://a.example", "-oidc-mapping", "https://a.example=okta"}, nil, "-oidc-mapping"},
		{"oidc audience for an unknown issuer", []string{"-oidc-issuer", "https://a.example", "-oidc-audience", "https://b.example=api"}, nil, "-oidc-audience: \"https://b.example\" names no -oidc-issuer"},
		{"oidc audience twice for one issuer", []string{"-oidc-issuer", "https://a.example", "-oidc-audience", "https://a.example=x,https://a.example=y"}, nil, "two audiences"},
		{"oidc two default audiences", []string{"-oidc-issuer", "https://a.example", "-oidc-audience", "x,y"}, nil, "one audience for every provider"},
		{"oidc empty audience for one issuer", []string{"-oidc-issuer", "https://a.example", "-oidc-audience", "https://a.example="}, nil, "an empty audience"},
		{"oidc mapping auth0 without namespace", nil, map[string]string{"OIDC_MAPPING": "auth0:"}, "OIDC_MAPPING"},
		{"oidc client without issuer", []string{"-oidc-client-id", "web"}, nil, "-oidc-client-id"},
		{"oidc redirect relative", []string{"-oidc-issuer", "https://idp.example", "-oidc-redirect-url", "/cb"}, nil, "-oidc-redirect-url"},
		{"oidc cookie key short", nil, map[string]string{"OIDC_COOKIE_KEY": "c2hvcnQ"}, "OIDC_COOKIE_KEY"},
		{"cors origin with a path", []string{"-cors-origin", "https://app.example/"}, nil, "cors-origin"},
		{"cors origin without scheme", nil, map[string]string{"DEMO_CORS_ORIGINS": "app.example"}, "DEMO_CORS_ORIGINS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(tt.args, env(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("err = %v, want one mentioning %s", err, tt.mention)
			}
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out strings.Builder
		_, err := ParseConfig([]string{arg}, env(nil), &out)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s: err = %v, want flag.ErrHelp", arg, err)
		}
		help := out.String()
		want := []string{"DEMO_PASSWORD", "127.0.0.1:8080", "./demo-data/demo.db", "./demo-data/signing-key.pem", "15m"}
		for _, f := range documentedFlags {
			want = append(want, "-"+f.flag+" ", f.env)
		}
		for _, w := range want {
			if !strings.Contains(help, w) {
				t.Errorf("%s output lacks %q:\n%s", arg, w, help)
			}
		}
	}
}

// documentedFlags are the settings of the demo, as specified.
var documentedFlags = []struct{ flag, env, value string }{
	{"addr", "DEMO_ADDR", "127.0.0.1:0"},
	{"db", "DATABASE_URL", "x.db"},
	{"key-file", "DEMO_KEY_FILE", "x.pem"},
	{"verify-key-file", "DEMO_VERIFY_KEY_FILES", "y.pem"},
	{"issuer", "DEMO_ISSUER", "https://x"},
	{"audience", "DEMO_AUDIENCE", "x"},
	{"access-ttl", "DEMO_ACCESS_TTL", "1m"},
	{"redis", "REDIS_URL", "redis://127.0.0.1:6379/0"},
	{"revocation-staleness", "DEMO_REVOCATION_STALENESS", "2s"},
	{"revocation-fail-open", "DEMO_REVOCATION_FAIL_OPEN", "true"},
	{"refresh-lifetime", "DEMO_REFRESH_LIFETIME", "240h"},
	{"refresh-idle", "DEMO_REFRESH_IDLE", "24h"},
	{"refresh-grace", "DEMO_REFRESH_GRACE", "5s"},
	{"oidc-issuer", "OIDC_ISSUER", "https://idp.example"},
	{"oidc-audience", "OIDC_AUDIENCE", "api"},
	{"oidc-mapping", "OIDC_MAPPING", "keycloak"},
	{"oidc-client-id", "OIDC_CLIENT_ID", "web"},
	{"oidc-redirect-url", "OIDC_REDIRECT_URL", "https://api.example/auth/oidc/callback"},
	{"cors-origin", "DEMO_CORS_ORIGINS", "https://app.example"},
	{"trusted-proxy", "DEMO_TRUSTED_PROXIES", "10.0.0.0/8"},
	{"registration", "DEMO_REGISTRATION", "false"},
	{"client-metadata-test-ca", "DEMO_CLIENT_METADATA_TEST_CA", "/tmp/ca.pem"},
	{"audit-log", "DEMO_AUDIT_LOG", "/tmp/audit.jsonl"},
	{"request-log", "DEMO_REQUEST_LOG", "true"},
}

// TestLogSettings: the audit records go to stderr and requests are not
// logged, unless said otherwise.
func TestLogSettings(t *testing.T) {
	cfg, err := ParseConfig(nil, env(nil), io.Discard)
	if err != nil || cfg.AuditLog != "-" || cfg.RequestLog {
		t.Fatalf("defaults: %q %v %v", cfg.AuditLog, cfg.RequestLog, err)
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg, err = ParseConfig([]string{"-request-log", "-audit-log", path}, env(map[string]string{"DEMO_AUDIT_LOG": "-", "DEMO_REQUEST_LOG": "false"}), io.Discard)
	if err != nil || cfg.AuditLog != path || !cfg.RequestLog {
		t.Fatalf("flags: %q %v %v", cfg.AuditLog, cfg.RequestLog, err)
	}
	cfg, err = ParseConfig(nil, env(map[string]string{"DEMO_AUDIT_LOG": path, "DEMO_REQUEST_LOG": "true"}), io.Discard)
	if err != nil || cfg.AuditLog != path || !cfg.RequestLog {
		t.Fatalf("environment: %q %v %v", cfg.AuditLog, cfg.RequestLog, err)
	}
}

// TestRevocationAndRefreshSettings checks their parsing, bounds and
// precedence.
func TestRevocationAndRefreshSettings(t *testing.T) {
	cfg, err := ParseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RedisURL != "" || cfg.RevocationStaleness != 5*time.Second || cfg.RevocationFailOpen ||
		cfg.RefreshLifetime != 30*24*time.Hour || cfg.RefreshIdle != 7*24*time.Hour || cfg.RefreshGrace != 10*time.Second {
		t.Errorf("defaults %+v", cfg)
	}
	cfg, err = ParseConfig([]string{"-revocation-fail-open", "-revocation-staleness", "250ms"},
		env(map[string]string{"REDIS_URL": "redis://r:1/0", "DEMO_REFRESH_IDLE": "1h", "DEMO_REVOCATION_FAIL_OPEN": "false"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RedisURL != "redis://r:1/0" || !cfg.RevocationFailOpen || cfg.RevocationStaleness != 250*time.Millisecond || cfg.RefreshIdle != time.Hour {
		t.Errorf("parsed %+v", cfg)
	}
	for _, bad := range [][]string{
		{"-revocation-staleness", "10ms"},
		{"-revocation-staleness", "soon"},
		{"-refresh-idle", "800h"},
		{"-refresh-lifetime", "30s"},
		{"-refresh-grace", "2m"},
		{"-refresh-grace", "-1s"},
		{"-revocation-fail-open=maybe"},
	} {
		if _, err := ParseConfig(bad, env(nil), io.Discard); err == nil {
			t.Errorf("ParseConfig(%q) succeeded", bad)
		}
	}
	if _, err := ParseConfig(nil, env(map[string]string{"DEMO_REVOCATION_FAIL_OPEN": "yes"}), io.Discard); err == nil {
		t.Error("DEMO_REVOCATION_FAIL_OPEN=yes accepted")
	}
}

// TestFlagsAreDocumented checks that the flag set and the usage text agree:
// every specified flag exists, and every flag has an environment variable.
func TestFlagsAreDocumented(t *testing.T) {
	for _, f := range documentedFlags {
		args := []string{"-" + f.flag + "=" + f.value}
		if strings.HasPrefix(f.flag, "oidc-") && f.flag != "oidc-issuer" {
			args = append(args, "-oidc-issuer=https://idp.example") // the OIDC flags need a provider
		}
		if _, err := ParseConfig(args, env(nil), io.Discard); err != nil {
			t.Errorf("-%s: %v", f.flag, err)
		}
	}
	if len(options) != len(documentedFlags) {
		t.Errorf("%d flags, %d documented", len(options), len(documentedFlags))
	}
	for i, o := range options {
		if o.env == "" || o.help == "" || o.arg == "" {
			t.Errorf("option %d (-%s) lacks an environment variable, help or argument name", i, o.flag)
		}
	}
}

func TestRunHelpPrintsUsageAndSucceeds(t *testing.T) {
	var stdout, stderr strings.Builder
	if err := Run(t.Context(), []string{"-h"}, env(nil), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "Usage: demo-api") || stderr.Len() != 0 {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

// TestParseConfigAcceptsPlausibleValues: what the checks above must not
// refuse.
func TestParseConfigAcceptsPlausibleValues(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-issuer", "https://api.example"},
		{"-issuer", "http://127.0.0.1:8080/tenant/1"},
		{"-db", filepath.Join(dir, "x.db")},
		{"-db", filepath.Join(dir, "x.SQLITE3")},
		{"-db", "sqlite:" + filepath.Join(dir, "x.sqlite")},
		{"-db", "file:" + filepath.Join(dir, "x.db") + "?mode=rwc"},
		{"-db", ":memory:"},
		{"-db", "postgres://u:p@db.internal/app"},
		{"-db", "POSTGRESQL://u:p@db.internal/app"},
		{"-db", "./demo-data/other.db", "-key-file", "./demo-data/other.pem"},
		{"-key-file", filepath.Join(dir, "k.pem")},
	} {
		if _, err := ParseConfig(args, env(nil), io.Discard); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestEnvironmentKeys: OIDC_COOKIE_KEY and DEMO_DPOP_NONCE_KEY each take
// 32 bytes in base64url, padded or not, and refuse anything else by name.
func TestEnvironmentKeys(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(0xe0 + i) // base64 has + and / here, base64url - and _
	}
	field := map[string]func(Config) []byte{
		"OIDC_COOKIE_KEY":     func(c Config) []byte { return c.OIDCCookieKey },
		"DEMO_DPOP_NONCE_KEY": func(c Config) []byte { return c.DPoPNonceKey },
	}
	for name, get := range field {
		for _, good := range []string{base64.RawURLEncoding.EncodeToString(key), base64.URLEncoding.EncodeToString(key)} {
			cfg, err := ParseConfig(nil, env(map[string]string{name: good}), io.Discard)
			if err != nil || !bytes.Equal(get(cfg), key) {
				t.Errorf("%s=%s: %x, %v", name, good, get(cfg), err)
			}
		}
		want := name + ": want 32 bytes in base64url (openssl rand -base64 32 | tr '+/' '-_')"
		for _, bad := range []string{"c2hvcnQ", base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(append(key, 0))} {
			if _, err := ParseConfig(nil, env(map[string]string{name: bad}), io.Discard); err == nil || err.Error() != want {
				t.Errorf("%s=%s: err %v, want %q", name, bad, err, want)
			}
		}
	}
}

// TestOIDCMappingPerIssuer: one mapping for every provider, and
// ISSUER=NAME for one; http providers on loopback hosts only.
func TestOIDCMappingPerIssuer(t *testing.T) {
	cfg, err := ParseConfig([]string{"-oidc-issuer", "https://kc.example/realms/a", "-oidc-issuer", "https://x.eu.auth0.com/",
		"-oidc-issuer", "http://127.0.0.1:5556/dex", "-oidc-issuer", "http://localhost:9000", "-oidc-issuer", "http://LOCALHOST:9001",
		"-oidc-mapping", "keycloak,https://x.eu.auth0.com/=auth0:https://ns.example/"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for iss, want := range map[string]string{"https://kc.example/realms/a": "keycloak", "https://x.eu.auth0.com/": "auth0:https://ns.example/",
		"http://127.0.0.1:5556/dex": "keycloak"} {
		if got := cfg.mappingOf(iss); got != want {
			t.Errorf("mapping of %s = %q, want %q", iss, got, want)
		}
	}
}

// TestOIDCAudiencePerIssuer: -oidc-audience takes an audience for every
// provider and ISSUER=AUDIENCE pairs, so a Keycloak realm (audience: the
// API's client) and a Zitadel project (audience: its id) can be accepted
// together; the general audiences are all of them.
func TestOIDCAudiencePerIssuer(t *testing.T) {
	cfg, err := ParseConfig([]string{"-oidc-issuer", "https://kc.example/realms/a", "-oidc-issuer", "https://acme.zitadel.cloud",
		"-oidc-audience", "api,https://acme.zitadel.cloud=312909075212468631",
		"-oidc-mapping", "keycloak,https://acme.zitadel.cloud=zitadel"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for iss, want := range map[string]string{"https://kc.example/realms/a": "api", "https://acme.zitadel.cloud": "312909075212468631"} {
		if got := cfg.audienceOf(iss); got != want {
			t.Errorf("audience of %s = %q, want %q", iss, got, want)
		}
	}
	want := slices.Compact([]string{cfg.Audience, "api", "312909075212468631"}) // -audience defaults to api
	if got := generalAudiences(cfg, resources{}); !slices.Equal(got, want) {
		t.Errorf("general audiences %q, want %q", got, want)
	}
	ps, err := oidcProviders(cfg, nil)
	if err != nil || len(ps) != 2 {
		t.Fatalf("providers: %v", err)
	}
}
