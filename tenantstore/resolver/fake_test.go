package resolver

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// fakeSource is an in-memory Source for unit tests of the cache logic; the
// integration tests use the real store.
type fakeSource struct {
	mu      sync.Mutex
	tenants map[string]*tenantstore.Tenant // by id
	bySub   map[string]string              // subdomain → id
	err     error                          // when set, every call fails with it
	delay   time.Duration
	calls   atomic.Int64
}

func newFakeSource(ts ...*tenantstore.Tenant) *fakeSource {
	f := &fakeSource{tenants: map[string]*tenantstore.Tenant{}, bySub: map[string]string{}}
	for _, t := range ts {
		f.put(t)
	}
	return f
}

// newTenant returns an active tenant at sub with a fresh id.
func newTenant(sub string, domains ...tenantstore.Domain) *tenantstore.Tenant {
	return &tenantstore.Tenant{
		ID: uuid.NewString(), Name: "Org " + sub, Subdomain: sub, AdminEmail: "admin@" + sub + ".test",
		Status: tenantstore.StatusActive, MaxUsers: 50, DatabaseName: "sales_" + sub,
		Placement: tenantstore.Placement{RoleName: "sales_" + sub, RolePassword: "s3cret-" + sub},
		Domains:   domains, Version: 1,
	}
}

func (f *fakeSource) put(t *tenantstore.Tenant) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.tenants[t.ID]; ok {
		delete(f.bySub, old.Subdomain)
	}
	c := *t
	f.tenants[t.ID] = &c
	f.bySub[t.Subdomain] = t.ID
}

func (f *fakeSource) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// find counts a call and returns a copy of the tenant pick chooses (called
// with the lock held), after the configured delay and error.
func (f *fakeSource) find(ctx context.Context, pick func() *tenantstore.Tenant) (*tenantstore.Tenant, error) {
	f.calls.Add(1)
	f.mu.Lock()
	err, delay := f.err, f.delay
	var found *tenantstore.Tenant
	if t := pick(); t != nil {
		c := *t
		found = &c
	}
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("fake: %w", tenantstore.ErrNotFound)
	}
	return found, nil
}

func (f *fakeSource) Get(ctx context.Context, id string) (*tenantstore.Tenant, error) {
	return f.find(ctx, func() *tenantstore.Tenant { return f.tenants[id] })
}

func (f *fakeSource) GetBySubdomain(ctx context.Context, sub string) (*tenantstore.Tenant, error) {
	return f.find(ctx, func() *tenantstore.Tenant {
		if id, ok := f.bySub[sub]; ok {
			return f.tenants[id]
		}
		return nil
	})
}

func (f *fakeSource) GetByHostname(ctx context.Context, host string) (*tenantstore.Tenant, error) {
	return f.find(ctx, func() *tenantstore.Tenant {
		for _, t := range f.tenants {
			for _, d := range t.Domains {
				if d.Hostname == host && d.Verified {
					return t
				}
			}
		}
		return nil
	})
}
