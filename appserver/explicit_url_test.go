package appserver

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestAdminExplicitPrivilegedURLGetsOwnRole is the hole issue 11 item 1 left
// for create: POST /api/tenants with a superuser database_url stored that
// URL, and the app then ran as postgres, so one SQL injection in the app
// reached every tenant. The tenant must be created on its own login role,
// as after a move (SPEC §9), with the operator's URL never stored; a PATCH
// to a privileged URL is refused (use move); delete --drop-database drops
// the database and the role.
func TestAdminExplicitPrivilegedURLGetsOwnRole(t *testing.T) {
	ctx := context.Background()
	stack := newControlStack(t, nil)
	store, controlURL, prefix, keyPrefix, app, api := stack.store, stack.controlURL, stack.prefix, stack.keyPrefix, stack.app, stack.api
	created := api(http.MethodPost, "/api/tenants", map[string]any{"name": "Globex", "subdomain": "globex", "admin_email": "boss@globex.example.com"})
	if created.Status != http.StatusCreated {
		t.Fatalf("create globex = %d %s", created.Status, created.Raw)
	}
	// The operator's superuser URL, with a password (trust ignores it) so
	// that a stored copy is easy to find.
	const operatorSecret = "operator-url-secret"
	ou, err := url.Parse(testenv.WithDatabase(testenv.PostgresURL(), prefix+"explicit_acme"))
	if err != nil {
		t.Fatal(err)
	}
	ou.User = url.UserPassword("postgres", operatorSecret)
	created = api(http.MethodPost, "/api/tenants", map[string]any{"name": "Acme", "subdomain": "acme", "admin_email": "boss@acme.example.com",
		"admin_password": "acme-admin-pw", "database_url": ou.String()})
	if created.Status != http.StatusCreated {
		t.Fatalf("create acme with a superuser database_url = %d %s", created.Status, created.Raw)
	}
	shown, _ := created.Body["database"].(map[string]any)["url"].(string)
	if su, err := url.Parse(shown); err != nil || su.User != nil || strings.Contains(string(created.Raw), operatorSecret) {
		t.Errorf("create acme answered the operator's credentials: %s", created.Raw)
	}

	acme, err := store.GetBySubdomain(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	globex, err := store.GetBySubdomain(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	role := acme.Placement.RoleName
	if role == "" || role == "postgres" {
		t.Errorf("acme's placement role = %q, want its own login role", role)
	}
	ctl := testenv.Admin(t)
	var dbURL, dbRole string
	cp, err := pgx.Connect(ctx, controlURL)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close(ctx)
	if err := cp.QueryRow(ctx, "SELECT db_url, db_role FROM tenants WHERE subdomain = 'acme'").Scan(&dbURL, &dbRole); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dbURL, operatorSecret) || strings.Contains(dbURL, "postgres@") {
		t.Errorf("control-plane db_url = %q, want the server without the operator's user or password", tenantstore.RedactURL(dbURL))
	}
	if pu, err := url.Parse(dbURL); err != nil || pu.User != nil {
		t.Errorf("control-plane db_url %q carries user info, want none", tenantstore.RedactURL(dbURL))
	}
	if dbRole != role {
		t.Errorf("control-plane db_role = %q, want %q", dbRole, role)
	}

	// Serve requests: the app's pool shows who it connects as.
	f := &tenantFixture{Tenant: acme, Host: "acme.localhost"}
	login := app.do(f, call{method: http.MethodPost, path: "/api/auth/login", noSession: true,
		body: map[string]string{"email": "boss@acme.example.com", "password": "acme-admin-pw"}})
	app.must(http.StatusOK, login, "login to acme")
	f.Session = login.Body["token"].(string)
	app.must(http.StatusOK, app.do(f, call{method: http.MethodGet, path: "/api/customers"}), "customers of acme")
	rows, err := ctl.Query(ctx, "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", acme.DatabaseName)
	if err != nil {
		t.Fatal(err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0] != role {
		t.Errorf("pg_stat_activity users on acme's database %s = %v, want only its role %q", acme.DatabaseName, users, role)
	}
	checkDatabaseIsolated(t, acme.DatabaseName, role, globex.Placement.RoleName)

	// Redis and the API hold no secret.
	secrets := []string{operatorSecret, acme.Placement.RolePassword, globex.Placement.RolePassword}
	rdb := testenv.Redis(t)
	iter := rdb.Scan(ctx, 0, keyPrefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		v, _ := rdb.Get(ctx, iter.Val()).Result()
		for _, s := range secrets {
			if s != "" && strings.Contains(v, s) {
				t.Errorf("Redis %s holds a secret: %q", iter.Val(), v)
			}
		}
	}
	for _, path := range []string{"/api/tenants/acme", "/api/tenants"} {
		r := api(http.MethodGet, path, nil)
		for _, s := range secrets {
			if s != "" && strings.Contains(string(r.Raw), s) {
				t.Errorf("GET %s answers a secret: %s", path, r.Raw)
			}
		}
	}

	// A PATCH to a privileged URL would put the tenant back on borrowed
	// credentials: it is refused, pointing at move.
	patched := api(http.MethodPatch, "/api/tenants/acme", map[string]any{"database_url": testenv.WithDatabase(testenv.PostgresURL(), prefix+"patched_acme")})
	if patched.Status != http.StatusBadRequest || patched.errorField() != "database_url" || !strings.Contains(string(patched.Raw), "move") {
		t.Errorf("PATCH acme with a superuser database_url = %d %s, want 400 naming database_url and pointing at move", patched.Status, patched.Raw)
	}
	if after, err := store.GetBySubdomain(ctx, "acme"); err != nil || after.Placement.URL != acme.Placement.URL || after.Placement.RoleName != role {
		t.Errorf("after the refused PATCH acme's placement changed (%v)", err)
	}

	// delete --drop-database drops the database and the role.
	if r := api(http.MethodPatch, "/api/tenants/acme", map[string]any{"status": "suspended"}); r.Status != http.StatusOK {
		t.Fatalf("suspend acme = %d %s", r.Status, r.Raw)
	}
	del := api(http.MethodDelete, "/api/tenants/acme?drop_database=true", nil)
	if del.Status != http.StatusNoContent {
		t.Errorf("DELETE acme?drop_database=true = %d %s, want 204 (dropped, no warning)", del.Status, del.Raw)
	}
	if databaseExists(t, acme.DatabaseName) || roleExists(t, role) {
		t.Errorf("after the delete: database %s exists %v, role %s exists %v; want both gone",
			acme.DatabaseName, databaseExists(t, acme.DatabaseName), role, roleExists(t, role))
	}
}

// checkDatabaseIsolated asserts SPEC §9 of database db on the shared test
// server: owned by role, no CONNECT for PUBLIC nor for the other tenant's
// role, and every object in it owned by role.
func checkDatabaseIsolated(t *testing.T, db, role, otherRole string) {
	t.Helper()
	ctx := context.Background()
	ctl := testenv.Admin(t)
	var owner string
	var publicConnect, otherConnect bool
	if err := ctl.QueryRow(ctx, `SELECT pg_get_userbyid(d.datdba),
		EXISTS (SELECT 1 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT'),
		has_database_privilege($2, d.datname, 'CONNECT')
		FROM pg_database d WHERE d.datname = $1`, db, otherRole).Scan(&owner, &publicConnect, &otherConnect); err != nil {
		t.Fatalf("reading database %s: %v", db, err)
	}
	if owner != role || publicConnect || otherConnect {
		t.Errorf("database %s: owner %s (want %s), PUBLIC may connect %v, %s may connect %v; want neither",
			db, owner, role, publicConnect, otherRole, otherConnect)
	}
	conn, err := pgx.Connect(ctx, testenv.WithDatabase(testenv.PostgresURL(), db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var foreign []string
	var tables int
	if err := conn.QueryRow(ctx, `SELECT coalesce(array_agg(r.rolname || ' owns ' || c.relname), '{}')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.oid = c.relowner
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
		AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f') AND r.rolname <> $1`, role).Scan(&foreign); err != nil {
		t.Fatal(err)
	}
	if len(foreign) != 0 {
		t.Errorf("objects of database %s not owned by its role %s: %v", db, role, foreign)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = $1`, role).Scan(&tables); err != nil || tables == 0 {
		t.Errorf("tables of database %s owned by %s = %d, %v; want the tenant's tables", db, role, tables, err)
	}
}

// roleExists reports whether the shared test server has role name.
func roleExists(t *testing.T, name string) bool {
	t.Helper()
	var ok bool
	if err := testenv.Admin(t).QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// databaseExists reports whether the shared test server has database name.
func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var ok bool
	if err := testenv.Admin(t).QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}
