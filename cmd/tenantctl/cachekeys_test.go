package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
)

// TestTenantctlNeedsCacheEntryKeys: tenantctl writes tombstones into the
// Redis cache, whose entries are authenticated (SPEC §9), so without
// TENANT_SIGNING_KEYS or CACHE_KEY it refuses with bad usage instead of
// writing entries every cache would reject; with either it runs.
func TestTenantctlNeedsCacheEntryKeys(t *testing.T) {
	testenv.Integration(t)
	base := map[string]string{
		"DATABASE_URL":     testenv.NewDatabase(t),
		"REDIS_URL":        testenv.RedisURL(),
		"REDIS_KEY_PREFIX": testenv.KeyPrefix(t),
		"TENANT_DB_PREFIX": testenv.TenantPrefix(t),
	}
	secret := bytes.Repeat([]byte{5}, 32)
	tests := []struct {
		name     string
		extra    map[string]string
		wantCode int
	}{
		{"no keys", nil, exitUsage},
		{"short CACHE_KEY", map[string]string{"CACHE_KEY": base64.StdEncoding.EncodeToString(secret[:16])}, exitUsage},
		{"signing keys", map[string]string{"TENANT_SIGNING_KEYS": tenanttoken.FormatKeys([]tenanttoken.Key{{ID: "k", Secret: secret}})}, exitOK},
		{"CACHE_KEY", map[string]string{"CACHE_KEY": base64.StdEncoding.EncodeToString(secret)}, exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.extra {
				env[k] = v
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"list", "--json"}, &out, &errb, func(k string) string { return env[k] })
			if code != tt.wantCode {
				t.Fatalf("tenantctl list = exit %d, want %d\nstderr: %s", code, tt.wantCode, errb.String())
			}
			if code != exitOK && !strings.Contains(errb.String(), "CACHE_KEY") {
				t.Errorf("tenantctl list stderr = %q, want it to say which variable to set", errb.String())
			}
			if k := env["CACHE_KEY"]; k != "" && strings.Contains(errb.String(), k) {
				t.Errorf("stderr %q contains the key", errb.String())
			}
		})
	}
}
