package tenantstore

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// TestOverrideDoesNotAdoptADatabaseWithData is issue 11 item 3: a
// TENANT_<SUB>_DATABASE_URL override silently attached a new (or renamed)
// tenant to an existing database that held data, and ran migrations on
// it. Now that is ErrDatabaseInUse unless the operator asks to adopt it.
func TestOverrideDoesNotAdoptADatabaseWithData(t *testing.T) {
	env := map[string]string{}
	s := newTestStore(t)
	tmpl, err := DefaultTemplate(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	prefix := testenv.TenantPrefix(t)
	m, err := NewManager(ManagerConfig{Store: s, DSN: DSNConfig{Template: tmpl, Getenv: func(k string) string { return env[k] }},
		DatabasePrefix: prefix, BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ctx := context.Background()
	admin := testenv.Admin(t)
	full := prefix + "someone_elses"
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{full}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	fullURL := testenv.WithDatabase(testenv.PostgresURL(), full)
	conn, err := pgx.Connect(ctx, fullURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE payroll (who text, amount numeric); INSERT INTO payroll VALUES ('ceo', 1e6)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	env[OverrideVar("acme")] = fullURL

	_, _, err = m.Create(ctx, CreateRequest{Name: "Acme", Subdomain: "acme", AdminEmail: "a@example.com", AdminPassword: "given-password"})
	var ce *ConflictError
	if !errors.Is(err, ErrDatabaseInUse) || !errors.As(err, &ce) || ce.Field != "database_url" {
		t.Fatalf("Create over an override naming a database with data = %v, want ErrDatabaseInUse naming database_url", err)
	}
	if _, err := m.Get(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("refused create left tenant acme behind: %v", err)
	}

	t.Run("a rename onto the override is refused too", func(t *testing.T) {
		if _, _, err := m.Create(ctx, CreateRequest{Name: "Beta", Subdomain: "beta", AdminEmail: "b@example.com", AdminPassword: "given-password"}); err != nil {
			t.Fatal(err)
		}
		acme := "acme"
		if _, err := m.Update(ctx, "beta", Patch{Subdomain: &acme}); !errors.Is(err, ErrDatabaseInUse) {
			t.Errorf("renaming beta to acme (override on a database with data) = %v, want ErrDatabaseInUse", err)
		}
	})

	t.Run("adopting it takes an explicit request", func(t *testing.T) {
		tn, _, err := m.Create(ctx, CreateRequest{Name: "Acme", Subdomain: "acme", AdminEmail: "a@example.com",
			AdminPassword: "given-password", AdoptExisting: true})
		if err != nil {
			t.Fatalf("Create with AdoptExisting: %v", err)
		}
		if tn.DatabaseName != full || tn.DatabaseOwned {
			t.Errorf("adopted tenant: database %q owned %v, want %q not owned (a delete must not drop it)", tn.DatabaseName, tn.DatabaseOwned, full)
		}
	})
}

// TestControlPlaneRefusesSharedDatabase checks the unique index behind "one
// database, one tenant": even a writer that skips the Manager's checks
// cannot store two tenants on one (server, database).
func TestControlPlaneRefusesSharedDatabase(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	a := &Tenant{Name: "A", Subdomain: "a", AdminEmail: "a@example.com", MaxUsers: 1, DatabaseName: "shared", DatabaseServer: "db1:5432"}
	if err := s.Insert(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := &Tenant{Name: "B", Subdomain: "b", AdminEmail: "b@example.com", MaxUsers: 1, DatabaseName: "shared", DatabaseServer: "db1:5432"}
	var ce *ConflictError
	if err := s.Insert(ctx, b); !errors.Is(err, ErrDatabaseInUse) || !errors.As(err, &ce) || ce.Field != "database_url" {
		t.Errorf("Insert(second tenant on db1:5432/shared) = %v, want ErrDatabaseInUse naming database_url", err)
	}
	b.DatabaseServer = "db2:5432"
	if err := s.Insert(ctx, b); err != nil {
		t.Errorf("Insert(same name on another server) = %v, want it stored", err)
	}
}
