package appserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// cutProxy forwards TCP to target until cut, which closes the listener and
// every connection.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestTenantsKeepServingWithControlPlaneDown: the database URL comes from
// the control plane now that Redis holds no secret, yet a tenant whose URL
// is known keeps being served when the control plane goes down, even when
// its pool has to be opened again.
func TestTenantsKeepServingWithControlPlaneDown(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	controlURL := testenv.NewDatabase(t)
	u, err := url.Parse(controlURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	store, err := tenantstore.Open(ctx, u.String())
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
	keys := []tenanttoken.Key{{ID: "k1", Secret: randomBytes(32)}}
	signer, _ := tenanttoken.NewSigner(keys)
	verifier, _ := tenanttoken.NewVerifier(keys)
	srv, err := New(Config{Verifier: verifier, Tenants: res, Locations: store, DSN: controlPlaneDSN(t, store, dsn.URL),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e := &env{t: t, signer: signer, srv: srv, handler: srv.AppHandler()}

	tn, _, err := mgr.Create(ctx, tenantstore.CreateRequest{Name: "Acme", Subdomain: "acme", AdminEmail: "boss@acme.example.com", AdminPassword: "acme-admin-pw"})
	if err != nil {
		t.Fatal(err)
	}
	acme := &tenantFixture{Tenant: tn, Host: "acme.localhost"}
	login := e.must(200, e.do(acme, call{method: "POST", path: "/api/auth/login", noSession: true,
		body: map[string]string{"email": "boss@acme.example.com", "password": "acme-admin-pw"}}), "login")
	acme.Session = login.Body["token"].(string)
	e.must(200, e.do(acme, call{method: "GET", path: "/api/customers"}), "customers with the control plane up")

	proxy.cut()
	e.must(200, e.do(acme, call{method: "GET", path: "/api/customers"}), "customers with the control plane down, pool open")
	srv.Pools().Invalidate(acme.ID) // as the idle janitor would
	e.must(200, e.do(acme, call{method: "GET", path: "/api/customers"}), "customers with the control plane down, pool reopened")
}
