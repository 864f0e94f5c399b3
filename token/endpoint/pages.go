package endpoint

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/sessionless/sessionless/internal/exturl"
	"github.com/sessionless/sessionless/token/clients"
)

// The pages of the authorization endpoint: server-rendered, no script,
// one form each. Their styles are inline, so the CSP allows inline
// styles and nothing else of the page's own; nothing may frame them.
var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin:0 0 1rem}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #bbc;border-radius:4px;font:inherit}
button{margin-top:1.2rem;padding:.55rem 1.2rem;border:0;border-radius:4px;background:#2458d3;color:#fff;font:inherit;cursor:pointer}
button.secondary{background:#e4e7ee;color:#1d2330;margin-left:.5rem}
.error{background:#fde8e8;color:#8a1c1c;padding:.6rem .8rem;border-radius:4px}
.note{color:#5a6275;font-size:.9rem}
ul{padding-left:1.2rem}
code{font-size:.9rem;word-break:break-all}
</style></head><body><main>{{end}}
{{define "foot"}}</main></body></html>{{end}}

{{define "login"}}{{template "head" .}}
<h1>Sign in to {{.Service}}</h1>
<p><strong>{{.Client}}</strong> wants to access your account.</p>
{{if .Unverified}}<p class="note">This application registered itself{{if .ClientURL}} as <code>{{.ClientURL}}</code>{{end}}; {{.Service}} has not verified its name.</p>{{end}}
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="request" value="{{.Request}}">
<input type="hidden" name="action" value="login">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username" autocapitalize="none" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="sign-in">Sign in</button>
</form>
<p class="note">After you sign in you go back to <code>{{.RedirectHost}}</code>.</p>
{{template "foot"}}{{end}}

{{define "consent"}}{{template "head" .}}
<h1>Allow {{.Client}}?</h1>
{{if .Unverified}}<p class="note">This application registered itself{{if .ClientURL}} as <code>{{.ClientURL}}</code>{{end}}; {{.Service}} has not verified its name. Allow it only if you started this from an application you trust.</p>{{end}}
<p><strong>{{.Client}}</strong> asks to act on your behalf at {{.Service}}{{if .Scopes}} with these permissions{{end}}:</p>
{{if .Scopes}}<ul id="scopes">{{range .Scopes}}<li>{{if .Description}}{{.Description}} (<code>{{.Name}}</code>){{else}}<code>{{.Name}}</code>{{end}}</li>{{end}}</ul>{{end}}
<p class="note">You are signed in as <code>{{.Username}}</code>. If you allow it, you go back to <code>{{.RedirectHost}}</code>. You can withdraw this later.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="request" value="{{.Request}}">
<button type="submit" name="action" value="approve" id="approve">Allow</button>
<button type="submit" name="action" value="deny" id="deny" class="secondary">Deny</button>
</form>
{{template "foot"}}{{end}}

{{define "error"}}{{template "head" .}}
<h1>{{.Title}}</h1>
<p class="error" role="alert" id="error">{{.Error}}</p>
{{template "foot"}}{{end}}
`))

type pageScope struct{ Name, Description string }

type pageData struct {
	Title, Service, Client, ClientURL, RedirectHost string
	Action, Request, Username, Error                string
	Unverified                                      bool
	Scopes                                          []pageScope
}

// securePage sets the headers of every page of the authorization
// endpoint: no caching (a page holds a sealed request), no framing
// (clickjacking the consent), no script, no referrer (the query names
// the client's state).
func securePage(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func (s *Server) render(w http.ResponseWriter, status int, name string, d pageData) {
	if d.Service == "" {
		d.Service = s.authz.service
	}
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, d); err != nil {
		s.log.Error("rendering a page of the authorization endpoint", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// formAction is where a page's form posts: the path the request came to,
// as the browser sees it (under Config.ExternalURL's path, which a proxy
// in front may strip).
func (s *Server) formAction(r *http.Request) string {
	if s.cfg.ExternalURL != "" {
		if u, err := url.Parse(exturl.RequestURL(s.cfg.ExternalURL, r)); err == nil && u.Path != "" {
			return u.EscapedPath()
		}
	}
	return r.URL.EscapedPath()
}

func redirectHost(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	if u.Host == "" {
		return u.Scheme + ":" // a private-use scheme: the app
	}
	return u.Host
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, status int, c clients.Client, p pending, sealed, username, msg string) {
	d := pageData{Title: "Sign in", Client: c.DisplayName(), RedirectHost: redirectHost(p.RedirectURI),
		Action: s.formAction(r), Request: sealed, Username: username, Error: msg, Unverified: !trusted(c)}
	if c.Kind == clients.Document {
		d.ClientURL = c.ID
	}
	s.render(w, status, "login", d)
}

func (s *Server) consentPage(w http.ResponseWriter, r *http.Request, c clients.Client, a approval, sealed string) {
	d := pageData{Title: "Allow access", Client: c.DisplayName(), RedirectHost: redirectHost(a.Pending.RedirectURI),
		Action: s.formAction(r), Request: sealed, Unverified: !trusted(c)}
	if c.Kind == clients.Document {
		d.ClientURL = c.ID
	}
	for sc := range strings.FieldsSeq(a.Scope) {
		d.Scopes = append(d.Scopes, pageScope{Name: sc, Description: s.authz.scopeText[sc]})
	}
	d.Username = a.Username
	s.render(w, http.StatusOK, "consent", d)
}

// errorPage shows err to the user: the message of a *pageError, an
// unknown client, 500 for an internal error, and 503 with Retry-After
// for anything else (a store that cannot answer).
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	var pe *pageError
	var uc *unknownClientError
	var ie internalError
	d := pageData{Title: "Cannot sign in"}
	status := http.StatusServiceUnavailable
	switch {
	case errors.As(err, &pe):
		status, d.Error = pe.status, pe.message
	case errors.As(err, new(*LimitError)):
		s.audit(r, Event{Kind: Throttled, Reason: budgetOf(err)})
		writeRetryAfter(w, err)
		status, d.Error = http.StatusTooManyRequests, "Too many attempts from your network. Wait a moment and try again."
	case errors.As(err, &uc):
		status, d.Error = http.StatusBadRequest, "The application that sent you here is not known to this server."
		if !errors.Is(uc.err, clients.ErrUnknownClient) || uc.err != clients.ErrUnknownClient {
			d.Error += " " + strings.TrimPrefix(uc.err.Error(), clients.ErrUnknownClient.Error()+": ")
		}
		s.log.InfoContext(r.Context(), "authorization request refused: unknown client", "err", err)
	case errors.As(err, &ie):
		status, d.Error = http.StatusInternalServerError, "Something went wrong on our side."
		s.log.ErrorContext(r.Context(), "authorization endpoint failed", "err", err)
	default:
		w.Header().Set("Retry-After", "1")
		d.Error = "The service is unavailable. Try again in a moment."
		if r.Context().Err() == nil {
			s.log.ErrorContext(r.Context(), "authorization endpoint: a backing store cannot answer", "err", err)
		}
	}
	s.render(w, status, "error", d)
}
