package middleware_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/sessionless/sessionless/identity"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
)

// The first-party claims say what audience they have.
var _ middleware.Audienced = (*token.Claims)(nil)

// TestResourceMetadataURL: the well-known name goes between the host and
// the path (RFC 9728 §3.1).
func TestResourceMetadataURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.example":              "https://api.example/.well-known/oauth-protected-resource",
		"https://api.example/":             "https://api.example/.well-known/oauth-protected-resource",
		"https://api.example/graphql":      "https://api.example/.well-known/oauth-protected-resource/graphql",
		"https://api.example:8443/t/api":   "https://api.example:8443/.well-known/oauth-protected-resource/t/api",
		"https://api.example/t/api/":       "https://api.example/.well-known/oauth-protected-resource/t/api/",
		"http://127.0.0.1:8080/a%2Fb/c":    "http://127.0.0.1:8080/.well-known/oauth-protected-resource/a%2Fb/c",
		"https://[2001:db8::1]/mcp":        "https://[2001:db8::1]/.well-known/oauth-protected-resource/mcp",
		"https://api.example/caf%C3%A9/v1": "https://api.example/.well-known/oauth-protected-resource/caf%C3%A9/v1",
	} {
		if got := (middleware.Resource{URL: in}).MetadataURL(); got != want {
			t.Errorf("MetadataURL(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestResourcesRefused: New refuses a resource that is not an absolute
// http(s) URL without user info, query or fragment, one that would break
// a challenge's quoting, and a resource listed twice.
func TestResourcesRefused(t *testing.T) {
	for _, bad := range [][]string{
		{"api"}, {"/api"}, {"ftp://api.example"}, {"https://"}, {"https://u:p@api.example"}, {"https://api.example/?x=1"},
		{"https://api.example/?"}, {"https://api.example/#f"}, {`https://api.example/a"b`}, {`https://api.example/a\b`},
		{"https://api.example/a b"}, {"mailto:a@b"}, {"https://api.example", "https://api.example"},
		{"https://api.example/a/../b"}, {"https://api.example/a/%2e%2E/b"}, {"https://api.example/./a"}, {"https://api.example//a"},
		{"https://api.example/a//b"},
		// Two resources whose documents would be at one place, as a
		// router matches paths.
		{"https://api.example/api", "https://api.example/api/"}, {"https://api.example", "https://api.example/"},
		{"https://api.example/%41", "https://api.example/A"}, {"https://api.example/%7e", "https://api.example/~"},
		{"https://api.example/a%2fb", "https://api.example/a%2Fb"}, {"https://API.example/x", "https://api.example:8443/x"},
		// A router's wildcards.
		{"https://api.example/{x}"}, {"https://api.example/a{"},
	} {
		cfg := middleware.Config{JWT: map[string]middleware.Verifier{"iss": audVerifier()}}
		for _, u := range bad {
			cfg.Resources = append(cfg.Resources, middleware.Resource{URL: u})
		}
		if _, err := middleware.New(cfg); err == nil {
			t.Errorf("resources %q accepted", bad)
		}
	}
	// A general audience that is a resource's URL would make its
	// narrowed tokens good everywhere.
	if _, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{"iss": audVerifier()},
		Resources: []middleware.Resource{{URL: "https://api.example"}, {URL: "https://api.example/api"}},
		Audiences: []string{"https://api.example/api"}}); err == nil {
		t.Error("an audience equal to a resource's URL accepted")
	}
	// Kept apart by a router: a "/" is not a "%2F".
	if _, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{"iss": audVerifier()},
		Resources: []middleware.Resource{{URL: "https://api.example/a%2Fb"}, {URL: "https://api.example/a/b"}}}); err != nil {
		t.Errorf("a%%2Fb and a/b: %v", err)
	}
}

// TestLegacyLocationYields: behind a proxy that strips /base, the
// location an earlier release announced for /base/api is the RFC
// location of /api: /api's document is served there, /base/api's at its
// own RFC location (the demo's -issuer http://host/api has these two).
func TestLegacyLocationYields(t *testing.T) {
	base, api := middleware.Resource{URL: "https://example.com/api"}, middleware.Resource{URL: "https://example.com/api/api"}
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{"iss": audVerifier()}, ExternalURL: "https://example.com/api",
		Resources: []middleware.Resource{base, api}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.MountMetadata(mux)
	for path, want := range map[string]string{
		"/.well-known/oauth-protected-resource/api":     base.URL,
		"/.well-known/oauth-protected-resource":         base.URL, // base's legacy location
		"/.well-known/oauth-protected-resource/api/api": api.URL,
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"resource":"`+want+`"`) {
			t.Errorf("GET %s: %d %s, want %s's document", path, w.Code, w.Body, want)
		}
	}
}

// audClaims are claims with an audience, as a verifier other than the
// first-party one may return them.
type audClaims []string

func (a audClaims) Audiences() []string { return a }

// audVerifier takes "t_<n>" and returns a principal whose audience is
// auds[n]: the tokens of the resources below.
func audVerifier() middleware.Verifier {
	auds := map[string][]string{
		"t_general": {"api"},
		"t_all":     {"https://api.example"},
		"t_api":     {"https://api.example/api"},
		"t_gql":     {"https://api.example/graphql"},
		"t_v2":      {"https://api.example/api/v2"},
		"t_both":    {"https://api.example/graphql", "api"},
		"t_none":    nil,
		"t_admin":   {"https://api.example/admin"}, // a resource the middleware does not list
		"t_other":   {"https://other.example/api"},
	}
	return middleware.VerifierFunc(func(_ context.Context, raw string) (*identity.Principal, error) {
		p := &identity.Principal{Subject: "alice", Issuer: "iss", TokenID: raw}
		if raw == "t_opaque" {
			return p, nil // no claims at all: an API token
		}
		p.Claims = audClaims(auds[raw])
		return p, nil
	})
}

// TestProtect: a route of one resource refuses a token asked for another
// (RFC 8707), takes one asked for it or for a resource it lies under,
// and a token not narrowed to any; its challenges point at its document.
func TestProtect(t *testing.T) {
	all := middleware.Resource{URL: "https://api.example", AuthorizationServers: []string{"https://api.example"}, Scopes: []string{"read"}}
	// /api/tokens, under /api, acts for the whole server.
	api := middleware.Resource{URL: "https://api.example/api", Except: []string{"https://api.example/api/tokens"}}
	gql := middleware.Resource{URL: "https://api.example/graphql"}
	v2 := middleware.Resource{URL: "https://api.example/api/v2"}
	auth, err := middleware.New(middleware.Config{
		Prefixes:    map[string]middleware.Verifier{"t_": audVerifier()},
		Resources:   []middleware.Resource{all, api, gql, v2},
		Audiences:   []string{"api"}, // the general audience
		ExternalURL: "https://api.example",
		Realm:       "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("/api/v2/", auth.Protect(v2)(ok))
	mux.Handle("/api/", auth.Protect(api)(ok))
	mux.Handle("/graphql", auth.Protect(gql)(ok))
	mux.Handle("/admin", auth.Protect(all)(ok))         // acts for the whole server
	mux.Handle("/api/tokens", auth.Protect(all)(ok))    // the same, carved out of /api
	mux.Handle("/api/misplaced", auth.Protect(all)(ok)) // the same, but not carved out
	mux.Handle("/other", auth.Middleware(ok))           // no resource named: the longest the URL lies under
	mux.Handle("/api/plain", auth.Middleware(ok))       // the same, under /api
	srv := httptest.NewServer(mux)
	defer srv.Close()

	want := map[string]map[string]int{ // path → token → status
		"/api/me":     {"t_general": 200, "t_all": 200, "t_api": 200, "t_gql": 401, "t_v2": 401, "t_both": 200, "t_none": 401, "t_opaque": 200, "t_admin": 401, "t_other": 401},
		"/api/v2/x":   {"t_general": 200, "t_all": 200, "t_api": 200, "t_gql": 401, "t_v2": 200, "t_both": 200},
		"/graphql":    {"t_general": 200, "t_all": 200, "t_api": 401, "t_gql": 200, "t_v2": 401, "t_admin": 401},
		"/admin":      {"t_general": 200, "t_all": 200, "t_api": 401, "t_gql": 401, "t_v2": 401, "t_opaque": 200, "t_admin": 401, "t_other": 401},
		"/api/tokens": {"t_general": 200, "t_all": 200, "t_api": 401, "t_opaque": 200},
		"/other":      {"t_api": 200, "t_gql": 200}, // no resource check without Protect
		"/api/plain":  {"t_gql": 200},
	}
	// RFC 9728 §3.3: the document of the URL requested, whose resource is
	// that URL; a route protected by a resource its URL is not under (no
	// Except says so) points at its resource's own document.
	metadata := map[string]string{
		"/api/me":        "https://api.example/.well-known/oauth-protected-resource/api/me",
		"/api/v2/x":      "https://api.example/.well-known/oauth-protected-resource/api/v2/x",
		"/graphql":       "https://api.example/.well-known/oauth-protected-resource/graphql",
		"/admin":         "https://api.example/.well-known/oauth-protected-resource/admin",
		"/api/tokens":    "https://api.example/.well-known/oauth-protected-resource/api/tokens",
		"/api/misplaced": "https://api.example/.well-known/oauth-protected-resource",
		"/other":         "https://api.example/.well-known/oauth-protected-resource/other",
		"/api/plain":     "https://api.example/.well-known/oauth-protected-resource/api/plain",
	}
	for path, toks := range want {
		for tok, status := range toks {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != status {
				t.Errorf("%s with %s: %d, want %d", path, tok, resp.StatusCode, status)
			}
			if status == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s with %s: challenge %q", path, tok, resp.Header.Get("WWW-Authenticate"))
			}
		}
		if m, ok := metadata[path]; ok {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="test", resource_metadata="`+m+`"` {
				t.Errorf("%s without a token: challenge %q, want the metadata %s", path, got, m)
			}
		}
	}

	// The check alone, for routes of one's own.
	if err := auth.ForResource(api)(&identity.Principal{Claims: audClaims{"https://api.example/graphql"}}); err == nil {
		t.Error("ForResource(api) took a token for /graphql")
	}
	// Without general audiences, only tokens asked for a resource pass.
	strict, err := middleware.New(middleware.Config{Prefixes: map[string]middleware.Verifier{"t_": audVerifier()},
		Resources: []middleware.Resource{all, api}})
	if err != nil {
		t.Fatal(err)
	}
	if strict.ForResource(api)(&identity.Principal{Claims: audClaims{"api"}}) == nil ||
		strict.ForResource(api)(&identity.Principal{Claims: audClaims{all.URL}}) != nil {
		t.Error("without Config.Audiences: a general token passed, or a token for the whole server did not")
	}

	// Protect of a resource the configuration lacks is a wiring mistake.
	defer func() {
		if recover() == nil {
			t.Error("Protect of an unknown resource did not panic")
		}
	}()
	auth.Protect(middleware.Resource{URL: "https://api.example/files"})
}

// TestResourceOfRequest: without Protect, challenges name the longest
// resource the request lies under, by path without ExternalURL; with a
// single resource, that one; with none, none.
func TestResourceOfRequest(t *testing.T) {
	tests := []struct {
		name      string
		resources []string
		external  string
		path      string
		want      string
	}{
		{"by path", []string{"https://api.example", "https://api.example/api"}, "", "/api/me", "https://api.example/.well-known/oauth-protected-resource/api"},
		{"a path that only starts alike", []string{"https://api.example", "https://api.example/api"}, "", "/apix", "https://api.example/.well-known/oauth-protected-resource"},
		{"behind a proxy: the request's own URL", []string{"https://example.com/base", "https://example.com/base/v1"}, "https://example.com/base", "/v1/x",
			"https://example.com/.well-known/oauth-protected-resource/base/v1/x"},
		{"a URL under no resource", []string{"https://example.com/base/v1"}, "https://example.com/base", "/v2/x",
			"https://example.com/.well-known/oauth-protected-resource/base/v1"},
		{"a single one", []string{"https://api.example/api"}, "", "/elsewhere", "https://api.example/.well-known/oauth-protected-resource/api"},
		{"outside all of several", []string{"https://api.example/a", "https://api.example/b"}, "", "/c", ""},
		{"none", nil, "", "/api", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := middleware.Config{JWT: map[string]middleware.Verifier{"iss": audVerifier()}, ExternalURL: tt.external, Realm: "r"}
			for _, u := range tt.resources {
				cfg.Resources = append(cfg.Resources, middleware.Resource{URL: u})
			}
			auth, err := middleware.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			auth.Middleware(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
			want := `Bearer realm="r"`
			if tt.want != "" {
				want += `, resource_metadata="` + tt.want + `"`
			}
			if got := w.Header().Get("WWW-Authenticate"); got != want {
				t.Errorf("challenge %q, want %q", got, want)
			}
		})
	}
}

// TestMountMetadata: every resource's document at its RFC 9728 location,
// and, behind a proxy that strips a path, also at the location under the
// public URL that earlier releases announced.
func TestMountMetadata(t *testing.T) {
	all := middleware.Resource{URL: "https://example.com/base", AuthorizationServers: []string{"https://example.com/base"},
		Scopes: []string{"read", "write"}}
	api := middleware.Resource{URL: "https://example.com/base/api", AuthorizationServers: []string{"https://example.com/base"}}
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{"iss": audVerifier()},
		Resources: []middleware.Resource{all, api}, ExternalURL: "https://example.com/base", QueryParam: "access_token"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.MountMetadata(mux)
	for path, resource := range map[string]string{
		"/.well-known/oauth-protected-resource/base":     all.URL,
		"/.well-known/oauth-protected-resource":          all.URL,
		"/.well-known/oauth-protected-resource/base/api": api.URL,
		"/.well-known/oauth-protected-resource/api":      api.URL,
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		var m middleware.ProtectedResourceMetadata
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || w.Code != 200 || m.Resource != resource ||
			w.Header().Get("Cache-Control") != "no-store" || strings.Join(m.BearerMethodsSupported, " ") != "header query" {
			t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
		}
		if resource == all.URL && (strings.Join(m.ScopesSupported, " ") != "read write" || m.AuthorizationServers[0] != "https://example.com/base") {
			t.Errorf("GET %s: %+v", path, m)
		}
	}
	// Without DPoP the document names no proof algorithms.
	w := httptest.NewRecorder()
	auth.MetadataHandler(all).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if strings.Contains(w.Body.String(), "dpop_signing_alg_values_supported") || !strings.Contains(w.Body.String(), `"dpop_bound_access_tokens_required":false`) {
		t.Errorf("document without DPoP: %s", w.Body)
	}
	w = httptest.NewRecorder()
	auth.MetadataHandler(all).ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
	if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", w.Code, w.Header())
	}

	// Resources on two hosts (with ports, the path spelled two ways):
	// each host gets its own document, on a ServeMux and on chi alike.
	a := middleware.Resource{URL: "https://a.example:8443/%41pi"}
	b := middleware.Resource{URL: "https://B.example:8443/Api"}
	two, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{"iss": audVerifier()}, Resources: []middleware.Resource{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	for name, mux := range map[string]interface {
		middleware.Router
		http.Handler
	}{"ServeMux": http.NewServeMux(), "chi": chi.NewRouter()} {
		two.MountMetadata(mux)
		// The document of a's resource asked for as /Api names /Api: the
		// URL asked about, identical (RFC 9728 §3.3).
		for host, want := range map[string]string{"a.example:8443": "https://a.example:8443/Api", "A.EXAMPLE": "https://a.example:8443/Api", "b.example:9999": b.URL, "c.example": ""} {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "https://"+host+"/.well-known/oauth-protected-resource/Api", nil)
			mux.ServeHTTP(w, r)
			if want == "" && w.Code != 404 || want != "" && (w.Code != 200 || !strings.Contains(w.Body.String(), `"resource":"`+want+`"`)) {
				t.Errorf("%s, host %s: %d %s, want %q", name, host, w.Code, w.Body, want)
			}
		}
	}
}

// TestDocuments: a document for every URL a resource covers, its
// resource that URL (RFC 9728 §3.3); the resource's own scopes and
// servers; 404 for what no resource covers, a path with dot segments, or
// another host's resource.
func TestDocuments(t *testing.T) {
	all := middleware.Resource{URL: "https://api.example", AuthorizationServers: []string{"https://api.example"}, Scopes: []string{"admin"}}
	api := middleware.Resource{URL: "https://api.example/api", AuthorizationServers: []string{"https://api.example"}, Scopes: []string{"read"},
		Except: []string{"https://api.example/api/tokens"}}
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{"iss": audVerifier()},
		Resources: []middleware.Resource{all, api}, ExternalURL: "https://api.example"})
	if err != nil {
		t.Fatal(err)
	}
	mux := chi.NewRouter()
	auth.MountMetadata(mux)
	for path, want := range map[string]struct{ resource, scopes string }{
		"":                {all.URL, "admin"},
		"/":               {all.URL, "admin"},
		"/api":            {api.URL, "read"},
		"/api/":           {"https://api.example/api/", "read"},  // identical: the trailing slash counts
		"/%61pi":          {"https://api.example/%61pi", "read"}, // and so do escapes
		"/api/me":         {"https://api.example/api/me", "read"},
		"/api/widgets/7":  {"https://api.example/api/widgets/7", "read"},
		"/api/widgets/":   {"https://api.example/api/widgets/", "read"},
		"/api/tokens":     {"https://api.example/api/tokens", "admin"},
		"/api/tokens/x":   {"https://api.example/api/tokens/x", "admin"},
		"/auth/logout":    {"https://api.example/auth/logout", "admin"},
		"/caf%C3%A9":      {"https://api.example/caf%C3%A9", "admin"},
		"/api/../graphql": {},
		"/api/%2e%2e/x":   {},
		"/api//x":         {},
		"x":               {},
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", "https://api.example/.well-known/oauth-protected-resource"+path, nil))
		var m middleware.ProtectedResourceMetadata
		json.Unmarshal(w.Body.Bytes(), &m)
		switch {
		case want.resource == "" && w.Code != 404:
			t.Errorf("GET …%s: %d %s, want 404", path, w.Code, w.Body)
		case want.resource != "" && (w.Code != 200 || m.Resource != want.resource || strings.Join(m.ScopesSupported, " ") != want.scopes):
			t.Errorf("GET …%s: %d %s, want resource %s, scopes %s", path, w.Code, w.Body, want.resource, want.scopes)
		}
	}
}

// documentOf asks h for the document at metaURL and returns its resource
// and authorization servers.
func documentOf(t *testing.T, h http.Handler, metaURL string) (string, []string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", metaURL, nil))
	var m middleware.ProtectedResourceMetadata
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || w.Code != 200 {
		t.Fatalf("GET %s: %d %s", metaURL, w.Code, w.Body)
	}
	return m.Resource, m.AuthorizationServers
}

// TestChallengeDocumentIdentical: the document a 401's challenge names has
// as resource the URL the client requested, identical as a WHATWG URL
// parser (oauth4webapi's) compares them: a trailing slash and escapes
// count (RFC 9728 §3.3).
func TestChallengeDocumentIdentical(t *testing.T) {
	api := middleware.Resource{URL: "https://api.example/api", AuthorizationServers: []string{"https://api.example"}}
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{"iss": audVerifier()},
		Resources: []middleware.Resource{api}, ExternalURL: "https://api.example"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.MountMetadata(mux)
	mux.Handle("/api/", auth.Protect(api)(http.NotFoundHandler()))
	mux.Handle("/api", auth.Protect(api)(http.NotFoundHandler()))
	for _, path := range []string{"/api", "/api/", "/api/me", "/api/me/", "/%61pi", "/api/caf%C3%A9"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", "https://api.example"+path, nil))
		challenge := w.Header().Get("WWW-Authenticate")
		_, meta, ok := strings.Cut(challenge, `resource_metadata="`)
		if w.Code != 401 || !ok {
			t.Fatalf("GET %s: %d %q", path, w.Code, challenge)
		}
		meta = meta[:strings.IndexByte(meta, '"')]
		if res, _ := documentOf(t, mux, meta); res != "https://api.example"+path {
			t.Errorf("GET %s: the challenge names %s, whose resource is %q", path, meta, res)
		}
	}
}

// TestDocumentsByPort: resources on one host name and two ports each get
// their own documents (a request's port picks its origin); two schemes
// on one host and port are refused, since a request cannot tell them
// apart.
func TestDocumentsByPort(t *testing.T) {
	all := middleware.Resource{URL: "https://api.example", AuthorizationServers: []string{"https://one.example"}}
	x := middleware.Resource{URL: "https://api.example:8443/x", AuthorizationServers: []string{"https://two.example"}}
	auth, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{"iss": audVerifier()}, Resources: []middleware.Resource{all, x}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.MountMetadata(mux)
	for meta, want := range map[string][2]string{
		x.MetadataURL(): {x.URL, "https://two.example"},
		"https://api.example:8443/.well-known/oauth-protected-resource/x/y": {"https://api.example:8443/x/y", "https://two.example"},
		"https://api.example/.well-known/oauth-protected-resource/x":        {"https://api.example/x", "https://one.example"},
		"https://api.example:443/.well-known/oauth-protected-resource":      {all.URL, "https://one.example"},
		all.MetadataURL(): {all.URL, "https://one.example"},
	} {
		res, servers := documentOf(t, mux, meta)
		if res != want[0] || len(servers) != 1 || servers[0] != want[1] {
			t.Errorf("GET %s: resource %q, servers %q; want %q", meta, res, servers, want)
		}
	}
	for _, pair := range [][2]string{{"https://api.example", "http://api.example:443/x"}, {"http://api.example/x", "https://api.example:80/y"},
		{"http://api.example", "https://api.example/api"}, {"https://API.example:443/a", "http://api.example/b"}} {
		_, err := middleware.New(middleware.Config{JWT: map[string]middleware.Verifier{"iss": audVerifier()},
			Resources: []middleware.Resource{{URL: pair[0]}, {URL: pair[1]}}})
		if err == nil || !strings.Contains(err.Error(), "two schemes") {
			t.Errorf("resources %q: %v, want a refusal", pair, err)
		}
	}
}
