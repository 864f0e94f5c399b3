package clients

import (
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// docFuzzID is the URL the fuzzed documents are said to come from.
const docFuzzID = "https://app.example/oauth/client.json"

// FuzzParseDocument: whatever a server sends, parseDocument does not
// panic; it refuses with ErrUnknownClient and no client, or accepts a
// public client of the URL, with redirect URIs, that passes
// Client.Validate and asks for no scope the server does not have.
func FuzzParseDocument(f *testing.F) {
	for _, tt := range docRefusals {
		f.Add([]byte(docExpand(tt.body, docFuzzID)), false)
	}
	for _, doc := range []string{
		docMinimal,
		`{"client_id":"{{ID}}","redirect_uris":["https://a.example/cb","com.example.app:/cb"],"grant_types":["authorization_code"],` +
			`"response_types":["code"],"token_endpoint_auth_method":"none","client_name":"App","scope":"mcp profile admin"}`,
		`{"client_id":"{{ID}}","redirect_uris":["http://localhost:6274/oauth/callback"],"scope":"admin"}`,
		`{"client_id":"{{ID}}","redirect_uris":["https:\/\/a.example\/cb"],"client_name":"\u00e9t\u00e9","logo_uri":"x","jwks":{"keys":[]}}`,
	} {
		f.Add([]byte(docExpand(doc, docFuzzID)), false)
		f.Add([]byte(docExpand(doc, docFuzzID)), true)
	}
	supported := []string{"mcp", "profile"}
	f.Fuzz(func(t *testing.T, body []byte, narrow bool) {
		var server []string
		if narrow {
			server = supported
		}
		c, err := parseDocument(docFuzzID, body, server)
		if err != nil {
			if !errors.Is(err, ErrUnknownClient) {
				t.Fatalf("err = %v; want ErrUnknownClient", err)
			}
			if !reflect.DeepEqual(c, Client{}) {
				t.Fatalf("client %+v with the error", c)
			}
			if len(body) >= 16 && strings.Contains(err.Error(), string(body)) {
				t.Fatalf("err = %q repeats the document", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted a client that does not validate: %v", err)
		}
		if c.ID != docFuzzID || c.Kind != Document || c.AuthMethod != AuthNone || !c.Public() ||
			len(c.SecretHashes) > 0 || len(c.RedirectURIs) == 0 || len(c.RedirectURIs) > 20 || c.FirstParty {
			t.Fatalf("accepted %+v", c)
		}
		if !c.Allows(GrantAuthorizationCode) || c.Allows(GrantPassword) {
			t.Fatalf("grant types %q", c.GrantTypes)
		}
		for _, s := range c.Scopes {
			if narrow && !slices.Contains(supported, s) {
				t.Fatalf("scope %q, which the server does not have", s)
			}
		}
		if narrow && len(c.Scopes) == 0 {
			t.Fatal("no scopes: any scope")
		}
	})
}

// FuzzDocCacheLifetime: a document is kept for its default time, for a
// time within [1 min, 24 h], or not at all.
func FuzzDocCacheLifetime(f *testing.F) {
	for _, s := range []string{"", "max-age=600", "no-store", "no-cache", `max-age="5", private`, "max-age=99999999999999999999", "max-age=-1,max-age=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cc string) {
		const def = 5 * time.Minute
		got := docCacheLifetime(http.Header{"Cache-Control": {cc}}, def)
		if got != 0 && got != def && (got < time.Minute || got > 24*time.Hour) {
			t.Fatalf("Cache-Control %q: %v", cc, got)
		}
	})
}
