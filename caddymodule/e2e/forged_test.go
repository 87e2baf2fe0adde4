package e2e

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

// TestEdgeRefusesForgedCacheEntries plays someone who can write to Redis
// (SPEC §9): a tenant's entry copied under another host must not make the
// edge serve that host as the tenant, nor issue it a certificate, and a
// planted "no such tenant" must not take a tenant down. Each bad entry is
// a miss (PostgreSQL answers) and is logged.
func TestEdgeRefusesForgedCacheEntries(t *testing.T) {
	w := newWorld(t, "")
	ctx := context.Background()
	rdb := testenv.Redis(t)
	// The set-up's changes left tombstones; once they expire, the edge's
	// lookup of acme puts acme's entry in Redis.
	time.Sleep(resolver.DefaultSourceTimeout + resolver.DefaultRedisTimeout + 1500*time.Millisecond)
	w.waitStatus(t, "acme.localhost", 200, 5*time.Second)
	w.waitStatus(t, "nobody.localhost", 404, 5*time.Second)
	acmeEntry := waitRedisValue(t, w.prefix+"host:acme.localhost", "acme")
	negative := waitRedisValue(t, w.prefix+"host:nobody.localhost", "")

	// One SET each: acme's entry under hosts of nobody, and "not found"
	// under globex, which the edge has not looked up yet.
	for key, val := range map[string]string{
		w.prefix + "host:evil.localhost":   acmeEntry,
		w.prefix + "host:evil.example.org": acmeEntry,
		w.prefix + "host:globex.localhost": negative,
	} {
		if err := rdb.Set(ctx, key, val, time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
	}

	for _, host := range []string{"evil.localhost", "evil.example.org"} {
		resp, body := w.edge.get(t, host, "/", http.Header{"Accept": {"application/json"}})
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET Host %s with acme's entry copied to its key = %d %s, want 404", host, resp.StatusCode, body)
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp",
			fmt.Sprintf("127.0.0.1:%d", w.edge.httpsPort), &tls.Config{ServerName: host, InsecureSkipVerify: true})
		if err == nil {
			conn.Close()
			t.Errorf("TLS handshake for %s succeeded, want it refused (no certificate)", host)
		}
		if issued, _ := filepath.Glob(filepath.Join(w.edge.dataDir, "caddy", "certificates", "*", host)); len(issued) > 0 {
			t.Errorf("a certificate was issued for %s: %v", host, issued)
		}
	}
	if resp, body := w.edge.get(t, "globex.localhost", "/", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET Host globex.localhost with a planted \"not found\" = %d %s, want 200", resp.StatusCode, body)
	}

	// Each forged entry is reported, by key.
	deadline := time.Now().Add(5 * time.Second)
	for _, key := range []string{"host:evil.localhost", "host:globex.localhost"} {
		for !strings.Contains(w.edge.logs.String(), w.prefix+key) || !strings.Contains(w.edge.logs.String(), "cache entry failed verification") {
			if time.Now().After(deadline) {
				t.Errorf("no log line reports the forged entry %s%s", w.prefix, key)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// waitRedisValue waits until key holds a value containing want and
// returns it.
func waitRedisValue(t *testing.T, key, want string) string {
	t.Helper()
	rdb := testenv.Redis(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := rdb.Get(context.Background(), key).Result()
		if err == nil && strings.Contains(v, want) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis %s = %q (%v), want a value containing %q", key, v, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEdgeRefusesToStartWithoutCacheKeys: an edge that would write Redis
// entries it cannot authenticate does not start (SPEC §9): neither without
// signing keys and CACHE_KEY (a config with the TLS permission only, which
// needs no signing key itself), nor with a CACHE_KEY too short to be a key.
func TestEdgeRefusesToStartWithoutCacheKeys(t *testing.T) {
	testenv.Integration(t)
	dir := t.TempDir()
	permissionOnly := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(permissionOnly, []byte(`{
	admin off
	on_demand_tls {
		permission tenant
	}
}
http://127.0.0.1:{$HTTP_PORT} {
	respond "ok"
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	keyString, _ := newKeys(t)
	shortKey := base64.StdEncoding.EncodeToString([]byte("only-sixteen-byt"))
	tests := []struct {
		name   string
		config string
		env    map[string]string
	}{
		{"no signing keys, no CACHE_KEY", permissionOnly, map[string]string{"TENANT_SIGNING_KEYS": "", "CACHE_KEY": ""}},
		{"CACHE_KEY too short", filepath.Join(repoRoot, "Caddyfile"), map[string]string{"TENANT_SIGNING_KEYS": keyString, "CACHE_KEY": shortKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ports := testenv.FreePorts(t, 3)
			env := append(os.Environ(),
				"DATABASE_URL="+testenv.PostgresURL(), "REDIS_URL="+testenv.RedisURL(),
				"REDIS_KEY_PREFIX="+testenv.KeyPrefix(t),
				fmt.Sprintf("HTTP_PORT=%d", ports[0]), fmt.Sprintf("HTTPS_PORT=%d", ports[1]),
				fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", ports[2]),
				"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "HOME="+dir)
			for k, v := range tt.env {
				env = append(env, k+"="+v)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, caddyBin, "run", "--config", tt.config, "--adapter", "caddyfile")
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("bin/caddy kept running; want it to refuse to start\n%s", out)
			}
			if err == nil {
				t.Fatalf("bin/caddy exited 0; want a refusal\n%s", out)
			}
			if !strings.Contains(string(out), "CACHE_KEY") {
				t.Errorf("bin/caddy output does not say to set CACHE_KEY (or the signing keys):\n%s", out)
			}
			if strings.Contains(string(out), shortKey) {
				t.Errorf("bin/caddy output contains the key")
			}
		})
	}
}
