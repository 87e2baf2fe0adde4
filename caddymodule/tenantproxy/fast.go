package tenantproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// statusClientClosed is the status logged when the client went away first
// (as reverse_proxy does); nobody receives it.
const statusClientClosed = 499

// retryable wraps a failure before anything was sent to the client, on an
// idempotent request: another upstream may be tried.
type retryable struct{ err error }

func (e *retryable) Error() string { return e.err.Error() }
func (e *retryable) Unwrap() error { return e.err }

// serveFast proxies r to u on a kept-open connection (see the package doc).
func (h *Handler) serveFast(w http.ResponseWriter, r *http.Request, u *upstream) error {
	u.inFlight.Add(1)
	defer u.inFlight.Add(-1)
	ctx := r.Context()
	fwd := forwardedFor(r)
	var (
		c    *conn
		resp *http.Response
		stop func() bool
	)
	for attempt := 0; ; attempt++ {
		var reused bool
		var err error
		c, reused, err = u.pool.get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return caddyhttp.Error(statusClientClosed, ctx.Err())
			}
			u.markDown(h.failDuration())
			h.logWarn("upstream down: dial failed", u, err)
			return &retryable{fmt.Errorf("dialing upstream %s: %w", u.addr, err)}
		}
		stop = context.AfterFunc(ctx, c.abort)
		resp, err = c.roundTrip(r, &fwd)
		if err == nil {
			break
		}
		stop()
		c.nc.Close()
		if ctx.Err() != nil {
			return caddyhttp.Error(statusClientClosed, ctx.Err())
		}
		// A kept-open connection the upstream closed while it sat idle
		// fails before any answer: try once more on a new one. A new
		// connection that fails leaves it to another upstream.
		if !reused || attempt > 0 {
			return &retryable{fmt.Errorf("upstream %s: %w", u.addr, err)}
		}
	}
	keep := !resp.Close
	writeHeader(w, resp)
	if resp.Body != http.NoBody {
		if err := copyBody(w, resp); err != nil {
			stop()
			c.nc.Close()
			if errors.Is(err, errUpstreamBody) && ctx.Err() == nil {
				// The client has a status line and part of an answer:
				// end its connection so that it cannot take it as whole.
				h.logWarn("upstream answer cut short", u, err)
				panic(http.ErrAbortHandler)
			}
			return nil // the client went away
		}
		copyTrailers(w.Header(), resp.Trailer)
	}
	if stop() && keep {
		u.pool.put(c)
	} else {
		c.nc.Close()
	}
	return nil
}

func (h *Handler) failDuration() time.Duration { return time.Duration(h.FailDuration) }

func (h *Handler) logWarn(msg string, u *upstream, err error) {
	if h.logger != nil {
		h.logger.Warn(msg, zap.String("upstream", u.addr), zap.Error(err))
	}
}

// roundTrip writes r to c and reads the answer's headers.
func (c *conn) roundTrip(r *http.Request, fwd *forwarded) (*http.Response, error) {
	writeRequest(c.bw, r, fwd)
	if err := c.bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing the request: %w", err)
	}
	for {
		resp, err := http.ReadResponse(c.br, r)
		if err != nil {
			return nil, fmt.Errorf("reading the answer: %w", err)
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			// Never asked for (no Upgrade header): not HTTP any more.
			return nil, errors.New("unexpected 101 Switching Protocols")
		case resp.StatusCode < 200:
			continue // 103 Early Hints, a stray 100: the answer follows
		}
		return resp, nil
	}
}

// writeRequest writes r as an HTTP/1.1 request in origin form, with the
// Host of the client's request, its headers minus the hop-by-hop ones and
// the client's X-Forwarded-*, then ours and Via.
func writeRequest(bw *bufio.Writer, r *http.Request, fwd *forwarded) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	bw.WriteString(path)
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	connTokens := r.Header["Connection"]
	for k, vv := range r.Header {
		if skipRequestHeader(k) || listedIn(connTokens, k) {
			continue
		}
		if k == "Te" {
			// Only "trailers" passes (gRPC needs it), as in reverse_proxy.
			if slicesContainsFold(vv, "trailers") {
				writeField(bw, k, "trailers")
			}
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	if fwd.xff != "" {
		writeField(bw, "X-Forwarded-For", fwd.xff)
	}
	writeField(bw, "X-Forwarded-Proto", fwd.proto)
	writeField(bw, "X-Forwarded-Host", fwd.host)
	bw.WriteString("Via: ")
	bw.WriteString(viaValue(r.ProtoMajor, r.ProtoMinor))
	bw.WriteString("\r\n\r\n")
}

// writeField writes one header line; a value with a line break (which
// net/http's parsers never let through) is left out.
func writeField(bw *bufio.Writer, k, v string) {
	if strings.ContainsAny(v, "\r\n") {
		return
	}
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// viaValue is "<major>.<minor> Caddy", as reverse_proxy sends.
func viaValue(major, minor int) string {
	switch {
	case major == 1 && minor == 1:
		return "1.1 Caddy"
	case major == 2 && minor == 0:
		return "2.0 Caddy"
	case major == 1 && minor == 0:
		return "1.0 Caddy"
	}
	return strconv.Itoa(major) + "." + strconv.Itoa(minor) + " Caddy"
}

// writeHeader copies the answer's status and headers (minus hop-by-hop) to
// w, replacing our Server header by Via as reverse_proxy does.
func writeHeader(w http.ResponseWriter, resp *http.Response) {
	hdr := w.Header()
	delete(hdr, "Server")
	connTokens := resp.Header["Connection"]
	for k, vv := range resp.Header {
		if hopHeader(k) || listedIn(connTokens, k) {
			continue
		}
		if cur, ok := hdr[k]; ok {
			hdr[k] = append(cur, vv...)
		} else {
			hdr[k] = vv
		}
	}
	hdr["Via"] = append(hdr["Via"], viaValue(resp.ProtoMajor, resp.ProtoMinor))
	for k := range resp.Trailer {
		hdr["Trailer"] = append(hdr["Trailer"], k)
	}
	w.WriteHeader(resp.StatusCode)
}

// copyTrailers sends the answer's trailers (known once its body was read).
func copyTrailers(hdr, trailer http.Header) {
	for k, vv := range trailer {
		hdr[http.TrailerPrefix+k] = vv
	}
}

// errUpstreamBody marks a failure reading the answer's body.
var errUpstreamBody = errors.New("reading the upstream answer")

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyBody streams the answer's body to w, flushing each piece when the
// answer is a stream (unknown length or text/event-stream).
func copyBody(w http.ResponseWriter, resp *http.Response) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var rc *http.ResponseController
	if resp.ContentLength < 0 || isEventStream(resp.Header) {
		rc = http.NewResponseController(w)
		_ = rc.Flush() // the client sees the headers now
	}
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return fmt.Errorf("writing to the client: %w", err)
			}
			if rc != nil {
				if err := rc.Flush(); err != nil {
					return fmt.Errorf("writing to the client: %w", err)
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("%w: %w", errUpstreamBody, rerr)
		}
	}
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	return len(ct) > 0 && len(ct[0]) >= 17 && strings.EqualFold(ct[0][:17], "text/event-stream")
}

// hopHeader reports whether k (canonical) is a hop-by-hop header (RFC 9110
// §7.6.1, and the ones net/http and reverse_proxy also drop).
func hopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// skipRequestHeader: hop-by-hop (Te is handled apart) and the client's
// X-Forwarded-* (replaced by ours).
func skipRequestHeader(k string) bool {
	switch k {
	case "Te":
		return false
	case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Content-Length":
		return true
	}
	return hopHeader(k)
}

// listedIn reports whether k is named in a Connection header's values.
func listedIn(connValues []string, k string) bool {
	for _, v := range connValues {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(tok), k) {
				return true
			}
		}
	}
	return false
}

func slicesContainsFold(vv []string, want string) bool {
	for _, v := range vv {
		if listedIn([]string{v}, want) {
			return true
		}
	}
	return false
}

// forwarded holds the X-Forwarded-* values sent upstream.
type forwarded struct{ xff, proto, host string }

// forwardedFor computes X-Forwarded-For, -Proto and -Host as reverse_proxy
// does: the client's own values only when it is one of the server's
// trusted_proxies, ours otherwise.
func forwardedFor(r *http.Request) forwarded {
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	f := forwarded{proto: "http", host: r.Host}
	if r.TLS != nil {
		f.proto = "https"
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = ""
	}
	ip, _, _ = strings.Cut(ip, "%")
	f.xff = ip
	if !trusted {
		return f
	}
	if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 && strings.Join(prior, ", ") != "" {
		f.xff = strings.Join(prior, ", ")
		if ip != "" {
			f.xff += ", " + ip
		}
	}
	if v := r.Header["X-Forwarded-Proto"]; len(v) > 0 && v[len(v)-1] != "" {
		f.proto = v[len(v)-1]
	}
	if v := r.Header["X-Forwarded-Host"]; len(v) > 0 && v[len(v)-1] != "" {
		f.host = v[len(v)-1]
	}
	return f
}
