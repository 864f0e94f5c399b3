package dpop_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sessionless/sessionless/dpop"
	"github.com/sessionless/sessionless/middleware"
	"github.com/sessionless/sessionless/token"
)

// A DPoP session over HTTP, both sides. The client keeps one P-256 key
// and signs a proof for each request: a JWS with typ dpop+jwt, the public
// key in its header, and the request's method and URL, the time, a
// unique jti and (with an access token) the token's hash in its claims.
// The server binds the token it issues to the key (cnf.jkt) and checks a
// proof on every request; a proof used twice, or the token sent as a
// plain bearer token, is refused.
func Example() {
	// ---- Server: an issuer, the middleware with DPoP, a token route. ----
	// (A real server uses package token/endpoint for /auth/token; this
	// stand-in shows what it does with a proof.)
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String() // the public URL proofs name
	signing, err := token.GenerateKey(token.ES256)
	if err != nil {
		log.Fatal(err)
	}
	keys, _ := token.NewKeySet(signing)
	issuer, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: base, Audience: []string{"api"}})
	verifier, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: base, Audience: "api"})
	proofs, _ := dpop.New(dpop.Config{Replay: dpop.NewMemoryCache(nil)}) // dpop/redisreplay for several instances
	auth, err := middleware.New(middleware.Config{
		JWT:         map[string]middleware.Verifier{base: verifier},
		DPoP:        proofs,
		ExternalURL: base,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		jkt, err := proofs.CheckProof(r.Context(), r.Header.Get("DPoP"), r.Method, base+r.URL.Path, "")
		if err != nil {
			http.Error(w, "invalid_dpop_proof", http.StatusBadRequest)
			return
		}
		access, _, _ := issuer.Issue(token.Claims{Subject: "alice", JKT: jkt}) // bound: cnf.jkt
		json.NewEncoder(w).Encode(map[string]string{"access_token": access, "token_type": "DPoP"})
	})
	mux.Handle("GET /api/me", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		io.WriteString(w, p.Subject)
	})))
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()

	// ---- Client: one key for the session, kept in memory. ----
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	point, _ := key.PublicKey.Bytes() // 0x04, X, Y
	jwk := map[string]string{"kty": "EC", "crv": "P-256", "x": b64(point[1:33]), "y": b64(point[33:])}
	proof := func(method, url, accessToken string) string {
		header, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk})
		claims := map[string]any{"jti": rand.Text(), "htm": method, "htu": url, "iat": time.Now().Unix()}
		if accessToken != "" {
			sum := sha256.Sum256([]byte(accessToken))
			claims["ath"] = b64(sum[:])
		}
		payload, _ := json.Marshal(claims)
		input := b64(header) + "." + b64(payload)
		digest := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			log.Fatal(err)
		}
		return input + "." + b64(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
	}
	send := func(method, path, authorization, proof string) (*http.Response, string) {
		req, _ := http.NewRequest(method, base+path, nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		req.Header.Set("DPoP", proof)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, strings.TrimSpace(string(body))
	}

	// 1. The token request carries a proof: the token is bound to the key.
	resp, body := send("POST", "/token", "", proof("POST", base+"/token", ""))
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	json.Unmarshal([]byte(body), &tok)
	fmt.Println("token:", resp.StatusCode, tok.TokenType)
	// 2. Each API request: Authorization: DPoP <token> and a new proof.
	one := proof("GET", base+"/api/me", tok.AccessToken)
	resp, body = send("GET", "/api/me", "DPoP "+tok.AccessToken, one)
	fmt.Println("GET /api/me with a proof:", resp.StatusCode, body)
	// 3. A proof is good once; a stolen token without the key is nothing.
	resp, _ = send("GET", "/api/me", "DPoP "+tok.AccessToken, one)
	fmt.Println("the same proof again:", resp.StatusCode, strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), " "), `error="invalid_dpop_proof"`))
	resp, _ = send("GET", "/api/me", "Bearer "+tok.AccessToken, "")
	fmt.Println("the token as a bearer token:", resp.StatusCode)
	// Output:
	// token: 200 DPoP
	// GET /api/me with a proof: 200 alice
	// the same proof again: 401 true
	// the token as a bearer token: 401
}
