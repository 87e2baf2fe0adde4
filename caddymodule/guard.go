package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"

	"github.com/tenantgate/tenantgate/internal/admission"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// sweepInterval is how often idle tenants' limiter state is dropped and the
// tenants that get a label of their own in the metrics are chosen again.
const sweepInterval = 10 * time.Second

// The refusals of the limits (SPEC §11).
var (
	errRateLimited = &Refusal{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "This organization is sending too many requests. Please wait a moment and try again."}
	errOverloaded  = &Refusal{Status: http.StatusServiceUnavailable, Code: "overloaded", Message: "The service is busy. Please try again in a moment."}
)

// guard is the edge's admission control for one config: each tenant's
// rate and in-flight limits, then the whole edge's bound with its fair
// queue. Every tenant handler of the config shares it (through the tenant
// app), so a tenant served on its subdomain and its custom domain is one
// tenant. A config reload starts a new guard with empty state.
type guard struct {
	defaults admission.Limits
	tenants  *admission.Table[tenantSeries]
	shed     *admission.Shedder
	metrics  *limitMetrics

	stop context.CancelFunc
	done chan struct{}
}

// newGuard builds the guard of a config and starts its sweeper; reg, when
// not nil, gets its metrics.
func newGuard(limits *LimitsConfig, shed *ShedConfig, reg prometheus.Registerer) (*guard, error) {
	g := &guard{tenants: admission.NewTable[tenantSeries](nil), done: make(chan struct{})}
	if limits != nil {
		g.defaults = admission.Limits{Rate: limits.RatePerSecond, Burst: limits.Burst, MaxInFlight: limits.MaxInFlight}
	}
	var sc ShedConfig
	if shed != nil {
		sc = *shed
	}
	timeout := time.Duration(sc.QueueTimeout)
	if timeout <= 0 {
		timeout = DefaultQueueTimeout
	}
	g.shed = admission.NewShedder(sc.MaxInFlight, sc.QueueLength, timeout)
	m, err := newLimitMetrics(reg, g.shed)
	if err != nil {
		return nil, err
	}
	g.metrics = m
	ctx, stop := context.WithCancel(context.Background())
	g.stop = stop
	go g.sweep(ctx)
	return g, nil
}

// close stops the sweeper. Requests in flight still release their slots.
func (g *guard) close() {
	g.stop()
	<-g.done
}

func (g *guard) sweep(ctx context.Context) {
	defer close(g.done)
	tick := time.NewTicker(sweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			g.metrics.relabel(g.tenants)
		}
	}
}

// limitsOf returns t's effective limits: its own where set, else the
// defaults, field by field.
func (g *guard) limitsOf(t *tenantstore.Tenant) admission.Limits {
	l := g.defaults
	// The tenant's own limits, else its plan's (issue 17): both are in
	// the cached tenant, so this costs no lookup.
	own := t.EffectiveLimits()
	if v := own.RatePerSecond; v != nil {
		l.Rate = *v
	}
	if v := own.Burst; v != nil {
		l.Burst = *v
	}
	if v := own.MaxInFlight; v != nil {
		l.MaxInFlight = *v
	}
	return l
}

// admit lets a request of active tenant t on, or returns the refusal to
// answer (429 rate_limited, 503 overloaded, each with Retry-After and a
// "refused" field in the access log). On nil the caller must call release
// with the key when the request ends.
func (g *guard) admit(w http.ResponseWriter, r *http.Request, t *tenantstore.Tenant) (*admission.Key[tenantSeries], error) {
	k, d, wait := g.tenants.Acquire(t.ID, t.Subdomain, g.limitsOf(t))
	series := k.Extra.Load()
	if series == nil {
		series = g.metrics.other
	}
	if d != admission.Admitted {
		series.rateLimited.Inc()
		retry := "1"
		if d == admission.RateLimited {
			retry = strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10)
		}
		return nil, refuse(w, r, errRateLimited, retry, nil)
	}
	if err := g.shed.Acquire(r.Context(), t.ID); err != nil {
		k.Release()
		series.shed.Inc()
		if !errors.Is(err, admission.ErrOverloaded) {
			err = errors.Join(admission.ErrOverloaded, err) // the client left while queued
		}
		return nil, refuse(w, r, errOverloaded, "1", err)
	}
	series.admitted.Inc()
	return k, nil
}

// release ends a request that admit let on.
func (g *guard) release(k *admission.Key[tenantSeries]) {
	g.shed.Release()
	k.Release()
}

// refuse sets Retry-After, notes the refusal in the access log and returns
// the error for the error routes to render.
func refuse(w http.ResponseWriter, r *http.Request, ref *Refusal, retryAfter string, cause error) error {
	w.Header().Set("Retry-After", retryAfter)
	if extra, ok := r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
		extra.Set(zapcore.Field{Key: "refused", Type: zapcore.StringType, String: ref.Code})
	}
	if cause != nil {
		ref = &Refusal{Status: ref.Status, Code: ref.Code, Message: ref.Message, cause: cause}
	}
	return caddyhttp.Error(ref.Status, ref)
}
