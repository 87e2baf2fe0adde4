package e2e

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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

var (
	repoRoot string // the module root
	caddyBin string // bin/caddy, built when missing
	appBin   string // appserver built fresh for this run
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(func() int {
		if testing.Short() {
			return m.Run() // the browser test skips itself
		}
		root, err := filepath.Abs("..")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		repoRoot = root
		if err := ensureChromium(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		tmp, err := os.MkdirTemp("", "tg-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		caddyBin = filepath.Join(root, "bin", "caddy")
		if _, err := os.Stat(caddyBin); err != nil {
			if err := testenv.GoBuild(repoRoot, caddyBin, "./cmd/caddy"); err != nil {
				fmt.Fprintln(os.Stderr, "e2e:", err)
				return 1
			}
		}
		// The appserver is small: always build it, so the test never runs
		// a stale bin/appserver.
		appBin = filepath.Join(tmp, "appserver")
		if err := testenv.GoBuild(repoRoot, appBin, "./cmd/appserver"); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		return m.Run()
	}())
}

// chromiumPath is Debian's headless-capable Chromium.
const chromiumPath = "/usr/bin/chromium"

// ensureChromium installs Debian's chromium package when it is missing,
// which needs root; otherwise it says what to do.
func ensureChromium() error {
	if _, err := os.Stat(chromiumPath); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s is missing and this test is not root, so it cannot install it: run `sudo apt-get install -y chromium` and retry", chromiumPath)
	}
	fmt.Fprintln(os.Stderr, "e2e: installing chromium with apt-get (once)")
	install := func() error {
		cmd := exec.Command("apt-get", "install", "-y", "--no-install-recommends", "chromium")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	if err := install(); err != nil {
		update := exec.Command("apt-get", "update")
		update.Stdout, update.Stderr = os.Stderr, os.Stderr
		if err := update.Run(); err != nil {
			return fmt.Errorf("apt-get update: %w", err)
		}
		if err := install(); err != nil {
			return fmt.Errorf("apt-get install chromium: %w", err)
		}
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		return fmt.Errorf("chromium installed but %s is missing: %w", chromiumPath, err)
	}
	return nil
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// stack is caddy and two appservers on private ports, over a private
// control-plane database.
type stack struct {
	t          *testing.T
	httpPort   int
	adminToken string
	logDir     string
	controlDB  string       // the control plane's database URL
	client     *http.Client // dials caddy whatever the host name
}

// start launches a process whose output goes to logDir/name.log, and stops
// it (SIGTERM, then SIGKILL) when the test ends.
func (s *stack) start(name, bin string, env []string, args ...string) {
	s.t.Helper()
	logf, err := os.Create(filepath.Join(s.logDir, name+".log"))
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done); logf.Close() }()
	s.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
}

// waitHTTP polls url (through caddy when host is set) until it answers 200.
func (s *stack) waitHTTP(what, url string, host string) {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if host != "" {
			req.Host = host
		}
		res, err := s.client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s not ready after 60 s (last: %v); logs in %s", what, err, s.logDir)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func startStack(t *testing.T, logDir string) *stack {
	t.Helper()
	testenv.Integration(t)
	controlDB := testenv.NewDatabase(t)
	prefix := testenv.TenantPrefix(t)
	// A private key prefix keeps this stack's cache and invalidation
	// channel apart from other tests' (and is deleted when the test ends).
	keyPrefix := testenv.KeyPrefix(t)

	ports := testenv.FreePorts(t, 7)
	s := &stack{t: t, httpPort: ports[0], adminToken: randomSecret(), logDir: logDir, controlDB: controlDB}
	s.client = &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	signing := "e2e:" + randomSecret()
	common := []string{
		"DATABASE_URL=" + controlDB,
		"REDIS_URL=" + testenv.RedisURL(),
		"REDIS_KEY_PREFIX=" + keyPrefix,
		"BASE_DOMAIN=localhost",
		"TENANT_SIGNING_KEYS=" + signing,
		"TENANT_DB_PREFIX=" + prefix,
		"ADMIN_TOKENS=" + s.adminToken,
	}
	var appUp, adminUp []string
	for i := range 2 {
		app, adm := ports[3+2*i], ports[4+2*i]
		appUp = append(appUp, fmt.Sprintf("127.0.0.1:%d", app))
		adminUp = append(adminUp, fmt.Sprintf("127.0.0.1:%d", adm))
		s.start(fmt.Sprintf("appserver%d", i+1), appBin, append(common,
			fmt.Sprintf("APP_ADDR=127.0.0.1:%d", app), fmt.Sprintf("ADMIN_ADDR=127.0.0.1:%d", adm)))
	}
	for i := range adminUp {
		s.waitHTTP("appserver admin listener", "http://"+adminUp[i]+"/healthz", "")
	}
	xdg := t.TempDir()
	s.start("caddy", caddyBin, append(common,
		fmt.Sprintf("HTTP_PORT=%d", ports[0]),
		fmt.Sprintf("HTTPS_PORT=%d", ports[1]),
		fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", ports[2]),
		"APP_UPSTREAMS="+strings.Join(appUp, " "),
		"ADMIN_UPSTREAMS="+strings.Join(adminUp, " "),
		"XDG_DATA_HOME="+filepath.Join(xdg, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(xdg, "config"),
		"HOME="+xdg,
	), "run", "--config", filepath.Join(repoRoot, "Caddyfile"), "--adapter", "caddyfile")
	s.waitHTTP("caddy (admin site)", s.url("admin", "/healthz"), "")
	return s
}

// url is an address of the stack through caddy over HTTP.
func (s *stack) url(host, path string) string {
	return fmt.Sprintf("http://%s.localhost:%d%s", host, s.httpPort, path)
}

// adminAPI calls the admin API through caddy with the admin token.
func (s *stack) adminAPI(method, path string, body any, want int) map[string]any {
	s.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	return s.adminRaw(method, path, "application/json", raw, want)
}

// adminRaw calls the admin API through caddy with the admin token and a
// body of contentType (an upload).
func (s *stack) adminRaw(method, path, contentType string, body []byte, want int) map[string]any {
	s.t.Helper()
	return s.call("admin", s.adminToken, method, path, contentType, body, want)
}

// call sends body of contentType to host's path through caddy with the
// bearer token, fails the test unless the status is want, and decodes the
// JSON answer.
func (s *stack) call(host, token, method, path, contentType string, body []byte, want int) map[string]any {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.url(host, path), rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", contentType)
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		s.t.Fatalf("%s %s = %d, want %d; body %s", method, path, res.StatusCode, want, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// status is the HTTP status of GET path on host through caddy (0 when the
// request fails).
func (s *stack) status(host, path string) int {
	res, err := s.client.Get(s.url(host, path))
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}
