package tenantproxy

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// fallbackState carries one fallback attempt's upstream to the Rewrite
// hook and its error back from the ErrorHandler.
type fallbackState struct {
	u   *upstream
	err error
}

type fallbackKey struct{}

// setupFallback builds the standard path: httputil.ReverseProxy over a
// net/http Transport to the same upstreams (request bodies, Upgrade).
func (h *Handler) setupFallback() {
	h.fbTrans = &http.Transport{
		DialContext:         h.dialer.DialContext,
		MaxIdleConnsPerHost: h.MaxIdlePerHost,
		IdleConnTimeout:     time.Duration(h.KeepAlive),
		// The upstreams are the project's appservers, reached directly:
		// no HTTP_PROXY, no HTTP/2, no added Accept-Encoding.
		Proxy:              nil,
		DisableCompression: true,
	}
	var errLog *log.Logger
	if h.logger != nil {
		errLog = zap.NewStdLog(h.logger)
	}
	h.fallback = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			st := pr.In.Context().Value(fallbackKey{}).(*fallbackState)
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = st.u.addr
			pr.Out.Host = pr.In.Host
			// Request trailers arrive in the server's map when the body
			// reaches EOF (and the tenant handler strips X-Tenant* ones
			// from it then); Clone gave Out a copy that would stay empty.
			pr.Out.Trailer = pr.In.Trailer
			f := forwardedFor(pr.In)
			if f.xff != "" {
				pr.Out.Header["X-Forwarded-For"] = []string{f.xff}
			}
			pr.Out.Header["X-Forwarded-Proto"] = []string{f.proto}
			pr.Out.Header["X-Forwarded-Host"] = []string{f.host}
			pr.Out.Header["Via"] = append(pr.Out.Header["Via"], viaValue(pr.In.ProtoMajor, pr.In.ProtoMinor))
		},
		Transport: h.fbTrans,
		ModifyResponse: func(resp *http.Response) error {
			// Our Server header makes way for Via, as on the fast path.
			if w, ok := resp.Request.Context().Value(fallbackWriterKey{}).(http.ResponseWriter); ok {
				delete(w.Header(), "Server")
			}
			resp.Header["Via"] = append(resp.Header["Via"], viaValue(resp.ProtoMajor, resp.ProtoMinor))
			return nil
		},
		ErrorHandler: func(_ http.ResponseWriter, r *http.Request, err error) {
			// Called before anything was written: ServeHTTP turns it
			// into a 502 for handle_errors, or tries another upstream.
			r.Context().Value(fallbackKey{}).(*fallbackState).err = err
		},
		ErrorLog: errLog,
	}
}

type fallbackWriterKey struct{}

// serveFallback proxies r through the standard path. A dial failure marks
// the upstream down and, when r has no body (nothing was consumed), tries
// another one.
func (h *Handler) serveFallback(w http.ResponseWriter, r *http.Request) error {
	replayable := noBody(r)
	var tried uint64
	var lastErr error = errNoUpstream
	for attempt := 0; attempt <= h.Retries; attempt++ {
		u := h.pick(tried)
		if u == nil {
			break
		}
		tried |= 1 << u.idx
		st := &fallbackState{u: u}
		ctx := context.WithValue(context.WithValue(r.Context(), fallbackKey{}, st), fallbackWriterKey{}, w)
		u.inFlight.Add(1)
		h.fallback.ServeHTTP(w, r.WithContext(ctx))
		u.inFlight.Add(-1)
		if st.err == nil {
			return nil
		}
		if r.Context().Err() != nil {
			return caddyhttp.Error(statusClientClosed, r.Context().Err())
		}
		lastErr = st.err
		var op *net.OpError
		if !errors.As(st.err, &op) || op.Op != "dial" {
			break
		}
		u.markDown(h.failDuration())
		h.logWarn("upstream down: dial failed", u, st.err)
		if !replayable {
			break
		}
	}
	return caddyhttp.Error(http.StatusBadGateway, lastErr)
}
