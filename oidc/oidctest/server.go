package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"
)

// Server is a local OpenID Connect provider that runs on its own, without
// a test: from a main (demo-api's "oidc-provider" command), to try the
// tokens of a provider with curl before there is one. It serves discovery
// (/.well-known/openid-configuration), its JWK Set (/jwks) and a token
// endpoint (POST /token) that mints an RS256 access token for whatever
// subject, scopes and audience the form asks: anyone who reaches it gets
// any token. [Start] therefore listens on loopback addresses only.
type Server struct {
	issuer string
	key    *rsa.PrivateKey
	srv    *http.Server
	served chan error
}

// ServerConfig configures a [Server].
type ServerConfig struct {
	// Addr is the loopback address to listen on ("127.0.0.1:9000"; port
	// 0 picks a free one). Default "127.0.0.1:0".
	Addr string
	// Audience is the "aud" of the tokens whose request names none.
	// Default "api".
	Audience string
	// TTL is the tokens' lifetime. Default 15 minutes.
	TTL time.Duration
}

// Start listens on cfg.Addr, which must be a loopback address, and serves
// until Close. The issuer is http://<the address listened on>.
func Start(cfg ServerConfig) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Audience == "" {
		cfg.Audience = "api"
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 15 * time.Minute
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if ip := net.ParseIP(host); err != nil || !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("oidctest: %q is not a loopback address: a provider that mints any token must not be reachable from elsewhere", cfg.Addr)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{issuer: "http://" + ln.Addr().String(), key: key, served: make(chan error, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer": s.issuer, "jwks_uri": s.issuer + "/jwks", "token_endpoint": s.issuer + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"}, "response_types_supported": []string{},
			"grant_types_supported": []string{"client_credentials"}, "subject_types_supported": []string{"public"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "local", "use": "sig", "alg": "RS256",
			"n": B64(key.N.Bytes()), "e": B64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "a form of at most 16 KiB"})
			return
		}
		sub, scope, aud := r.PostForm.Get("sub"), r.PostForm.Get("scope"), r.PostForm.Get("aud")
		if sub == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "sub is required: the subject of the token"})
			return
		}
		if aud == "" {
			aud = cfg.Audience
		}
		raw, err := s.Mint(sub, scope, aud, cfg.TTL)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": raw, "token_type": "Bearer", "expires_in": int(cfg.TTL.Seconds()), "scope": scope})
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.served <- s.srv.Serve(ln) }()
	return s, nil
}

// Issuer is the provider's issuer identifier: http://host:port.
func (s *Server) Issuer() string { return s.issuer }

// Mint signs an access token for subject with the space-separated scopes
// and the audience, valid for ttl: typ at+jwt, a jti, client_id
// "oidctest" (RFC 9068), as POST /token does.
func (s *Server) Mint(subject, scope, audience string, ttl time.Duration) (string, error) {
	now := time.Now()
	id := make([]byte, 16)
	rand.Read(id)
	claims := map[string]any{"iss": s.issuer, "sub": subject, "aud": audience, "iat": now.Unix(), "exp": now.Add(ttl).Unix(),
		"jti": B64(id), "client_id": "oidctest"}
	if scope != "" {
		claims["scope"] = scope
	}
	return sign(s.key, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "local"}, claims)
}

// Close stops the server at once.
func (s *Server) Close() error {
	err := s.srv.Close()
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// Shutdown stops the server once the requests in flight have ended, or
// ctx has.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
