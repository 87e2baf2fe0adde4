package main

import (
	"context"
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
