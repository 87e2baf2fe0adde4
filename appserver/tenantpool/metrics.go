package tenantpool

import "github.com/prometheus/client_golang/prometheus"

// collector exports a Manager's state at scrape time.
type collector struct {
	p *Manager

	open, inUse, waiting, breakers, conns *prometheus.Desc
	opens, openFailures, evictions, trips *prometheus.Desc

	budgetMax, budgetInUse, budgetWaiting       *prometheus.Desc
	budgetWaits, budgetTimeouts, budgetReclaims *prometheus.Desc
}

// NewCollector returns a Prometheus collector of m's state, read at scrape
// time (metrics tenantgate_tenant_pool_*, and tenantgate_tenant_conns_* for
// its connection budget).
func NewCollector(m *Manager) prometheus.Collector { return newCollector(m) }

func newCollector(p *Manager) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tenantgate_tenant_pool_"+name, help, labels, nil)
	}
	return &collector{
		p:            p,
		open:         d("open", "Tenant database pools open (or opening, or closing)."),
		inUse:        d("in_use", "Tenant pools held by at least one request."),
		waiting:      d("waiting_acquires", "Requests waiting for a free tenant pool slot (MAX_TENANT_POOLS reached, all in use)."),
		breakers:     d("breakers_open", "Tenants whose database is failing fast (breaker open)."),
		conns:        d("connections", "Connections of all tenant pools by state.", "state"),
		opens:        d("opens_total", "Tenant pools opened."),
		openFailures: d("open_failures_total", "Failed tenant pool opens (unreachable database)."),
		evictions:    d("evictions_total", "Tenant pools closed, by reason.", "reason"),
		trips:        d("breaker_trips_total", "Breakers opened by a connection failure under an open pool."),

		budgetMax:      budgetDesc("budget", "Connections all tenant pools may hold together (TENANT_CONNS_MAX)."),
		budgetInUse:    budgetDesc("in_use", "Tenant connections open or connecting under the budget."),
		budgetWaiting:  budgetDesc("waiting", "New tenant connections waiting for room in the budget."),
		budgetWaits:    budgetDesc("waits_total", "New tenant connections that had to wait for the budget."),
		budgetTimeouts: budgetDesc("busy_total", "Waits for the budget that ended in 503 tenant_database_busy."),
		budgetReclaims: budgetDesc("reclaimed_total", "Times idle connections of another tenant were closed to make room."),
	}
}

func budgetDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("tenantgate_tenant_conns_"+name, help, nil, nil)
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.inUse, c.waiting, c.breakers, c.conns, c.opens, c.openFailures, c.evictions, c.trips,
		c.budgetMax, c.budgetInUse, c.budgetWaiting, c.budgetWaits, c.budgetTimeouts, c.budgetReclaims} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Stats()
	g := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	n := func(d *prometheus.Desc, v int64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	g(c.open, float64(s.Open))
	g(c.inUse, float64(s.InUse))
	g(c.waiting, float64(s.Waiting))
	g(c.breakers, float64(s.BreakersOpen))
	g(c.conns, float64(s.AcquiredConns), "acquired")
	g(c.conns, float64(s.IdleConns), "idle")
	n(c.opens, s.Opens)
	n(c.openFailures, s.OpenFailures)
	n(c.evictions, s.EvictedIdle, "idle")
	n(c.evictions, s.EvictedLRU, "lru")
	n(c.evictions, s.EvictedChange, "changed")
	n(c.trips, s.Tripped)
	g(c.budgetMax, float64(s.Budget.Max))
	g(c.budgetInUse, float64(s.Budget.InUse))
	g(c.budgetWaiting, float64(s.Budget.Waiting))
	n(c.budgetWaits, s.Budget.Waits)
	n(c.budgetTimeouts, s.Budget.Timeouts)
	n(c.budgetReclaims, s.Budget.Reclaims)
}
