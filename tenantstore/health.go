package tenantstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// tenantConnectTimeout bounds a connection attempt to a tenant database
// when its URL sets none, so one dead server cannot stall Check or Migrate.
const tenantConnectTimeout = 5 * time.Second

// CheckResult is the outcome of connecting to one tenant database.
type CheckResult struct {
	Subdomain string        `json:"subdomain"`
	Latency   time.Duration `json:"latency_ns"`
	Err       error         `json:"-"`
}

// tenantConfig is the connection config of t's database.
func (m *Manager) tenantConfig(t *Tenant) (*pgx.ConnConfig, error) {
	u, err := m.dsn.URL(t)
	if err != nil {
		return nil, err
	}
	cfg, err := parseConfig(u)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = tenantConnectTimeout
	}
	return cfg, nil
}

// DatabaseStatus connects to t's database and runs one query; it returns
// how long that took, or why it failed.
func (m *Manager) DatabaseStatus(ctx context.Context, t *Tenant) (time.Duration, error) {
	cfg, err := m.tenantConfig(t)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("connecting to the database of tenant %q: %w", t.Subdomain, translate(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		return 0, fmt.Errorf("querying the database of tenant %q: %w", t.Subdomain, translate(err))
	}
	return time.Since(start), nil
}

// CheckOptions tunes Check.
type CheckOptions struct {
	Parallel int               // databases at once; 0 means DefaultParallel
	Progress func(CheckResult) // called (one call at a time) as each tenant finishes; may be nil
}

// Check connects to the database of every tenant (not those still
// provisioning), opts.Parallel at a time, and returns the results ordered
// by subdomain. Listing failures are reported as one result with an empty
// Subdomain (and no Progress call).
func (m *Manager) Check(ctx context.Context, opts CheckOptions) []CheckResult {
	tenants, err := m.servedTenants(ctx, "")
	if err != nil {
		return []CheckResult{{Err: err}}
	}
	out := make([]CheckResult, len(tenants))
	var mu sync.Mutex
	forEach(len(tenants), opts.Parallel, func(i int) {
		lat, err := m.DatabaseStatus(ctx, tenants[i])
		out[i] = CheckResult{Subdomain: tenants[i].Subdomain, Latency: lat, Err: err}
		if opts.Progress != nil {
			mu.Lock()
			defer mu.Unlock()
			opts.Progress(out[i])
		}
	})
	return out
}

// servedTenants returns the tenant sub, or every tenant not provisioning.
func (m *Manager) servedTenants(ctx context.Context, sub string) ([]*Tenant, error) {
	if sub != "" {
		t, err := m.Get(ctx, sub)
		if err != nil {
			return nil, err
		}
		return []*Tenant{t}, nil
	}
	all, err := m.store.ListAll(ctx, "")
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, t := range all {
		if t.Status != StatusProvisioning {
			out = append(out, t)
		}
	}
	return out, nil
}

// forEach calls fn(0) … fn(n-1), at most parallel at once.
func forEach(n, parallel int, fn func(i int)) {
	forEachUntil(n, parallel, func() bool { return false }, fn)
}
