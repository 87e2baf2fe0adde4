package caddymodule

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(new(ErrorPage))
}

// Refusal is the error the tenant handler returns (inside a
// caddyhttp.HandlerError) when it does not pass a request on: what the client
// is told (Status, Code, Message) and, for the log only, the cause.
type Refusal struct {
	Status  int
	Code    string
	Message string
	cause   error
}

// Error returns the message, and the cause when there is one (for the log).
func (e *Refusal) Error() string {
	if e.cause != nil {
		return e.Message + ": " + e.cause.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Refusal) Unwrap() error { return e.cause }

// The refusals of the tenant handler.
var (
	errInvalidHost   = &Refusal{Status: http.StatusBadRequest, Code: "invalid_host", Message: "The host name is not valid."}
	errUnknownTenant = &Refusal{Status: http.StatusNotFound, Code: "tenant_not_found", Message: "There is no such organization here."}
	errSuspended     = &Refusal{Status: http.StatusForbidden, Code: "tenant_suspended", Message: "This organization is suspended."}
	errMaintenance   = &Refusal{Status: http.StatusServiceUnavailable, Code: "tenant_maintenance", Message: "This organization is under maintenance. Please try again shortly."}
	errNotReady      = &Refusal{Status: http.StatusServiceUnavailable, Code: "tenant_not_ready", Message: "This organization is being set up. Please try again shortly."}
	errUnavailable   = &Refusal{Status: http.StatusServiceUnavailable, Code: "service_unavailable", Message: "The service is temporarily unavailable. Please try again shortly."}
)

// ErrorPage is the "http.handlers.tenant_error" handler, for error routes
// (`handle_errors`). It answers the error being handled with a small HTML
// page, or with {"error":{"code":…,"message":…}} when the client accepts
// application/json. A Refusal from the tenant handler is shown as is; any
// other error (a 502 from reverse_proxy, say) gets a generic code and the
// status text, never its internal message. Headers set before the error
// (Retry-After) are kept.
//
// Caddyfile:
//
//	handle_errors {
//		tenant_error
//	}
type ErrorPage struct{}

// CaddyModule returns the Caddy module information.
func (*ErrorPage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.tenant_error",
		New: func() caddy.Module { return new(ErrorPage) },
	}
}

// ServeHTTP implements caddyhttp.MiddlewareHandler; it never calls next.
func (*ErrorPage) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	var err error
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		v, _ := repl.Get("http.error")
		err, _ = v.(error)
	}
	writeError(w, r, describe(err))
	return nil
}

// describe turns any handler error into what the client may see.
func describe(err error) *Refusal {
	if ref, ok := errors.AsType[*Refusal](err); ok {
		return &Refusal{Status: ref.Status, Code: ref.Code, Message: ref.Message}
	}
	status := http.StatusInternalServerError
	if he, ok := errors.AsType[caddyhttp.HandlerError](err); ok && he.StatusCode != 0 {
		status = he.StatusCode
	}
	return &Refusal{Status: status, Code: statusCode(status), Message: http.StatusText(status) + "."}
}

// statusCode is the snake_case code of a status without a Refusal.
func statusCode(status int) string {
	text := http.StatusText(status)
	if text == "" {
		return "error"
	}
	return strings.ReplaceAll(strings.ToLower(strings.NewReplacer("'", "", "-", " ").Replace(text)), " ", "_")
}

// wantsJSON reports whether the client asked for JSON rather than a page.
func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "json") && !strings.Contains(accept, "text/html")
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Status}} {{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}p{color:#555}code{color:#999}</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<p><code>{{.Status}} {{.Code}}</code></p>
</body>
</html>
`))

func writeError(w http.ResponseWriter, r *http.Request, ref *Refusal) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept")
	h.Del("Content-Length")
	if wantsJSON(r) {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(ref.Status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": ref.Code, "message": ref.Message}})
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(ref.Status)
	_ = pageTemplate.Execute(w, map[string]string{
		"Status": strconv.Itoa(ref.Status), "Title": http.StatusText(ref.Status), "Code": ref.Code, "Message": ref.Message,
	})
}

// Interface guards
var _ caddyhttp.MiddlewareHandler = (*ErrorPage)(nil)
