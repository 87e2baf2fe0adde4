package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// The tests in this file's package that run the real binaries: appBin is
// this command built fresh by TestMain (never a stale bin/appserver);
// caddyBin is bin/caddy, built when missing.
var (
	repoRoot = func() string {
		wd, err := os.Getwd()
		if err != nil {
			panic(err)
		}
		return filepath.Clean(filepath.Join(wd, "..", ".."))
	}()
	appBin   string
	caddyBin = filepath.Join(repoRoot, "bin", "caddy")
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(func() int {
		if testing.Short() {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "tg-appserver-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		appBin = filepath.Join(dir, "appserver")
		if err := testenv.GoBuild(repoRoot, appBin, "./cmd/appserver"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}())
}

// world is a control plane with one provisioned tenant, "acme", whose admin
// is adminEmail / adminPassword, and the environment every appserver of the
// test shares (one REDIS_KEY_PREFIX, one signing key).
type world struct {
	t         *testing.T
	env       []string
	tenant    *tenantstore.Tenant
	tenantURL string // the tenant database, as the superuser (for seeding)
	signer    *tenanttoken.Signer
	signing   string
}

const (
	adminEmail    = "boss@acme.example.com"
	adminPassword = "the-right-password"
)

func newWorld(t *testing.T) *world {
	t.Helper()
	testenv.Integration(t)
	ctx := context.Background()
	controlDB := testenv.NewDatabase(t)
	prefix := testenv.TenantPrefix(t)
	store, err := tenantstore.Open(ctx, controlDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	tmpl, err := tenantstore.DefaultTemplate(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := tenantstore.NewManager(tenantstore.ManagerConfig{Store: store,
		DSN:            tenantstore.DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }},
		DatabasePrefix: prefix, BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Close)
	ten, _, err := mgr.Create(ctx, tenantstore.CreateRequest{Name: "Acme", Subdomain: "acme",
		AdminEmail: adminEmail, AdminPassword: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	keys := []tenanttoken.Key{{ID: "bin1", Secret: secret}}
	signer, err := tenanttoken.NewSigner(keys)
	if err != nil {
		t.Fatal(err)
	}
	adminToken := make([]byte, 32)
	_, _ = rand.Read(adminToken)
	w := &world{t: t, tenant: ten, signer: signer, signing: tenanttoken.FormatKeys(keys),
		tenantURL: testenv.WithDatabase(testenv.PostgresURL(), ten.DatabaseName)}
	w.env = []string{
		"DATABASE_URL=" + controlDB,
		"REDIS_URL=" + testenv.RedisURL(),
		"REDIS_KEY_PREFIX=" + testenv.KeyPrefix(t),
		"BASE_DOMAIN=localhost",
		"TENANT_SIGNING_KEYS=" + w.signing,
		"TENANT_DB_PREFIX=" + prefix,
		"ADMIN_TOKENS=" + base64.RawURLEncoding.EncodeToString(adminToken),
	}
	return w
}

// app is a running bin/appserver.
type app struct {
	addr, adminAddr string // host:port of the tenant and admin listeners
	pid             int
	proc            *testenv.Process
}

// startApp runs the appserver with the world's environment plus extra, and
// waits for its admin listener.
func (w *world) startApp(extra ...string) *app {
	t := w.t
	t.Helper()
	ports := testenv.FreePorts(t, 2)
	a := &app{addr: fmt.Sprintf("127.0.0.1:%d", ports[0]), adminAddr: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	cmd := exec.Command(appBin)
	cmd.Env = append(append(append(os.Environ(), w.env...), "APP_ADDR="+a.addr, "ADMIN_ADDR="+a.adminAddr), extra...)
	a.proc = testenv.Start(t, "appserver "+a.addr, cmd)
	a.pid = a.proc.Pid()
	a.proc.WaitUntil(t, "the appserver", 30*time.Second, func() bool { return testenv.HTTPOK(nil, "http://"+a.adminAddr+"/healthz") })
	return a
}

// reply is one answer of a tenant request.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) errorCode() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// do sends a tenant request straight to a (as the edge would: Host
// acme.localhost and a freshly signed X-Tenant-Token). header adds to it.
func (w *world) do(a *app, method, path string, body any, header http.Header) reply {
	w.t.Helper()
	var rd io.Reader
	if s, ok := body.(string); ok {
		rd = strings.NewReader(s)
	} else if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+a.addr+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	host := w.tenant.Subdomain + ".localhost"
	req.Host = host
	tok, err := w.signer.Sign(w.tenant.ID, w.tenant.Subdomain, host, time.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set(tenanttoken.Header, tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return send(w.t, req)
}

func send(t *testing.T, req *http.Request) reply {
	t.Helper()
	res, err := (&http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

// login posts e-mail and password to a.
func (w *world) login(a *app, email, password string) reply {
	w.t.Helper()
	return w.do(a, http.MethodPost, "/api/auth/login", map[string]string{"email": email, "password": password}, nil)
}

// session logs in as the tenant's admin and returns the bearer header.
func (w *world) session(a *app) http.Header {
	w.t.Helper()
	r := w.login(a, adminEmail, adminPassword)
	if r.status != http.StatusOK {
		w.t.Fatalf("login as the admin = %d %s, want 200", r.status, r.body)
	}
	var out struct{ Token string }
	if err := json.Unmarshal(r.body, &out); err != nil || out.Token == "" {
		w.t.Fatalf("login answer %s has no token", r.body)
	}
	return http.Header{"Authorization": {"Bearer " + out.Token}}
}

// procKB reads a "Name:   123 kB" field of /proc/<pid>/status.
func procKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("/proc/%d/status %s: %v", pid, field, err)
			}
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
