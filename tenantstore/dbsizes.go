package tenantstore

import (
	"context"
	"fmt"
)

// dbSizesParallel bounds the servers (and unregistered tenants) read at once.
const dbSizesParallel = 4

// DatabaseSizes returns the size in bytes (pg_database_size) of the
// database of every active tenant, by tenant id, for the usage figures
// (SPEC §13): one connection and one query per registered server, and for
// a tenant on a server nobody registered, its own URL (DatabaseUsage).
// Sizes that cannot be read are left out, and the first such error is
// returned alongside what could be read.
func (m *Manager) DatabaseSizes(ctx context.Context) (map[string]int64, error) {
	tenants, err := m.store.ListAll(ctx, StatusActive)
	if err != nil {
		return nil, fmt.Errorf("reading database sizes: %w", err)
	}
	all, err := m.registry().list(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading database sizes: %w", err)
	}
	byKey := make(map[string]*Server, len(all))
	for _, s := range all {
		byKey[s.hostKey] = s
	}
	// Tenants grouped by registered server, the rest on their own.
	onServer := make(map[*Server][]*Tenant)
	var alone []*Tenant
	for _, t := range tenants {
		if s, ok := byKey[m.serverOf(t)]; ok {
			onServer[s] = append(onServer[s], t)
		} else {
			alone = append(alone, t)
		}
	}
	type job struct {
		srv     *Server
		tenants []*Tenant
	}
	var jobs []job
	for s, ts := range onServer {
		jobs = append(jobs, job{s, ts})
	}
	for _, t := range alone {
		jobs = append(jobs, job{nil, []*Tenant{t}})
	}
	results := make([]map[string]int64, len(jobs))
	errs := make([]error, len(jobs))
	forEach(len(jobs), dbSizesParallel, func(i int) {
		results[i], errs[i] = m.sizesOf(ctx, jobs[i].srv, jobs[i].tenants)
	})
	out := make(map[string]int64, len(tenants))
	var first error
	for i := range jobs {
		for k, v := range results[i] {
			out[k] = v
		}
		if first == nil && errs[i] != nil {
			first = errs[i]
		}
	}
	return out, first
}

// sizesOf reads the sizes of tenants' databases on registered server s, or
// of the one tenant through its own URL when s is nil.
func (m *Manager) sizesOf(ctx context.Context, s *Server, tenants []*Tenant) (map[string]int64, error) {
	out := make(map[string]int64, len(tenants))
	if s == nil {
		u := m.DatabaseUsage(ctx, tenants[0])
		if u.SizeBytes == nil {
			return out, fmt.Errorf("reading the size of tenant %q's database: %s", tenants[0].Subdomain, u.Error)
		}
		out[tenants[0].ID] = *u.SizeBytes
		return out, nil
	}
	conn, err := m.connectServer(ctx, s)
	if err != nil {
		return out, fmt.Errorf("reading database sizes: %s", redactText(err.Error()))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	names := make([]string, len(tenants))
	for i, t := range tenants {
		names[i] = t.DatabaseName
	}
	got, err := usageOn(ctx, conn, names)
	if err != nil {
		return out, fmt.Errorf("reading database sizes on server %q: %w", s.Name, err)
	}
	for _, t := range tenants {
		if u, ok := got[t.DatabaseName]; ok && u.SizeBytes != nil {
			out[t.ID] = *u.SizeBytes
		}
	}
	return out, nil
}
