package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/appserver"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
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

// TestCLIExplicitPrivilegedURLGetsOwnRole is the hole issue 11 item 1 left
// for create through tenantctl: `create --database-url` with a superuser
// URL stored that URL, and the app connected as postgres. The tenant must
// be created on its own login role (SPEC §9), the operator's URL never
// stored, and delete --drop-database must drop the database and the role.
func TestCLIExplicitPrivilegedURLGetsOwnRole(t *testing.T) {
	c := newCLI(t)
	ctx := context.Background()
	prefix := c.env["TENANT_DB_PREFIX"]
	c.must(0, "create", "Globex", "globex", "boss@globex.test")
	db := prefix + "explicit_acme"
	c.env["ACME_ADMIN_PW"] = "acme-admin-pw"
	c.must(0, "create", "Acme", "acme", "boss@acme.test", "--database-url", testenv.WithDatabase(testenv.PostgresURL(), db), "--admin-password-env", "ACME_ADMIN_PW")

	store, err := tenantstore.Open(ctx, c.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
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
		t.Errorf("acme's role = %q, want its own login role", role)
	}
	if u, err := url.Parse(acme.Placement.URL); err != nil || u.User != nil {
		t.Errorf("acme's stored URL %s carries credentials, want none", tenantstore.RedactURL(acme.Placement.URL))
	}
	out, _ := c.must(0, "show", "acme", "--json")
	if strings.Contains(out, "postgres@") || (acme.Placement.RolePassword != "" && strings.Contains(out, acme.Placement.RolePassword)) {
		t.Errorf("show acme --json = %s, want no credentials", out)
	}

	// Serve acme's requests through the real appserver handler over this
	// control plane: its pool shows who the app connects as.
	tmpl, err := tenantstore.DefaultTemplate(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	handler, signer := newAppserver(t, store, tenantstore.DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }})
	do := func(method, path, session string, body any) (int, []byte) {
		t.Helper()
		host := acme.Subdomain + ".localhost"
		b, _ := json.Marshal(body)
		r := httptest.NewRequest(method, "http://"+host+path, bytes.NewReader(b))
		tok, err := signer.Sign(acme.ID, acme.Subdomain, host, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set(tenanttoken.Header, tok)
		if session != "" {
			r.Header.Set("Authorization", "Bearer "+session)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w.Code, w.Body.Bytes()
	}
	code, body := do(http.MethodPost, "/api/auth/login", "", map[string]string{"email": "boss@acme.test", "password": "acme-admin-pw"})
	var login struct{ Token string }
	if code != http.StatusOK || json.Unmarshal(body, &login) != nil {
		t.Fatalf("login to acme = %d %s", code, body)
	}
	if code, body := do(http.MethodGet, "/api/customers", login.Token, nil); code != http.StatusOK {
		t.Fatalf("GET /api/customers of acme = %d %s", code, body)
	}
	var users []string
	rows, err := testenv.Admin(t).Query(ctx, "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db)
	if err == nil {
		users, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || len(users) != 1 || users[0] != role {
		t.Errorf("pg_stat_activity users on %s = %v (%v), want only %q", db, users, err, role)
	}

	admin := testenv.Admin(t)
	var owner string
	var globexCan bool
	if err := admin.QueryRow(ctx, "SELECT pg_get_userbyid(datdba), has_database_privilege($2, datname, 'CONNECT') FROM pg_database WHERE datname = $1",
		db, globex.Placement.RoleName).Scan(&owner, &globexCan); err != nil {
		t.Fatal(err)
	}
	if owner != role || globexCan {
		t.Errorf("database %s owned by %s (want %s); globex's role may connect: %v (want false)", db, owner, role, globexCan)
	}
	conn, err := pgx.Connect(ctx, testenv.WithDatabase(testenv.PostgresURL(), db))
	if err != nil {
		t.Fatal(err)
	}
	var foreign []string
	err = conn.QueryRow(ctx, `SELECT coalesce(array_agg(tablename || ' of ' || tableowner), '{}') FROM pg_tables
		WHERE schemaname = 'public' AND tableowner <> $1`, role).Scan(&foreign)
	conn.Close(ctx)
	if err != nil || len(foreign) != 0 {
		t.Errorf("tables of %s not owned by %s: %v (%v)", db, role, foreign, err)
	}

	c.must(0, "suspend", "acme")
	c.must(0, "delete", "acme", "--drop-database")
	var dbLeft, roleLeft bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1), EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)",
		db, role).Scan(&dbLeft, &roleLeft); err != nil || dbLeft || roleLeft {
		t.Errorf("after delete --drop-database: database left %v, role %q left %v (%v); want both gone", dbLeft, role, roleLeft, err)
	}
}

// newAppserver returns the real appserver's tenant handler over store, with
// the real resolver (and Redis) in front, and the signer of its edge tokens.
func newAppserver(t *testing.T, store *tenantstore.Store, dsn tenantstore.DSNConfig) (http.Handler, *tenanttoken.Signer) {
	t.Helper()
	keys := []tenanttoken.Key{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}}
	signer, err := tenanttoken.NewSigner(keys)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := tenanttoken.NewVerifier(keys)
	if err != nil {
		t.Fatal(err)
	}
	res, err := resolver.New(resolver.Config{KeyPrefix: testenv.KeyPrefix(t), MACKeys: testenv.EntryKeys()}, store, testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res.Start(ctx)
	t.Cleanup(func() { cancel(); res.Close() })
	urls, err := resolver.NewDatabaseURLs(resolver.DatabaseURLsConfig{Source: store, URL: dsn.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(urls.Close)
	srv, err := appserver.New(appserver.Config{Verifier: verifier, Tenants: res, Locations: store, DSN: urls.URL,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	res.OnChange(srv.TenantChanged)
	return srv.AppHandler(), signer
}
