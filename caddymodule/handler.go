package caddymodule

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap/zapcore"

	"github.com/tenantgate/tenantgate/internal/meter"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
)

func init() {
	caddy.RegisterModule(new(Handler))
}

// DefaultRetryAfter is the Retry-After of a 503 answer.
const DefaultRetryAfter = 30 * time.Second

// Handler is the "http.handlers.tenant" middleware. For each request it
// normalises the host (400 when it is not a valid host name), resolves the
// tenant through the tenant app's shared resolver, and refuses unknown (404),
// suspended (403) and unavailable (503 with Retry-After) tenants with a
// caddyhttp.Error, for the server's error routes to render (see
// ErrorPage). For an active tenant it deletes every request header and
// trailer whose name starts with "X-Tenant" (any case, '_' for '-'), adds
// X-Tenant-Token, sets the
// placeholders {tenant.id}, {tenant.subdomain}, {tenant.name} and
// {tenant.status}, and adds "tenant" to the access log.
//
// With limits or shed in the global tenant block (see App), an active
// tenant's request is first held to the tenant's rate and in-flight cap
// (429 rate_limited with Retry-After) and then to the whole edge's bound,
// waiting in a queue fair across tenants for up to shed's queue_timeout
// (503 overloaded with Retry-After: 1); a refusal adds "refused" to the
// access log.
//
// Every request of a resolved tenant, refused or not, is counted for the
// tenant's usage figures (status class, rate_limited, body bytes, latency;
// see usage.go), which the tenant app writes to the control plane.
//
// Caddyfile:
//
//	tenant {
//		retry_after <duration>   # Retry-After of 503 answers, default 30s
//	}
type Handler struct {
	// RetryAfter is sent with 503 answers. Default 30s.
	RetryAfter caddy.Duration `json:"retry_after,omitempty"`

	resolver   hostResolver
	tokens     *tokenCache
	guard      *guard // the app's limits; nil: none
	meter      *meter.Edge
	retryAfter string
}

// CaddyModule returns the Caddy module information.
func (*Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.tenant",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision connects the handler to the tenant app and its signing keys.
func (h *Handler) Provision(ctx caddy.Context) error {
	app, err := appFromContext(ctx)
	if err != nil {
		return err
	}
	if len(app.keys) == 0 {
		return errors.New("tenant handler: no signing keys: set TENANT_SIGNING_KEYS or signing_keys in the global tenant block")
	}
	signer, err := tenanttoken.NewSigner(app.keys)
	if err != nil {
		return fmt.Errorf("tenant handler: %w", err)
	}
	h.resolver = app.resolver()
	h.guard = app.guard
	h.meter = app.meter
	h.tokens = newTokenCache(signer, time.Now)
	d := time.Duration(h.RetryAfter)
	if d <= 0 {
		d = DefaultRetryAfter
	}
	h.retryAfter = retryAfterSeconds(d)
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	start := nanotime()
	host, ok := tenantstore.NormalizeHost(r.Host)
	if !ok {
		return caddyhttp.Error(http.StatusBadRequest, errInvalidHost)
	}
	t, err := h.resolver.ResolveHost(r.Context(), host)
	if err != nil {
		if errors.Is(err, tenantstore.ErrNotFound) {
			return caddyhttp.Error(http.StatusNotFound, errUnknownTenant)
		}
		w.Header().Set("Retry-After", h.retryAfter)
		return caddyhttp.Error(http.StatusServiceUnavailable, &Refusal{
			Status: http.StatusServiceUnavailable, Code: errUnavailable.Code, Message: errUnavailable.Message,
			cause: fmt.Errorf("resolving %q: %w", host, err),
		})
	}
	logTenant(r, t.Subdomain)
	if h.meter == nil {
		return h.serveTenant(w, r, next, t, host)
	}
	status, bytes, err := h.serveCounted(w, r, next, t, host)
	h.meter.Record(t.ID, status, bytes, time.Duration(nanotime()-start), err != nil && errors.Is(err, errRateLimited))
	return err
}

// serveTenant serves a request of resolved tenant t at host.
func (h *Handler) serveTenant(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, t *tenantstore.Tenant, host string) error {
	switch t.Status {
	case tenantstore.StatusActive:
	case tenantstore.StatusSuspended:
		return caddyhttp.Error(http.StatusForbidden, errSuspended)
	case tenantstore.StatusMaintenance:
		w.Header().Set("Retry-After", h.retryAfter)
		return caddyhttp.Error(http.StatusServiceUnavailable, errMaintenance)
	default: // provisioning: not ready yet
		w.Header().Set("Retry-After", h.retryAfter)
		return caddyhttp.Error(http.StatusServiceUnavailable, errNotReady)
	}

	if h.guard != nil {
		k, err := h.guard.admit(w, r, t)
		if err != nil {
			return err
		}
		defer h.guard.release(k)
	}

	e, err := h.tokens.get(t, host)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	stripTenantHeaders(r.Header)
	stripTenantTrailers(r)
	// The value slice is shared by every request of this host while the
	// token lives (read-only: reverse_proxy copies the headers before
	// touching them, and an append reallocates since cap is 1), which saves
	// an allocation per request.
	r.Header[tenanttoken.Header] = e.header
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Map(e.placeholders)
	}
	return next.ServeHTTP(w, r)
}

// retryAfterSeconds renders a duration for the Retry-After header.
func retryAfterSeconds(d time.Duration) string {
	s := int(d / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}

// stripTenantHeaders deletes every header whose name starts with X-Tenant in
// any case, with '_' counted as '-': only the edge may speak for the tenant
// (see httputil.ReverseProxy on client-supplied copies of trusted headers),
// and CGI-style upstreams (PHP, WSGI) read X_Tenant_Id as HTTP_X_TENANT_ID,
// the same variable as X-Tenant-Id.
func stripTenantHeaders(h http.Header) {
	for k := range h {
		if isTenantHeader(k) {
			delete(h, k)
		}
	}
}

// stripTenantTrailers keeps X-Tenant* trailers of a chunked (or HTTP/2)
// request body from reaching the upstream, which reverse_proxy would
// otherwise forward as trailers: an upstream that reads trailers must not
// take them for the edge's word. They are stripped rather than refused
// because undeclared ones exist only once the body has been read to its
// end, when the request is already on its way upstream and a 400 can no
// longer be answered; stripping covers both kinds, as it does for headers.
//
// Trailers arrive after the body: net/http (HTTP/1.1 and HTTP/2) merges
// them, declared or not, into r.Trailer when Body.Read reaches EOF, and
// reverse_proxy copies that map on the same EOF. So the declared names are
// deleted now (they would be announced in the upstream's Trailer header),
// and the values again at EOF, before anything upstream can read them. A
// request without a Trailer header has a nil r.Trailer: net/http then puts
// any trailers in a map of its own request that no handler sees.
func stripTenantTrailers(r *http.Request) {
	if r.Trailer == nil || r.Body == nil {
		return
	}
	stripTenantHeaders(r.Trailer)
	r.Body = &trailerStripper{ReadCloser: r.Body, trailer: r.Trailer}
}

// trailerStripper deletes X-Tenant* trailers from trailer when the body it
// wraps reaches EOF, which is when net/http fills them in.
type trailerStripper struct {
	io.ReadCloser
	trailer http.Header
}

// Read implements io.Reader.
func (b *trailerStripper) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		stripTenantHeaders(b.trailer)
	}
	return n, err
}

// isTenantHeader reports whether name starts with "x-tenant", ignoring case
// and reading '_' as '-'.
func isTenantHeader(name string) bool {
	const prefix = "x-tenant"
	if len(name) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// logTenant adds the tenant to the request's access log entry.
func logTenant(r *http.Request, sub string) {
	if extra, ok := r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
		extra.Set(zapcore.Field{Key: "tenant", Type: zapcore.StringType, String: sub})
	}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
