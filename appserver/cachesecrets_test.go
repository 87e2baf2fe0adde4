package appserver

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// credentialsInURL matches a URL with a password in its user info or query.
var credentialsInURL = regexp.MustCompile(`://[^/@\s"]*:[^/@\s"]*@|[?&]password=`)

// TestRedisHoldsNoTenantSecret creates a tenant on the template server (its
// own login role and password) and one with an explicit URL holding a
// password, serves requests for both through two appservers (the second
// answered from Redis), and then scans every key under the deployment's
// prefix: none may hold a password or a URL with credentials (SPEC §9).
func TestRedisHoldsNoTenantSecret(t *testing.T) {
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
	prefix := testenv.TenantPrefix(t)
	mgr, err := tenantstore.NewManager(tenantstore.ManagerConfig{Store: store, DSN: dsn, DatabasePrefix: prefix, BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Close)
	keyPrefix := testenv.KeyPrefix(t)
	rcfg := resolver.Config{KeyPrefix: keyPrefix, MACKeys: testenv.EntryKeys()}

	keys := []tenanttoken.Key{{ID: "k1", Secret: randomBytes(32)}}
	signer, _ := tenanttoken.NewSigner(keys)
	verifier, _ := tenanttoken.NewVerifier(keys)
	newApp := func() *env {
		res, err := resolver.New(rcfg, store, testenv.Redis(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = res.Close() })
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
		return &env{t: t, signer: signer, srv: srv, handler: srv.AppHandler()}
	}
	first := newApp()

	const urlSecret = "explicit-url-secret"
	u, err := url.Parse(testenv.WithDatabase(testenv.PostgresURL(), prefix+"explicit"))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), urlSecret)
	explicitURL := u.String()
	var fixtures []*tenantFixture
	for _, req := range []tenantstore.CreateRequest{
		{Name: "Acme", Subdomain: "acme", AdminEmail: "boss@acme.example.com", AdminPassword: "acme-admin-pw"},
		{Name: "Globex", Subdomain: "globex", AdminEmail: "boss@globex.example.com", AdminPassword: "globex-admin-pw",
			Placement: tenantstore.Placement{URL: explicitURL}},
	} {
		tn, _, err := mgr.Create(ctx, req)
		if err != nil {
			t.Fatalf("creating %s: %v", req.Subdomain, err)
		}
		fixtures = append(fixtures, &tenantFixture{Tenant: tn, Host: tn.Subdomain + ".localhost"})
	}
	secrets := []string{urlSecret}
	for _, f := range fixtures {
		full, err := store.Get(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		if pw := full.Placement.RolePassword; pw != "" {
			secrets = append(secrets, pw)
		}
	}
	if len(secrets) < 2 {
		t.Fatalf("the template tenant has no role password; the test would prove nothing")
	}

	// The creates left tombstones; once they expire, lookups write entries.
	time.Sleep(resolver.DefaultSourceTimeout + resolver.DefaultRedisTimeout + 1500*time.Millisecond)
	for _, f := range fixtures {
		login := first.do(f, call{method: "POST", path: "/api/auth/login", noSession: true,
			body: map[string]string{"email": "boss@" + f.Subdomain + ".example.com", "password": f.Subdomain + "-admin-pw"}})
		first.must(200, login, "login to "+f.Subdomain)
		f.Session = login.Body["token"].(string)
		first.must(200, first.do(f, call{method: "GET", path: "/api/customers"}), "customers of "+f.Subdomain+" on the first appserver")
	}
	// A second appserver: its resolver is answered by Redis, its database
	// URLs by the control plane.
	second := newApp()
	for _, f := range fixtures {
		second.must(200, second.do(f, call{method: "GET", path: "/api/customers"}), "customers of "+f.Subdomain+" on the second appserver")
	}

	rdb := testenv.Redis(t)
	iter := rdb.Scan(ctx, 0, keyPrefix+"*", 1000).Iterator()
	n := 0
	for iter.Next(ctx) {
		v, err := rdb.Get(ctx, iter.Val()).Result()
		if err != nil {
			continue
		}
		n++
		for _, s := range secrets {
			if strings.Contains(v, s) {
				t.Errorf("Redis %s holds a database password: %q", iter.Val(), v)
			}
		}
		if credentialsInURL.MatchString(v) {
			t.Errorf("Redis %s holds a URL with credentials: %q", iter.Val(), v)
		}
	}
	if n < len(fixtures) {
		t.Errorf("scanned %d keys under %s, want the tenants' entries", n, keyPrefix)
	}
}
