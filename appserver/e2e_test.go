package appserver

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// TestWithControlPlane runs the appserver as cmd/appserver wires it: the
// real store, tenants provisioned by tenantstore.Manager (own database and
// login role), the resolver over Redis, and its invalidations closing pools.
func TestWithControlPlane(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	store, err := tenantstore.Open(ctx, testenv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	tmpl, err := tenantstore.DefaultTemplate(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	dsn := tenantstore.DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }}
	mgr, err := tenantstore.NewManager(tenantstore.ManagerConfig{Store: store, DSN: dsn,
		DatabasePrefix: testenv.TenantPrefix(t), BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Close)
	res, err := resolver.New(resolver.Config{KeyPrefix: testenv.KeyPrefix(t), MACKeys: testenv.EntryKeys()}, store, testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Close() })
	store.SetNotifier(res)

	keys := []tenanttoken.Key{{ID: "k1", Secret: randomBytes(32)}}
	signer, _ := tenanttoken.NewSigner(keys)
	verifier, _ := tenanttoken.NewVerifier(keys)
	srv, err := New(Config{Verifier: verifier, Tenants: res, Locations: store, DSN: controlPlaneDSN(t, store, dsn.URL),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	res.OnChange(srv.TenantChanged)
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	res.Start(runCtx)
	e := &env{t: t, dir: nil, signer: signer, srv: srv, handler: srv.AppHandler()}

	acmeT, _, err := mgr.Create(ctx, tenantstore.CreateRequest{Name: "Acme", Subdomain: "acme", AdminEmail: "boss@acme.example.com",
		AdminPassword: "acme-admin-pw", MultiLocation: true, MaxUsers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.AddLocation(ctx, "acme", tenantstore.LocationInput{Name: "Downtown", Code: "dt"}); err != nil {
		t.Fatal(err)
	}
	acme := &tenantFixture{Tenant: acmeT, Host: "acme.localhost"}

	login := e.do(acme, call{method: "POST", path: "/api/auth/login", noSession: true,
		body: map[string]string{"email": "boss@acme.example.com", "password": "acme-admin-pw"}})
	e.must(200, login, "login as the provisioned admin")
	acme.Session = login.Body["token"].(string)

	locs := e.must(200, e.do(acme, call{method: "GET", path: "/api/locations"}), "locations")
	if items, _ := locs.Body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["code"] != "dt" {
		t.Errorf("GET /api/locations = %s, want the one location dt", locs.Raw)
	}
	e.must(201, e.do(acme, call{method: "POST", path: "/api/users", body: map[string]any{"email": "clerk@acme.example.com", "password": "long enough"}}), "second user")
	r := e.do(acme, call{method: "POST", path: "/api/users", body: map[string]any{"email": "third@acme.example.com", "password": "long enough"}})
	if r.Status != 422 || r.errorCode() != "user_limit_reached" {
		t.Errorf("third user with max_users 2 (the first admin counts) = %d %s, want 422 user_limit_reached", r.Status, r.Raw)
	}

	// A change made through the Manager reaches the appserver through the
	// resolver's invalidation: the new limit applies and the pool of the
	// changed tenant is closed.
	opensBefore := srv.Pools().Stats().EvictedChange
	three := 3
	if _, err := mgr.Update(ctx, "acme", tenantstore.Patch{MaxUsers: &three}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the limit change to apply", func() bool {
		r := e.do(acme, call{method: "POST", path: "/api/users", body: map[string]any{"email": "third@acme.example.com", "password": "long enough"}})
		return r.Status == 201
	})
	if got := srv.Pools().Stats().EvictedChange; got <= opensBefore {
		t.Errorf("pool evictions for changes after an update = %d, want more than %d", got, opensBefore)
	}
	suspended := tenantstore.StatusSuspended
	if _, err := mgr.Update(ctx, "acme", tenantstore.Patch{Status: &suspended}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the suspension to apply", func() bool {
		return e.do(acme, call{method: "GET", path: "/api/me"}).Status == http.StatusForbidden
	})
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
