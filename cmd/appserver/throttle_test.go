package main

import (
	"context"
	"crypto/tls"
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

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// from is the header of a request relayed by a trusted proxy (loopback, as
// the edge is here) for the client ip.
func from(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }

// wantThrottled fails unless r is 429 too_many_attempts with a Retry-After.
func wantThrottled(t *testing.T, what string, r reply) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.errorCode() != "too_many_attempts" {
		t.Errorf("%s = %d %s, want 429 too_many_attempts", what, r.status, r.body)
		return
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s: Retry-After = %q, want a positive number of seconds", what, r.header.Get("Retry-After"))
	}
}

// TestLoginThrottle runs two real appservers sharing one Redis key prefix:
// failed logins counted on one refuse logins on the other, per (tenant,
// e-mail) and per client IP, even with the right password.
func TestLoginThrottle(t *testing.T) {
	w := newWorld(t)
	apps := []*app{w.startApp(), w.startApp()}

	t.Run("per client IP", func(t *testing.T) {
		ip := "198.51.100.2"
		throttled := 0
		for i := range 30 {
			r := w.do(apps[i%2], http.MethodPost, "/api/auth/login",
				map[string]string{"email": fmt.Sprintf("guess%d@acme.example.com", i), "password": "wrong"}, from(ip))
			if r.status == http.StatusTooManyRequests {
				throttled++
			}
		}
		if throttled == 0 {
			t.Errorf("30 failed logins from %s on other e-mails: none refused, want 429 after the IP limit", ip)
		}
		wantThrottled(t, "the right password from the throttled IP", w.do(apps[0], http.MethodPost, "/api/auth/login",
			map[string]string{"email": adminEmail, "password": adminPassword}, from(ip)))
		if r := w.do(apps[1], http.MethodPost, "/api/auth/login",
			map[string]string{"email": adminEmail, "password": adminPassword}, from("198.51.100.3")); r.status != http.StatusOK {
			t.Errorf("the right password from another IP = %d %s, want 200", r.status, r.body)
		}
	})

	t.Run("per account across appservers", func(t *testing.T) {
		for i := range 5 {
			r := w.do(apps[i%2], http.MethodPost, "/api/auth/login",
				map[string]string{"email": adminEmail, "password": "wrong-" + strconv.Itoa(i)}, from("198.51.100."+strconv.Itoa(10+i)))
			if r.status != http.StatusUnauthorized {
				t.Fatalf("failed login %d = %d %s, want 401", i+1, r.status, r.body)
			}
		}
		wantThrottled(t, "the right password after 5 failures (another appserver, another IP)",
			w.do(apps[1], http.MethodPost, "/api/auth/login",
				map[string]string{"email": strings.ToUpper(adminEmail), "password": adminPassword}, from("198.51.100.99")))
	})

	t.Run("failures are logged without the password", func(t *testing.T) {
		logs := apps[0].proc.Output.String() + apps[1].proc.Output.String()
		found := false
		for _, line := range strings.Split(logs, "\n") {
			found = found || strings.Contains(line, `"msg":"login failed"`) && strings.Contains(line, `"ip":"198.51.100.2"`) && strings.Contains(line, `"tenant":"acme"`)
		}
		if !found {
			t.Errorf("appserver logs lack a login failed line with tenant acme and ip 198.51.100.2:\n%s", logs)
		}
		if strings.Contains(logs, "wrong-1") || strings.Contains(logs, adminPassword) {
			t.Errorf("appserver logs contain a password")
		}
	})
}

// TestLoginThrottleWithoutRedis: with Redis unreachable the appserver still
// throttles, per process.
func TestLoginThrottleWithoutRedis(t *testing.T) {
	w := newWorld(t)
	a := w.startApp("REDIS_URL=redis://" + freeAddr(t) + "/0")
	for i := range 5 {
		r := w.login(a, adminEmail, "wrong")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("failed login %d without Redis = %d %s, want 401", i+1, r.status, r.body)
		}
	}
	wantThrottled(t, "the right password after 5 failures without Redis", w.login(a, adminEmail, adminPassword))
}

// TestLoginThroughEdge runs bin/caddy in front of two appservers: a client
// cannot rotate its IP with its own X-Forwarded-For (the appserver sees the
// address caddy saw), and the session cookie is __Host-session over HTTPS
// and session over HTTP.
func TestLoginThroughEdge(t *testing.T) {
	w := newWorld(t)
	apps := []*app{w.startApp(), w.startApp()}
	e := startEdge(t, w, apps)

	t.Run("X-Forwarded-For from the client is not believed", func(t *testing.T) {
		throttled := 0
		for i := range 30 {
			r := e.post(t, "http", "/api/auth/login", fmt.Sprintf(`{"email":"guess%d@acme.example.com","password":"wrong"}`, i),
				http.Header{"X-Forwarded-For": {fmt.Sprintf("203.0.113.%d", i+1)}, "X-Real-Ip": {fmt.Sprintf("203.0.113.%d", i+1)}})
			if r.status == http.StatusTooManyRequests {
				throttled++
			}
		}
		if throttled == 0 {
			t.Errorf("30 failed logins through caddy, each with its own X-Forwarded-For: none refused, want 429 after the IP limit")
		}
	})

	// 127.0.0.1 is throttled now: clear the counters before logging in.
	t.Run("session cookie name follows the scheme", func(t *testing.T) {
		w.flushThrottle(t)
		for _, tc := range []struct {
			scheme, cookie string
		}{{"https", "__Host-session"}, {"http", "session"}} {
			r := e.post(t, tc.scheme, "/api/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, adminEmail, adminPassword), nil)
			if r.status != http.StatusOK {
				t.Fatalf("login over %s = %d %s, want 200", tc.scheme, r.status, r.body)
			}
			var got *http.Cookie
			for _, c := range (&http.Response{Header: r.header}).Cookies() {
				got = c
			}
			if got == nil || got.Name != tc.cookie || !got.Secure || !got.HttpOnly || got.Path != "/" || got.Domain != "" {
				t.Fatalf("login over %s set cookie %+v, want %s (Secure, HttpOnly, Path=/, no Domain)", tc.scheme, got, tc.cookie)
			}
			if r := e.get(t, tc.scheme, "/api/me", http.Header{"Cookie": {got.Name + "=" + got.Value}}); r.status != http.StatusOK {
				t.Errorf("GET /api/me over %s with the %s cookie = %d %s, want 200", tc.scheme, got.Name, r.status, r.body)
			}
			other := map[string]string{"session": "__Host-session", "__Host-session": "session"}[got.Name]
			if r := e.get(t, tc.scheme, "/api/me", http.Header{"Cookie": {other + "=" + got.Value}}); r.status != http.StatusUnauthorized {
				t.Errorf("GET /api/me over %s with the cookie named %s = %d, want 401", tc.scheme, other, r.status)
			}
		}
	})
}

// flushThrottle deletes the world's throttle counters in Redis.
func (w *world) flushThrottle(t *testing.T) {
	t.Helper()
	var prefix string
	for _, kv := range w.env {
		if v, ok := strings.CutPrefix(kv, "REDIS_KEY_PREFIX="); ok {
			prefix = v
		}
	}
	c := testenv.Redis(t)
	ctx := t.Context()
	iter := c.Scan(ctx, 0, prefix+"login:*", 1000).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
}

// edge is a running bin/caddy with the project's Caddyfile.
type edge struct {
	httpPort, httpsPort int
	client              *http.Client
}

func startEdge(t *testing.T, w *world, apps []*app) *edge {
	t.Helper()
	if _, err := os.Stat(caddyBin); err != nil {
		if err := testenv.GoBuild(repoRoot, caddyBin, "./cmd/caddy"); err != nil {
			t.Fatal(err)
		}
	}
	ports := testenv.FreePorts(t, 3)
	e := &edge{httpPort: ports[0], httpsPort: ports[1]}
	e.client = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			// The edge's local CA is not trusted here; the name is checked by caddy.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "acme.localhost"},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
		},
	}
	var ups []string
	for _, a := range apps {
		ups = append(ups, a.addr)
	}
	dir := t.TempDir()
	cmd := exec.Command(caddyBin, "run", "--config", filepath.Join(repoRoot, "Caddyfile"), "--adapter", "caddyfile")
	cmd.Env = append(append(os.Environ(), w.env...),
		fmt.Sprintf("HTTP_PORT=%d", ports[0]), fmt.Sprintf("HTTPS_PORT=%d", ports[1]),
		fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", ports[2]),
		"APP_UPSTREAMS="+strings.Join(ups, " "), "ADMIN_UPSTREAMS="+apps[0].adminAddr,
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "HOME="+dir)
	testenv.Start(t, "caddy", cmd).WaitUntil(t, "bin/caddy", 30*time.Second, func() bool {
		return testenv.HTTPOK(e.client, fmt.Sprintf("http://acme.localhost:%d/healthz", e.httpPort))
	})
	return e
}

func (e *edge) url(scheme, path string) string {
	port := e.httpPort
	if scheme == "https" {
		port = e.httpsPort
	}
	return fmt.Sprintf("%s://acme.localhost:%d%s", scheme, port, path)
}

func (e *edge) post(t *testing.T, scheme, path, body string, header http.Header) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url(scheme, path), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	return e.send(t, req)
}

func (e *edge) get(t *testing.T, scheme, path string, header http.Header) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url(scheme, path), nil)
	for k, v := range header {
		req.Header[k] = v
	}
	return e.send(t, req)
}

func (e *edge) send(t *testing.T, req *http.Request) reply {
	t.Helper()
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

func TestConfigTrustedProxies(t *testing.T) {
	env := func(proxies string) func(string) string {
		m := map[string]string{
			"TENANT_SIGNING_KEYS": "k1:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=",
			"ADMIN_TOKENS":        strings.Repeat("t", 40),
			"TRUSTED_PROXIES":     proxies,
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name, value string
		want        string // the parsed prefixes, or "error"
	}{
		{"unset: loopback", "", "127.0.0.0/8 ::1/128"},
		{"a network and an address", "10.1.0.0/16, 192.0.2.10", "10.1.0.0/16 192.0.2.10/32"},
		{"a host name", "edge.internal", "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := configFromEnv(env(tc.value))
			if tc.want == "error" {
				if err == nil || !strings.Contains(err.Error(), "TRUSTED_PROXIES") {
					t.Errorf("configFromEnv(TRUSTED_PROXIES=%q) error = %v, want one naming TRUSTED_PROXIES", tc.value, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(c.TrustedProxies); got != "["+tc.want+"]" {
				t.Errorf("TrustedProxies = %s, want [%s]", got, tc.want)
			}
		})
	}
}
