package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// appStack is the real appserver behind the real edge, as `make run` runs
// them, over a private control plane.
type appStack struct {
	edge       *edge
	adminToken string
}

// startAppStack creates the control plane, lets setup fill it (a store on
// dbURL), then starts bin/appserver and bin/caddy in front of it.
func startAppStack(t *testing.T, setup func(dbURL string)) *appStack {
	t.Helper()
	testenv.Integration(t)
	bin := appserverBinary(t)
	env, adminToken := newStackEnv(t)
	s := &appStack{adminToken: adminToken}
	if setup != nil {
		setup(env["DATABASE_URL"])
	}
	appAddr, adminAddr := startAppserver(t, bin, env)
	edgeEnv := map[string]string{"ADMIN_UPSTREAMS": adminAddr}
	for k, v := range env {
		edgeEnv[k] = v
	}
	s.edge = startEdge(t, appAddr, edgeEnv)
	return s
}

// newStackEnv returns the environment the appserver and the edges of one
// test share (a private control plane, Redis prefix, tenant database prefix,
// signing keys) and the admin token in it.
func newStackEnv(t *testing.T) (env map[string]string, adminToken string) {
	t.Helper()
	keyString, _ := newKeys(t)
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	adminToken = "tga_" + hex.EncodeToString(tok)
	return map[string]string{
		"DATABASE_URL":        withDatabase(t),
		"REDIS_URL":           testenv.RedisURL(),
		"REDIS_KEY_PREFIX":    testenv.KeyPrefix(t),
		"TENANT_DB_PREFIX":    testenv.TenantPrefix(t),
		"TENANT_SIGNING_KEYS": keyString,
		"ADMIN_TOKENS":        adminToken,
		"BASE_DOMAIN":         "localhost",
	}, adminToken
}

// startAppserver runs bin with env on two free ports and waits for its
// admin listener; it returns the tenant and admin listeners' addresses.
func startAppserver(t *testing.T, bin string, env map[string]string) (appAddr, adminAddr string) {
	t.Helper()
	ports := testenv.FreePorts(t, 2)
	appAddr, adminAddr = fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "APP_ADDR="+appAddr, "ADMIN_ADDR="+adminAddr)
	testenv.Start(t, "appserver", cmd).WaitUntil(t, "appserver", 60*time.Second, func() bool {
		return testenv.HTTPOK(nil, "http://"+adminAddr+"/healthz")
	})
	return appAddr, adminAddr
}

// TestAdminSiteMetricsNeedToken puts the real appserver behind the real
// edge and asks the public admin host for /metrics: without the admin token
// it must not answer them.
func TestAdminSiteMetricsNeedToken(t *testing.T) {
	s := startAppStack(t, nil)
	e, adminToken := s.edge, s.adminToken

	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"wrong token", http.Header{"Authorization": {"Bearer tga_" + strings.Repeat("0", 48)}}, http.StatusUnauthorized},
		{"admin token", http.Header{"Authorization": {"Bearer " + adminToken}}, http.StatusOK},
	}
	for _, tc := range tests {
		resp, body := e.get(t, "admin.localhost", "/metrics", tc.header)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: GET http://admin.localhost/metrics through the edge = %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if shown := strings.Contains(string(body), "go_goroutines"); shown != (tc.want == http.StatusOK) {
			t.Errorf("%s: metrics in the answer = %v, want %v", tc.name, shown, tc.want == http.StatusOK)
		}
	}
}

// TestProductionCaddyAdminIsPrivate adapts Caddyfile.production with the
// real bin/caddy and checks that Caddy's own admin endpoint (which can load
// any config, one that echoes the signing keys included) is off or a unix
// socket only its owner may use (mode 0600), never a TCP port any local
// user can reach. It then starts bin/caddy with that admin setting (the
// socket moved into a temporary directory) and checks the socket's mode.
func TestProductionCaddyAdminIsPrivate(t *testing.T) {
	testenv.Integration(t)
	// adaptProduction leaves out the `tls { dns <provider> … }` blocks
	// (bin/caddy has no DNS provider module); they configure certificates,
	// not the admin endpoint.
	out := adaptProduction(t)
	var cfg struct {
		Admin *struct {
			Disabled bool   `json:"disabled"`
			Listen   string `json:"listen"`
		} `json:"admin"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("adapted JSON: %v\n%s", err, out)
	}
	if cfg.Admin != nil && cfg.Admin.Disabled {
		return
	}
	listen := ""
	if cfg.Admin != nil {
		listen = cfg.Admin.Listen
	}
	path, mode, ok := strings.Cut(strings.TrimPrefix(listen, "unix/"), "|")
	if !strings.HasPrefix(listen, "unix/") || !ok || mode != "0600" || !filepath.IsAbs(path) {
		t.Fatalf("Caddyfile.production admin listen = %q (default localhost:2019 when empty), want a unix socket with mode 0600 (unix//path|0600) or admin off", listen)
	}

	// The same setting on a running caddy: the socket exists with mode 0600.
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	conf := fmt.Sprintf(`{"admin": {"listen": "unix/%s|%s"}}`, sock, mode)
	if err := os.WriteFile(filepath.Join(dir, "caddy.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	run := exec.Command(caddyBin, "run", "--config", filepath.Join(dir, "caddy.json"))
	run.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	logs := new(testenv.Output)
	run.Stdout, run.Stderr = logs, logs
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	t.Cleanup(func() {
		_ = run.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = run.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
			if perm := st.Mode().Perm(); perm != 0o600 {
				t.Errorf("caddy admin socket mode = %04o, want 0600", perm)
			}
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("bin/caddy exited: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no admin socket at %s after 30 s\n%s", sock, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEdgeTokensPassTheAppserverClaimsCheck sends requests through the real
// edge to the real appserver (real resolver, control plane and Redis): the
// tokens the edge signs, for a tenant's subdomain and for its verified
// custom domain, must satisfy the appserver's check that the token's tenant
// and host agree with the tenant it serves. The answer is then the
// session's 401 unauthenticated, not the token's invalid_tenant_token.
func TestEdgeTokensPassTheAppserverClaimsCheck(t *testing.T) {
	s := startAppStack(t, func(dbURL string) {
		ctx := context.Background()
		store, err := tenantstore.Open(ctx, dbURL)
		if err != nil {
			t.Fatalf("tenantstore.Open: %v", err)
		}
		defer store.Close()
		tn := &tenantstore.Tenant{Name: "Acme", Subdomain: "acme", AdminEmail: "boss@acme.test", Status: tenantstore.StatusActive, MaxUsers: 5, DatabaseName: "x_acme"}
		if err := store.Insert(ctx, tn); err != nil {
			t.Fatalf("inserting acme: %v", err)
		}
		acme, err := store.GetBySubdomain(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.AddDomain(ctx, acme.ID, "shop.acme.test"); err != nil {
			t.Fatalf("AddDomain: %v", err)
		}
		if _, err := store.MarkDomainVerified(ctx, acme.ID, "shop.acme.test"); err != nil {
			t.Fatalf("MarkDomainVerified: %v", err)
		}
	})
	for _, host := range []string{"acme.localhost", "shop.acme.test"} {
		resp, body := s.edge.get(t, host, "/api/me", http.Header{"Accept": {"application/json"}})
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode != http.StatusUnauthorized || e.Error.Code != "unauthenticated" {
			t.Errorf("GET http://%s/api/me without a session = %d %s, want 401 unauthenticated (the edge's token accepted)", host, resp.StatusCode, body)
		}
	}
}
