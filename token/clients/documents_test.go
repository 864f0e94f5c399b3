package clients

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
)

// docServer is an https server on 127.0.0.1 that counts its requests.
type docServer struct {
	*httptest.Server
	hits atomic.Int64
}

func docNewServer(t testing.TB, h http.HandlerFunc) *docServer {
	t.Helper()
	s := &docServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	// Handshakes the client gives up (timeouts, refusals) are expected.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// docServe answers every request with body, {{ID}} replaced by the URL
// requested, as application/json with the header lines given ("Name:
// value").
func docServe(body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for _, h := range header {
			name, value, _ := strings.Cut(h, ":")
			w.Header().Set(name, strings.TrimSpace(value))
		}
		fmt.Fprint(w, strings.ReplaceAll(body, "{{ID}}", "https://"+r.Host+r.URL.Path))
	}
}

// docNew returns a Documents that trusts s's certificate and may fetch
// from 127.0.0.1.
func docNew(t testing.TB, s *docServer, cfg DocumentsConfig) *Documents {
	t.Helper()
	cfg.InsecureAllowPrivateAddresses = true
	cfg.RootCAs = docPool(s)
	d, err := NewDocuments(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func docPool(s *docServer) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return pool
}

// docRefused checks that err refuses a client and says why.
func docRefused(t testing.TB, c Client, err error, reason string) {
	t.Helper()
	if !errors.Is(err, ErrUnknownClient) {
		t.Fatalf("err = %v; want ErrUnknownClient", err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("err = %q; want it to say %q", err, reason)
	}
	if !reflect.DeepEqual(c, Client{}) {
		t.Errorf("client = %+v with the error", c)
	}
}

// The document every successful test serves; the redirect URIs are ones
// an MCP client registers.
const docMinimal = `{"client_id":"{{ID}}","redirect_uris":["http://127.0.0.1/callback"]}`

func TestDocumentsClient(t *testing.T) {
	var accept, agent atomic.Value
	s := docNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		accept.Store(r.Header.Get("Accept"))
		agent.Store(r.Header.Get("User-Agent"))
		docServe(`{
			"client_id": "{{ID}}",
			"client_name": "Claude — MCP client",
			"client_uri": "https://app.example/",
			"logo_uri": "https://app.example/logo.png",
			"redirect_uris": ["http://127.0.0.1/callback", "http://localhost:6274/oauth/callback", "https://app.example/cb", "com.example.app:/cb"],
			"grant_types": ["refresh_token", "authorization_code"],
			"response_types": ["code"],
			"token_endpoint_auth_method": "none",
			"scope": "mcp profile admin mcp",
			"jwks": {"keys": []},
			"software_id": "x"
		}`, "Content-Type: application/json; charset=utf-8")(w, r)
	})
	d := docNew(t, s, DocumentsConfig{Scopes: []string{"openid", "profile", "mcp"}})
	id := s.URL + "/oauth/client.json"
	c, err := d.Client(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := Client{
		ID:           id,
		Name:         "Claude — MCP client",
		Kind:         Document,
		AuthMethod:   AuthNone,
		RedirectURIs: []string{"http://127.0.0.1/callback", "http://localhost:6274/oauth/callback", "https://app.example/cb", "com.example.app:/cb"},
		Scopes:       []string{"mcp", "profile"}, // narrowed to the server's, without admin, once each
		GrantTypes:   []string{GrantAuthorizationCode, GrantRefreshToken},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("client =\n%+v\nwant\n%+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if !c.Public() || !c.MatchRedirectURI("http://127.0.0.1:53124/callback") || c.MatchRedirectURI("https://evil.example/cb") {
		t.Error("the client does not bind its redirect URIs")
	}
	if got := accept.Load(); got != "application/json" {
		t.Errorf("Accept = %q", got)
	}
	if got, _ := agent.Load().(string); !strings.Contains(got, "sessionless") {
		t.Errorf("User-Agent = %q; want it to name sessionless", got)
	}

	// What a caller does to the client it got does not reach the cache.
	c.RedirectURIs[0] = "https://evil.example/cb"
	c.Scopes[0] = "admin"
	again, err := d.Client(t.Context(), id)
	if err != nil || !reflect.DeepEqual(again, want) {
		t.Errorf("second look-up = %+v, %v; want the same client", again, err)
	}
	if n := s.hits.Load(); n != 1 {
		t.Errorf("%d fetches; want 1", n)
	}
}

func TestDocumentsDefaults(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		scopes  []string // the server's
		want    Client   // ID and Kind aside
		wantErr string
	}{
		{"minimal", docMinimal, nil,
			Client{AuthMethod: AuthNone, RedirectURIs: []string{"http://127.0.0.1/callback"},
				GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken}}, ""},
		{"no scope gets all the server's", docMinimal, []string{"mcp", "profile"},
			Client{AuthMethod: AuthNone, RedirectURIs: []string{"http://127.0.0.1/callback"},
				Scopes: []string{"mcp", "profile"}, GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken}}, ""},
		{"an empty scope is none", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"scope":" "}`, []string{"mcp"},
			Client{AuthMethod: AuthNone, RedirectURIs: []string{"https://a.example/cb"},
				Scopes: []string{"mcp"}, GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken}}, ""},
		{"scopes kept when the server names none", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"scope":"a  b"}`, nil,
			Client{AuthMethod: AuthNone, RedirectURIs: []string{"https://a.example/cb"},
				Scopes: []string{"a", "b"}, GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken}}, ""},
		{"authorization_code alone", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code"]}`, nil,
			Client{AuthMethod: AuthNone, RedirectURIs: []string{"https://a.example/cb"},
				GrantTypes: []string{GrantAuthorizationCode}}, ""},
		{"escaped client_id", `{"client_id":"{{ID}}","redirect_uris":["https:\/\/a.example\/cb"],"client_name":"\u00e9t\u00e9"}`, nil,
			Client{Name: "été", AuthMethod: AuthNone, RedirectURIs: []string{"https://a.example/cb"},
				GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken}}, ""},
		{"none of the server's scopes", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"scope":"admin root"}`, []string{"mcp"},
			Client{}, "none of the scopes it asks for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := docNewServer(t, docServe(tt.body))
			d := docNew(t, s, DocumentsConfig{Scopes: tt.scopes})
			c, err := d.Client(t.Context(), s.URL+"/client.json")
			if tt.wantErr != "" {
				docRefused(t, c, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.ID, tt.want.Kind = s.URL+"/client.json", Document
			if !reflect.DeepEqual(c, tt.want) {
				t.Errorf("client =\n%+v\nwant\n%+v", c, tt.want)
			}
		})
	}
}

// docRefusals are documents every server refuses, with what the error
// says. {{ID}} is the URL fetched.
var docRefusals = []struct {
	name, body, reason string
}{
	// Not a JSON object, or a strict one.
	{"not JSON", `client_id={{ID}}`, "not a JSON object"},
	{"empty", ``, "not a JSON object"},
	{"array", `[{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"]}]`, "not a JSON object"},
	{"string", `"{{ID}}"`, "not a JSON object"},
	{"null", `null`, "not a JSON object"},
	{"trailing data", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"]} {}`, "not a JSON object"},
	{"invalid UTF-8", "{\"client_id\":\"{{ID}}\",\"redirect_uris\":[\"https://a.example/cb\"],\"client_name\":\"\xff\"}", "not a JSON object"},
	{"duplicate client_id", `{"client_id":"https://evil.example/c","client_id":"{{ID}}","redirect_uris":["https://a.example/cb"]}`, "twice"},
	{"duplicate redirect_uris", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"redirect_uris":["https://evil.example/cb"]}`, "twice"},
	{"duplicate through an escape", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"redirect_\u0075ris":["https://evil.example/cb"]}`, "twice"},
	{"duplicate in an unknown member", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"jwks":{"keys":1,"keys":2}}`, "twice"},

	// client_id.
	{"no client_id", `{"redirect_uris":["https://a.example/cb"]}`, "has no client_id"},
	{"client_id not a string", `{"client_id":1,"redirect_uris":["https://a.example/cb"]}`, "not the URL"},
	{"client_id null", `{"client_id":null,"redirect_uris":["https://a.example/cb"]}`, "not the URL"},
	{"client_id of another document", `{"client_id":"https://app.example/client.json","redirect_uris":["https://a.example/cb"]}`, "not the URL"},
	{"client_id with a trailing slash", `{"client_id":"{{ID}}/","redirect_uris":["https://a.example/cb"]}`, "not the URL"},
	{"client_id with a query", `{"client_id":"{{ID}}?","redirect_uris":["https://a.example/cb"]}`, "not the URL"},
	{"client_id in upper case", `{"client_id":"HTTPS://{{HOST}}/client.json","redirect_uris":["https://a.example/cb"]}`, "not the URL"},
	{"client_id with white space", `{"client_id":" {{ID}}","redirect_uris":["https://a.example/cb"]}`, "not the URL"},

	// Secrets.
	{"client_secret", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"client_secret":"s3cret"}`, "client_secret"},
	{"client_secret null", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"client_secret":null}`, "client_secret"},
	{"client_secret_expires_at", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"client_secret_expires_at":0}`, "client_secret"},
	{"client_secret_basic", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`, `"client_secret_basic" needs a shared secret`},
	{"client_secret_post", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_post"}`, `"client_secret_post" needs a shared secret`},
	{"client_secret_jwt", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_jwt"}`, `"client_secret_jwt" needs a shared secret`},
	{"private_key_jwt", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://a.example/jwks"}`, `"private_key_jwt" is not supported`},
	{"tls_client_auth", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"tls_client_auth"}`, `"tls_client_auth" is not supported`},
	{"unknown method, not repeated", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"<script>"}`, "of an unknown kind is not supported"},
	{"method in upper case", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"NONE"}`, "not supported"},
	{"method not a string", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":["none"]}`, "token_endpoint_auth_method is not a string"},

	// redirect_uris.
	{"no redirect_uris", `{"client_id":"{{ID}}"}`, "has no redirect_uris"},
	{"redirect_uris empty", `{"client_id":"{{ID}}","redirect_uris":[]}`, "redirect_uris is empty"},
	{"redirect_uris a string", `{"client_id":"{{ID}}","redirect_uris":"https://a.example/cb"}`, "redirect_uris is not an array of strings"},
	{"redirect_uris null", `{"client_id":"{{ID}}","redirect_uris":null}`, "redirect_uris is not an array of strings"},
	{"redirect_uris with a number", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb",1]}`, "redirect_uris is not an array of strings"},
	{"21 redirect_uris", `{"client_id":"{{ID}}","redirect_uris":[` + strings.Repeat(`"https://a.example/cb",`, 20) + `"https://a.example/cb"]}`, "more than 20 redirect_uris"},
	{"65 redirect_uris", `{"client_id":"{{ID}}","redirect_uris":[` + strings.Repeat(`"https://a.example/cb",`, 64) + `"https://a.example/cb"]}`, "too many entries"},
	{"http redirect URI", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb","http://a.example/cb"]}`, "redirect_uris[1] is not one this server accepts: http is for loopback"},
	{"javascript redirect URI", `{"client_id":"{{ID}}","redirect_uris":["javascript:alert(1)"]}`, "redirect_uris[0] is not one"},
	{"redirect URI with a fragment", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb#x"]}`, "redirect_uris[0] is not one"},
	{"relative redirect URI", `{"client_id":"{{ID}}","redirect_uris":["/cb"]}`, "redirect_uris[0] is not one"},
	{"redirect URI with a control character", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/c\u0000b"]}`, "redirect_uris[0] is not one"},

	// grant_types and response_types.
	{"password grant", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","password"]}`, "only authorization_code and refresh_token"},
	{"client_credentials grant", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"grant_types":["client_credentials"]}`, "only authorization_code and refresh_token"},
	{"implicit grant", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}`, "only authorization_code and refresh_token"},
	{"refresh_token alone", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"grant_types":["refresh_token"]}`, "must include authorization_code"},
	{"grant_types empty", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"grant_types":[]}`, "must include authorization_code"},
	{"grant_types a string", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"grant_types":"authorization_code"}`, "grant_types is not an array of strings"},
	{"token response type", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"response_types":["token"]}`, `response_types must be ["code"]`},
	{"code and token", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"response_types":["code","token"]}`, `response_types must be ["code"]`},
	{"code id_token", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"response_types":["code id_token"]}`, `response_types must be ["code"]`},
	{"response_types empty", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"response_types":[]}`, `response_types must be ["code"]`},
	{"response_types a string", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"response_types":"code"}`, "response_types is not an array of strings"},

	// client_name and scope.
	{"client_name a number", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"client_name":1}`, "client_name is not a string"},
	{"client_name null", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"client_name":null}`, "client_name is not a string"},
	{"client_name too long", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"client_name":"` + strings.Repeat("é", 101) + `"}`, "longer than 200 bytes"},
	{"client_name with a new line", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"client_name":"Good app\nApproved by your admin"}`, "control characters"},
	{"client_name with a C1 control", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"client_name":"a\u0085b"}`, "control characters"},
	{"scope a list", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"scope":["mcp"]}`, "scope is not a string"},
	{"scope with a quote", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"scope":"mcp a\"b"}`, "not a scope token"},
	{"scope with a tab", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"scope":"mcp\tprofile"}`, "not a scope token"},
	{"scope with non-ASCII", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"scope":"ſcope"}`, "not a scope token"},
	{"65 scopes", `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"],"scope":"` + docManyScopes(65) + `"}`, "more than 64 scopes"},
}

func docManyScopes(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprint("s", i)
	}
	return strings.Join(s, " ")
}

// docExpand fills the placeholders of a body of docRefusals for id.
func docExpand(body, id string) string {
	host := strings.TrimPrefix(id, "https://")
	host, _, _ = strings.Cut(host, "/")
	return strings.NewReplacer("{{ID}}", id, "{{HOST}}", host).Replace(body)
}

func TestDocumentsRefused(t *testing.T) {
	bodies := map[string]string{}
	s := docNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, bodies[r.URL.Path])
	})
	d := docNew(t, s, DocumentsConfig{})
	for i, tt := range docRefusals {
		id := fmt.Sprintf("%s/refused/%d/client.json", s.URL, i)
		bodies[strings.TrimPrefix(id, s.URL)] = docExpand(tt.body, id)
	}
	for i, tt := range docRefusals {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("%s/refused/%d/client.json", s.URL, i)
			c, err := d.Client(t.Context(), id)
			docRefused(t, c, err, tt.reason)
			if strings.Contains(err.Error(), "a.example") || strings.Contains(err.Error(), "<script>") {
				t.Errorf("err = %q: it repeats the document", err)
			}
		})
	}
}

// TestDocumentsResponse: what the server answers, before the document is
// read.
func TestDocumentsResponse(t *testing.T) {
	big := `{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb"]` + strings.Repeat(" ", 8<<10) + "}"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		reason  string // "": accepted
	}{
		{"200", docServe(docMinimal), ""},
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "answered 404, not 200"},
		{"500 with a document", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, docExpand(docMinimal, "https://"+r.Host+r.URL.Path))
		}, "answered 500"},
		{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, "answered 204"},
		{"201 with a document", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, docExpand(docMinimal, "https://"+r.Host+r.URL.Path))
		}, "answered 201"},
		{"304", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) }, "redirect (304)"},

		// Content types.
		{"application/json with charset", docServe(docMinimal, "Content-Type: application/json; charset=utf-8"), ""},
		{"Application/JSON", docServe(docMinimal, "Content-Type: Application/JSON"), ""},
		{"text/html", docServe(docMinimal, "Content-Type: text/html"), "Content-Type application/json"},
		{"text/plain", docServe(docMinimal, "Content-Type: text/plain; charset=utf-8"), "Content-Type application/json"},
		{"application/jwt", docServe(docMinimal, "Content-Type: application/jwt"), "Content-Type application/json"},
		{"application/jsonx", docServe(docMinimal, "Content-Type: application/jsonx"), "Content-Type application/json"},
		{"no Content-Type", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil // no sniffing either
			fmt.Fprint(w, docExpand(docMinimal, "https://"+r.Host+r.URL.Path))
		}, "Content-Type application/json"},
		{"malformed Content-Type", docServe(docMinimal, "Content-Type: application/json; ="), "Content-Type application/json"},

		// Size.
		{"too large, with Content-Length", docServe(big), "larger than 5120 bytes"},
		{"too large, streamed", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"client_id":"https://%s%s","redirect_uris":["https://a.example/cb"],"x":"`, r.Host, r.URL.Path)
			chunk := strings.Repeat("a", 1<<10)
			for range 1 << 10 { // 1 MiB, unless the client stops reading
				if _, err := fmt.Fprint(w, chunk); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			fmt.Fprint(w, `"}`)
		}, "larger than 5120 bytes"},
		{"exactly 5 KiB", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			doc := docExpand(docMinimal, "https://"+r.Host+r.URL.Path)
			fmt.Fprint(w, doc[:len(doc)-1]+strings.Repeat(" ", 5<<10-len(doc))+"}")
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := docNewServer(t, tt.handler)
			d := docNew(t, s, DocumentsConfig{})
			c, err := d.Client(t.Context(), s.URL+"/client.json")
			if tt.reason == "" {
				if err != nil || c.ID != s.URL+"/client.json" {
					t.Fatalf("Client = %+v, %v; want the client", c, err)
				}
				return
			}
			docRefused(t, c, err, tt.reason)
		})
	}
}

func TestDocumentsRedirectRefused(t *testing.T) {
	target := docNewServer(t, docServe(docMinimal))
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, to := range []string{
			target.URL + "/client.json",           // a private address (the server's loopback)
			"https://169.254.169.254/latest/meta", // the cloud metadata service
			"https://app.example/client.json",     // anywhere
		} {
			t.Run(fmt.Sprint(code, " to ", to), func(t *testing.T) {
				s := docNewServer(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, code) })
				d := docNew(t, s, DocumentsConfig{})
				c, err := d.Client(t.Context(), s.URL+"/client.json")
				docRefused(t, c, err, fmt.Sprintf("redirect (%d), which is not followed", code))
			})
		}
	}
	if n := target.hits.Load(); n != 0 {
		t.Errorf("the redirect target was fetched %d times", n)
	}
}

func TestDocumentsPrivateAddressRefused(t *testing.T) {
	s := docNewServer(t, docServe(docMinimal))
	var log testenv.SyncBuffer
	d, err := NewDocuments(DocumentsConfig{RootCAs: docPool(s), Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(strings.TrimPrefix(s.URL, "https://"), ":")
	for _, id := range []string{
		s.URL + "/client.json",                       // https://127.0.0.1:port
		"https://localhost:" + port + "/client.json", // a name resolved to loopback: refused at dial time
		"https://[::1]:" + port + "/client.json",
		"https://[::ffff:127.0.0.1]:" + port + "/client.json",
		"https://0.0.0.0:" + port + "/client.json",
	} {
		t.Run(id, func(t *testing.T) {
			c, err := d.Client(t.Context(), id)
			docRefused(t, c, err, "its host has no public address")
			if strings.Contains(err.Error(), "127.0.0.1") && !strings.Contains(id, "127.0.0.1") {
				t.Errorf("err = %q: it names the address dialled", err)
			}
		})
	}
	if n := s.hits.Load(); n != 0 {
		t.Errorf("the server was fetched from %d times", n)
	}
	if !strings.Contains(log.String(), "not a public address") {
		t.Errorf("the log does not give the cause:\n%s", log.String())
	}
}

func TestDocPublicAddr(t *testing.T) {
	for addr, public := range map[string]bool{
		// Public.
		"8.8.8.8":                true,
		"1.1.1.1":                true,
		"93.184.215.14":          true,
		"100.63.255.255":         true, // just below CGNAT
		"100.128.0.0":            true, // just above
		"172.15.255.255":         true,
		"172.32.0.0":             true,
		"198.17.255.255":         true,
		"198.20.0.0":             true,
		"223.255.255.255":        true,
		"2606:4700::1":           true,
		"2001:4860:4860::8888":   true,
		"2a00:1450:4001::200e":   true,
		"::ffff:8.8.8.8":         true, // mapped public IPv4
		"64:ff9b::808:808":       true, // NAT64 of 8.8.8.8
		"64:ff9b::1.1.1.1":       true,
		"2620:4f:8000::1":        true,
		"2001:200::1":            true, // just above 2001::/23
		"3ffe::1":                true,
		"3fff:1000::1":           true, // just above 3fff::/20
		"2c0f:fb50:4003::1":      true,
		"1.2.3.4.5":              false, // does not parse
		"not an address":         false,
		"":                       false,
		"127.0.0.1":              false, // loopback
		"127.255.255.254":        false,
		"::1":                    false,
		"::ffff:127.0.0.1":       false, // mapped loopback
		"64:ff9b::7f00:1":        false, // NAT64 of loopback
		"64:ff9b::10.0.0.1":      false, // NAT64 of a private address
		"64:ff9b::a9fe:a9fe":     false, // NAT64 of the metadata service
		"64:ff9b:1::8.8.8.8":     false, // local-use NAT64 (RFC 8215)
		"::127.0.0.1":            false, // IPv4-compatible (deprecated)
		"::8.8.8.8":              false,
		"10.0.0.1":               false, // RFC 1918
		"10.255.255.255":         false,
		"172.16.0.1":             false,
		"172.31.255.255":         false,
		"192.168.1.1":            false,
		"::ffff:192.168.1.1":     false,
		"::ffff:10.0.0.1":        false,
		"100.64.0.1":             false, // CGNAT
		"100.127.255.255":        false,
		"169.254.169.254":        false, // link-local, cloud metadata
		"::ffff:169.254.169.254": false,
		"fe80::1":                false,
		"fe80::1%eth0":           false,
		"fd00::1":                false, // unique local
		"fc00::1":                false,
		"fd00:ec2::254":          false, // AWS metadata over IPv6
		"fec0::1":                false, // site-local (deprecated)
		"0.0.0.0":                false, // unspecified
		"0.1.2.3":                false, // "this network"
		"::":                     false,
		"::ffff:0.0.0.0":         false,
		"224.0.0.1":              false, // multicast
		"239.255.255.250":        false,
		"ff02::1":                false,
		"ff0e::1":                false,
		"255.255.255.255":        false, // broadcast
		"240.0.0.1":              false, // reserved
		"192.0.0.8":              false, // IETF protocol assignments
		"192.0.2.1":              false, // documentation
		"198.51.100.1":           false,
		"203.0.113.1":            false,
		"2001:db8::1":            false,
		"3fff::1":                false,
		"198.18.0.1":             false, // benchmarking
		"198.19.255.255":         false,
		"2001:2::1":              false,
		"192.88.99.1":            false, // 6to4 relay
		"2002:7f00:1::1":         false, // 6to4 of loopback
		"2002:808:808::1":        false, // 6to4 at all
		"2001::1":                false, // Teredo
		"100::1":                 false, // discard-only
		"5f00::1":                false, // SRv6
	} {
		a, _ := netip.ParseAddr(addr)
		if got := docPublicAddr(a); got != public {
			t.Errorf("docPublicAddr(%q) = %v; want %v", addr, got, public)
		}
		if a.IsValid() {
			err := docDialControl("tcp", netip.AddrPortFrom(a, 443).String(), nil)
			if (err == nil) != public || err != nil && !errors.Is(err, errDocPrivateAddress) {
				t.Errorf("docDialControl(%q) = %v", addr, err)
			}
		}
	}
	if err := docDialControl("tcp", "app.example:443", nil); !errors.Is(err, errDocPrivateAddress) {
		t.Errorf("docDialControl of a name = %v; want it refused", err)
	}
}

func TestDocumentsTimeout(t *testing.T) {
	release := make(chan struct{})
	s := docNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // before s.Close, which waits for the handler
	d := docNew(t, s, DocumentsConfig{Timeout: 200 * time.Millisecond})
	start := time.Now()
	c, err := d.Client(t.Context(), s.URL+"/client.json")
	docRefused(t, c, err, "did not answer within 200ms")
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("refused after %v; want about 200ms", el)
	}

	// A server that sends headers and then stalls in the body.
	s2 := docNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"client_id":`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	d = docNew(t, s2, DocumentsConfig{Timeout: 200 * time.Millisecond})
	c, err = d.Client(t.Context(), s2.URL+"/client.json")
	docRefused(t, c, err, "did not answer within 200ms")
}

func TestDocumentsURLRefusedWithoutFetching(t *testing.T) {
	s := docNewServer(t, docServe(docMinimal))
	d := docNew(t, s, DocumentsConfig{})
	plain := "http" + strings.TrimPrefix(s.URL, "https")
	for _, id := range []string{
		plain + "/client.json",
		s.URL,
		s.URL + "/",
		s.URL + "/client.json?x=1",
		s.URL + "/client.json#f",
		s.URL + "/a/../client.json",
		s.URL + "/a//client.json",
		"https://user@" + strings.TrimPrefix(s.URL, "https://") + "/client.json",
		"https://" + strings.Repeat("a", MaxIDLength) + "/c",
		"client",
		"",
	} {
		c, err := d.Client(t.Context(), id)
		if !errors.Is(err, ErrUnknownClient) || c.ID != "" {
			t.Errorf("Client(%q) = %+v, %v; want ErrUnknownClient", id, c, err)
		}
	}
	if n := s.hits.Load(); n != 0 {
		t.Errorf("%d fetches; want none", n)
	}
}

func TestDocumentsCache(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		header []string
		kept   time.Duration // 0: not kept
	}{
		{"default", nil, 5 * time.Minute},
		{"max-age longer", []string{"Cache-Control: public, max-age=3600"}, time.Hour},
		{"max-age shorter", []string{"Cache-Control: max-age=120"}, 2 * time.Minute},
		{"max-age below a minute", []string{"Cache-Control: max-age=5"}, time.Minute},
		{"max-age=0", []string{"Cache-Control: max-age=0, must-revalidate"}, time.Minute},
		{"no-cache", []string{"Cache-Control: no-cache"}, time.Minute},
		{"max-age beyond a day", []string{"Cache-Control: max-age=31536000, immutable"}, 24 * time.Hour},
		{"no-store", []string{"Cache-Control: no-store"}, 0},
		{"no-store among others", []string{"Cache-Control: private, max-age=600, NO-STORE"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := docNewServer(t, docServe(docMinimal, tt.header...))
			clock := testenv.NewClock(start)
			d := docNew(t, s, DocumentsConfig{Now: clock.Now})
			id := s.URL + "/client.json"
			lookup := func(wantHits int64) {
				t.Helper()
				if _, err := d.Client(t.Context(), id); err != nil {
					t.Fatal(err)
				}
				if n := s.hits.Load(); n != wantHits {
					t.Fatalf("after %v: %d fetches; want %d", clock.Now().Sub(start), n, wantHits)
				}
			}
			lookup(1)
			if tt.kept == 0 {
				lookup(2)
				lookup(3)
				return
			}
			lookup(1) // cached
			clock.Advance(tt.kept - time.Second)
			lookup(1) // still
			clock.Advance(time.Second)
			lookup(2) // expired: fetched again
			lookup(2)
		})
	}
}

func TestDocumentsFailureCached(t *testing.T) {
	var ok atomic.Bool
	s := docNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !ok.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		docServe(docMinimal)(w, r)
	})
	clock := testenv.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	d := docNew(t, s, DocumentsConfig{Now: clock.Now})
	id := s.URL + "/client.json"
	for range 5 {
		c, err := d.Client(t.Context(), id)
		docRefused(t, c, err, "answered 503")
	}
	ok.Store(true)
	clock.Advance(29 * time.Second)
	c, err := d.Client(t.Context(), id)
	docRefused(t, c, err, "answered 503") // the failure is kept 30 s
	if n := s.hits.Load(); n != 1 {
		t.Errorf("%d fetches while the failure is cached; want 1", n)
	}
	clock.Advance(time.Second)
	if _, err := d.Client(t.Context(), id); err != nil {
		t.Fatalf("after 30 s: %v; want the client", err)
	}
	if n := s.hits.Load(); n != 2 {
		t.Errorf("%d fetches; want 2", n)
	}
}

func TestDocumentsCacheBounded(t *testing.T) {
	s := docNewServer(t, docServe(docMinimal))
	d := docNew(t, s, DocumentsConfig{CacheSize: 2})
	hits := map[string]int64{}
	var mu sync.Mutex
	lookup := func(path string) {
		t.Helper()
		before := s.hits.Load()
		if _, err := d.Client(t.Context(), s.URL+path); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		hits[path] += s.hits.Load() - before
		mu.Unlock()
	}
	lookup("/a")
	lookup("/b")
	lookup("/a") // cached; now the most recently used
	lookup("/c") // evicts /b, the least recently used
	lookup("/a") // still cached
	lookup("/b") // fetched again, evicts /c
	if want := map[string]int64{"/a": 1, "/b": 2, "/c": 1}; !reflect.DeepEqual(hits, want) {
		t.Errorf("fetches = %v; want %v", hits, want)
	}
	d.mu.Lock()
	n, m := d.lru.Len(), len(d.entries)
	d.mu.Unlock()
	if n != 2 || m != 2 {
		t.Errorf("cache holds %d (%d); want 2", n, m)
	}
}

// docWaiters waits until n look-ups wait for the fetch of id.
func docWaiters(t testing.TB, d *Documents, id string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		d.mu.Lock()
		f := d.flights[id]
		got := 0
		if f != nil {
			got = f.waiters
		}
		d.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("%d look-ups never waited together", n)
}

func TestDocumentsConcurrent(t *testing.T) {
	for _, header := range []string{"Cache-Control: max-age=600", "Cache-Control: no-store"} {
		t.Run(header, func(t *testing.T) {
			release := make(chan struct{})
			s := docNewServer(t, func(w http.ResponseWriter, r *http.Request) {
				<-release
				docServe(docMinimal, header)(w, r)
			})
			d := docNew(t, s, DocumentsConfig{})
			id := s.URL + "/client.json"
			var wg sync.WaitGroup
			errs := make(chan error, 10)
			for range 10 {
				wg.Go(func() {
					c, err := d.Client(t.Context(), id)
					if err == nil && c.ID != id {
						err = fmt.Errorf("client %q", c.ID)
					}
					errs <- err
				})
			}
			docWaiters(t, d, id, 10)
			close(release)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if n := s.hits.Load(); n != 1 {
				t.Errorf("%d fetches for 10 concurrent look-ups; want 1", n)
			}
		})
	}
}

func TestDocumentsCallerContext(t *testing.T) {
	release := make(chan struct{})
	s := docNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		docServe(docMinimal)(w, r)
	})
	d := docNew(t, s, DocumentsConfig{})
	id := s.URL + "/client.json"

	// The first caller gives up: it returns at once, with its context's
	// error, and the fetch it started goes on.
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := d.Client(ctx, id)
		first <- err
	}()
	docWaiters(t, d, id, 1)
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v; want context.Canceled", err)
	}
	second := make(chan error, 1)
	go func() {
		_, err := d.Client(t.Context(), id)
		second <- err
	}()
	docWaiters(t, d, id, 2)
	close(release)
	if err := <-second; err != nil {
		t.Fatalf("second caller: %v", err)
	}
	if n := s.hits.Load(); n != 1 {
		t.Errorf("%d fetches; want 1", n)
	}

	// A context already done fetches nothing.
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Client(done, s.URL+"/other.json"); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v", err)
	}
	if n := s.hits.Load(); n != 1 {
		t.Errorf("%d fetches; want 1", n)
	}
}

func TestNewDocumentsConfig(t *testing.T) {
	for _, cfg := range []DocumentsConfig{
		{MaxBytes: -1},
		{Timeout: -time.Second},
		{CacheTTL: -time.Second},
		{CacheTTL: 25 * time.Hour},
		{CacheSize: -1},
		{Scopes: []string{"mcp", "bad scope"}},
		{Scopes: []string{""}},
	} {
		if _, err := NewDocuments(cfg); err == nil {
			t.Errorf("NewDocuments(%+v) accepted", cfg)
		}
	}
	d, err := NewDocuments(DocumentsConfig{Scopes: []string{"mcp", "mcp"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.maxBytes != 5<<10 || d.timeout != 5*time.Second || d.ttl != 5*time.Minute || d.size != 1000 ||
		!reflect.DeepEqual(d.scopes, []string{"mcp"}) {
		t.Errorf("defaults: %d bytes, %v, %v, %d entries, scopes %q", d.maxBytes, d.timeout, d.ttl, d.size, d.scopes)
	}
	tr := d.client.Transport.(*http.Transport)
	if tr.Proxy != nil || tr.TLSClientConfig.MinVersion < 0x0303 || d.client.CheckRedirect == nil {
		t.Error("the transport uses a proxy, allows TLS below 1.2, or follows redirects")
	}
}

func TestDocCacheLifetime(t *testing.T) {
	const def = 5 * time.Minute
	for _, tt := range []struct {
		values []string
		want   time.Duration
	}{
		{nil, def},
		{[]string{""}, def},
		{[]string{"public"}, def},
		{[]string{"max-age=600"}, 10 * time.Minute},
		{[]string{`max-age="600"`}, 10 * time.Minute},
		{[]string{"MAX-AGE=600"}, 10 * time.Minute},
		{[]string{" max-age = 600 "}, 10 * time.Minute},
		{[]string{"max-age=600", "max-age=120"}, 2 * time.Minute}, // the shortest
		{[]string{"max-age=600, no-cache"}, time.Minute},
		{[]string{"max-age=1"}, time.Minute},
		{[]string{"max-age=86400"}, 24 * time.Hour},
		{[]string{"max-age=99999999999999999999999999"}, 24 * time.Hour},
		{[]string{"max-age=-1"}, def},
		{[]string{"max-age=1e3"}, def},
		{[]string{"max-age="}, def},
		{[]string{"s-maxage=10"}, def},
		{[]string{"no-store"}, 0},
		{[]string{"max-age=600", "no-store"}, 0},
	} {
		h := http.Header{"Cache-Control": tt.values}
		if got := docCacheLifetime(h, def); got != tt.want {
			t.Errorf("Cache-Control %q: %v; want %v", tt.values, got, tt.want)
		}
	}
}

// ExampleDocuments serves a client's metadata document over https, and
// looks the client up by its URL.
func ExampleDocuments() {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{
			"client_id": "https://%s/client.json",
			"client_name": "Example MCP client",
			"redirect_uris": ["http://127.0.0.1/callback"],
			"token_endpoint_auth_method": "none"
		}`, r.Host)
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	docs, err := NewDocuments(DocumentsConfig{
		InsecureAllowPrivateAddresses: true, // the test server is on 127.0.0.1; never in production
		RootCAs:                       pool,
		Scopes:                        []string{"mcp", "profile"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := &Registry{Documents: docs}
	c, err := reg.Client(context.Background(), srv.URL+"/client.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Name, c.Kind, c.AuthMethod)
	fmt.Println(c.RedirectURIs, c.Scopes, c.GrantTypes)
	fmt.Println(c.MatchRedirectURI("http://127.0.0.1:53124/callback"))

	_, err = reg.Client(context.Background(), srv.URL+"/other.json")
	fmt.Println(err)
	// Output:
	// Example MCP client document none
	// [http://127.0.0.1/callback] [mcp profile] [authorization_code refresh_token]
	// true
	// clients: unknown client: client metadata document: its client_id is not the URL it was fetched from
}

// TestDocumentsMaxFetches: beyond MaxFetches fetches of distinct URLs
// under way, a lookup of yet another URL is refused at once, without a
// fetch and without caching the refusal; one of a URL already being
// fetched joins it.
func TestDocumentsMaxFetches(t *testing.T) {
	release := make(chan struct{})
	s := docNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		docServe(docMinimal)(w, r)
	})
	d := docNew(t, s, DocumentsConfig{MaxFetches: 2})
	a, b, c := s.URL+"/a.json", s.URL+"/b.json", s.URL+"/client.json"
	var wg sync.WaitGroup
	for _, id := range []string{a, b, a} {
		wg.Go(func() { d.Client(t.Context(), id) })
	}
	docWaiters(t, d, a, 2)
	docWaiters(t, d, b, 1)
	if _, err := d.Client(t.Context(), c); !errors.Is(err, ErrBusy) || errors.Is(err, ErrUnknownClient) {
		t.Fatalf("a third URL while two are fetched: %v", err)
	}
	close(release)
	wg.Wait()
	if n := s.hits.Load(); n != 2 {
		t.Errorf("%d fetches; want 2", n)
	}
	// The refusal was not cached: now that nothing is under way, it is fetched.
	if got, err := d.Client(t.Context(), c); err != nil || got.ID != c {
		t.Fatalf("after the fetches ended: %+v %v", got, err)
	}
	if _, err := NewDocuments(DocumentsConfig{MaxFetches: -1}); err == nil {
		t.Error("a negative MaxFetches was accepted")
	}
}
