package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/migrations"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// tenantMigrations is a writable copy of the real tenant migrations, so a
// test can add one.
func tenantMigrations(t *testing.T) fstest.MapFS {
	t.Helper()
	fsys, err := testenv.CopyFS(migrations.Tenant())
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

// manager opens, for the test's own use, a Manager on the CLI's control
// plane, tenant prefix and migrations.
func (c *cli) manager() *tenantstore.Manager {
	c.t.Helper()
	ctx := context.Background()
	store, err := tenantstore.Open(ctx, c.env["DATABASE_URL"])
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(store.Close)
	tmpl, _ := tenantstore.DefaultTemplate(testenv.PostgresURL())
	m, err := tenantstore.NewManager(tenantstore.ManagerConfig{Store: store, DSN: tenantstore.DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }},
		DatabasePrefix: c.env["TENANT_DB_PREFIX"], BcryptCost: 4, Migrations: c.migrations})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(m.Close)
	return m
}

// createTenants provisions the tenants subs, four at a time.
func (c *cli) createTenants(m *tenantstore.Manager, subs []string) {
	c.t.Helper()
	var g errgroup.Group
	g.SetLimit(4)
	for _, sub := range subs {
		g.Go(func() error {
			_, _, err := m.Create(context.Background(), tenantstore.CreateRequest{Name: "Org " + sub, Subdomain: sub,
				AdminEmail: "a@" + sub + ".test", AdminPassword: "password-123"})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		c.t.Fatalf("creating tenants: %v", err)
	}
}

// tenantConn connects to tenant sub's database as the server's superuser.
func (c *cli) tenantConn(sub string) *pgx.Conn {
	c.t.Helper()
	conn, err := pgx.Connect(context.Background(), testenv.WithDatabase(testenv.PostgresURL(), c.env["TENANT_DB_PREFIX"]+sub))
	if err != nil {
		c.t.Fatal(err)
	}
	return conn
}

// tenantExec runs sql in tenant sub's database.
func (c *cli) tenantExec(sub, sql string) {
	c.t.Helper()
	conn := c.tenantConn(sub)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		c.t.Fatalf("%s in %s: %v", sql, sub, err)
	}
}

// tenantQuery returns the one value sql selects in tenant sub's database.
func (c *cli) tenantQuery(sub, sql string) string {
	c.t.Helper()
	conn := c.tenantConn(sub)
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(context.Background(), sql).Scan(&v); err != nil {
		c.t.Fatalf("%s in %s: %v", sql, sub, err)
	}
	return v
}

// jsonRun parses the output of 'migrate --json': the tenant lines and the
// summary.
func jsonRun(t *testing.T, out string) (tenants []migrateLine, sum migrateSummary) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, l := range lines {
		if i == len(lines)-1 {
			if err := json.Unmarshal([]byte(l), &sum); err != nil || sum.Type != "summary" {
				t.Fatalf("last line %q (%v); want the summary", l, err)
			}
			break
		}
		var m migrateLine
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Type != "tenant" {
			t.Fatalf("line %q (%v); want a tenant", l, err)
		}
		tenants = append(tenants, m)
	}
	return tenants, sum
}

// byState groups a run's tenants by state.
func byState(rows []tenantstore.RunTenant) map[tenantstore.RunTenantState][]tenantstore.RunTenant {
	out := map[tenantstore.RunTenantState][]tenantstore.RunTenant{}
	for _, r := range rows {
		out[r.State] = append(out[r.State], r)
	}
	return out
}

// TestCLIMigrateRollout: 50 tenants, 3 broken. --max-failures 2 stops the
// rollout early, every outcome is in the control plane, a broken tenant
// stays at its last good version; after the fix --resume migrates only the
// failed and pending tenants. Then a broken canary stops a --canary rollout
// before any other tenant is touched.
func TestCLIMigrateRollout(t *testing.T) {
	c := newCLI(t)
	ctx := context.Background()
	fsys := tenantMigrations(t)
	c.migrations = fsys
	m := c.manager()
	subs := make([]string, 50)
	for i := range subs {
		subs[i] = fmt.Sprintf("t%02d", i)
	}
	c.createTenants(m, subs)
	base := m.LatestVersion()

	// Two new migrations; the second fails where rollout_notes exists. Its
	// first statement must be rolled back with it.
	fsys[fmt.Sprintf("%05d_rollout_a.sql", base+1)] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE rollout_a (id int);\n-- +goose Down\nDROP TABLE rollout_a;\n")}
	fsys[fmt.Sprintf("%05d_rollout_notes.sql", base+2)] = &fstest.MapFile{Data: []byte(
		"-- +goose Up\nALTER TABLE customers ADD COLUMN rollout_note text;\nCREATE TABLE rollout_notes (id int);\n-- +goose Down\nDROP TABLE rollout_notes;\n")}
	broken := []string{"t01", "t02", "t03"}
	for _, sub := range broken {
		c.tenantExec(sub, "CREATE TABLE rollout_notes (id int)")
	}

	code, out, errs := c.run("migrate", "--max-failures", "2", "--parallel", "2")
	if code != 1 {
		t.Fatalf("migrate --max-failures 2 = exit %d, want 1\n%s%s", code, out, errs)
	}
	for _, want := range []string{"stopped", "pending", "tenantctl migrate --resume"} {
		if !strings.Contains(errs, want) {
			t.Errorf("migrate --max-failures stderr lacks %q:\n%s", want, errs)
		}
	}
	run, err := m.Store().LatestRun(ctx)
	if err != nil || run.State != tenantstore.RunStopped || run.TargetVersion != base+2 || run.Options.MaxFailures != 2 {
		t.Fatalf("latest run = %+v, %v; want stopped, target %d, max_failures 2", run, err, base+2)
	}
	rows, err := m.Store().RunTenants(ctx, run.ID)
	if err != nil || len(rows) != 50 {
		t.Fatalf("run tenants = %d, %v; want 50", len(rows), err)
	}
	first := byState(rows)
	failed, pending := first[tenantstore.RunTenantFailed], first[tenantstore.RunTenantPending]
	if len(failed) < 2 || len(pending) < 40 {
		t.Fatalf("after --max-failures 2: %d failed, %d pending, %d ok; want ≥ 2 failed and most left pending",
			len(failed), len(pending), len(first[tenantstore.RunTenantOK]))
	}
	for _, f := range failed {
		if !slices.Contains(broken, f.Subdomain) || f.ToVersion == nil || *f.ToVersion != base+1 ||
			!strings.Contains(f.Error, "rollout_notes") || f.Attempts != 1 {
			t.Errorf("failed row %+v; want a broken tenant at version %d with the migration's error", f, base+1)
		}
		// The failed migration's ALTER was rolled back with it.
		if got := c.tenantQuery(f.Subdomain, "SELECT count(*)::text FROM information_schema.columns WHERE table_name = 'customers' AND column_name = 'rollout_note'"); got != "0" {
			t.Errorf("%s kept the failed migration's column", f.Subdomain)
		}
		if got := c.tenantQuery(f.Subdomain, "SELECT max(version_id)::text FROM goose_db_version WHERE is_applied"); got != fmt.Sprint(base+1) {
			t.Errorf("%s is at version %s, want %d (its last good one)", f.Subdomain, got, base+1)
		}
	}
	okBefore := map[string]tenantstore.RunTenant{}
	for _, r := range first[tenantstore.RunTenantOK] {
		okBefore[r.TenantID] = r
	}

	for _, sub := range broken {
		c.tenantExec(sub, "DROP TABLE rollout_notes")
	}
	out, _ = c.must(0, "migrate", "--resume", "--json")
	lines, sum := jsonRun(t, out)
	var want, got []string
	for _, r := range append(failed, pending...) {
		want = append(want, r.Subdomain)
	}
	for _, l := range lines {
		got = append(got, l.Subdomain)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("--resume migrated %v; want exactly the failed and pending %v", got, want)
	}
	if sum.RunID != run.ID || !sum.Resumed || sum.State != "succeeded" || sum.Pending != 0 || sum.RunOK != 50 || sum.Resume != "" {
		t.Errorf("--resume summary = %+v; want run %d succeeded with 50 ok", sum, run.ID)
	}
	rows, err = m.Store().RunTenants(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.State != tenantstore.RunTenantOK || r.ToVersion == nil || *r.ToVersion != base+2 {
			t.Errorf("after --resume %s = %s at %v; want ok at %d", r.Subdomain, r.State, r.ToVersion, base+2)
		}
		if before, ok := okBefore[r.TenantID]; ok && (r.Attempts != 1 || !r.FinishedAt.Equal(*before.FinishedAt)) {
			t.Errorf("%s succeeded before --resume but was run again (attempts %d)", r.Subdomain, r.Attempts)
		}
	}
	if _, errs := c.must(0, "migrate", "--resume"); !strings.Contains(errs, "nothing to resume") {
		t.Errorf("--resume after success stderr = %q; want nothing to resume", errs)
	}

	// A broken canary: the rollout stops after the canaries.
	all, err := m.Store().ListAll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	tenantstore.CanaryOrder(all)
	var canaries []string
	for _, tn := range all[:5] {
		canaries = append(canaries, tn.Subdomain)
	}
	fsys[fmt.Sprintf("%05d_rollout_c.sql", base+3)] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE rollout_c (id int);\n-- +goose Down\nDROP TABLE rollout_c;\n")}
	c.tenantExec(canaries[2], "CREATE TABLE rollout_c (id int)")
	code, out, errs = c.run("migrate", "--canary", "5", "--json")
	if code != 1 {
		t.Fatalf("migrate --canary 5 with a broken canary = exit %d, want 1\n%s%s", code, out, errs)
	}
	lines, sum = jsonRun(t, out)
	got = got[:0]
	for _, l := range lines {
		got = append(got, l.Subdomain)
		if !l.Canary {
			t.Errorf("tenant %s migrated in a rollout whose canary failed", l.Subdomain)
		}
	}
	slices.Sort(got)
	sortedCanaries := slices.Sorted(slices.Values(canaries))
	if !slices.Equal(got, sortedCanaries) || sum.State != "stopped" || sum.Pending != 45 || sum.Failed != 1 ||
		!strings.Contains(sum.StopReason, "canary") {
		t.Errorf("--canary 5: migrated %v, summary %+v; want the canaries %v, stopped with 45 pending", got, sum, sortedCanaries)
	}
	if v := c.tenantQuery(all[10].Subdomain, "SELECT max(version_id)::text FROM goose_db_version WHERE is_applied"); v != fmt.Sprint(base+2) {
		t.Errorf("non-canary %s is at version %s after a failed canary, want %d", all[10].Subdomain, v, base+2)
	}
	// Resuming without the fix tries the failed canary first, and stops again.
	code, out, _ = c.run("migrate", "--resume", "--json")
	if lines, sum = jsonRun(t, out); code != 1 || len(lines) != 1 || lines[0].Subdomain != canaries[2] || sum.Pending != 45 {
		t.Errorf("--resume with the canary still broken = exit %d, %d tenants, %+v; want only %s tried, 45 pending", code, len(lines), sum, canaries[2])
	}
}

// TestCLIMigrateOneRolloutAtATime: while a rollout holds the control
// plane's lock, a second one is refused.
func TestCLIMigrateOneRolloutAtATime(t *testing.T) {
	c := newCLI(t)
	c.migrations = tenantMigrations(t)
	ctx := context.Background()
	m := c.manager()
	c.createTenants(m, []string{"solo"})
	locked, hold := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := m.Rollout(ctx, tenantstore.RolloutOptions{Planned: func(tenantstore.RolloutPlan) { close(locked); <-hold }})
		done <- err
	}()
	select {
	case <-locked:
	case err := <-done:
		t.Fatalf("the first rollout: %v", err)
	}
	if code, _, errs := c.run("migrate"); code != 1 || !strings.Contains(errs, "another 'tenantctl migrate'") {
		t.Errorf("migrate during another rollout = exit %d, %q; want refused", code, errs)
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatalf("the first rollout: %v", err)
	}
	c.must(0, "migrate")
}
