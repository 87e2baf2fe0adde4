package tenantstore

import (
	"context"
	"testing"
)

// TestDatabaseSizes: every active tenant's database size is read, through
// one connection to the (default) registered server.
func TestDatabaseSizes(t *testing.T) {
	m := newTestManager(t, nil)
	ctx := context.Background()
	var ids []string
	for _, sub := range []string{"s1", "s2"} {
		tn, _, err := m.Create(ctx, CreateRequest{Name: sub, Subdomain: sub, AdminEmail: "a@example.com"})
		if err != nil {
			t.Fatalf("Create(%s): %v", sub, err)
		}
		ids = append(ids, tn.ID)
	}
	sizes, err := m.DatabaseSizes(ctx)
	if err != nil {
		t.Fatalf("DatabaseSizes: %v", err)
	}
	for _, id := range ids {
		if sizes[id] <= 0 {
			t.Errorf("DatabaseSizes()[%s] = %d, want the database's size", id, sizes[id])
		}
	}
	if len(sizes) != 2 {
		t.Errorf("DatabaseSizes() = %v, want the two tenants", sizes)
	}
}
