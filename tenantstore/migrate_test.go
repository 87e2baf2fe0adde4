package tenantstore

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/migrations"
)

func TestMigrateKeepsGoingPastABrokenTenant(t *testing.T) {
	v1, err := fs.ReadFile(migrations.Tenant(), "00001_sales.sql")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{"00001_sales.sql": {Data: v1}}
	s := newTestStore(t)
	tmpl, _ := DefaultTemplate(testenv.PostgresURL())
	m, err := NewManager(ManagerConfig{Store: s, DSN: DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }},
		DatabasePrefix: testenv.TenantPrefix(t), BcryptCost: 4, Migrations: fsys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ctx := context.Background()
	subs := []string{"alpha", "broken", "gamma"}
	var broken *Tenant
	for _, sub := range subs {
		tn, _, err := m.Create(ctx, CreateRequest{Name: sub, Subdomain: sub, AdminEmail: "a@example.com", AdminPassword: "given-password"})
		if err != nil {
			t.Fatalf("Create(%s): %v", sub, err)
		}
		if sub == "broken" {
			broken = tn
		}
	}
	// Forget broken's migration history: re-applying 00001 now fails.
	u, _ := DSNConfig{Template: tmpl}.AdminURL(broken.DatabaseName)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "DROP TABLE goose_db_version"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	fsys["00002_notes.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE notes (id int);\n-- +goose Down\nDROP TABLE notes;\n")}
	check, err := m.Migrate(ctx, MigrateOptions{Check: true})
	if err != nil || len(check) != 3 {
		t.Fatalf("Migrate(check) = %v, %v; want 3 results", check, err)
	}
	for _, r := range check {
		if r.OK() || r.To == 2 {
			t.Errorf("check %s = %+v; want behind version 2", r.Subdomain, r)
		}
	}

	var progress []string
	results, err := m.Migrate(ctx, MigrateOptions{Parallel: 2, Progress: func(r MigrateResult) { progress = append(progress, r.Subdomain) }})
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if len(progress) != 3 {
		t.Errorf("progress called for %v, want 3 tenants", progress)
	}
	for i, r := range results {
		if r.Subdomain != subs[i] {
			t.Errorf("result %d is %s, want %s (ordered by subdomain)", i, r.Subdomain, subs[i])
		}
		if r.Subdomain == "broken" {
			if r.Err == nil || !strings.Contains(r.Err.Error(), `"broken"`) || !strings.Contains(r.Err.Error(), "00001_sales.sql") {
				t.Errorf("broken result error = %v, want one naming the tenant and the migration", r.Err)
			}
			if r.To != 0 {
				t.Errorf("broken To = %d, want 0 (the failed migration rolled back)", r.To)
			}
			continue
		}
		if r.Err != nil || r.From != 1 || r.To != 2 || r.Applied != 1 || !r.OK() {
			t.Errorf("migrate %s = %+v; want 1 → 2, one applied", r.Subdomain, r)
		}
	}
	states, err := m.MigrationStatus(ctx)
	if err != nil || len(states) != 3 || states[0].Current != 2 || states[1].Current != 0 {
		t.Errorf("MigrationStatus = %+v, %v; want alpha at 2, broken at 0", states, err)
	}
	checks := m.Check(ctx, CheckOptions{})
	if len(checks) != 3 || checks[0].Err != nil || checks[0].Latency <= 0 {
		t.Errorf("Check = %+v; want 3 reachable tenants", checks)
	}
}
