package appserver

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/appserver/admin"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// controlStack is an appserver over a real control plane: the Manager, the
// resolver (the Store's Notifier), the admin room and the tenant room, as
// cmd/appserver wires them.
type controlStack struct {
	t          *testing.T
	controlURL string
	store      *tenantstore.Store
	mgr        *tenantstore.Manager
	dsn        tenantstore.DSNConfig
	prefix     string // TENANT_DB_PREFIX
	keyPrefix  string // the resolver's Redis prefix
	adminToken string
	app        *env // the tenant listener, requests signed for a tenant
	admin      http.Handler
}

// newControlStack builds a controlStack; adjust, when set, changes the
// admin room's and the appserver's configuration before they are built.
func newControlStack(t *testing.T, adjust func(*admin.Config, *Config)) *controlStack {
	t.Helper()
	testenv.Integration(t)
	ctx := context.Background()
	s := &controlStack{t: t, controlURL: testenv.NewDatabase(t), prefix: testenv.TenantPrefix(t), keyPrefix: testenv.KeyPrefix(t),
		adminToken: "tga_" + hex.EncodeToString(randomBytes(24))}
	var err error
	if s.store, err = tenantstore.Open(ctx, s.controlURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.store.Close)
	tmpl, err := tenantstore.DefaultTemplate(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	s.dsn = tenantstore.DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }}
	s.mgr, err = tenantstore.NewManager(tenantstore.ManagerConfig{Store: s.store, DSN: s.dsn, DatabasePrefix: s.prefix,
		BaseDomain: "localhost", BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.mgr.Close)
	res, err := resolver.New(resolver.Config{BaseDomain: "localhost", KeyPrefix: s.keyPrefix, MACKeys: testenv.EntryKeys()}, s.store, testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Close() })
	s.store.SetNotifier(res)
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	res.Start(runCtx)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	acfg := admin.Config{Manager: s.mgr, Tokens: []string{s.adminToken}, Logger: logger}
	keys := []tenanttoken.Key{{ID: "k1", Secret: randomBytes(32)}}
	signer, _ := tenanttoken.NewSigner(keys)
	verifier, _ := tenanttoken.NewVerifier(keys)
	cfg := Config{Verifier: verifier, Tenants: res, Locations: s.store, DSN: controlPlaneDSN(t, s.store, s.dsn.URL),
		Logger: logger, BcryptCost: bcrypt.MinCost}
	if adjust != nil {
		adjust(&acfg, &cfg)
	}
	adm, err := admin.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	cfg.Admin = adm
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	res.OnChange(srv.TenantChanged)
	s.app = &env{t: t, signer: signer, srv: srv, handler: srv.AppHandler()}
	s.admin = srv.AdminHandler()
	return s
}

// api calls the admin API with the stack's admin token.
func (s *controlStack) api(method, path string, body any) response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	rec := httptest.NewRecorder()
	s.admin.ServeHTTP(rec, req)
	res := response{Status: rec.Code, Raw: rec.Body.Bytes(), Header: rec.Header()}
	_ = json.Unmarshal(res.Raw, &res.Body)
	return res
}
