package tenantstore

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// provisionAdopting is provisionTenant with adopt_existing.
func provisionAdopting(ctx context.Context, p *provisioner, sub string, pl Placement) (*Tenant, error) {
	tn := &Tenant{Name: "Org " + sub, Subdomain: sub, AdminEmail: "boss@example.com", MaxUsers: 5, Placement: pl}
	if err := p.place(ctx, tn); err != nil {
		return nil, err
	}
	operator, err := p.claim(ctx, tn)
	if err != nil {
		return nil, err
	}
	return tn, p.create(ctx, tn, operator, "initial-pw", true)
}

// databaseState is what createOwned changes on a database: its owner, who
// may connect, and the owners of its objects.
type databaseState struct {
	owner      string
	connectors []string // roles (and "PUBLIC") with CONNECT, besides the owner
	objects    []string // "name owner", sorted
}

func stateOf(t *testing.T, db string) databaseState {
	t.Helper()
	ctx := context.Background()
	admin := testenv.Admin(t)
	var s databaseState
	if err := admin.QueryRow(ctx, `SELECT pg_get_userbyid(d.datdba),
		coalesce((SELECT array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END ORDER BY 1)
			FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE a.privilege_type = 'CONNECT' AND a.grantee <> d.datdba), '{}')
		FROM pg_database d WHERE d.datname = $1`, db).Scan(&s.owner, &s.connectors); err != nil {
		t.Fatalf("reading database %s: %v", db, err)
	}
	conn, err := pgx.Connect(ctx, testenv.WithDatabase(testenv.PostgresURL(), db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT c.relname || ' ' || pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'legacy' AND c.relkind IN ('r', 'S', 'v')
		UNION ALL SELECT 'schema ' || pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'legacy'
		UNION ALL SELECT p.proname || ' ' || pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'legacy'
		UNION ALL SELECT t.typname || ' ' || pg_get_userbyid(t.typowner) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'legacy' AND t.typtype = 'e'
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if s.objects, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestProvisionPrivilegedURLGetsOwnRole: an explicit URL whose user may
// create roles is the operator's; the tenant gets its own role, owner of a
// new database that only it may connect to, and the URL is stored without
// credentials. A URL of a user who may not create roles is the tenant's
// own and is stored as given.
func TestProvisionPrivilegedURLGetsOwnRole(t *testing.T) {
	p := newTestProvisioner(t, nil)
	ctx := context.Background()
	admin := testenv.Admin(t)
	name := p.prefix + "explicit"
	tn, err := provisionTenant(ctx, p, "explicit", Placement{URL: testenv.WithDatabase(testenv.PostgresURL(), name)})
	if err != nil {
		t.Fatalf("create with a superuser URL: %v", err)
	}
	stored, err := p.store.GetBySubdomain(ctx, "explicit")
	if err != nil {
		t.Fatal(err)
	}
	if u, err := url.Parse(stored.Placement.URL); err != nil || u.User != nil || stored.Placement.RoleName == "" || !stored.DatabaseOwned {
		t.Errorf("stored placement %s role %q owned %v; want the URL without credentials, a role, owned",
			RedactURL(stored.Placement.URL), stored.Placement.RoleName, stored.DatabaseOwned)
	}
	if s := stateOf(t, name); s.owner != tn.Placement.RoleName || len(s.connectors) != 0 {
		t.Errorf("database %s: owner %s, others with CONNECT %v; want %s and none", name, s.owner, s.connectors, tn.Placement.RoleName)
	}
	u, _ := p.dsn.URL(stored)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connecting as the tenant: %v", err)
	}
	var who string
	var foreign int
	err = conn.QueryRow(ctx, `SELECT current_user, (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> current_user)`).Scan(&who, &foreign)
	conn.Close(ctx)
	if err != nil || who != tn.Placement.RoleName || foreign != 0 {
		t.Errorf("the tenant connects as %q with %d tables it does not own (%v); want its role owning them all", who, foreign, err)
	}
	if err := p.drop(ctx, stored); err != nil || exists(t, admin, "database", name) || exists(t, admin, "role", tn.Placement.RoleName) {
		t.Errorf("drop = %v; want the database and the role gone", err)
	}

	// A role that may create databases but not roles: its URL is stored
	// as given, as before.
	app := p.prefix + "app"
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN CREATEDB PASSWORD 'app-pw'"); err != nil {
		t.Fatal(err)
	}
	own, _ := url.Parse(testenv.WithDatabase(testenv.PostgresURL(), p.prefix+"own"))
	own.User = url.UserPassword(app, "app-pw")
	tn, err = provisionTenant(ctx, p, "own", Placement{URL: own.String()})
	if err != nil {
		t.Fatalf("create with an unprivileged URL: %v", err)
	}
	if tn.Placement.URL != own.String() || tn.Placement.RoleName != "" {
		t.Errorf("unprivileged URL stored as %s, role %q; want it as given, no role", RedactURL(tn.Placement.URL), tn.Placement.RoleName)
	}
}

// TestProvisionPrivilegedURLUndoesEveryStep: a failure after any step of a
// create with an operator URL leaves no database, no role and no row.
func TestProvisionPrivilegedURLUndoesEveryStep(t *testing.T) {
	p := newTestProvisioner(t, nil)
	ctx := context.Background()
	admin := testenv.Admin(t)
	for _, step := range []string{stepInsert, stepRole, stepDatabase, stepPrivileges, stepMigrate, stepAdminUser, stepActivate} {
		t.Run(step, func(t *testing.T) {
			p.failAfter = func(s string) error {
				if s == step {
					return errors.New("injected failure")
				}
				return nil
			}
			defer func() { p.failAfter = nil }()
			sub := "fail-" + step[:3]
			name := p.prefix + "explicit_" + step
			tn, err := provisionTenant(ctx, p, sub, Placement{URL: testenv.WithDatabase(testenv.PostgresURL(), name)})
			if err == nil {
				t.Fatalf("create with a failure after %s = nil error", step)
			}
			if step != stepInsert && tn.Placement.RoleName == "" {
				t.Errorf("after %s: no role was made; the test proves nothing", step)
			}
			if exists(t, admin, "database", name) {
				t.Errorf("after a failure after %s: database %s is left", step, name)
			}
			if exists(t, admin, "role", tn.Placement.RoleName) {
				t.Errorf("after a failure after %s: role %s is left", step, tn.Placement.RoleName)
			}
			if _, err := p.store.GetBySubdomain(ctx, sub); !errors.Is(err, ErrNotFound) {
				t.Errorf("after a failure after %s: GetBySubdomain error = %v, want ErrNotFound", step, err)
			}
		})
	}
}

// TestProvisionPrivilegedURLAdoptsExisting: adopting an existing database
// with data through an operator URL gives the database and each of its
// objects to the tenant's new role and takes CONNECT from everyone else; a
// failure after any step gives all of it back.
func TestProvisionPrivilegedURLAdoptsExisting(t *testing.T) {
	p := newTestProvisioner(t, nil)
	ctx := context.Background()
	admin := testenv.Admin(t)
	legacyOwner, reader := p.prefix+"legacy_owner", p.prefix+"reader"
	for _, q := range []string{"CREATE ROLE " + pgx.Identifier{legacyOwner}.Sanitize(), "CREATE ROLE " + pgx.Identifier{reader}.Sanitize() + " LOGIN"} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	newLegacy := func(t *testing.T, name string) databaseState {
		t.Helper()
		db := pgx.Identifier{name}.Sanitize()
		for _, q := range []string{"CREATE DATABASE " + db + " OWNER " + pgx.Identifier{legacyOwner}.Sanitize(),
			"GRANT CONNECT ON DATABASE " + db + " TO " + pgx.Identifier{reader}.Sanitize()} {
			if _, err := admin.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		conn, err := pgx.Connect(ctx, testenv.WithDatabase(testenv.PostgresURL(), name))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		o := pgx.Identifier{legacyOwner}.Sanitize()
		if _, err := conn.Exec(ctx, `CREATE SCHEMA legacy AUTHORIZATION `+o+`;
			SET ROLE `+o+`;
			CREATE TYPE legacy.mood AS ENUM ('ok');
			CREATE TABLE legacy.ledger (id serial PRIMARY KEY, m legacy.mood);
			CREATE SEQUENCE legacy.numbers;
			CREATE VIEW legacy.totals AS SELECT count(*) FROM legacy.ledger;
			CREATE FUNCTION legacy.answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
			INSERT INTO legacy.ledger (m) VALUES ('ok');
			RESET ROLE`); err != nil {
			t.Fatal(err)
		}
		return stateOf(t, name)
	}

	name := p.prefix + "legacy"
	if before := newLegacy(t, name); len(before.objects) != 7 || before.owner != legacyOwner || !slices.Equal(before.connectors, []string{"PUBLIC", reader}) {
		t.Fatalf("legacy database before adoption = %+v, want 7 objects of %s and CONNECT for PUBLIC and %s", before, legacyOwner, reader)
	}
	tn, err := provisionAdopting(ctx, p, "legacy", Placement{URL: testenv.WithDatabase(testenv.PostgresURL(), name)})
	if err != nil {
		t.Fatalf("adopting %s with a superuser URL: %v", name, err)
	}
	role := tn.Placement.RoleName
	after := stateOf(t, name)
	if after.owner != role || len(after.connectors) != 0 {
		t.Errorf("adopted database: owner %s, others with CONNECT %v; want %s and none", after.owner, after.connectors, role)
	}
	for _, o := range after.objects {
		if !slices.Contains([]string{"ledger " + role, "ledger_id_seq " + role, "numbers " + role, "totals " + role,
			"answer " + role, "mood " + role, "schema " + role}, o) {
			t.Errorf("adopted object %q, want it owned by %s", o, role)
		}
	}
	if len(after.objects) != 7 {
		t.Errorf("adopted objects = %v, want the 7 legacy ones", after.objects)
	}
	if tn.DatabaseOwned {
		t.Errorf("an adopted database is DatabaseOwned; a delete would drop a database tenantgate did not create")
	}

	for _, step := range []string{stepDatabase, stepPrivileges, stepMigrate, stepActivate} {
		t.Run("undo after "+step, func(t *testing.T) {
			name := p.prefix + "legacy_" + step
			before := newLegacy(t, name)
			p.failAfter = func(s string) error {
				if s == step {
					return errors.New("injected failure")
				}
				return nil
			}
			defer func() { p.failAfter = nil }()
			tn, err := provisionAdopting(ctx, p, "legacy-"+step[:3], Placement{URL: testenv.WithDatabase(testenv.PostgresURL(), name)})
			if err == nil {
				t.Fatalf("adopting with a failure after %s = nil error", step)
			}
			got := stateOf(t, name)
			if got.owner != before.owner || !slices.Equal(got.connectors, before.connectors) || !slices.Equal(got.objects, before.objects) {
				t.Errorf("after a failure after %s: %+v, want it as before: %+v (%v)", step, got, before, err)
			}
			if exists(t, admin, "role", tn.Placement.RoleName) {
				t.Errorf("after a failure after %s: role %s is left", step, tn.Placement.RoleName)
			}
		})
	}
}

// TestManagerPatchRefusesOperatorURL: a PATCH stores its database_url as
// given, so one whose user may create roles is refused with a 400 naming
// database_url and pointing at move; the URL of an unprivileged user, or
// one without credentials (reached as the tenant's role), is accepted.
func TestManagerPatchRefusesOperatorURL(t *testing.T) {
	m := newTestManager(t, nil)
	ctx := context.Background()
	admin := testenv.Admin(t)
	name := m.prov.prefix + "explicit"
	tn, _, err := m.Create(ctx, CreateRequest{Name: "Acme", Subdomain: "acme", AdminEmail: "boss@acme.example.com",
		Placement: Placement{URL: testenv.WithDatabase(testenv.PostgresURL(), name)}})
	if err != nil {
		t.Fatal(err)
	}
	other := m.prov.prefix + "other"
	superURL := testenv.WithDatabase(testenv.PostgresURL(), other)
	_, err = m.Update(ctx, "acme", Patch{DatabaseURL: &superURL})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "database_url" || !strings.Contains(ve.Message, "move") {
		t.Errorf("Update(database_url: superuser URL) = %v, want a ValidationError naming database_url pointing at move", err)
	}

	// The stored URL itself (no credentials): reached as acme's role.
	same := tn.Placement.URL
	if _, err := m.Update(ctx, "acme", Patch{DatabaseURL: &same}); err != nil {
		t.Errorf("Update(database_url: the stored URL without credentials) = %v, want it accepted", err)
	}
	app := m.prov.prefix + "app"
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN PASSWORD 'app-pw'"); err != nil {
		t.Fatal(err)
	}
	own, _ := url.Parse(superURL)
	own.User = url.UserPassword(app, "app-pw")
	ownURL := own.String()
	if got, err := m.Update(ctx, "acme", Patch{DatabaseURL: &ownURL}); err != nil || got.Placement.URL != ownURL {
		t.Errorf("Update(database_url: an unprivileged user's URL) = %v; want it stored as given", err)
	}
}

// TestProvisionCreateRoleURLGetsOwnRole: a user with CREATEROLE (not a
// superuser) is an operator too; the tenant's role, not that user, owns the
// database, and a failed create is undone with that user's credentials.
func TestProvisionCreateRoleURLGetsOwnRole(t *testing.T) {
	p := newTestProvisioner(t, nil)
	ctx := context.Background()
	admin := testenv.Admin(t)
	ops := p.prefix + "ops"
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{ops}.Sanitize()+" LOGIN CREATEROLE CREATEDB PASSWORD 'ops-pw'"); err != nil {
		t.Fatal(err)
	}
	opsURL := func(db string) string {
		u, _ := url.Parse(testenv.WithDatabase(testenv.PostgresURL(), db))
		u.User = url.UserPassword(ops, "ops-pw")
		return u.String()
	}
	p.failAfter = func(s string) error {
		if s == stepAdminUser {
			return errors.New("injected failure")
		}
		return nil
	}
	tn, err := provisionTenant(ctx, p, "failing", Placement{URL: opsURL(p.prefix + "failing")})
	p.failAfter = nil
	if err == nil || tn.Placement.RoleName == "" || exists(t, admin, "database", p.prefix+"failing") || exists(t, admin, "role", tn.Placement.RoleName) {
		t.Errorf("failed create through a CREATEROLE user = %v, role %q; want an error and no database or role left", err, tn.Placement.RoleName)
	}

	name := p.prefix + "explicit"
	tn, err = provisionTenant(ctx, p, "explicit", Placement{URL: opsURL(name)})
	if err != nil {
		t.Fatalf("create through a CREATEROLE user: %v", err)
	}
	if u, err := url.Parse(tn.Placement.URL); err != nil || u.User != nil || tn.Placement.RoleName == "" {
		t.Errorf("placement %s role %q, want no credentials and a role", RedactURL(tn.Placement.URL), tn.Placement.RoleName)
	}
	if s := stateOf(t, name); s.owner != tn.Placement.RoleName || len(s.connectors) != 0 {
		t.Errorf("database %s: owner %s, others with CONNECT %v; want %s and none", name, s.owner, s.connectors, tn.Placement.RoleName)
	}
}
