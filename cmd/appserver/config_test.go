package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
)

// Admin tokens of the minimum length (32 characters).
const (
	tokenA = "tga_aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	tokenB = "tga_bbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestConfigFromEnv(t *testing.T) {
	required := map[string]string{"TENANT_SIGNING_KEYS": "k1:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=", "ADMIN_TOKENS": tokenA + ", " + tokenB + " ,"}
	with := func(kv ...string) func(string) string {
		m := map[string]string{}
		for k, v := range required {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	t.Run("defaults", func(t *testing.T) {
		c, err := configFromEnv(with())
		if err != nil {
			t.Fatal(err)
		}
		if c.AppAddr != ":8000" || c.AdminAddr != ":9000" || c.MaxTenantPools != 200 || c.PoolMaxConns != 4 || c.PoolIdleTimeout != 5*time.Minute {
			t.Errorf("configFromEnv(defaults) = %+v, want SPEC §3 defaults", c)
		}
		if c.TenantTemplate != "postgres://postgres@127.0.0.1:5432/{database}?sslmode=disable" {
			t.Errorf("default TenantTemplate = %q, want DATABASE_URL's server with {database}", c.TenantTemplate)
		}
		if strings.Join(c.AdminTokens, "|") != tokenA+"|"+tokenB {
			t.Errorf("AdminTokens = %q, want [%s %s]", c.AdminTokens, tokenA, tokenB)
		}
		if c.MetricsAddr != "" {
			t.Errorf("MetricsAddr = %q, want none by default", c.MetricsAddr)
		}
		if c.ConnsMax != 25 || c.ConnsWait != 2*time.Second || c.Appservers != 2 {
			t.Errorf("connection budget defaults = %d, %s, %d appservers; want 25, 2s, 2", c.ConnsMax, c.ConnsWait, c.Appservers)
		}
	})
	t.Run("connection budget", func(t *testing.T) {
		c, err := configFromEnv(with("TENANT_CONNS_MAX", "30", "TENANT_CONNS_WAIT", "500ms", "APPSERVERS", "3"))
		if err != nil {
			t.Fatal(err)
		}
		if c.ConnsMax != 30 || c.ConnsWait != 500*time.Millisecond || c.Appservers != 3 {
			t.Errorf("budget overrides = %d, %s, %d; want 30, 500ms, 3", c.ConnsMax, c.ConnsWait, c.Appservers)
		}
		c, err = configFromEnv(with("TENANT_CONNS_MAX", "9999999", "TENANT_CONNS_WAIT", "1h"))
		if err != nil {
			t.Fatal(err)
		}
		if c.ConnsMax != maxConnsBudget || c.ConnsWait != maxConnsWait {
			t.Errorf("huge budget values = %d, %s; want capped at %d, %s", c.ConnsMax, c.ConnsWait, maxConnsBudget, maxConnsWait)
		}
	})
	t.Run("overrides", func(t *testing.T) {
		c, err := configFromEnv(with("APP_ADDR", "127.0.0.1:23000", "MAX_TENANT_POOLS", "10", "TENANT_POOL_MAX_CONNS", "2", "TENANT_POOL_IDLE_TIMEOUT", "30s"))
		if err != nil {
			t.Fatal(err)
		}
		if c.AppAddr != "127.0.0.1:23000" || c.MaxTenantPools != 10 || c.PoolMaxConns != 2 || c.PoolIdleTimeout != 30*time.Second {
			t.Errorf("configFromEnv(overrides) = %+v", c)
		}
	})
	bad := []struct {
		name, key, value, wantInErr string
	}{
		{"no signing keys", "TENANT_SIGNING_KEYS", "", "TENANT_SIGNING_KEYS"},
		{"no admin tokens", "ADMIN_TOKENS", " , ", "ADMIN_TOKENS"},
		{"admin token of 31 characters", "ADMIN_TOKENS", tokenA + "," + tokenB[:31], "ADMIN_TOKENS entry 2 is 31 characters long"},
		{"short admin token alone", "ADMIN_TOKENS", "secret", "at least 32"},
		{"pools not a number", "MAX_TENANT_POOLS", "many", "MAX_TENANT_POOLS"},
		{"zero conns", "TENANT_POOL_MAX_CONNS", "0", "TENANT_POOL_MAX_CONNS"},
		{"bad idle timeout", "TENANT_POOL_IDLE_TIMEOUT", "5", "TENANT_POOL_IDLE_TIMEOUT"},
		{"zero budget", "TENANT_CONNS_MAX", "0", "TENANT_CONNS_MAX"},
		{"negative budget", "TENANT_CONNS_MAX", "-10", "TENANT_CONNS_MAX"},
		{"budget beyond int", "TENANT_CONNS_MAX", "99999999999999999999999", "TENANT_CONNS_MAX"},
		{"negative wait", "TENANT_CONNS_WAIT", "-2s", "TENANT_CONNS_WAIT"},
		{"wait without unit", "TENANT_CONNS_WAIT", "2", "TENANT_CONNS_WAIT"},
		{"no appservers", "APPSERVERS", "0", "APPSERVERS"},
		{"template without placeholder", "TENANT_DATABASE_TEMPLATE", "postgres://h/db", "{database}"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := configFromEnv(with(tc.key, tc.value))
			if err == nil || !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("configFromEnv(%s=%q) = %v, want an error naming %s", tc.key, tc.value, err, tc.wantInErr)
			}
		})
	}
	t.Run("secrets stay out of errors", func(t *testing.T) {
		_, err := configFromEnv(with("MAX_TENANT_POOLS", "x", "TENANT_SIGNING_KEYS", "k1:dG9vc2hvcnQ"))
		if err == nil || strings.Contains(err.Error(), "dG9vc2hvcnQ") {
			t.Errorf("configFromEnv error = %v, want no key material", err)
		}
		_, err = configFromEnv(with("ADMIN_TOKENS", "hunter2-admin"))
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("configFromEnv error = %v, want no token", err)
		}
	})
}

// The start check's plan: make run's defaults fit PostgreSQL's default 100
// connections (3 reserved for superusers); the old 200 pools × 4 did not.
func TestCapacityPlanOfDefaults(t *testing.T) {
	pg := tenantpool.ServerLimits{MaxConnections: 100, SuperuserReserved: 3}
	defaults := config{Appservers: defaultAppservers, ConnsMax: tenantpool.DefaultConnsMax}
	if p := capacityPlan(defaults, 2); !p.Fits(pg) {
		t.Errorf("defaults on 2 CPUs need %d connections, more than the %d of a default PostgreSQL", p.Need(), pg.Available())
	}
	old := config{Appservers: 2, ConnsMax: tenantpool.DefaultMaxPools * tenantpool.DefaultMaxConns}
	if p := capacityPlan(old, 2); p.Fits(pg) {
		t.Errorf("200 pools × 4 per appserver (need %d) fits a default PostgreSQL, want a warning", p.Need())
	}
}
