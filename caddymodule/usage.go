package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"
	_ "unsafe" // go:linkname nanotime

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/internal/meter"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// usageStopTimeout bounds the last flush of a config being unloaded.
const usageStopTimeout = 5 * time.Second

// The usage figures of the edge (SPEC §13): the tenant handler counts every
// request of a known tenant in the app's meter.Edge — status class,
// rate_limited refusals, body bytes sent and latency, from the handler's
// start to its return — and the app's flusher adds them to the control
// plane's per-minute rows every 10 s and when the config is unloaded
// (graceful stop or reload).

// startUsage builds the app's meter and its flusher, which writes through
// the shared resolver's control-plane store once it is open.
func (a *App) startUsage() {
	a.meter = new(meter.Edge)
	a.flusher = meter.NewFlusher(meter.FlusherConfig{
		Source: a.meter,
		Sink: func() meter.Sink {
			if st := a.shared.source.store.Load(); st != nil {
				return st
			}
			return nil
		},
		OnError: func(err error) {
			a.logger.Warn("writing usage figures; keeping them for the next flush", zap.Error(err))
		},
	})
}

// stopUsage stops the flusher and writes what the meter holds.
func (a *App) stopUsage() {
	if a.flusher == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), usageStopTimeout)
	defer cancel()
	if err := a.flusher.Stop(ctx); err != nil {
		a.logger.Error("usage figures of the last interval lost", zap.Error(err))
	}
	a.flusher = nil
}

// nanotime is the runtime's monotonic clock: one clock read where
// time.Now takes two (wall and monotonic), which is most of what counting
// a request costs. runtime.nanotime is one of the linknames the runtime
// keeps for outside packages.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// serveCounted serves a request of tenant t and returns the status and body
// bytes it was answered with.
func (h *Handler) serveCounted(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, t *tenantstore.Tenant, host string) (int, int64, error) {
	return counted(w, func(w http.ResponseWriter) error { return h.serveTenant(w, r, next, t, host) })
}

// counted runs serve on w and returns the status and body bytes of its
// answer. With access logs on, Caddy's server has already wrapped w in a
// caddyhttp.ResponseRecorder, which tells both; only without one does a
// (pooled) usageWriter of our own watch them.
func counted(w http.ResponseWriter, serve func(http.ResponseWriter) error) (int, int64, error) {
	if rec, ok := w.(caddyhttp.ResponseRecorder); ok {
		size := rec.Size()
		err := serve(w)
		return finalStatus(rec.Status(), err), int64(rec.Size() - size), err
	}
	uw := usageWriters.Get().(*usageWriter)
	uw.ResponseWriter = w
	err := serve(uw)
	status, bytes := finalStatus(uw.status, err), uw.bytes
	// Nothing holds uw once the handler has returned: Caddy's error
	// routes write to w, and a hijacked connection is the server's.
	*uw = usageWriter{}
	usageWriters.Put(uw)
	return status, bytes, err
}

// usageWriters recycles the writers of requests served without Caddy's
// recorder.
var usageWriters = sync.Pool{New: func() any { return new(usageWriter) }}

// usageWriter sees the status and body bytes of a response on its way out.
// Flush, Hijack and the rest reach the underlying writer through Unwrap
// (http.ResponseController).
type usageWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// WriteHeader implements http.ResponseWriter; informational answers
// (1xx) other than 101 are not the final status.
func (w *usageWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *usageWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *usageWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finalStatus is the status a request ended with: written, else the
// status of the error the handler returned (rendered by the error routes
// after it), else 200.
func finalStatus(written int, err error) int {
	if written >= 200 || written == http.StatusSwitchingProtocols {
		return written
	}
	if err != nil {
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode != 0 {
			return he.StatusCode
		}
		return http.StatusInternalServerError
	}
	return http.StatusOK
}
