// Package meter counts the usage figures of SPEC §13 in memory and flushes
// them to the control plane as per-minute rows: Edge counts requests at the
// edge (lock-free, per tenant), App counts active users, invoices and
// database sizes in the appserver, and Flusher drains either into one
// multi-row upsert (tenantstore.Store.AddUsage) every interval (10 s by
// default) and once more on stop, so a crash loses at most one interval
// and nothing is written per request.
package meter

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantgate/tenantgate/internal/latency"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Edge counts an edge's requests per tenant. Record is safe for concurrent
// use and takes no lock: a tenant's counters are atomics, found through a
// sync.Map that is read-mostly once the tenant has been seen.
type Edge struct {
	tenants sync.Map // tenant id → *edgeTenant
}

// edgeTenant is one tenant's counters since the last drain. An entry is
// never removed (a request holding it could add after its last drain):
// it costs ~400 bytes per tenant the edge has served.
type edgeTenant struct {
	requests    atomic.Int64
	status      [4]atomic.Int64 // 2xx, 3xx, 4xx, 5xx
	rateLimited atomic.Int64
	bytesOut    atomic.Int64
	latency     [latency.Buckets]atomic.Int64
}

// Record counts one request of tenant id that was answered with status,
// sent bytes of body and took d; rateLimited marks a 429 rate_limited
// refusal of the edge's limits.
func (e *Edge) Record(id string, status int, bytes int64, d time.Duration, rateLimited bool) {
	v, ok := e.tenants.Load(id)
	if !ok {
		v, _ = e.tenants.LoadOrStore(id, new(edgeTenant))
	}
	t := v.(*edgeTenant)
	t.requests.Add(1)
	if c := status/100 - 2; c >= 0 && c < 4 {
		t.status[c].Add(1)
	}
	if rateLimited {
		t.rateLimited.Add(1)
	}
	if bytes > 0 {
		t.bytesOut.Add(bytes)
	}
	t.latency[latency.Index(d)].Add(1)
}

// Drain returns what was counted since the last drain as rows of minute,
// leaving the counters at zero. A request counted while Drain runs lands
// in this drain or the next, never in neither.
func (e *Edge) Drain(minute time.Time) []tenantstore.UsageRow {
	var out []tenantstore.UsageRow
	e.tenants.Range(func(k, v any) bool {
		t := v.(*edgeTenant)
		n := t.requests.Swap(0)
		if n == 0 {
			return true
		}
		r := tenantstore.UsageRow{TenantID: k.(string), Minute: minute, UsageCounts: tenantstore.UsageCounts{
			Requests:  n,
			Status2xx: t.status[0].Swap(0), Status3xx: t.status[1].Swap(0),
			Status4xx: t.status[2].Swap(0), Status5xx: t.status[3].Swap(0),
			RateLimited: t.rateLimited.Swap(0), BytesOut: t.bytesOut.Swap(0),
			Latency: make([]int64, latency.Buckets),
		}}
		for i := range t.latency {
			r.Latency[i] = t.latency[i].Swap(0)
		}
		out = append(out, r)
		return true
	})
	return out
}

// App counts, per tenant, the distinct users seen and the invoices
// created by an appserver, and holds the database sizes sampled since the
// last drain. It is safe for concurrent use (one short lock per request:
// the appserver does far more per request than this).
type App struct {
	mu      sync.Mutex
	tenants map[string]*appTenant
}

type appTenant struct {
	users    map[string]struct{}
	invoices int64
	dbBytes  *int64
}

func (a *App) tenant(id string) *appTenant {
	if a.tenants == nil {
		a.tenants = make(map[string]*appTenant)
	}
	t := a.tenants[id]
	if t == nil {
		t = &appTenant{}
		a.tenants[id] = t
	}
	return t
}

// Seen counts a request of tenant id: userID ("" for none) as active, and
// invoices created by it.
func (a *App) Seen(id, userID string, invoices int) {
	if id == "" || (userID == "" && invoices == 0) {
		return
	}
	a.mu.Lock()
	t := a.tenant(id)
	if userID != "" {
		if t.users == nil {
			t.users = make(map[string]struct{})
		}
		t.users[userID] = struct{}{}
	}
	t.invoices += int64(invoices)
	a.mu.Unlock()
}

// DatabaseSize records a sample of tenant id's database size.
func (a *App) DatabaseSize(id string, bytes int64) {
	a.mu.Lock()
	a.tenant(id).dbBytes = &bytes
	a.mu.Unlock()
}

// Drain returns what was counted since the last drain as rows of minute.
func (a *App) Drain(minute time.Time) []tenantstore.UsageRow {
	a.mu.Lock()
	tenants := a.tenants
	a.tenants = nil
	a.mu.Unlock()
	out := make([]tenantstore.UsageRow, 0, len(tenants))
	for id, t := range tenants {
		r := tenantstore.UsageRow{TenantID: id, Minute: minute, DatabaseBytes: t.dbBytes,
			UsageCounts: tenantstore.UsageCounts{InvoicesCreated: t.invoices}}
		for u := range t.users {
			r.ActiveUserIDs = append(r.ActiveUserIDs, u)
		}
		out = append(out, r)
	}
	return out
}
