package endpoint_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/dpop/dpoptest"
	"github.com/sessionless/sessionless/token/clients"
	"github.com/sessionless/sessionless/token/endpoint"
)

// TestCodeDPoP: dpop_jkt binds the code to a key (RFC 9449 §10): the
// token request needs a proof by it; a code without dpop_jkt is bound
// by the proof that redeems it; the tokens are DPoP-bound either way.
func TestCodeDPoP(t *testing.T) {
	proofs, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil)})
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthzEnv(t, func(c *endpoint.Config) { c.DPoP, c.ExternalURL = proofs, external })
	alice, mallory := dpoptest.NewClient(t), dpoptest.NewClient(t)
	proof := func(c *dpoptest.Client) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set("DPoP", c.Proof("POST", external+"/auth/token", "", time.Now(), nil))
		}
	}
	verifier, challenge := pkce()
	cb := e.authorize(t, authzRequest("spa", spaRedirect, challenge, "dpop_jkt", alice.JKT()), "alice")
	for name, edit := range map[string]func(*http.Request){"no proof": nil, "another key's proof": proof(mallory)} {
		if r := e.exchange(t, "spa", cb.Get("code"), spaRedirect, verifier, edit); r.status != 400 || r.json["error"] != "invalid_grant" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	r := e.exchange(t, "spa", cb.Get("code"), spaRedirect, verifier, proof(alice))
	if r.status != 200 || r.json["token_type"] != "DPoP" {
		t.Fatalf("with the key's proof: %d %s", r.status, r.body)
	}
	if c, _ := e.verifier.Verify(r.json["access_token"].(string)); c == nil || c.JKT != alice.JKT() {
		t.Fatal("the access token is not bound to the key")
	}
	// The family is bound: refreshing needs the key.
	rt := vals("grant_type", "refresh_token", "refresh_token", r.json["refresh_token"].(string), "client_id", "spa")
	if r := e.form(t, "/auth/token", rt, nil); r.json["error"] != "invalid_dpop_proof" {
		t.Errorf("refresh without a proof: %d %s", r.status, r.body)
	}
	// Without dpop_jkt, the proof at the token request binds.
	verifier, challenge = pkce()
	cb = e.authorize(t, authzRequest("spa", spaRedirect, challenge), "alice")
	r = e.exchange(t, "spa", cb.Get("code"), spaRedirect, verifier, proof(mallory))
	if c, _ := e.verifier.Verify(r.json["access_token"].(string)); r.status != 200 || c == nil || c.JKT != mallory.JKT() {
		t.Fatalf("bound by the proof: %d %s", r.status, r.body)
	}
	// A malformed dpop_jkt goes back to the client.
	_, challenge = pkce()
	q := callback(t, e.browse(t, "GET", "/auth/authorize?"+authzRequest("spa", spaRedirect, challenge, "dpop_jkt", "short").Encode(), nil, nil), spaRedirect)
	if q.Get("error") != "invalid_request" {
		t.Errorf("malformed dpop_jkt: %v", q)
	}
}

// TestRegisteredClient: a client registers (RFC 7591), logs a user in
// with the consent page marked unverified, and its registration no
// longer expires once it has obtained tokens.
func TestRegisteredClient(t *testing.T) {
	reg := clients.NewMemoryStore()
	e := newAuthzEnv(t, func(c *endpoint.Config) {
		c.Authorization.Clients = &clients.Registry{Static: testClients(t), Registered: reg, Now: e0Now(c)}
		c.Authorization.Registration = &clients.RegistrarConfig{Scopes: []string{"read", "write"}}
	})
	if m := e.srv.Metadata("/auth"); m.RegistrationEndpoint != issuer+"/auth/register" {
		t.Fatalf("registration_endpoint %q", m.RegistrationEndpoint)
	}
	body := `{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"Google","token_endpoint_auth_method":"none","scope":"read"}`
	r := e.do(t, "POST", "/auth/register", "application/json", body, nil)
	if r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	id := r.json["client_id"].(string)
	if r.json["client_secret"] != nil {
		t.Fatal("a public client got a secret")
	}
	verifier, challenge := pkce()
	q := authzRequest(id, "http://127.0.0.1:8123/cb", challenge, "scope", "read write")
	page := e.browse(t, "GET", "/auth/authorize?"+q.Encode(), nil, nil)
	page = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, page)}, "action": {"login"}, "username": {"alice"}, "password": {secret}}, nil)
	if !strings.Contains(page.body, "has not verified its name") || strings.Contains(page.body, "<code>write</code>") {
		t.Fatalf("the consent page of a registered client: %s", page.body)
	}
	page = e.browse(t, "POST", "/auth/authorize", url.Values{"request": {sealed(t, page)}, "action": {"approve"}}, nil)
	cb := callback(t, page, "http://127.0.0.1/cb")
	if r := e.exchange(t, id, cb.Get("code"), "http://127.0.0.1:8123/cb", verifier, nil); r.status != 200 || r.json["scope"] != "read" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	if c, err := reg.Get(context.Background(), id); err != nil || !c.ExpiresAt.IsZero() {
		t.Fatalf("a used registration still expires: %+v %v", c, err)
	}
	// A registration nobody used expires.
	r = e.do(t, "POST", "/auth/register", "application/json", body, nil)
	unused := r.json["client_id"].(string)
	e.clock.Advance(25 * time.Hour)
	_, challenge = pkce()
	if r := e.browse(t, "GET", "/auth/authorize?"+authzRequest(unused, "http://127.0.0.1/cb", challenge).Encode(), nil, nil); r.status != 400 {
		t.Errorf("an expired registration: %d %s", r.status, r.body)
	}
	if err := e.srv.PurgeAuthorization(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get(context.Background(), unused); err == nil {
		t.Error("PurgeAuthorization kept an expired registration")
	}
	if _, err := reg.Get(context.Background(), id); err != nil {
		t.Errorf("PurgeAuthorization deleted a used registration: %v", err)
	}
}

// e0Now is the test clock of the env being built (its Config.Now).
func e0Now(c *endpoint.Config) func() time.Time { return c.Now }

// TestDocumentClient: a client named by the https URL of its metadata
// document; a document that redirects (to a private address) or does
// not list the redirect URI is refused on an error page.
func TestDocumentClient(t *testing.T) {
	mux := http.NewServeMux()
	docs := httptest.NewTLSServer(mux)
	t.Cleanup(docs.Close)
	doc := func(path string, redirects []string) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"client_id": docs.URL + path, "client_name": "Agent",
				"redirect_uris": redirects, "token_endpoint_auth_method": "none"})
		})
	}
	doc("/good.json", []string{"http://127.0.0.1/callback"})
	doc("/other.json", []string{"http://127.0.0.1/elsewhere"})
	mux.HandleFunc("GET /moved.json", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	pool := x509.NewCertPool()
	pool.AddCert(docs.Certificate())
	fetcher, err := clients.NewDocuments(clients.DocumentsConfig{InsecureAllowPrivateAddresses: true, RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthzEnv(t, func(c *endpoint.Config) {
		c.Authorization.Clients = &clients.Registry{Static: testClients(t), Documents: fetcher}
	})
	if !e.srv.Metadata("/auth").ClientIDMetadataDocumentSupported {
		t.Error("client_id_metadata_document_supported is not set")
	}
	verifier, challenge := pkce()
	id := docs.URL + "/good.json"
	cb := e.authorize(t, authzRequest(id, "http://127.0.0.1:9999/callback", challenge), "alice")
	if r := e.exchange(t, id, cb.Get("code"), "http://127.0.0.1:9999/callback", verifier, nil); r.status != 200 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	for name, id := range map[string]string{
		"a document that redirects to a private address": docs.URL + "/moved.json",
		"a document without the redirect URI":            docs.URL + "/other.json",
		"no document":                                    docs.URL + "/missing.json",
		"an http URL":                                    strings.Replace(docs.URL, "https:", "http:", 1) + "/good.json",
	} {
		r := e.browse(t, "GET", "/auth/authorize?"+authzRequest(id, "http://127.0.0.1/callback", challenge).Encode(), nil, nil)
		if r.status != 400 || r.header.Get("Location") != "" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// Without InsecureAllowPrivateAddresses, the same document on 127.0.0.1 is
	// refused before anything is sent to it.
	strict, _ := clients.NewDocuments(clients.DocumentsConfig{RootCAs: pool})
	e = newAuthzEnv(t, func(c *endpoint.Config) { c.Authorization.Clients = &clients.Registry{Documents: strict} })
	if r := e.browse(t, "GET", "/auth/authorize?"+authzRequest(id, "http://127.0.0.1/callback", challenge).Encode(), nil, nil); r.status != 400 {
		t.Errorf("a document on a loopback address: %d %s", r.status, r.body)
	}
}
