package tenantops_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantops"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// checkOwnRole asserts what issue 11 item 1 requires of a tenant after a
// move or a restore: the stored placement holds no operator credentials,
// the app's connections (opened through the real appserver) run as the
// tenant's own role, that role owns every table, and other tenants' roles
// (and PUBLIC) cannot connect to the database. serverURL is an operator
// URL of the server the database is on; others are the other tenants, whose
// roles are on that server too.
func checkOwnRole(t *testing.T, e *env, a *app, sub, serverURL string, others ...string) {
	t.Helper()
	ctx := context.Background()
	tn := e.tenant(t, sub)
	role := tn.Placement.RoleName
	if role == "" || role == "postgres" {
		t.Errorf("tenant %s after the operation has role %q, want its own login role", sub, role)
	}
	if u := tn.Placement.URL; u != "" {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		if pu.User != nil {
			t.Errorf("stored placement URL %s carries credentials (user %q), want none: the operator's URL must not be stored", tenantstore.RedactURL(u), pu.User.Username())
		}
	}
	if tn.Placement.User != "" || tn.Placement.PasswordEnv != "" {
		t.Errorf("stored placement has user %q / password variable %q, want the tenant role only", tn.Placement.User, tn.Placement.PasswordEnv)
	}

	// The app connects, and keeps its pool open: its sessions show who it
	// is.
	session := a.login(t, tn)
	if code, body := a.do(t, tn, http.MethodGet, "/api/customers", session, nil); code != http.StatusOK {
		t.Fatalf("GET /api/customers after the operation = %d %s", code, body)
	}
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	rows, err := admin.Query(ctx, "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", tn.DatabaseName)
	if err != nil {
		t.Fatal(err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0] != role {
		t.Errorf("pg_stat_activity users on database %s = %v, want only the tenant role %s", tn.DatabaseName, users, role)
	}

	var foreign []string
	owned, err := pgx.Connect(ctx, testenv.WithDatabase(serverURL, tn.DatabaseName))
	if err != nil {
		t.Fatal(err)
	}
	defer owned.Close(ctx)
	if err := owned.QueryRow(ctx, `SELECT coalesce(array_agg(r.rolname || ' owns ' || c.relname), '{}')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.oid = c.relowner
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v', 'm') AND r.rolname <> $1`, role).Scan(&foreign); err != nil {
		t.Fatal(err)
	}
	if len(foreign) != 0 {
		t.Errorf("objects of tenant %s not owned by its role %s: %v", sub, role, foreign)
	}
	var tables int
	if err := owned.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = $1`, role).Scan(&tables); err != nil || tables == 0 {
		t.Errorf("tables owned by %s = %d, %v; want the tenant's tables", role, tables, err)
	}
	var dbOwner string
	var publicConnect bool
	if err := admin.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", tn.DatabaseName).Scan(&dbOwner); err != nil {
		t.Fatal(err)
	}
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
		WHERE d.datname = $1 AND a.grantee = 0 AND a.privilege_type = 'CONNECT')`, tn.DatabaseName).Scan(&publicConnect); err != nil {
		t.Fatal(err)
	}
	if dbOwner != role || publicConnect {
		t.Errorf("database %s: owner %s, PUBLIC may connect %v; want owner %s and no PUBLIC CONNECT", tn.DatabaseName, dbOwner, publicConnect, role)
	}
	for _, o := range others {
		other := e.tenant(t, o).Placement.RoleName
		var can bool
		if err := admin.QueryRow(ctx, "SELECT has_database_privilege($1, $2, 'CONNECT')", other, tn.DatabaseName).Scan(&can); err != nil {
			t.Fatalf("has_database_privilege(%s, %s): %v", other, tn.DatabaseName, err)
		}
		if can {
			t.Errorf("has_database_privilege(%s (tenant %s), %s, CONNECT) = true, want false", other, o, tn.DatabaseName)
		}
	}
}

// TestMoveLeavesTenantOnItsOwnRole is issue 11 item 1 for move: a move
// used to switch the tenant to the operator's (superuser) credentials of
// the target URL, and left the new database open to every role.
func TestMoveLeavesTenantOnItsOwnRole(t *testing.T) {
	e := newEnv(t)
	second := testenv.StartPostgres(t)
	ctx := context.Background()
	e.createTenant(t, "acme", 5)
	e.createTenant(t, "globex", 3)
	a := newApp(t, e)
	for _, sub := range []string{"acme", "globex"} {
		if _, err := e.ops.Move(ctx, sub, testenv.WithDatabase(second, e.prefix+"moved_"+sub), tenantops.MoveOptions{}, nil); err != nil {
			t.Fatalf("Move(%s): %v", sub, err)
		}
	}
	checkOwnRole(t, e, a, "acme", second, "globex")
	checkOwnRole(t, e, a, "globex", second, "acme")
	if got := e.count(t, e.tenant(t, "acme"), "customers"); got != 5 {
		t.Errorf("customers of acme after the move = %d, want 5", got)
	}
	moved := e.tenant(t, "acme")
	if strings.Contains(moved.Placement.URL, "postgres@") {
		t.Errorf("moved tenant's URL names the operator's user: %s", tenantstore.RedactURL(moved.Placement.URL))
	}

	// delete --drop-database of a tenant on another server drops its
	// database and role there (with the template's credentials on that
	// host), and leaves the other tenant's alone.
	if _, err := e.manager.SetStatus(ctx, "acme", tenantstore.StatusSuspended); err != nil {
		t.Fatal(err)
	}
	res, err := e.manager.Delete(ctx, "acme", tenantstore.DeleteOptions{DropDatabase: true})
	if err != nil || !res.DatabaseDropped {
		t.Fatalf("Delete(moved acme, drop) = %+v, %v; want it dropped", res, err)
	}
	if databaseExists(t, second, moved.DatabaseName) || !databaseExists(t, second, e.tenant(t, "globex").DatabaseName) {
		t.Errorf("after deleting moved acme: its database %s exists %v, globex's exists %v; want only globex's",
			moved.DatabaseName, databaseExists(t, second, moved.DatabaseName), databaseExists(t, second, e.tenant(t, "globex").DatabaseName))
	}
	conn, err := pgx.Connect(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var roleLeft bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", moved.Placement.RoleName).Scan(&roleLeft); err != nil || roleLeft {
		t.Errorf("role %s left on the second server after the drop (%v)", moved.Placement.RoleName, err)
	}
}

// TestRestoreLeavesTenantOnItsOwnRole is issue 11 item 1 for restore: a
// tenant reached with borrowed credentials (an explicit URL) used to stay
// on them after a restore, in a database that every role could connect to.
func TestRestoreLeavesTenantOnItsOwnRole(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.createTenant(t, "globex", 1)
	explicit := testenv.WithDatabase(testenv.PostgresURL(), e.prefix+"explicit_acme")
	if _, _, err := e.manager.Create(ctx, tenantstore.CreateRequest{Name: "Acme", Subdomain: "acme", AdminEmail: "boss@acme.example",
		AdminPassword: adminPassword, Placement: tenantstore.Placement{URL: explicit}}); err != nil {
		t.Fatal(err)
	}
	e.exec(t, e.tenant(t, "acme"), "INSERT INTO customers (name) VALUES ('one'), ('two')")
	a := newApp(t, e)
	for _, sub := range []string{"acme", "globex"} {
		b, err := e.ops.Backup(ctx, sub, t.TempDir(), nil)
		if err != nil {
			t.Fatalf("Backup(%s): %v", sub, err)
		}
		if _, err := e.ops.Restore(ctx, sub, b.File, tenantops.RestoreOptions{}, nil); err != nil {
			t.Fatalf("Restore(%s): %v", sub, err)
		}
	}
	checkOwnRole(t, e, a, "acme", testenv.PostgresURL(), "globex")
	checkOwnRole(t, e, a, "globex", testenv.PostgresURL(), "acme")
	if got := e.count(t, e.tenant(t, "acme"), "customers"); got != 2 {
		t.Errorf("customers of acme after the restore = %d, want 2", got)
	}
}
