// Package e2e runs several real bin/caddy edges sharing caddy.storage.postgres
// in front of one pool of real appservers, against a real ACME CA (Pebble,
// built from the module cache and run as a process) and against Caddy's
// internal CA.
package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", "..", ".."))
}()

var (
	caddyBin  = filepath.Join(repoRoot, "bin", "caddy")
	binDir    string // temporary: pebble, appserver
	pebbleBin string
	appBin    string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		if err := build(); err != nil {
			fmt.Fprintln(os.Stderr, "pgstorage e2e:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// build makes bin/caddy when it is missing or older than its sources, and
// Pebble (a tool dependency in go.mod) into a temporary directory.
func build() error {
	if st, err := os.Stat(caddyBin); err != nil || sourcesNewerThan(st.ModTime()) {
		cmd := exec.Command("go", "build", "-o", caddyBin, "./cmd/caddy")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building bin/caddy: %w\n%s", err, out)
		}
	}
	var err error
	if binDir, err = os.MkdirTemp("", "tg-pgstorage-e2e-"); err != nil {
		return err
	}
	pebbleBin, appBin = filepath.Join(binDir, "pebble"), filepath.Join(binDir, "appserver")
	for bin, pkg := range map[string]string{pebbleBin: "github.com/letsencrypt/pebble/v2/cmd/pebble", appBin: "./cmd/appserver"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %w\n%s", pkg, err, out)
		}
	}
	return nil
}

// sourcesNewerThan reports whether bin/caddy's sources changed after t.
func sourcesNewerThan(t time.Time) bool {
	return testenv.SourcesNewerThan(repoRoot, t, "cmd/caddy", "caddymodule", "internal", "tenantstore", "migrations", "go.mod")
}

// edgeCaddyfile is the fleet's configuration: every value from the
// environment, so that all edges share one file; the first %s is the
// global ACME options, the second the issuer ("" for ACME, or "internal").
const edgeCaddyfile = `{
	admin 127.0.0.1:{$ADMIN_PORT}
	http_port {$HTTP_PORT}
	https_port {$HTTPS_PORT}
	skip_install_trust
	storage postgres {
		database_url {env.DATABASE_URL}
		encryption_key {env.CERT_STORAGE_KEY}
	}
%s
	on_demand_tls {
		permission http {$ASK_URL}
	}
}

https:// {
	tls %s {
		on_demand
	}
	reverse_proxy {$UPSTREAM}
}
`

// fleet is what the edges of one test share.
type fleet struct {
	t         testing.TB
	dir       string
	env       map[string]string
	caddyfile string
}

func newFleet(t testing.TB, acme, issuer string, env map[string]string) *fleet {
	t.Helper()
	dir := t.TempDir()
	f := &fleet{t: t, dir: dir, env: env, caddyfile: filepath.Join(dir, "Caddyfile")}
	if err := os.WriteFile(f.caddyfile, []byte(fmt.Sprintf(edgeCaddyfile, acme, issuer)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The permission endpoint: every name the tests ask for is allowed.
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Query().Get("domain"), ".tenants.example.com") {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	t.Cleanup(ask.Close)
	env["ASK_URL"] = ask.URL
	env["DATABASE_URL"] = testenv.NewDatabase(t)
	// One application pool behind every edge: two real appservers.
	env["UPSTREAM"] = startAppservers(t, env["DATABASE_URL"], 2)
	if _, set := env["CERT_STORAGE_KEY"]; !set {
		env["CERT_STORAGE_KEY"] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	}
	return f
}

// edge is one running bin/caddy of a fleet.
type edge struct {
	name                 string
	httpsPort, adminPort int
	cmd                  *exec.Cmd
	logs                 *testenv.Output
	exited               chan struct{}
}

func (f *fleet) start(name string) *edge {
	t := f.t
	t.Helper()
	dir := filepath.Join(f.dir, name)
	ports := testenv.FreePorts(t, 3)
	e := &edge{name: name, httpsPort: ports[1], adminPort: ports[2], logs: new(testenv.Output), exited: make(chan struct{})}
	env := os.Environ()
	for k, v := range f.env {
		env = append(env, k+"="+v)
	}
	env = append(env,
		"HTTP_PORT="+strconv.Itoa(ports[0]), "HTTPS_PORT="+strconv.Itoa(ports[1]), "ADMIN_PORT="+strconv.Itoa(ports[2]),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "HOME="+dir)
	e.cmd = exec.Command(caddyBin, "run", "--config", f.caddyfile, "--adapter", "caddyfile")
	e.cmd.Env = env
	e.cmd.Stdout, e.cmd.Stderr = e.logs, e.logs
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { _ = e.cmd.Wait(); close(e.exited) }()
	t.Cleanup(func() {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(10 * time.Second):
			_ = e.cmd.Process.Kill()
			<-e.exited
		}
		if t.Failed() {
			t.Logf("%s output (last 6000 bytes):\n%s", name, tail(e.logs.String(), 6000))
		}
	})
	return e
}

// waitReady waits until the edge's HTTPS listener accepts connections.
func (e *edge) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-e.exited:
			t.Fatalf("%s exited during start-up:\n%s", e.name, e.logs.String())
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.httpsPort), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen within 60 s:\n%s", e.name, e.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// handshake connects to the edge with SNI host and returns the chain it
// presents.
func (e *edge) handshake(ctx context.Context, host string) ([]*x509.Certificate, error) {
	d := tls.Dialer{Config: &tls.Config{ServerName: host, InsecureSkipVerify: true}}
	c, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", e.httpsPort))
	if err != nil {
		return nil, fmt.Errorf("%s: handshake for %s: %w", e.name, host, err)
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates, nil
}

// storageOps returns the edge's caddy.storage.postgres operation counters
// (expvar, from the admin endpoint).
func (e *edge) storageOps(t *testing.T) map[string]int64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/vars", e.adminPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var vars struct {
		Ops map[string]int64 `json:"tenantgate_cert_storage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		t.Fatal(err)
	}
	return vars.Ops
}

func (e *edge) adminGet(t *testing.T, path string) []byte {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", e.adminPort, path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s GET %s: %d %s", e.name, path, resp.StatusCode, b)
	}
	return b
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// httpsGet sends GET https://name/path through the edge on a new connection
// and returns the status.
func httpsGet(t *testing.T, e *edge, name, path string) int {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: name, InsecureSkipVerify: true},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", e.httpsPort))
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	resp, err := c.Get("https://" + name + path)
	if err != nil {
		t.Fatalf("%s GET https://%s%s: %v", e.name, name, path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// startAppservers starts n bin/appserver processes on the fleet's control
// plane and returns their addresses, space-separated, for reverse_proxy.
func startAppservers(t testing.TB, dbURL string, n int) string {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	env := append(os.Environ(),
		"DATABASE_URL="+dbURL, "REDIS_URL="+testenv.RedisURL(), "REDIS_KEY_PREFIX="+testenv.KeyPrefix(t),
		"TENANT_DB_PREFIX="+testenv.TenantPrefix(t), "TENANT_SIGNING_KEYS=e2e1:"+base64.StdEncoding.EncodeToString(secret),
		"ADMIN_TOKENS=tga_"+hex.EncodeToString(tok), "BASE_DOMAIN=tenants.example.com")
	var addrs []string
	for i := range n {
		ports := testenv.FreePorts(t, 2)
		app := fmt.Sprintf("127.0.0.1:%d", ports[0])
		cmd := exec.Command(appBin)
		cmd.Env = append(slices.Clone(env), "APP_ADDR="+app, fmt.Sprintf("ADMIN_ADDR=127.0.0.1:%d", ports[1]))
		out := new(testenv.Output)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			if t.Failed() {
				t.Logf("appserver %d output:\n%s", i+1, tail(out.String(), 3000))
			}
		})
		deadline := time.Now().Add(60 * time.Second)
		for {
			select {
			case <-exited:
				t.Fatalf("appserver %d exited during start-up:\n%s", i+1, out)
			default:
			}
			if res, err := http.Get("http://" + app + "/healthz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("appserver %d not healthy within 60 s:\n%s", i+1, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
		addrs = append(addrs, app)
	}
	return strings.Join(addrs, " ")
}
