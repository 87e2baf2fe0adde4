package tenantops_test

import (
	"context"
	"fmt"
	"github.com/tenantgate/tenantgate/tenantops"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// env is one test's control plane, manager and Ops on the shared server.
type env struct {
	controlURL string
	store      *tenantstore.Store
	manager    *tenantstore.Manager
	dsn        tenantstore.DSNConfig
	ops        *tenantops.Ops
	prefix     string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	testenv.Integration(t)
	ctx := context.Background()
	controlURL := testenv.NewDatabase(t)
	store, err := tenantstore.Open(ctx, controlURL)
	if err != nil {
		t.Fatalf("opening the control plane: %v", err)
	}
	t.Cleanup(store.Close)
	tmpl, err := tenantstore.DefaultTemplate(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	dsn := tenantstore.DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }}
	prefix := testenv.TenantPrefix(t)
	m, err := tenantstore.NewManager(tenantstore.ManagerConfig{Store: store, DSN: dsn, DatabasePrefix: prefix, BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ops, err := tenantops.New(tenantops.Config{Store: store, DSN: dsn, Drain: 200 * time.Millisecond, QuietTimeout: 5 * time.Second, TempDir: t.TempDir(),
		ManifestKeys: testManifestKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	return &env{controlURL: controlURL, store: store, manager: m, dsn: dsn, ops: ops, prefix: prefix}
}

const adminPassword = "admin-password-1"

// testSigningKeys are the TENANT_SIGNING_KEYS of the tests' Ops.
var testSigningKeys = []tenanttoken.Key{{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}}

func testManifestKeys(t testing.TB) [][]byte {
	t.Helper()
	keys, err := tenantops.ManifestKeys(testSigningKeys, "")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// createTenant provisions sub with n customers.
func (e *env) createTenant(t testing.TB, sub string, customers int) *tenantstore.Tenant {
	t.Helper()
	ctx := context.Background()
	tn, _, err := e.manager.Create(ctx, tenantstore.CreateRequest{Name: "Org " + sub, Subdomain: sub,
		AdminEmail: "boss@" + sub + ".example", AdminPassword: adminPassword})
	if err != nil {
		t.Fatalf("creating tenant %s: %v", sub, err)
	}
	e.exec(t, tn, "INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, $1) g", customers)
	return tn
}

func (e *env) tenant(t testing.TB, sub string) *tenantstore.Tenant {
	t.Helper()
	tn, err := e.store.GetBySubdomain(context.Background(), sub)
	if err != nil {
		t.Fatalf("GetBySubdomain(%q): %v", sub, err)
	}
	return tn
}

// conn connects to the tenant's database as the app does.
func (e *env) conn(t testing.TB, tn *tenantstore.Tenant) *pgx.Conn {
	t.Helper()
	u, err := e.dsn.URL(tn)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatalf("connecting to tenant %s's database %s: %v", tn.Subdomain, tn.DatabaseName, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (e *env) exec(t testing.TB, tn *tenantstore.Tenant, sql string, args ...any) {
	t.Helper()
	if _, err := e.conn(t, tn).Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) count(t testing.TB, tn *tenantstore.Tenant, table string) int64 {
	t.Helper()
	var n int64
	if err := e.conn(t, tn).QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("counting %s of tenant %s: %v", table, tn.Subdomain, err)
	}
	return n
}

// databases lists the databases on the main server whose name starts with
// the test's prefix.
func (e *env) databases(t testing.TB) map[string]bool {
	t.Helper()
	rows, err := testenv.Admin(t).Query(context.Background(), "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", e.prefix)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

func sameSet(a, b map[string]bool) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

var benchClock = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// nextSecond returns a clock one second later than the previous call's, so
// that names derived from the time never collide.
func nextSecond() func() time.Time {
	benchClock = benchClock.Add(time.Second)
	now := benchClock
	return func() time.Time { return now }
}
