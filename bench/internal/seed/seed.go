// Package seed makes the control-plane tenants the benches proxy to.
package seed

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// ActiveTenants makes sure the control plane at databaseURL (migrated on
// open) has an active tenant for each subdomain. The tenants get no
// database: the benches' upstreams are not appservers.
func ActiveTenants(ctx context.Context, databaseURL string, subs ...string) error {
	store, err := tenantstore.Open(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, sub := range subs {
		if err := activeTenant(ctx, store, sub); err != nil {
			return fmt.Errorf("tenant %s: %w", sub, err)
		}
	}
	return nil
}

func activeTenant(ctx context.Context, store *tenantstore.Store, sub string) error {
	t, err := store.GetBySubdomain(ctx, sub)
	switch {
	case errors.Is(err, tenantstore.ErrNotFound):
		return store.Insert(ctx, &tenantstore.Tenant{
			Name: "Bench " + sub, Subdomain: sub, AdminEmail: "bench@" + sub + ".test",
			Status: tenantstore.StatusActive, MaxUsers: 5, DatabaseName: "bench_" + sub,
		})
	case err != nil:
		return err
	case t.Status != tenantstore.StatusActive:
		cp := *t
		cp.Status = tenantstore.StatusActive
		return store.Update(ctx, &cp)
	}
	return nil
}
