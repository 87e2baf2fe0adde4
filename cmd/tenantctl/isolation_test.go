package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// TestCLIOneDatabaseOneTenant is issue 11 items 2 and 3 through tenantctl:
// a second tenant on another tenant's database, or a
// TENANT_<SUB>_DATABASE_URL override naming a database that holds data, is
// refused (exit 1, saying why) unless --adopt-existing; and delete
// --drop-database drops only a database tenantgate created.
func TestCLIOneDatabaseOneTenant(t *testing.T) {
	c := newCLI(t)
	ctx := context.Background()
	prefix := c.env["TENANT_DB_PREFIX"]
	out, _ := c.must(0, "create", "Acme", "acme", "boss@acme.test")
	acmeDB := prefix + "acme"
	if !strings.Contains(out, "database "+acmeDB) {
		t.Fatalf("create acme = %q, want database %s", out, acmeDB)
	}

	code, _, errs := c.run("create", "Thief", "thief", "x@thief.test", "--database-url", testenv.WithDatabase(testenv.PostgresURL(), acmeDB))
	if code != 1 || !strings.Contains(errs, "acme") || !strings.Contains(errs, "one database serves one tenant") {
		t.Errorf("create on acme's database = exit %d\n%s\nwant exit 1 naming acme", code, errs)
	}
	code, _, errs = c.run("create", "Thief", "thief", "x@thief.test", "--database-url", testenv.WithDatabase(testenv.PostgresURL(), acmeDB), "--adopt-existing")
	if code != 1 {
		t.Errorf("create on acme's database with --adopt-existing = exit %d\n%s\nwant exit 1: adopting never takes another tenant's database", code, errs)
	}

	legacy := prefix + "legacy"
	admin := testenv.Admin(t)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{legacy}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	legacyURL := testenv.WithDatabase(testenv.PostgresURL(), legacy)
	conn, err := pgx.Connect(ctx, legacyURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE ledger (id int)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	c.env["TENANT_BETA_DATABASE_URL"] = legacyURL
	code, _, errs = c.run("create", "Beta", "beta", "b@beta.test")
	if code != 1 || !strings.Contains(errs, "--adopt-existing") {
		t.Errorf("create beta over an override with data = exit %d\n%s\nwant exit 1 pointing at --adopt-existing", code, errs)
	}
	c.must(0, "create", "Beta", "beta", "b@beta.test", "--adopt-existing")
	c.must(0, "suspend", "beta")
	out, _ = c.must(0, "delete", "beta", "--drop-database")
	if !strings.Contains(out, "not created by tenantgate") {
		t.Errorf("delete --drop-database of an adopted database = %q, want it to say the database was kept", out)
	}
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", legacy).Scan(&n); err != nil || n != 1 {
		t.Errorf("the adopted database %s was dropped (%d, %v)", legacy, n, err)
	}
}

// TestCLIMoveAndRestoreKeepTheTenantRole is issue 11 item 1 through
// tenantctl: after `move` (and then `restore`) the tenant is reached as its
// own role, which owns its database, no operator credentials are stored,
// and another tenant's role cannot connect to it.
func TestCLIMoveAndRestoreKeepTheTenantRole(t *testing.T) {
	c := newCLI(t)
	// Backups sign their manifests with a key derived from these (issue 11
	// item 10).
	c.env["TENANT_SIGNING_KEYS"] = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	ctx := context.Background()
	prefix := c.env["TENANT_DB_PREFIX"]
	c.must(0, "create", "Acme", "acme", "boss@acme.test")
	c.must(0, "create", "Globex", "globex", "boss@globex.test")
	placement := func(sub string) (db, role, url string) {
		t.Helper()
		out, _ := c.must(0, "show", sub, "--json")
		var v struct {
			DatabaseName string `json:"database_name"`
			Database     struct{ Role, URL string }
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("show %s --json = %q: %v", sub, out, err)
		}
		return v.DatabaseName, v.Database.Role, v.Database.URL
	}
	_, globexRole, _ := placement("globex")
	admin := testenv.Admin(t)
	check := func(step string) {
		t.Helper()
		db, role, u := placement("acme")
		if role == "" || role == "postgres" || strings.Contains(u, "postgres@") {
			t.Errorf("after %s: acme on %s as role %q, URL %s; want its own role and no operator credentials stored", step, db, role, u)
		}
		var owner string
		var globexCan bool
		if err := admin.QueryRow(ctx, "SELECT pg_get_userbyid(datdba), has_database_privilege($2, datname, 'CONNECT') FROM pg_database WHERE datname = $1",
			db, globexRole).Scan(&owner, &globexCan); err != nil {
			t.Fatalf("after %s: reading database %s: %v", step, db, err)
		}
		if owner != role || globexCan {
			t.Errorf("after %s: database %s owned by %s (want %s); globex's role may connect: %v (want false)", step, db, owner, role, globexCan)
		}
	}
	c.must(0, "move", "acme", "--new-url", testenv.WithDatabase(testenv.PostgresURL(), prefix+"moved"), "--drain", "100ms")
	check("move")
	dir := t.TempDir()
	out, _ := c.must(0, "backup", "acme", "--output", dir)
	file := strings.Fields(out[strings.Index(out, "written to ")+len("written to "):])[0]
	c.must(0, "restore", "acme", "--backup", file)
	check("restore")
}
