// Package e2e runs the real bin/caddy with the project's Caddyfile against
// real PostgreSQL and Redis, in front of an upstream that echoes what it
// received, and checks what users and the application servers see.
package e2e

import (
	"context"
	"crypto/rand"
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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
)

// repoRoot is the module root (two levels up from this package).
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}()

// caddyBin is <repo>/bin/caddy, built by TestMain when missing or older
// than the sources it is built from.
var caddyBin = filepath.Join(repoRoot, "bin", "caddy")

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		if err := ensureCaddy(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if appBin != "" {
		os.RemoveAll(filepath.Dir(appBin))
	}
	os.Exit(code)
}

// ensureCaddy builds bin/caddy unless it exists and is newer than every Go
// file of the packages it is built from.
func ensureCaddy() error {
	if st, err := os.Stat(caddyBin); err == nil && !sourcesNewerThan(st.ModTime()) {
		return nil
	}
	cmd := exec.Command("go", "build", "-o", caddyBin, "./cmd/caddy")
	cmd.Dir = repoRoot
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building bin/caddy: %w", err)
	}
	return nil
}

// sourcesNewerThan reports whether bin/caddy's sources changed after t.
func sourcesNewerThan(t time.Time) bool {
	return testenv.SourcesNewerThan(repoRoot, t, "cmd/caddy", "caddymodule", "internal/tenanttoken", "tenantstore", "migrations", "go.mod")
}

// newKeys returns fresh signing keys in TENANT_SIGNING_KEYS form.
func newKeys(t *testing.T) (string, []tenanttoken.Key) {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	keys := []tenanttoken.Key{{ID: "e2e1", Secret: secret}}
	return tenanttoken.FormatKeys(keys), keys
}

// echoed is what the echo upstream saw of one request.
type echoed struct {
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
}

// newEcho starts the test upstream: it answers /healthz and echoes the host
// and headers of every other request as JSON.
func newEcho(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{Host: r.Host, Header: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// edge is a running bin/caddy.
type edge struct {
	httpPort, httpsPort int
	admin               string
	dataDir             string
	env                 []string
	cmd                 *exec.Cmd
	logs                *testenv.Output
	exited              chan error
	stopOnce            sync.Once
}

// stop sends SIGTERM — Caddy's graceful stop: servers drain, apps stop,
// modules clean up — and waits for the exit, killing after 10 s. It is
// idempotent.
func (e *edge) stop() {
	e.stopOnce.Do(func() {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(10 * time.Second):
			_ = e.cmd.Process.Kill()
			<-e.exited
		}
	})
}

// startEdge runs bin/caddy with the project Caddyfile. env adds to (and
// overrides) the settings every test needs.
func startEdge(t *testing.T, upstream string, env map[string]string) *edge {
	t.Helper()
	dir := t.TempDir()
	ports := testenv.FreePorts(t, 3)
	e := &edge{httpPort: ports[0], httpsPort: ports[1], dataDir: filepath.Join(dir, "data"), logs: new(testenv.Output)}
	e.admin = fmt.Sprintf("127.0.0.1:%d", ports[2])
	base := map[string]string{
		"HTTP_PORT":       fmt.Sprint(e.httpPort),
		"HTTPS_PORT":      fmt.Sprint(e.httpsPort),
		"CADDY_ADMIN":     e.admin,
		"BASE_DOMAIN":     "localhost",
		"APP_UPSTREAMS":   upstream,
		"ADMIN_UPSTREAMS": upstream,
		"ACCESS_LOG":      "stdout",
		"XDG_DATA_HOME":   e.dataDir,
		"XDG_CONFIG_HOME": filepath.Join(dir, "config"),
		"HOME":            dir,
	}
	for k, v := range env {
		base[k] = v
	}
	e.env = os.Environ()
	for k, v := range base {
		e.env = append(e.env, k+"="+v)
	}
	e.cmd = exec.Command(caddyBin, "run", "--config", filepath.Join(repoRoot, "Caddyfile"), "--adapter", "caddyfile")
	e.cmd.Env = e.env
	e.cmd.Stdout, e.cmd.Stderr = e.logs, e.logs
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("starting bin/caddy: %v", err)
	}
	exited := make(chan error, 1)
	e.exited = exited
	go func() { exited <- e.cmd.Wait() }()
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("caddy output:\n%s", e.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("bin/caddy exited during start-up: %v\n%s", err, e.logs.String())
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.httpPort), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("bin/caddy did not listen on :%d within 30 s\n%s", e.httpPort, e.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// get sends GET http://<edge>/path with the given Host and headers.
func (e *edge) get(t *testing.T, host, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	return e.do(t, http.MethodGet, host, path, "", header)
}

// do sends method http://<edge>/path with the given Host, body and headers.
func (e *edge) do(t *testing.T, method, host, path, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", e.httpPort, path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp, answer
}

// rawStatus sends a hand-written HTTP/1.1 request (for Host values Go's
// client refuses to send) and returns the status code of the answer.
func (e *edge) rawStatus(t *testing.T, host string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.httpPort), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host); err != nil {
		t.Fatal(err)
	}
	line, err := readLine(c)
	if err != nil {
		t.Fatalf("reading the answer for Host %q: %v", host, err)
	}
	var proto string
	var code int
	if _, err := fmt.Sscanf(line, "%s %d", &proto, &code); err != nil {
		t.Fatalf("status line %q for Host %q: %v", line, host, err)
	}
	return code
}

func readLine(r io.Reader) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := r.Read(one); err != nil {
			return string(b), err
		}
		if one[0] == '\n' {
			return strings.TrimRight(string(b), "\r"), nil
		}
		b = append(b, one[0])
	}
}

// withDatabase is testenv's control-plane database URL for the edge.
func withDatabase(t *testing.T) string {
	t.Helper()
	return testenv.NewDatabase(t)
}

var (
	appOnce sync.Once
	appBin  string
	appErr  error
)

// appserverBinary builds cmd/appserver into a temporary directory once per
// run (always fresh: it is small), for the tests that put the real
// appserver behind the edge.
func appserverBinary(t *testing.T) string {
	t.Helper()
	appOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tg-edge-e2e-bin-")
		if err != nil {
			appErr = err
			return
		}
		appBin = filepath.Join(dir, "appserver")
		cmd := exec.Command("go", "build", "-o", appBin, "./cmd/appserver")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			appErr = fmt.Errorf("building cmd/appserver: %w\n%s", err, out)
		}
	})
	if appErr != nil {
		t.Fatal(appErr)
	}
	return appBin
}
