package tenantstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/migrations"
)

func newTestProvisioner(t *testing.T, fsys fs.FS) *provisioner {
	t.Helper()
	s := newTestStore(t)
	tmpl, err := DefaultTemplate(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	if fsys == nil {
		fsys = migrations.Tenant()
	}
	p := &provisioner{store: s, dsn: DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }},
		prefix: testenv.TenantPrefix(t), adminDB: "postgres", migrations: fsys, bcryptCost: bcrypt.MinCost}
	t.Cleanup(p.close)
	return p
}

func provisionTenant(ctx context.Context, p *provisioner, sub string, pl Placement) (*Tenant, error) {
	tn := &Tenant{Name: "Org " + sub, Subdomain: sub, AdminEmail: "boss@example.com", MaxUsers: 5, Placement: pl}
	if err := p.place(ctx, tn); err != nil {
		return nil, err
	}
	operator, err := p.claim(ctx, tn)
	if err != nil {
		return nil, err
	}
	return tn, p.create(ctx, tn, operator, "initial-pw", false)
}

func exists(t *testing.T, admin *pgx.Conn, kind, name string) bool {
	t.Helper()
	q := map[string]string{"database": "SELECT count(*) FROM pg_database WHERE datname = $1",
		"role": "SELECT count(*) FROM pg_roles WHERE rolname = $1"}[kind]
	var n int
	if err := admin.QueryRow(context.Background(), q, name).Scan(&n); err != nil {
		t.Fatalf("looking for %s %q: %v", kind, name, err)
	}
	return n > 0
}

func TestProvisionCreatesUsableIsolatedDatabase(t *testing.T) {
	p := newTestProvisioner(t, nil)
	ctx := context.Background()
	a, err := provisionTenant(ctx, p, "acme", Placement{})
	if err != nil {
		t.Fatalf("create acme: %v", err)
	}
	if a.Status != StatusActive {
		t.Errorf("status = %s, want active", a.Status)
	}
	b, err := provisionTenant(ctx, p, "globex", Placement{})
	if err != nil {
		t.Fatalf("create globex: %v", err)
	}
	aURL, _ := p.dsn.URL(a)
	conn, err := pgx.Connect(ctx, aURL)
	if err != nil {
		t.Fatalf("connecting as acme's role: %v", err)
	}
	defer conn.Close(ctx)
	var hash string
	if err := conn.QueryRow(ctx, "SELECT password_hash FROM users WHERE email = 'boss@example.com' AND role = 'admin'").Scan(&hash); err != nil {
		t.Fatalf("reading the admin user as the tenant role: %v", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte("initial-pw")) != nil {
		t.Errorf("admin password hash does not match the given password")
	}
	if _, err := conn.Exec(ctx, "INSERT INTO customers (name) VALUES ('c'); CREATE TABLE extra (id int)"); err != nil {
		t.Errorf("tenant role writing and creating tables in its database: %v", err)
	}
	latest, err := latestVersion(migrations.Tenant())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := schemaVersion(ctx, conn); err != nil || v != latest {
		t.Errorf("schemaVersion = %d, %v; want the latest tenant migration, %d", v, err, latest)
	}
	// acme's role may not connect to globex's database.
	u, _ := url.Parse(aURL)
	u.Path = "/" + b.DatabaseName
	if c, err := pgx.Connect(ctx, u.String()); err == nil {
		c.Close(ctx)
		t.Errorf("acme's role connected to globex's database; want permission denied")
	}
}

func TestProvisionUndoesEveryStep(t *testing.T) {
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
			tn, err := provisionTenant(ctx, p, sub, Placement{})
			if err == nil {
				t.Fatalf("create with a failure after %s = nil error", step)
			}
			if exists(t, admin, "database", tn.DatabaseName) {
				t.Errorf("after a failure after %s: database %s is left", step, tn.DatabaseName)
			}
			if exists(t, admin, "role", tn.Placement.RoleName) {
				t.Errorf("after a failure after %s: role %s is left", step, tn.Placement.RoleName)
			}
			if _, err := p.store.GetBySubdomain(ctx, sub); !errors.Is(err, ErrNotFound) {
				t.Errorf("after a failure after %s: GetBySubdomain error = %v, want ErrNotFound", step, err)
			}
		})
	}
	// A cancelled context is undone too.
	cctx, cancel := context.WithCancel(ctx)
	p.failAfter = func(s string) error {
		if s == stepMigrate {
			cancel()
		}
		return nil
	}
	tn, err := provisionTenant(cctx, p, "cancelled", Placement{})
	p.failAfter = nil
	if err == nil {
		t.Fatalf("create with a cancelled context = nil error")
	}
	if exists(t, admin, "database", tn.DatabaseName) || exists(t, admin, "role", tn.Placement.RoleName) {
		t.Errorf("after cancellation: database or role %s is left", tn.DatabaseName)
	}
}

func TestProvisionConcurrentSameSubdomain(t *testing.T) {
	p := newTestProvisioner(t, nil)
	ctx := context.Background()
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = provisionTenant(ctx, p, "race", Placement{}) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrConflict):
			t.Errorf("losing create error = %v, want ErrConflict", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent creates of one subdomain succeeded, want exactly 1 (errors %v)", ok, errs)
	}
	var dbs int
	testenv.Admin(t).QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE starts_with(datname, $1) AND NOT starts_with(datname, $2)",
		p.prefix, p.prefix+"template_").Scan(&dbs)
	if dbs != 1 {
		t.Errorf("tenant databases = %d, want 1", dbs)
	}
}

func TestProvisionHostileIdentifiers(t *testing.T) {
	p := newTestProvisioner(t, nil)
	ctx := context.Background()
	admin := testenv.Admin(t)
	p.prefix += `x"y'z; DROP ROLE postgres; --_`
	tn, err := provisionTenant(ctx, p, "evil", Placement{})
	if err != nil {
		t.Fatalf("create with a hostile prefix: %v", err)
	}
	if !exists(t, admin, "database", tn.DatabaseName) || !exists(t, admin, "role", tn.DatabaseName) {
		t.Errorf("database and role %q not created under their exact name", tn.DatabaseName)
	}
	// An explicit URL naming a hostile database.
	name := p.prefix + `q"; DROP DATABASE postgres; --`
	u := testenv.WithDatabase(testenv.PostgresURL(), "x")
	pu, _ := url.Parse(u)
	pu.Path = "/" + name
	tn, err = provisionTenant(ctx, p, "evil-url", Placement{URL: pu.String()})
	if err != nil {
		t.Fatalf("create with a hostile explicit database name: %v", err)
	}
	if tn.DatabaseName != name || !exists(t, admin, "database", name) {
		t.Errorf("database %q not created under its exact name (stored %q)", name, tn.DatabaseName)
	}
	if err := p.drop(ctx, tn); err != nil || exists(t, admin, "database", name) {
		t.Errorf("drop(explicit) = %v; want the database gone", err)
	}
}

func TestProvisionExplicitPlacementUndo(t *testing.T) {
	p := newTestProvisioner(t, nil)
	ctx := context.Background()
	admin := testenv.Admin(t)
	name := p.prefix + "explicit"
	p.failAfter = func(s string) error {
		if s == stepAdminUser {
			return errors.New("injected failure")
		}
		return nil
	}
	_, err := provisionTenant(ctx, p, "explicit", Placement{URL: testenv.WithDatabase(testenv.PostgresURL(), name)})
	if err == nil {
		t.Fatal("create with an injected failure = nil error")
	}
	if exists(t, admin, "database", name) {
		t.Errorf("explicit database %s created by the failed create is left", name)
	}
}

func TestTemplateRebuiltWhenMigrationsChange(t *testing.T) {
	base := fstest.MapFS{}
	v1, err := fs.ReadFile(migrations.Tenant(), "00001_sales.sql")
	if err != nil {
		t.Fatal(err)
	}
	base["00001_sales.sql"] = &fstest.MapFile{Data: v1}
	p := newTestProvisioner(t, base)
	ctx := context.Background()
	if _, err := provisionTenant(ctx, p, "one", Placement{}); err != nil {
		t.Fatalf("create one: %v", err)
	}
	base["00002_notes.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE notes (id int);\n-- +goose Down\nDROP TABLE notes;\n")}
	two, err := provisionTenant(ctx, p, "two", Placement{})
	if err != nil {
		t.Fatalf("create two: %v", err)
	}
	u, _ := p.dsn.URL(two)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if v, err := schemaVersion(ctx, conn); err != nil || v != 2 {
		t.Errorf("schemaVersion(two) = %d, %v; want 2", v, err)
	}
	var templates []string
	rows, _ := testenv.Admin(t).Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", p.prefix+"template_")
	templates, _ = pgx.CollectRows(rows, pgx.RowTo[string])
	if len(templates) != 1 {
		t.Errorf("template databases = %v, want only the current one", templates)
	}
}

func TestProvisionConcurrentFirstCreates(t *testing.T) {
	// More creates than admin connections, all waiting for the first
	// template build: none may starve the builder.
	p := newTestProvisioner(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = provisionTenant(ctx, p, fmt.Sprintf("first-%d", i), Placement{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent create first-%d: %v", i, err)
		}
	}
}
