// Package tenantproxy is the "http.handlers.tenant_proxy" handler: a lean
// reverse proxy to the project's appservers (plain HTTP/1.1 upstreams) that
// replaces `reverse_proxy` on the tenant sites (issue 15: the edge's
// throughput against nginx).
//
// Where the CPU goes in reverse_proxy on a small machine (issue 15's
// profiles): net/http's Transport hands each request to two goroutines of
// the pooled connection and back, reverse_proxy builds a debug logger and
// clones the request for every request, and copies headers twice. This
// handler writes the request and reads the answer on the request's own
// goroutine, over a pool of kept-open connections per upstream, and writes
// the answer's headers straight into the client's.
//
// The fast path takes idempotent requests without a body (GET, HEAD,
// OPTIONS, TRACE) and no Upgrade, Expect or trailers; a request that may be
// sent twice is the only kind that may be written to a kept-open
// connection the upstream closed meanwhile, and then sent again. Every other
// request (uploads, websockets) goes through an embedded
// httputil.ReverseProxy over the same upstreams, which streams request
// bodies and hands Upgrade connections through.
//
// Both paths: least-connections (default) or round-robin over the upstreams
// that are up; an upstream is down while its active health check (GET
// health_uri every health_interval) fails and for fail_duration after a
// dial fails; a dial failure is retried on another upstream (lb_retries);
// X-Forwarded-For, -Proto and -Host are overwritten unless the client is
// one of the server's trusted_proxies (as reverse_proxy does), Via is added,
// hop-by-hop headers are removed both ways; a streamed answer (unknown
// length, text/event-stream) is flushed as it arrives; the upstream request
// ends when the client goes away. No upstream → 502, returned as a
// caddyhttp error for handle_errors (tenant_error) to render.
package tenantproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(new(Handler))
}

// Defaults of the Handler's options.
const (
	DefaultDialTimeout    = 3 * time.Second
	DefaultKeepAlive      = 2 * time.Minute
	DefaultIdlePerHost    = 256
	DefaultRetries        = 2
	DefaultHealthTimeout  = 2 * time.Second
	DefaultFailDuration   = 10 * time.Second
	maxUpstreams          = 64 // tried upstreams are a bit set in a uint64
	maxIdlePerHostAllowed = 65536
)

// Handler is the "http.handlers.tenant_proxy" module.
//
// Caddyfile:
//
//	tenant_proxy <host:port>... {
//		lb_policy least_conn|round_robin   # default least_conn
//		lb_retries <n>                     # other upstreams tried after a dial failure, default 2
//		health_uri /healthz                # active health check; none when empty
//		health_interval 5s
//		health_timeout 2s
//		fail_duration 10s                  # an upstream whose dial failed is skipped this long
//		dial_timeout 3s
//		keepalive 2m                       # idle connections live this long
//		keepalive_idle_conns_per_host 256  # idle connections kept per upstream
//	}
type Handler struct {
	// Upstreams are the appservers, host:port (http:// allowed, nothing else).
	Upstreams []string `json:"upstreams"`
	// LBPolicy is least_conn (default) or round_robin.
	LBPolicy string `json:"lb_policy,omitempty"`
	// Retries is how many other upstreams are tried when one cannot be
	// reached. Default 2; -1 means none.
	Retries int `json:"lb_retries,omitempty"`
	// HealthURI is requested (GET) every HealthInterval; an upstream that
	// does not answer 2xx within HealthTimeout is skipped until it does.
	HealthURI      string         `json:"health_uri,omitempty"`
	HealthInterval caddy.Duration `json:"health_interval,omitempty"`
	HealthTimeout  caddy.Duration `json:"health_timeout,omitempty"`
	// FailDuration is how long an upstream is skipped after a dial fails.
	FailDuration caddy.Duration `json:"fail_duration,omitempty"`
	// DialTimeout bounds connecting to an upstream.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
	// KeepAlive is how long an idle upstream connection is kept.
	KeepAlive caddy.Duration `json:"keepalive,omitempty"`
	// MaxIdlePerHost is how many idle connections are kept per upstream.
	MaxIdlePerHost int `json:"keepalive_idle_conns_per_host,omitempty"`

	logger   *zap.Logger
	ups      []*upstream
	roundRob bool
	rr       uint32 // round-robin cursor (atomic)
	dialer   net.Dialer
	fallback *httputil.ReverseProxy
	fbTrans  *http.Transport
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

// CaddyModule returns the Caddy module information.
func (*Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.tenant_proxy",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision checks the options, fills in defaults and starts the health
// checks.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := h.setup(); err != nil {
		return err
	}
	hctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	if h.HealthURI != "" {
		h.wg.Add(1)
		go h.healthLoop(hctx)
	}
	return nil
}

// setup validates the options and builds the upstreams and the fallback
// proxy (Provision without the logger and the health checks).
func (h *Handler) setup() error {
	if len(h.Upstreams) == 0 {
		return errors.New("tenant_proxy: upstreams: at least one is required")
	}
	if len(h.Upstreams) > maxUpstreams {
		return fmt.Errorf("tenant_proxy: upstreams: at most %d", maxUpstreams)
	}
	switch h.LBPolicy {
	case "", "least_conn":
	case "round_robin":
		h.roundRob = true
	default:
		return fmt.Errorf("tenant_proxy: lb_policy: %q is not least_conn or round_robin", h.LBPolicy)
	}
	if h.Retries == 0 {
		h.Retries = DefaultRetries
	}
	if h.Retries < 0 {
		h.Retries = 0
	}
	if h.HealthURI != "" && !strings.HasPrefix(h.HealthURI, "/") {
		return fmt.Errorf("tenant_proxy: health_uri: %q must start with /", h.HealthURI)
	}
	for name, d := range map[string]caddy.Duration{
		"health_interval": h.HealthInterval, "health_timeout": h.HealthTimeout,
		"fail_duration": h.FailDuration, "dial_timeout": h.DialTimeout, "keepalive": h.KeepAlive,
	} {
		if d < 0 {
			return fmt.Errorf("tenant_proxy: %s: must not be negative", name)
		}
	}
	if h.MaxIdlePerHost < 0 || h.MaxIdlePerHost > maxIdlePerHostAllowed {
		return fmt.Errorf("tenant_proxy: keepalive_idle_conns_per_host: must be 0 to %d", maxIdlePerHostAllowed)
	}
	setDefault(&h.HealthInterval, 30*time.Second)
	setDefault(&h.HealthTimeout, DefaultHealthTimeout)
	setDefault(&h.FailDuration, DefaultFailDuration)
	setDefault(&h.DialTimeout, DefaultDialTimeout)
	setDefault(&h.KeepAlive, DefaultKeepAlive)
	if h.MaxIdlePerHost == 0 {
		h.MaxIdlePerHost = DefaultIdlePerHost
	}
	h.dialer = net.Dialer{Timeout: time.Duration(h.DialTimeout), KeepAlive: 30 * time.Second}
	seen := make(map[string]bool)
	for i, raw := range h.Upstreams {
		addr, err := upstreamAddr(raw)
		if err != nil {
			return fmt.Errorf("tenant_proxy: upstreams: %w", err)
		}
		if seen[addr] {
			return fmt.Errorf("tenant_proxy: upstreams: %s is listed twice", addr)
		}
		seen[addr] = true
		u := &upstream{idx: uint(i), addr: addr}
		u.pool = pool{addr: addr, dialer: &h.dialer, maxIdle: h.MaxIdlePerHost, ttl: time.Duration(h.KeepAlive)}
		u.healthy.Store(true)
		h.ups = append(h.ups, u)
	}
	h.setupFallback()
	return nil
}

func setDefault(d *caddy.Duration, v time.Duration) {
	if *d == 0 {
		*d = caddy.Duration(v)
	}
}

// upstreamAddr turns "host:port" or "http://host:port" into host:port.
func upstreamAddr(raw string) (string, error) {
	s := raw
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if scheme != "http" {
			return "", fmt.Errorf("%q: only http:// upstreams are supported", raw)
		}
		s = rest
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || port == "" || strings.ContainsAny(s, "/?#@ ") {
		return "", fmt.Errorf("%q: want host:port", raw)
	}
	return s, nil
}

// Cleanup stops the health checks and closes the idle connections.
func (h *Handler) Cleanup() error {
	if h.stop != nil {
		h.stop()
	}
	h.wg.Wait()
	for _, u := range h.ups {
		u.pool.close()
	}
	if h.fbTrans != nil {
		h.fbTrans.CloseIdleConnections()
	}
	return nil
}

// errNoUpstream is the cause of a 502 when every upstream is down.
var errNoUpstream = errors.New("no upstream is available")

// ServeHTTP implements caddyhttp.MiddlewareHandler. It never calls next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if !fastPath(r) {
		return h.serveFallback(w, r)
	}
	var tried uint64
	var lastErr error = errNoUpstream
	for attempt := 0; attempt <= h.Retries; attempt++ {
		u := h.pick(tried)
		if u == nil {
			break
		}
		tried |= 1 << u.idx
		err := h.serveFast(w, r, u)
		if err == nil {
			return nil
		}
		var re *retryable
		if !errors.As(err, &re) || r.Context().Err() != nil {
			return err
		}
		lastErr = re.err
	}
	return caddyhttp.Error(http.StatusBadGateway, lastErr)
}

// fastPath reports whether r may take the fast path (see the package doc).
func fastPath(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	return noBody(r) && r.Trailer == nil && r.Header["Upgrade"] == nil && r.Header["Expect"] == nil
}

// noBody reports whether r has no body. Caddy wraps every body (to count
// its bytes for the access log), so r.Body is never http.NoBody; a length
// of 0 without Transfer-Encoding is what says "none" in HTTP/1.1, and what
// net/http's HTTP/2 server sets for a stream without DATA.
func noBody(r *http.Request) bool {
	return r.ContentLength == 0 && len(r.TransferEncoding) == 0
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
