package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// world is one control plane with tenants, an echo upstream and a running
// edge in front of it.
type world struct {
	store    *tenantstore.Store
	edge     *edge
	keys     []tenanttoken.Key
	prefix   string
	upstream string
	env      map[string]string // the edge's environment beyond startEdge's
}

// newWorld creates the control plane (tenants acme and globex active,
// umbrella suspended, shop.acme.test a verified domain of acme), wires the
// store's change notifications to Redis as the admin API does, and starts
// bin/caddy in front of an echo upstream. redisURL empty means the shared
// test Redis.
func newWorld(t *testing.T, redisURL string) *world {
	t.Helper()
	testenv.Integration(t)
	return newWorldWith(t, redisURL, strings.TrimPrefix(newEcho(t).URL, "http://"))
}

// newWorldWith is newWorld in front of the given upstream (host:port).
func newWorldWith(t *testing.T, redisURL, upstream string) *world {
	t.Helper()
	return newWorldEnv(t, redisURL, upstream, nil)
}

// newWorldEnv is newWorldWith with more environment for the edge (the
// Caddyfile's {$…} settings).
func newWorldEnv(t *testing.T, redisURL, upstream string, extra map[string]string) *world {
	t.Helper()
	testenv.Integration(t)
	ctx := context.Background()
	dbURL := withDatabase(t)
	store, err := tenantstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("tenantstore.Open: %v", err)
	}
	t.Cleanup(store.Close)
	prefix := testenv.KeyPrefix(t)
	keyString, keys := newKeys(t)
	// The edge derives its cache entry keys from the signing keys too.
	macKeys, err := resolver.EntryKeys("", keys)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := resolver.NewPublisher(testenv.Redis(t), resolver.Config{BaseDomain: "localhost", KeyPrefix: prefix, MACKeys: macKeys})
	if err != nil {
		t.Fatal(err)
	}
	store.SetNotifier(pub)
	for _, tn := range []*tenantstore.Tenant{
		{Name: "Acme", Subdomain: "acme", AdminEmail: "boss@acme.test", Status: tenantstore.StatusActive, MaxUsers: 5, DatabaseName: "x_acme"},
		{Name: "Globex", Subdomain: "globex", AdminEmail: "boss@globex.test", Status: tenantstore.StatusActive, MaxUsers: 5, DatabaseName: "x_globex"},
		{Name: "Umbrella", Subdomain: "umbrella", AdminEmail: "boss@umbrella.test", Status: tenantstore.StatusSuspended, MaxUsers: 5, DatabaseName: "x_umbrella"},
	} {
		if err := store.Insert(ctx, tn); err != nil {
			t.Fatalf("inserting tenant %s: %v", tn.Subdomain, err)
		}
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
	if redisURL == "" {
		redisURL = testenv.RedisURL()
	}
	env := map[string]string{
		"DATABASE_URL":        dbURL,
		"REDIS_URL":           redisURL,
		"TENANT_SIGNING_KEYS": keyString,
		"REDIS_KEY_PREFIX":    prefix,
	}
	for k, v := range extra {
		env[k] = v
	}
	e := startEdge(t, upstream, env)
	return &world{store: store, edge: e, keys: keys, prefix: prefix, upstream: upstream, env: env}
}

// setStatus changes a tenant's status through the store, as tenantctl and
// the admin API do.
func (w *world) setStatus(t *testing.T, sub string, s tenantstore.Status) {
	t.Helper()
	w.updateTenant(t, sub, fmt.Sprintf("%s %s", sub, s), func(tn *tenantstore.Tenant) { tn.Status = s })
}

// updateTenant reads tenant sub from the store, applies change to a copy
// and writes it back through the store (whose notifier tells the edges);
// what names the change in a failure.
func (w *world) updateTenant(t *testing.T, sub, what string, change func(*tenantstore.Tenant)) {
	t.Helper()
	ctx := context.Background()
	tn, err := w.store.GetBySubdomain(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	cp := *tn
	change(&cp)
	if err := w.store.Update(ctx, &cp); err != nil {
		t.Fatalf("setting %s: %v", what, err)
	}
}

// waitStatus polls host until it answers want, failing after within.
func (w *world) waitStatus(t *testing.T, host string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, _ := w.edge.get(t, host, "/", nil)
		if resp.StatusCode == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET Host %s = %d after %v, want %d", host, resp.StatusCode, within, want)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestEdge(t *testing.T) {
	w := newWorld(t, "")
	verifier, err := tenanttoken.NewVerifier(w.keys)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("known tenant gets a verified token and none of the client's X-Tenant headers", func(t *testing.T) {
		for _, host := range []string{"acme.localhost", "shop.acme.test"} {
			resp, body := w.edge.get(t, host, "/invoices", http.Header{
				"X-Tenant-Token": {"forged"},
				"X-Tenant-Id":    {"someone-else"},
				"X-TENANT-ROLE":  {"admin"},
				"X-Tenantid":     {"x"},
				"X_Tenant_Id":    {"cgi spelling"},
			})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET Host %s = %d %s, want 200", host, resp.StatusCode, body)
			}
			var got echoed
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("echo body %q: %v", body, err)
			}
			for k, v := range got.Header {
				if strings.HasPrefix(strings.ReplaceAll(strings.ToLower(k), "_", "-"), "x-tenant") && k != tenanttoken.Header {
					t.Errorf("upstream got client header %s: %q, want it deleted", k, v)
				}
			}
			toks := got.Header.Values(tenanttoken.Header)
			if len(toks) != 1 {
				t.Fatalf("upstream got %s = %q, want one token", tenanttoken.Header, toks)
			}
			c, err := verifier.Verify(toks[0], got.Host, time.Now())
			if err != nil {
				t.Fatalf("Verify(token, %q) = %v", got.Host, err)
			}
			if c.Subdomain != "acme" || c.Host != host {
				t.Errorf("token claims = %+v, want tenant acme at %s", c, host)
			}
		}
	})

	t.Run("access log names the tenant", func(t *testing.T) {
		w.edge.get(t, "globex.localhost", "/logged", nil)
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(w.edge.logs.String(), `"tenant":"globex"`) {
			if time.Now().After(deadline) {
				t.Fatalf("no access log line with \"tenant\":\"globex\"")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("unknown, suspended and admin hosts", func(t *testing.T) {
		tests := []struct {
			host, accept string
			want         int
			wantCode     string
		}{
			{"nobody.localhost", "application/json", 404, "tenant_not_found"},
			{"nobody.example.org", "application/json", 404, "tenant_not_found"},
			{"umbrella.localhost", "application/json", 403, "tenant_suspended"},
			{"nobody.localhost", "text/html", 404, "tenant_not_found"},
		}
		for _, tt := range tests {
			resp, body := w.edge.get(t, tt.host, "/", http.Header{"Accept": {tt.accept}})
			if resp.StatusCode != tt.want {
				t.Errorf("GET Host %s = %d, want %d", tt.host, resp.StatusCode, tt.want)
			}
			if !strings.Contains(string(body), tt.wantCode) {
				t.Errorf("GET Host %s body = %q, want it to name %s", tt.host, body, tt.wantCode)
			}
			if tt.accept == "application/json" {
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tt.wantCode || e.Error.Message == "" {
					t.Errorf("GET Host %s JSON = %q (%v), want error.code %s with a message", tt.host, body, err, tt.wantCode)
				}
			}
		}
		// The admin host is proxied without the tenant handler: no token.
		resp, body := w.edge.get(t, "admin.localhost", "/", http.Header{"X-Tenant-Token": {"forged"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET Host admin.localhost = %d, want 200", resp.StatusCode)
		}
		var got echoed
		_ = json.Unmarshal(body, &got)
		if tok := got.Header.Get(tenanttoken.Header); tok != "forged" {
			t.Errorf("admin upstream got %s = %q, want the request untouched (the tenant handler must not run)", tenanttoken.Header, tok)
		}
	})

	t.Run("TLS certificate only for known hosts", func(t *testing.T) {
		var roots *x509.CertPool
		tests := []struct {
			name string
			ok   bool
		}{
			{"acme.localhost", true},
			{"shop.acme.test", true},
			{"admin.localhost", true},
			{"nobody.localhost", false},
			{"umbrella.localhost", true}, // suspended: its 403 page needs a handshake
			{"evil.example.org", false},
		}
		for _, tt := range tests {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp",
				fmt.Sprintf("127.0.0.1:%d", w.edge.httpsPort), &tls.Config{ServerName: tt.name, InsecureSkipVerify: true})
			if !tt.ok {
				if err == nil {
					conn.Close()
					t.Errorf("TLS handshake for %s succeeded, want it refused (no certificate)", tt.name)
				}
				issued, _ := filepath.Glob(filepath.Join(w.edge.dataDir, "caddy", "certificates", "*", tt.name))
				if len(issued) > 0 {
					t.Errorf("a certificate was issued for %s: %v", tt.name, issued)
				}
				continue
			}
			if err != nil {
				t.Errorf("TLS handshake for %s = %v, want a certificate", tt.name, err)
				continue
			}
			chain := conn.ConnectionState().PeerCertificates
			conn.Close()
			if issued, _ := filepath.Glob(filepath.Join(w.edge.dataDir, "caddy", "certificates", "*", tt.name)); len(issued) == 0 {
				t.Errorf("no certificate for %s in the storage", tt.name)
			}
			if roots == nil {
				pem, err := os.ReadFile(filepath.Join(w.edge.dataDir, "caddy", "pki", "authorities", "local", "root.crt"))
				if err != nil {
					t.Fatalf("reading the local CA root: %v", err)
				}
				roots = x509.NewCertPool()
				roots.AppendCertsFromPEM(pem)
			}
			inter := x509.NewCertPool()
			for _, c := range chain[1:] {
				inter.AddCert(c)
			}
			if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: tt.name}); err != nil {
				t.Errorf("certificate for %s does not verify against the local CA: %v", tt.name, err)
			}
		}
	})

	t.Run("HTTPS with HTTP/2 carries the token too", func(t *testing.T) {
		pem, err := os.ReadFile(filepath.Join(w.edge.dataDir, "caddy", "pki", "authorities", "local", "root.crt"))
		if err != nil {
			t.Fatalf("reading the local CA root: %v", err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		addr := fmt.Sprintf("127.0.0.1:%d", w.edge.httpsPort)
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}}
		resp, err := client.Get("https://acme.localhost/secure")
		if err != nil {
			t.Fatalf("GET https://acme.localhost/secure: %v", err)
		}
		defer resp.Body.Close()
		var got echoed
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatalf("decoding the echo: %v", err)
		}
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
			t.Errorf("GET https://acme.localhost = %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
		}
		if _, err := verifier.Verify(got.Header.Get(tenanttoken.Header), "acme.localhost", time.Now()); err != nil {
			t.Errorf("token over HTTPS: %v", err)
		}
	})

	t.Run("suspend is refused within 1 s, activate is served again", func(t *testing.T) {
		w.waitStatus(t, "globex.localhost", 200, time.Second)
		w.setStatus(t, "globex", tenantstore.StatusSuspended)
		w.waitStatus(t, "globex.localhost", 403, time.Second)
		w.setStatus(t, "globex", tenantstore.StatusMaintenance)
		w.waitStatus(t, "globex.localhost", 503, time.Second)
		resp, _ := w.edge.get(t, "globex.localhost", "/", nil)
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("503 for maintenance has no Retry-After")
		}
		w.setStatus(t, "globex", tenantstore.StatusActive)
		w.waitStatus(t, "globex.localhost", 200, time.Second)
	})

	t.Run("hostile Host headers get 400 or 404, never 5xx", func(t *testing.T) {
		tests := []struct {
			name, host string
			want       []int
		}{
			{"upper case", "ACME.LOCALHOST", []int{200}},
			{"trailing dot", "acme.localhost.", []int{200}},
			{"with port", "acme.localhost:1234", []int{200}},
			{"upper case unknown", "NOBODY.LOCALHOST.", []int{404}},
			{"user info", "user@acme.localhost", []int{400}},
			{"300 characters", strings.Repeat("a", 290) + ".localhost", []int{400}},
			{"300 characters in labels", strings.Repeat("abcdefghi.", 29) + "localhost", []int{400, 404}},
			{"two dots", "acme..localhost", []int{400}},
			{"NUL", "acme.localhost\x00", []int{400}},
			{"empty", "", []int{400}},
			{"leading hyphen", "-acme.localhost", []int{400}},
			{"percent", "%61cme.localhost", []int{400}},
			{"path", "acme.localhost/../admin", []int{400}},
			{"IPv6 literal", "[::1]", []int{400}},
			{"IPv4 literal", "127.0.0.1", []int{400, 404}},
			{"bad port", "acme.localhost:http", []int{400}},
			{"only a dot", ".", []int{400}},
			{"unicode", "acmé.localhost", []int{400}},
		}
		for _, tt := range tests {
			got := w.edge.rawStatus(t, tt.host)
			ok := false
			for _, want := range tt.want {
				ok = ok || got == want
			}
			if !ok {
				t.Errorf("%s: Host %q = %d, want one of %v", tt.name, tt.host, got, tt.want)
			}
		}
	})

	t.Run("a reload with the same settings keeps the warm resolver", func(t *testing.T) {
		cmd := exec.Command(caddyBin, "reload", "--config", filepath.Join(repoRoot, "Caddyfile"), "--adapter", "caddyfile",
			"--address", w.edge.admin, "--force")
		cmd.Env = w.edge.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("caddy reload: %v\n%s", err, out)
		}
		if !strings.Contains(w.edge.logs.String(), `"reused":true`) {
			t.Errorf("after reload the log has no \"reused\":true: the resolver was rebuilt cold")
		}
		w.waitStatus(t, "acme.localhost", 200, time.Second)
	})
}

func TestEdgeRedisOutage(t *testing.T) {
	testenv.Integration(t)
	port := testenv.FreePort(t)
	redis := exec.Command("/usr/bin/redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := redis.Start(); err != nil {
		t.Fatalf("starting a private redis-server: %v", err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = redis.Process.Kill()
			_ = redis.Wait()
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("private redis-server did not listen: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w := newWorld(t, fmt.Sprintf("redis://127.0.0.1:%d/0", port))
	w.waitStatus(t, "acme.localhost", 200, 5*time.Second)

	_ = redis.Process.Kill()
	_ = redis.Wait()
	killed = true

	tests := []struct {
		name  string
		host  string
		after time.Duration
	}{
		{"known tenant right away", "acme.localhost", 0},
		{"known tenant after the memory entry went stale", "acme.localhost", 1500 * time.Millisecond},
		{"tenant not seen before (from PostgreSQL)", "globex.localhost", 0},
	}
	for _, tt := range tests {
		time.Sleep(tt.after)
		resp, body := w.edge.get(t, tt.host, "/", nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: GET Host %s with Redis down = %d %s, want 200", tt.name, tt.host, resp.StatusCode, body)
		}
	}
}

func TestEdgeStartsWithoutPostgres(t *testing.T) {
	w := newWorld(t, "")
	// The first edge loads acme from PostgreSQL, which puts it in Redis once
	// the tombstones of the set-up's changes have expired (the resolver's
	// SourceTimeout + RedisTimeout + 1 s).
	time.Sleep(resolver.DefaultSourceTimeout + resolver.DefaultRedisTimeout + 1500*time.Millisecond)
	w.waitStatus(t, "acme.localhost", 200, 5*time.Second)
	rdb := testenv.Redis(t)
	key := w.prefix + "host:acme.localhost"
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _ := rdb.Get(context.Background(), key).Result()
		if strings.Contains(v, "acme") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis %s = %q, want acme cached by the first edge", key, v)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A second edge starts while its PostgreSQL does not answer.
	env := make(map[string]string, len(w.env)+1)
	for k, v := range w.env {
		env[k] = v
	}
	env["DATABASE_URL"] = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/tenantgate?sslmode=disable&connect_timeout=1", testenv.FreePort(t))
	second := startEdge(t, w.upstream, env)

	resp, body := second.get(t, "acme.localhost", "/", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET Host acme.localhost from an edge without PostgreSQL = %d %s, want 200 (from Redis)", resp.StatusCode, body)
	}
	unknown := testenv.UniqueName("never") + ".localhost"
	resp, body = second.get(t, unknown, "/", http.Header{"Accept": {"application/json"}})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "service_unavailable") {
		t.Errorf("GET Host %s with nothing cached and PostgreSQL down = %d (Retry-After %q) %s, want 503 service_unavailable with Retry-After",
			unknown, resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}
