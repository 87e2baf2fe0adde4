// Package h1transport is a reverse_proxy transport for HTTP/1.1 upstreams
// that costs a third of net/http's Transport per request.
//
// net/http's Transport hands every request to two goroutines of the pooled
// connection (writeLoop, readLoop) and back, through channels: three
// goroutine switches and their wake-ups per request, which is most of what
// Caddy's reverse_proxy spends per request on a small machine (issue 15,
// bench/edge-vs-nginx.sh). This transport writes the request and reads the
// response headers on the calling goroutine, over a LIFO pool of idle
// connections per upstream, and returns the connection to the pool when the
// response body reaches its end.
//
// Only plain requests take that path: GET, HEAD, OPTIONS or TRACE over HTTP
// (no TLS) to a TCP or unix upstream, no request body, no Upgrade or Expect
// header, and a transport without PROXY protocol, forward proxy, local
// address, resolver, HTTP/2 or HTTP/3, connection cap, or read/write/header
// timeouts. The response headers are read without net/http's size cap
// (the upstreams are the project's appservers). Everything else is
// handed to the embedded standard transport, configured by the same
// Caddyfile options as `transport http`, so websockets, uploads and TLS
// upstreams behave exactly as before.
package h1transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

func init() {
	caddy.RegisterModule(new(Transport))
}

// Transport is the "http.reverse_proxy.transport.tenant_h1" module. Its
// options are those of reverse_proxy's `transport http`, which it embeds and
// falls back to for every request the fast path does not take.
//
// Caddyfile:
//
//	reverse_proxy … {
//		transport tenant_h1 {
//			keepalive 2m                        # idle connections live this long
//			keepalive_idle_conns_per_host 256   # idle connections kept per upstream
//			…                                   # any other `transport http` option
//		}
//	}
type Transport struct {
	reverseproxy.HTTPTransport

	fast    bool
	dialer  net.Dialer
	maxIdle int
	idleTTL time.Duration
	rbuf    int
	wbuf    int

	mu    sync.Mutex
	pools map[string]*pool
}

// CaddyModule returns the Caddy module information.
func (*Transport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.transport.tenant_h1",
		New: func() caddy.Module { return new(Transport) },
	}
}

// UnmarshalCaddyfile reads the same options as `transport http`.
func (t *Transport) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return t.HTTPTransport.UnmarshalCaddyfile(d)
}

// Provision sets up the standard transport, then decides whether this
// configuration allows the fast path at all.
func (t *Transport) Provision(ctx caddy.Context) error {
	if err := t.HTTPTransport.Provision(ctx); err != nil {
		return err
	}
	h := &t.HTTPTransport
	ka := h.KeepAlive // defaults filled in by Provision
	t.fast = h.TLS == nil && h.ProxyProtocol == "" && h.ForwardProxyURL == "" &&
		h.NetworkProxyRaw == nil && h.LocalAddress == "" && h.Resolver == nil &&
		h.MaxConnsPerHost == 0 && h.ReadTimeout == 0 && h.WriteTimeout == 0 &&
		h.ResponseHeaderTimeout == 0 &&
		!slices.Contains(h.Versions, "h2c") && !slices.Contains(h.Versions, "3") &&
		(ka.Enabled == nil || *ka.Enabled) && !proxyFromEnvironment()
	t.dialer = net.Dialer{
		Timeout:       time.Duration(h.DialTimeout),
		FallbackDelay: time.Duration(h.FallbackDelay),
		KeepAlive:     time.Duration(ka.ProbeInterval),
	}
	t.maxIdle = ka.MaxIdleConnsPerHost
	t.idleTTL = time.Duration(ka.IdleConnTimeout)
	t.rbuf, t.wbuf = h.ReadBufferSize, h.WriteBufferSize
	if t.rbuf <= 0 {
		t.rbuf = 4096
	}
	if t.wbuf <= 0 {
		t.wbuf = 4096
	}
	t.pools = make(map[string]*pool)
	return nil
}

// proxyFromEnvironment reports whether HTTP_PROXY is set, which the standard
// transport honours (http.ProxyFromEnvironment) and the fast path does not.
func proxyFromEnvironment() bool {
	return os.Getenv("HTTP_PROXY") != "" || os.Getenv("http_proxy") != ""
}

// Cleanup closes the idle connections of both paths.
func (t *Transport) Cleanup() error {
	t.mu.Lock()
	pools := t.pools
	t.pools = make(map[string]*pool)
	t.mu.Unlock()
	for _, p := range pools {
		p.closeAll()
	}
	return t.HTTPTransport.Cleanup()
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.SetScheme(req)
	if !t.fast || !plain(req) {
		return t.HTTPTransport.RoundTrip(req)
	}
	network, addr := "tcp", req.URL.Host
	if di, ok := reverseproxy.GetDialInfo(req.Context()); ok {
		network, addr = di.Network, di.Address
	}
	p := t.pool(network, addr)
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(req.Context())
		if err != nil {
			return nil, reverseproxy.NewDialError(err)
		}
		resp, err := c.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		c.close()
		// A pooled connection the upstream closed while it sat idle fails
		// before any answer: try once more on a new one, as net/http does
		// for requests that can be replayed (plain ones are).
		if !reused || attempt > 0 || req.Context().Err() != nil {
			return nil, err
		}
	}
}

// plain reports whether req may take the fast path: an idempotent request
// without a body. Others go to net/http, whose connections notice an
// upstream's close while idle (its read loop), so that a POST or DELETE is
// never written to a connection the upstream already closed; here only a
// request that may be sent twice is, and then sent again.
func plain(req *http.Request) bool {
	return req.URL.Scheme == "http" && replayable(req) && (req.Body == nil || req.Body == http.NoBody) &&
		req.ContentLength == 0 && len(req.TransferEncoding) == 0 &&
		req.Header.Get("Upgrade") == "" && req.Header.Get("Expect") == ""
}

// replayable reports whether req may be sent twice: an idempotent method.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func (t *Transport) pool(network, addr string) *pool {
	key := network + "/" + addr
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pools[key]
	if p == nil {
		p = &pool{t: t, network: network, addr: addr}
		t.pools[key] = p
	}
	return p
}

// pool holds the idle connections to one upstream, most recent last.
type pool struct {
	t       *Transport
	network string
	addr    string

	mu   sync.Mutex
	idle []*conn
}

// get returns an idle connection (reused true) or dials a new one.
func (p *pool) get(ctx context.Context) (*conn, bool, error) {
	now := time.Now()
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if now.Sub(c.idleSince) < p.t.idleTTL {
			p.mu.Unlock()
			return c, true, nil
		}
		// The newest has expired, so have all the older ones.
		rest := p.idle
		p.idle = nil
		p.mu.Unlock()
		c.nc.Close()
		for _, old := range rest {
			old.nc.Close()
		}
		p.mu.Lock()
	}
	p.mu.Unlock()
	nc, err := p.t.dialer.DialContext(ctx, p.network, p.addr)
	if err != nil {
		return nil, false, err
	}
	return &conn{
		pool: p, nc: nc,
		br: bufio.NewReaderSize(nc, p.t.rbuf),
		bw: bufio.NewWriterSize(nc, p.t.wbuf),
	}, false, nil
}

// put returns c to the pool, or closes it when the pool is full.
func (p *pool) put(c *conn) {
	c.idleSince = time.Now()
	p.mu.Lock()
	if len(p.idle) < p.t.maxIdle {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	c.nc.Close()
}

func (p *pool) closeAll() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// conn is one upstream connection and its buffers.
type conn struct {
	pool      *pool
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	// stop unregisters the cancellation of the request in flight; it
	// returns false when the request was cancelled (the deadline was set).
	stop func() bool
}

// aLongTimeAgo is a deadline in the past: it fails pending reads and writes.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes req and reads the response headers. The body, when
// there is one, hands the connection back when it has been read to its end.
func (c *conn) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	nc := c.nc
	c.stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo) })
	if err := req.Write(c.bw); err != nil {
		return nil, c.fail(ctx, "writing the request", err)
	}
	if err := c.bw.Flush(); err != nil {
		return nil, c.fail(ctx, "writing the request", err)
	}
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, c.fail(ctx, "reading the response", err)
		}
		// Interim answers (103 Early Hints, a stray 100) come before the
		// real one on the same connection.
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			// Never asked for (no Upgrade header): the connection is not HTTP any more.
			return nil, c.fail(ctx, "reading the response", errors.New("unexpected 101 Switching Protocols"))
		}
		keep := !resp.Close && !req.Close
		if resp.Body == http.NoBody || resp.Body == nil {
			c.release(keep)
			return resp, nil
		}
		resp.Body = &body{rc: resp.Body, c: c, keep: keep}
		return resp, nil
	}
}

// fail wraps err, preferring the context's error when the request was
// cancelled (the deadline we set is what failed the I/O then).
func (c *conn) fail(ctx context.Context, what string, err error) error {
	c.stop()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("upstream %s: %s: %w", c.pool.addr, what, ctxErr)
	}
	return fmt.Errorf("upstream %s: %s: %w", c.pool.addr, what, err)
}

// release ends the request on c: back to the pool when keep and the request
// was not cancelled meanwhile, closed otherwise.
func (c *conn) release(keep bool) {
	if c.stop() && keep {
		c.pool.put(c)
		return
	}
	c.nc.Close()
}

func (c *conn) close() { c.nc.Close() }

// body is a response body that releases its connection at EOF, or closes it
// when closed before (the rest of the answer is still on the wire).
type body struct {
	rc   io.ReadCloser
	c    *conn
	keep bool
	done bool
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.done = true
		b.c.release(b.keep)
	} else if err != nil {
		b.done = true
		b.c.stop()
		b.c.close()
	}
	return n, err
}

// Close implements io.Closer.
func (b *body) Close() error {
	if !b.done {
		b.done = true
		b.c.stop()
		b.c.close()
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner     = (*Transport)(nil)
	_ caddy.CleanerUpper    = (*Transport)(nil)
	_ caddyfile.Unmarshaler = (*Transport)(nil)
	_ http.RoundTripper     = (*Transport)(nil)
)
