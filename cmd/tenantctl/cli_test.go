package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/migrations"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// cli runs tenantctl in-process against a private control plane and a
// private tenant database prefix.
type cli struct {
	t          *testing.T
	env        map[string]string
	migrations fs.FS
	mu         sync.Mutex
	changes    []tenantstore.Change
}

func (c *cli) Notify(_ context.Context, ch tenantstore.Change) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changes = append(c.changes, ch)
	return nil
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	testenv.Integration(t)
	return &cli{t: t, env: map[string]string{
		"DATABASE_URL":     testenv.NewDatabase(t),
		"TENANT_DB_PREFIX": testenv.TenantPrefix(t),
		"BASE_DOMAIN":      "example.test",
	}}
}

// insertAcme opens, for the test's own use, the CLI's control plane
// (closed when the test ends) and inserts an active tenant "acme" with
// maxUsers users (0: its plan's) and no database of its own.
func (c *cli) insertAcme(maxUsers int) *tenantstore.Store {
	c.t.Helper()
	ctx := context.Background()
	store, err := tenantstore.Open(ctx, c.env["DATABASE_URL"])
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(store.Close)
	if err := store.Insert(ctx, &tenantstore.Tenant{Name: "Acme", Subdomain: "acme", AdminEmail: "a@acme.test",
		Status: tenantstore.StatusActive, MaxUsers: maxUsers, DatabaseName: "x_acme"}); err != nil {
		c.t.Fatal(err)
	}
	return store
}

func (c *cli) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(func(k string) string { return c.env[k] }, &out, &errb)
	a.migrations, a.bcryptCost, a.notifier = c.migrations, 4, c
	code = a.execute(context.Background(), args)
	return code, out.String(), errb.String()
}

// must runs args and fails the test unless the exit code is want.
func (c *cli) must(want int, args ...string) (stdout, stderr string) {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != want {
		c.t.Fatalf("tenantctl %s = exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
	}
	return out, errs
}

func TestCLITenantLifecycle(t *testing.T) {
	c := newCLI(t)
	c.env["ACME_ADMIN_PW"] = "acme-admin-password"
	out, _ := c.must(0, "create", "Acme Inc", "acme", "boss@acme.test", "--max-users", "10", "--multi-location", "--admin-password-env", "ACME_ADMIN_PW")
	if !strings.Contains(out, "created tenant acme") || strings.Contains(out, "acme-admin-password") || strings.Contains(out, "admin password") {
		t.Errorf("create output = %q; want the tenant named and no password", out)
	}
	out, _ = c.must(0, "create", "Globex", "globex", "ceo@globex.test")
	if !strings.Contains(out, "admin password: ") {
		t.Errorf("create without a password output = %q; want the generated password", out)
	}
	c.must(1, "create", "Acme Again", "acme", "x@acme.test") // taken

	out, _ = c.must(0, "list")
	for _, want := range []string{"SUBDOMAIN", "acme", "Acme Inc", "globex", "active"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	out, _ = c.must(0, "list", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("list --json = %d lines, want 2:\n%s", len(lines), out)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first["subdomain"] != "acme" || first["max_users"] != 10.0 {
		t.Errorf("list --json first line = %v, %v; want acme with max_users 10", first, err)
	}
	if strings.Contains(out, "password") {
		t.Errorf("list --json shows a password field:\n%s", out)
	}

	c.must(0, "locations", "add", "acme", "--name", "Main Street", "--code", "main", "--address", "1 Main St")
	c.must(1, "locations", "add", "acme", "--name", "Again", "--code", "main")
	out, _ = c.must(0, "locations", "list", "acme")
	if !strings.Contains(out, "Main Street") {
		t.Errorf("locations list = %q, want Main Street", out)
	}
	out, _ = c.must(0, "show", "acme", "--json")
	var shown map[string]any
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown["database_status"] != "ok" || len(shown["locations"].([]any)) != 1 {
		t.Errorf("show --json = %s (%v); want database_status ok and 1 location", out, err)
	}

	_, errs := c.must(1, "delete", "acme", "--drop-database")
	if !strings.Contains(errs, "acme") || !strings.Contains(errs, "suspend it first") {
		t.Errorf("delete(active) stderr = %q; want the tenant and 'suspend it first'", errs)
	}
	before := len(c.changes)
	c.must(0, "suspend", "acme")
	if len(c.changes) <= before || !contains(c.changes[len(c.changes)-1].Subdomains, "acme") {
		t.Errorf("suspend told caches %v; want a change naming acme", c.changes[before:])
	}
	out, _ = c.must(0, "list", "--active-only")
	if strings.Contains(out, "acme") {
		t.Errorf("list --active-only shows suspended acme:\n%s", out)
	}
	c.must(0, "delete", "acme", "--drop-database")
	var n int
	testenv.Admin(t).QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1",
		c.env["TENANT_DB_PREFIX"]+"acme").Scan(&n)
	if n != 0 {
		t.Errorf("delete --drop-database left the database")
	}
	_, errs = c.must(1, "show", "acme")
	if !strings.Contains(errs, `"acme"`) || !strings.Contains(errs, "tenantctl list") {
		t.Errorf("show(deleted) stderr = %q; want the tenant named and what to do", errs)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestCLIUsageErrors(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"bogus"},
		{"list", "--bogus"},
		{"show"},
		{"create", "Only Name"},
		{"create", "Acme", "admin", "a@b.test"}, // reserved subdomain
		{"create", "Acme", "acme", "not-an-email"}, // bad e-mail
		{"create", "Acme", "acme", "a@b.test", "--max-users", "0"},
		{"create", "Acme", "acme", "a@b.test", "--admin-password-env", "UNSET_VAR"},
		{"locations", "add", "acme", "--name", "x"}, // --code missing
		{"migrate", "--parallel", "0"},
		{"migrate", "--canary", "-1"},
		{"migrate", "--max-failures", "-2"},
		{"migrate", "--check", "--resume"},
		{"migrate", "--tenant", "acme", "--canary", "2"},
		{"migrate", "--resume", "--canary", "3"},
		{"locations"},
	} {
		code, _, errs := c.run(args...)
		if code != exitUsage || errs == "" {
			t.Errorf("tenantctl %q = exit %d (stderr %q), want 2 with a message", args, code, errs)
		}
	}
}

func TestCLIExplicitPlacementHidesPassword(t *testing.T) {
	c := newCLI(t)
	ctx := context.Background()
	// A role with a password, so the explicit URL carries a secret.
	role := c.env["TENANT_DB_PREFIX"] + "owner"
	admin := testenv.Admin(t)
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN CREATEDB PASSWORD 'very-secret-pw'"); err != nil {
		t.Fatal(err)
	}
	dbName := c.env["TENANT_DB_PREFIX"] + "explicit_db"
	u := strings.Replace(testenv.WithDatabase(testenv.PostgresURL(), dbName), "postgres@", role+":very-secret-pw@", 1)
	c.must(0, "create", "Initech", "initech", "bill@initech.test", "--database-url", u)
	for _, args := range [][]string{{"list"}, {"list", "--json"}, {"show", "initech"}, {"show", "initech", "--json"}, {"check"}} {
		out, errs := c.must(0, args...)
		if strings.Contains(out+errs, "very-secret-pw") {
			t.Errorf("tenantctl %v shows the database password:\n%s%s", args, out, errs)
		}
	}
	out, _ := c.must(0, "show", "initech")
	if !strings.Contains(out, dbName) || !strings.Contains(out, "url placement") {
		t.Errorf("show(explicit) = %q; want the database named and its placement", out)
	}
	// The environment override wins over the stored URL: point it at a
	// database that does not exist and check fails, naming the tenant.
	c.env["TENANT_INITECH_DATABASE_URL"] = testenv.WithDatabase(testenv.PostgresURL(), dbName+"_missing")
	code, out, errs := c.run("check")
	if code != 1 || !strings.Contains(out, "initech") || !strings.Contains(out, "UNREACHABLE") {
		t.Errorf("check with a broken override = exit %d\n%s%s\nwant exit 1 naming initech", code, out, errs)
	}
}

func TestCLIMigrate(t *testing.T) {
	c := newCLI(t)
	ctx := context.Background()
	v1, err := fs.ReadFile(migrations.Tenant(), "00001_sales.sql")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{"00001_sales.sql": {Data: v1}}
	c.migrations = fsys
	c.env["PW"] = "password-123"
	for _, sub := range []string{"alpha", "broken", "gamma"} {
		c.must(0, "create", "Org "+sub, sub, "a@"+sub+".test", "--admin-password-env", "PW")
	}
	out, _ := c.must(0, "migrate", "--check")
	if !strings.Contains(out, "0 behind, 0 unreachable") {
		t.Errorf("migrate --check (up to date) = %q", out)
	}

	// Break one tenant: forget its migration history, so 00001 fails when
	// applied again ("relation already exists").
	conn, err := pgx.Connect(ctx, testenv.WithDatabase(testenv.PostgresURL(), c.env["TENANT_DB_PREFIX"]+"broken"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "DROP TABLE goose_db_version"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	fsys["00002_notes.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE notes (id int);\n-- +goose Down\nDROP TABLE notes;\n")}

	defer func(old int) { progressThreshold = old }(progressThreshold)
	progressThreshold = 2
	code, out, errs := c.run("migrate", "--check")
	if code != 1 || !strings.Contains(out, "3 behind") || !strings.Contains(out, "alpha") {
		t.Errorf("migrate --check (new migration) = exit %d\n%s%s\nwant exit 1, 3 behind", code, out, errs)
	}
	if !strings.Contains(errs, "migrate: 3/3 tenants") {
		t.Errorf("migrate --check stderr = %q; want a progress line", errs)
	}

	code, out, errs = c.run("migrate", "--parallel", "2")
	if code != 1 {
		t.Errorf("migrate with a broken tenant = exit %d, want 1", code)
	}
	for _, want := range []string{"alpha", "version 1 → 2", "gamma", "broken", "FAILED", "00001_sales.sql", "1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "1 tenant(s) failed") || !strings.Contains(errs, "tenantctl migrate --resume") {
		t.Errorf("migrate stderr = %q; want the failure count and what to do", errs)
	}

	code, out, _ = c.run("migrate", "--check")
	if code != 1 || !strings.Contains(out, "1 behind") {
		t.Errorf("migrate --check after migrating = exit %d\n%s\nwant exit 1 with only broken behind", code, out)
	}
	out, _ = c.must(0, "migrate", "--tenant", "alpha", "--check")
	if !strings.Contains(out, "alpha  up to date  version 2") {
		t.Errorf("migrate --tenant alpha --check = %q", out)
	}
	c.must(1, "migrate", "--tenant", "nobody")
}
