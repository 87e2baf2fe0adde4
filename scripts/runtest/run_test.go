package runtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// stack is one `make run` started by the test.
type stack struct {
	cmd    *exec.Cmd
	out    *testenv.Output
	done   chan struct{} // closed when cmd has exited
	runDir string
	ports  ports
}

type ports struct {
	HTTP, HTTPS, CaddyAdmin int
	App, Admin              [2]int
}

func (p ports) all() []int {
	return []int{p.HTTP, p.HTTPS, p.CaddyAdmin, p.App[0], p.App[1], p.Admin[0], p.Admin[1]}
}

// TestMakeRun starts the stack exactly as the README tells a newcomer to,
// on ports of its own, checks that the demo tenants answer through caddy
// over HTTP and HTTPS with their sample data, then stops it with SIGINT (as
// Ctrl-C does) and checks that nothing it started is left.
func TestMakeRun(t *testing.T) {
	testenv.Integration(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is not installed: %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}

	controlURL := testenv.NewDatabase(t)
	prefix := testenv.TenantPrefix(t)
	// A key prefix of its own, as a deployment that moved it has: the
	// operator's second shell must publish under it too (issue 13 item 8).
	keyPrefix := testenv.KeyPrefix(t)
	redisURL := redisURLWithDB(t, keyPrefix)
	tmp := t.TempDir()
	password := "demo-" + testenv.UniqueName("")

	p := freePorts(t)
	env := map[string]string{
		"DATABASE_URL":        controlURL,
		"REDIS_URL":           redisURL,
		"TENANT_DB_PREFIX":    prefix,
		"HTTP_PORT":           strconv.Itoa(p.HTTP),
		"HTTPS_PORT":          strconv.Itoa(p.HTTPS),
		"CADDY_ADMIN":         "127.0.0.1:" + strconv.Itoa(p.CaddyAdmin),
		"APP_PORTS":           fmt.Sprintf("%d %d", p.App[0], p.App[1]),
		"ADMIN_PORTS":         fmt.Sprintf("%d %d", p.Admin[0], p.Admin[1]),
		"TG_RUN_DIR":          filepath.Join(tmp, "run"),
		"XDG_DATA_HOME":       filepath.Join(tmp, "data"),
		"XDG_CONFIG_HOME":     filepath.Join(tmp, "config"),
		"GOENV":               goEnv(t, "GOENV"), // XDG_CONFIG_HOME moved; keep the user's go env file
		"DEMO_PASSWORD":       password,
		"ADMIN_TOKENS":        "test-admin-" + base64.RawURLEncoding.EncodeToString(randomBytes(t, 24)), // ≥ 32 characters
		"TENANT_SIGNING_KEYS": "t1:" + base64.StdEncoding.EncodeToString(randomBytes(t, 32)),
		"APP_UPSTREAMS":       "",
		"ADMIN_UPSTREAMS":     "",
		"BASE_DOMAIN":         "localhost",
		"REDIS_KEY_PREFIX":    keyPrefix,
		// Not the outer make's jobserver: make run is a make of its own.
		"MAKEFLAGS": "",
		"MFLAGS":    "",
		"MAKELEVEL": "",
	}

	var counts map[string]int
	for round := 1; round <= 2; round++ {
		t.Run(fmt.Sprintf("run %d", round), func(t *testing.T) {
			s := startStack(t, root, env, p)
			s.waitReady(t, 6*time.Minute)
			// Processes in make run's process group before the stop: caddy,
			// the appservers, and the shells around them.
			started := groupMembers(s.cmd.Process.Pid)
			if len(started) < 4 {
				t.Errorf("process group of make run has %d processes, want at least 4 (make, run.sh, 2 appservers, caddy)", len(started))
			}

			got := checkStack(t, p, filepath.Join(tmp, "data"), password)
			if round == 1 {
				t.Run("suspend from a second shell reaches the edge within 1 s", func(t *testing.T) {
					secondShell(t, root, s.runDir, keyPrefix, p)
				})
			}
			if counts == nil {
				counts = got
			} else {
				for k, n := range got {
					if n != counts[k] {
						t.Errorf("second make run: %s has %d items, want %d as after the first (demo data must be reused, not added again)", k, n, counts[k])
					}
				}
			}

			s.interrupt(t)
			for _, pid := range started {
				if alive(pid) {
					t.Errorf("process %d (%s) is still running after make run was interrupted", pid, comm(pid))
				}
			}
			if left := groupMembers(s.cmd.Process.Pid); len(left) > 0 {
				t.Errorf("processes left in make run's process group: %v", left)
			}
			for _, port := range p.all() {
				if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
					c.Close()
					t.Errorf("port %d still answers after make run was interrupted", port)
				}
			}
		})
		if t.Failed() {
			return
		}
	}
}

// checkStack checks the demo tenants through caddy over HTTP and HTTPS and
// returns the number of demo records per tenant and list, to compare runs.
func checkStack(t *testing.T, p ports, dataHome, password string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	caPool := caddyRoot(t, dataHome)
	for _, sub := range []string{"acme", "globex"} {
		host := sub + ".localhost"
		for _, scheme := range []string{"http", "https"} {
			t.Run(scheme+"/"+sub, func(t *testing.T) {
				c := newClient(scheme, host, p, caPool)
				token := c.login(t, "admin@"+sub+".example", password)

				var me struct {
					Tenant struct {
						Subdomain string `json:"subdomain"`
					} `json:"tenant"`
				}
				c.getJSON(t, "/api/me", token, &me)
				if me.Tenant.Subdomain != sub {
					t.Errorf("GET %s://%s/api/me tenant.subdomain = %q, want %q", scheme, host, me.Tenant.Subdomain, sub)
				}
				for _, path := range []string{"/api/customers", "/api/products", "/api/invoices"} {
					var list struct {
						Items []json.RawMessage `json:"items"`
					}
					c.getJSON(t, path+"?limit=500", token, &list)
					if len(list.Items) == 0 {
						t.Errorf("GET %s://%s%s = no items, want the demo data", scheme, host, path)
					}
					counts[sub+path] = len(list.Items)
				}
			})
		}
	}
	t.Run("acme has its two locations", func(t *testing.T) {
		c := newClient("http", "acme.localhost", p, nil)
		token := c.login(t, "admin@acme.example", password)
		var list struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
		}
		c.getJSON(t, "/api/locations", token, &list)
		var names []string
		for _, l := range list.Items {
			names = append(names, l.Name)
		}
		got := strings.Join(names, ",")
		if !strings.Contains(got, "Downtown") || !strings.Contains(got, "Airport") {
			t.Errorf("acme locations = %q, want Downtown and Airport", got)
		}
	})
	t.Run("unknown tenant is 404", func(t *testing.T) {
		c := newClient("http", "nosuchtenant.localhost", p, nil)
		resp, err := c.http.Get(c.base + "/")
		if err != nil {
			t.Fatalf("GET http://nosuchtenant.localhost/: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET http://nosuchtenant.localhost/ status = %d, want 404", resp.StatusCode)
		}
	})
	return counts
}

// secondShell does what the banner tells an operator to do in another
// shell: source .run/stack.env (in a shell whose environment has nothing of
// the stack's, and a stale REDIS_KEY_PREFIX of another deployment), run
// tenantctl suspend, and see the edge refuse the tenant within 1 s; then
// activate it again and see it served.
func secondShell(t *testing.T, root, runDir, keyPrefix string, p ports) {
	t.Helper()
	stackEnv := filepath.Join(runDir, "stack.env")
	b, err := os.ReadFile(stackEnv)
	if err != nil {
		t.Fatalf("reading %s: %v", stackEnv, err)
	}
	for _, want := range []string{"DATABASE_URL=", "REDIS_URL=", "REDIS_KEY_PREFIX=" + keyPrefix, "TENANT_SIGNING_KEYS=", "TENANT_DB_PREFIX=", "BASE_DOMAIN="} {
		if !strings.Contains(string(b), "export "+want) {
			t.Errorf("%s lacks export %s…", stackEnv, want)
		}
	}
	if st, err := os.Stat(stackEnv); err == nil && st.Mode().Perm()&0o077 != 0 {
		t.Errorf("%s has mode %v, want it private to its owner (it holds secrets)", stackEnv, st.Mode().Perm())
	}
	tenantctl := func(args ...string) {
		t.Helper()
		cmd := exec.Command("bash", "-c", `. "$1" && shift && exec bin/tenantctl "$@"`, "_", stackEnv)
		cmd.Args = append(cmd.Args, args...)
		cmd.Dir = root
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "REDIS_KEY_PREFIX=another-deployment:"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("second shell: tenantctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if strings.Contains(string(out), "warning") {
			t.Errorf("second shell: tenantctl %s warned:\n%s", strings.Join(args, " "), out)
		}
	}
	c := newClient("http", "globex.localhost", p, nil)
	status := func() int {
		resp, err := c.http.Get(c.base + "/login")
		if err != nil {
			t.Fatalf("GET %s/login: %v", c.base, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			got := status()
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s/login = %d 1 s after %s, want %d", c.base, got, what, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got := status(); got != http.StatusOK {
		t.Fatalf("GET %s/login before the suspend = %d, want 200", c.base, got)
	}
	tenantctl("suspend", "globex")
	waitFor("tenantctl suspend globex", http.StatusForbidden)
	tenantctl("activate", "globex")
	waitFor("tenantctl activate globex", http.StatusOK)
}

func startStack(t *testing.T, root string, env map[string]string, p ports) *stack {
	t.Helper()
	cmd := exec.Command("make", "--no-print-directory", "run")
	cmd.Dir = root
	cmd.Env = mergeEnv(os.Environ(), env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so SIGINT reaches the group, as Ctrl-C does
	s := &stack{out: &testenv.Output{}, done: make(chan struct{}), runDir: env["TG_RUN_DIR"], ports: p}
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	cmd.Stdin = nil
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting make run: %v", err)
	}
	s.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			// The test failed before stopping it: stop it the same way, then hard.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			select {
			case <-s.done:
			case <-time.After(30 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-s.done
			}
		}
		if t.Failed() {
			t.Logf("make run output:\n%s", s.out.String())
			logs, _ := filepath.Glob(filepath.Join(s.runDir, "logs", "*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s (last 3000 bytes):\n%s", filepath.Base(l), tail(b, 3000))
			}
		}
	})
	return s
}

// waitReady waits until run.sh has printed its banner (it writes
// run.state once the stack is up and seeded).
func (s *stack) waitReady(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.After(limit)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(filepath.Join(s.runDir, "run.state")); err == nil && strings.TrimSpace(string(b)) == "ready" {
			return
		}
		select {
		case <-s.done:
			t.Fatalf("make run exited before it was ready (exit: %v)", s.cmd.ProcessState)
		case <-deadline:
			t.Fatalf("make run not ready within %s", limit)
		case <-tick.C:
		}
	}
}

// interrupt sends SIGINT to make run's process group and waits for it to end.
func (s *stack) interrupt(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatalf("sending SIGINT to make run: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("make run still running 60 s after SIGINT")
	}
	// Processes outlive their parent for a moment while they shut down.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && len(groupMembers(s.cmd.Process.Pid)) > 0 {
		time.Sleep(100 * time.Millisecond)
	}
}

// client speaks to one tenant host through caddy, dialling 127.0.0.1 whatever
// the name (Go's resolver does not map *.localhost to loopback).
type client struct {
	http *http.Client
	base string
}

func newClient(scheme, host string, p ports, roots *x509.CertPool) *client {
	port := p.HTTP
	if scheme == "https" {
		port = p.HTTPS
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host},
	}
	return &client{
		http: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		base: fmt.Sprintf("%s://%s:%d", scheme, host, port),
	}
}

func (c *client) login(t *testing.T, email, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := c.http.Post(c.base+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s/api/auth/login: %v", c.base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s/api/auth/login as %s status = %d (%s), want 200", c.base, email, resp.StatusCode, b)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		t.Fatalf("POST %s/api/auth/login = %s, want {\"token\": …}", c.base, b)
	}
	return out.Token
}

func (c *client) getJSON(t *testing.T, path, token string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", c.base, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s%s status = %d (%s), want 200", c.base, path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s%s: decoding %s: %v", c.base, path, b, err)
	}
}

// caddyRoot loads the root certificate of Caddy's local CA from its data
// directory, waiting for Caddy to write it.
func caddyRoot(t *testing.T, dataHome string) *x509.CertPool {
	t.Helper()
	path := filepath.Join(dataHome, "caddy", "pki", "authorities", "local", "root.crt")
	var pem []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var err error
		if pem, err = os.ReadFile(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Caddy's local CA root: %v", err)
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", path)
	}
	return pool
}

// freePorts picks the seven ports of one stack.
func freePorts(t *testing.T) ports {
	t.Helper()
	got := testenv.FreePorts(t, 7)
	return ports{HTTP: got[0], HTTPS: got[1], CaddyAdmin: got[2], App: [2]int{got[3], got[4]}, Admin: [2]int{got[5], got[6]}}
}

// redisURLWithDB returns the test Redis URL with a Redis database of its own
// (1–15), so the stack's cache keys cannot meet those of a `make run` of the
// developer's; its keys (under keyPrefix) are deleted at the end.
func redisURLWithDB(t *testing.T, keyPrefix string) string {
	t.Helper()
	u, err := url.Parse(testenv.RedisURL())
	if err != nil {
		t.Fatalf("parsing Redis URL: %v", err)
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(15))
	db := int(n.Int64()) + 1
	u.Path = "/" + strconv.Itoa(db)
	rdb := testenv.Redis(t)
	t.Cleanup(func() {
		ctx := context.Background()
		c := rdb.Conn()
		defer c.Close()
		if err := c.Select(ctx, db).Err(); err != nil {
			t.Errorf("cleanup: selecting Redis database %d: %v", db, err)
			return
		}
		iter := c.Scan(ctx, 0, keyPrefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return u.String()
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// mergeEnv returns base with the variables of over set (an empty value
// unsets the variable, so the stack computes its default).
func mergeEnv(base []string, over map[string]string) []string {
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := over[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range over {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// groupMembers lists the live processes (zombies excluded) whose process
// group is pgid.
func groupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, group, ok := procStat(pid)
		if ok && group == pgid && state != "Z" && state != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procStat reads a process's state and process group from /proc/<pid>/stat.
func procStat(pid int) (state string, pgid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	// The command name is in parentheses and may contain spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return "", 0, false
	}
	pgid, err = strconv.Atoi(f[2])
	return f[0], pgid, err == nil
}

func alive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != "Z" && state != "X"
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
