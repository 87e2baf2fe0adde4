package resolver

import (
	"context"
	"errors"
	"testing"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestDatabaseURLs: the URL comes from the control plane, is kept by id and
// version, is read again for a newer version or after a change, and keeps
// serving the known version while the control plane is down.
func TestDatabaseURLs(t *testing.T) {
	ctx := context.Background()
	acme := newTenant("acme")
	src := newFakeSource(acme)
	urls, err := NewDatabaseURLs(DatabaseURLsConfig{Source: src, URL: func(t *tenantstore.Tenant) (string, error) {
		return "postgres://" + t.Placement.RoleName + ":" + t.Placement.RolePassword + "@db/" + t.DatabaseName, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(urls.Close)
	fromResolver := withoutSecrets(acme)
	check := func(what string, tn *tenantstore.Tenant, want string, wantCalls int64) {
		t.Helper()
		got, err := urls.URL(ctx, tn)
		if err != nil || got != want {
			t.Errorf("%s: URL() = %q, %v; want %q", what, got, err, want)
		}
		if n := src.calls.Load(); n != wantCalls {
			t.Errorf("%s: control-plane reads = %d, want %d", what, n, wantCalls)
		}
	}
	check("first use", fromResolver, "postgres://sales_acme:s3cret-acme@db/sales_acme", 1)
	check("same version", fromResolver, "postgres://sales_acme:s3cret-acme@db/sales_acme", 1)

	src.setErr(errors.New("connection refused"))
	check("control plane down, same version", fromResolver, "postgres://sales_acme:s3cret-acme@db/sales_acme", 1)
	src.setErr(nil)

	moved := *acme
	moved.Placement.RolePassword, moved.Version = "n3w", 2
	src.put(&moved)
	check("newer version", withoutSecrets(&moved), "postgres://sales_acme:n3w@db/sales_acme", 2)
	check("older version after a newer one", fromResolver, "postgres://sales_acme:n3w@db/sales_acme", 2)

	urls.TenantChanged(tenantstore.Change{TenantID: acme.ID})
	check("after a change", fromResolver, "postgres://sales_acme:n3w@db/sales_acme", 3)

	src.setErr(errors.New("connection refused"))
	urls.TenantChanged(tenantstore.Change{TenantID: acme.ID})
	if _, err := urls.URL(ctx, fromResolver); err == nil {
		t.Errorf("URL() after a change with the control plane down = nil error, want one")
	}
}
