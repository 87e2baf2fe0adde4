package caddymodule

import (
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantgate/tenantgate/internal/admission"
)

// Metric labels.
const (
	// maxTenantSeries bounds the tenants with series of their own.
	maxTenantSeries = 100
	// otherTenants labels everyone else's counts: the leading underscore
	// cannot start a subdomain, so no tenant can be mistaken for it.
	otherTenants = "_other"
)

// tenantSeries are one label's counters, incremented without a lookup.
type tenantSeries struct {
	admitted, rateLimited, shed prometheus.Counter
}

// limitMetrics are the edge's admission metrics (Prometheus, in Caddy's
// registry beside caddy_http_*):
//
//   - tenantgate_edge_requests_total{tenant, outcome}: requests of active
//     tenants by outcome: admitted (passed upstream), rate_limited (429 for
//     the tenant's rate or in-flight cap), shed (503 overloaded: the whole
//     edge's bound);
//   - tenantgate_edge_in_flight: requests passed upstream and not done;
//   - tenantgate_edge_queued: requests waiting for a slot of the edge.
//
// Cardinality is bounded: every sweep (10 s) the up to 100 tenants with the
// most requests in the last interval are labelled with their subdomain
// (kept while they stay among them); every other tenant counts under
// tenant="_other". A tenant that drops out loses its series. The sum over
// tenant stays every request; a noisy or refused tenant is busy, so it
// shows by name within one sweep.
type limitMetrics struct {
	requests *prometheus.CounterVec
	other    *tenantSeries
	// labelled are the keys with series of their own; used by the sweeper
	// only.
	labelled map[*admission.Key[tenantSeries]]string
}

func newLimitMetrics(reg prometheus.Registerer, shed *admission.Shedder) (*limitMetrics, error) {
	m := &limitMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tenantgate", Subsystem: "edge", Name: "requests_total",
			Help: `Requests of active tenants by outcome (admitted, rate_limited, shed); the 100 busiest tenants by name, the rest as tenant="_other".`,
		}, []string{"tenant", "outcome"}),
		labelled: make(map[*admission.Key[tenantSeries]]string),
	}
	m.other = m.series(otherTenants)
	if reg == nil {
		return m, nil
	}
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tenantgate", Subsystem: "edge", Name: "in_flight",
		Help: "Requests of tenants passed upstream and not yet done.",
	}, func() float64 { return float64(shed.InFlight()) })
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tenantgate", Subsystem: "edge", Name: "queued",
		Help: "Requests waiting for a slot of the edge (shed.max_in_flight).",
	}, func() float64 { return float64(shed.Queued()) })
	for _, c := range []prometheus.Collector{m.requests, inFlight, queued} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering the tenant limit metrics: %w", err)
		}
	}
	return m, nil
}

func (m *limitMetrics) series(tenant string) *tenantSeries {
	return &tenantSeries{
		admitted:    m.requests.WithLabelValues(tenant, "admitted"),
		rateLimited: m.requests.WithLabelValues(tenant, "rate_limited"),
		shed:        m.requests.WithLabelValues(tenant, "shed"),
	}
}

// relabel sweeps idle tenants out of tab and gives the busiest of the rest
// series of their own (see limitMetrics).
func (m *limitMetrics) relabel(tab *admission.Table[tenantSeries]) {
	type seen struct {
		k *admission.Key[tenantSeries]
		n int64
	}
	var active []seen
	tab.Sweep(func(k *admission.Key[tenantSeries], n int64) {
		if n > 0 {
			active = append(active, seen{k, n})
		}
	})
	slices.SortFunc(active, func(a, b seen) int {
		switch {
		case a.n > b.n:
			return -1
		case a.n < b.n:
			return 1
		}
		return 0
	})
	keep := make(map[*admission.Key[tenantSeries]]bool, maxTenantSeries)
	for _, s := range active[:min(len(active), maxTenantSeries)] {
		keep[s.k] = true
		if _, ok := m.labelled[s.k]; !ok {
			m.labelled[s.k] = s.k.Label
			s.k.Extra.Store(m.series(s.k.Label))
		}
	}
	for k, label := range m.labelled {
		if !keep[k] {
			k.Extra.Store(nil)
			delete(m.labelled, k)
			m.requests.DeletePartialMatch(prometheus.Labels{"tenant": label})
		}
	}
}
