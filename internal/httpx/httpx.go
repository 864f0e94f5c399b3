// Package httpx is how every HTTP handler of this module answers and reads
// requests, so that they cannot drift apart:
//
//   - [WriteJSON] writes a JSON body that no cache keeps (Cache-Control
//     no-store, Pragma no-cache: responses hold tokens or personal data)
//     and no browser sniffs (X-Content-Type-Options nosniff);
//   - [WriteOAuthError] writes an OAuth 2.0 error (RFC 6749 §5.2), the
//     shape of the token endpoints' refusals, and [WriteProblem] an RFC
//     9457 problem details body ([Problem]), the shape of the APIs' refusals; both
//     carry the machine-readable code in "error";
//   - [ReadBody], [ReadForm] and [DecodeJSON] read a request body in one
//     order — its size, its presence, its media type, then its syntax —
//     and refuse it with a [BodyError] that carries the status and the
//     words the client is told.
//
// JSON bodies are decoded strictly, on package strictjson: member names
// match exactly (never by case or Unicode folding, as encoding/json
// matches them), none twice, no member the target does not know.
package httpx

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Media types of the bodies this package writes and reads.
const (
	MediaJSON    = "application/json"
	MediaProblem = "application/problem+json"
	MediaForm    = "application/x-www-form-urlencoded"
)

// Write writes body with status and the headers every response of this
// module carries: Content-Type contentType, Content-Length, and
// X-Content-Type-Options nosniff. An empty cacheControl means the body is
// not to be kept by any cache: Cache-Control no-store and Pragma no-cache
// (RFC 6749 §5.1, for HTTP/1.0 caches too); otherwise it is the
// Cache-Control value (a public key set: "public, max-age=300"). A HEAD
// request gets the headers alone.
func Write(w http.ResponseWriter, r *http.Request, status int, contentType, cacheControl string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	if cacheControl == "" {
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
	} else {
		h.Set("Cache-Control", cacheControl)
	}
	w.WriteHeader(status)
	if r == nil || r.Method != http.MethodHead {
		w.Write(body)
	}
}

// WriteJSON writes v as an application/json body with status, never
// cached. v must marshal (the types of this module do); a value that does
// not is a programming error, answered as 500 with an empty object.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	writeJSON(w, status, MediaJSON, v)
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte("{}")
	}
	Write(w, nil, status, contentType, "", append(b, '\n'))
}

// OAuthError is an OAuth 2.0 error response (RFC 6749 §5.2).
type OAuthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// WriteOAuthError writes an OAuth 2.0 error response: {"error": code,
// "error_description": description}, never cached.
func WriteOAuthError(w http.ResponseWriter, status int, code, description string) {
	WriteJSON(w, status, OAuthError{Code: code, Description: description})
}

// Problem is an RFC 9457 problem details object. Error, an
// extension member, is the machine-readable code (an RFC 6749 or RFC 6750
// error code, or one of the API's own); Scope, for an insufficient_scope
// refusal, the scopes that would do.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Error  string `json:"error,omitempty"`
	Scope  string `json:"scope,omitempty"`
}

// WriteProblemDetails writes p as an application/problem+json body with
// status p.Status, never cached. An empty Type is "about:blank" and an
// empty Title the status text (RFC 9457 §4.2.1).
func WriteProblemDetails(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	writeJSON(w, p.Status, MediaProblem, p)
}

// WriteProblem writes a problem of status with the machine-readable code
// and the detail the client is told: the counterpart of WriteOAuthError
// for APIs.
func WriteProblem(w http.ResponseWriter, status int, code, detail string) {
	WriteProblemDetails(w, Problem{Status: status, Error: code, Detail: detail})
}
