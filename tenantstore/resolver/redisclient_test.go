package resolver

import (
	"strings"
	"testing"
	"time"
)

func TestParseRedisURL(t *testing.T) {
	tests := []struct {
		name        string
		url         string
		wantAddrs   []string
		wantMaster  string
		wantCluster bool
		wantDB      int
		wantRead    time.Duration
		wantRetries int
	}{
		{"single with defaults", "redis://127.0.0.1:6379/2", []string{"127.0.0.1:6379"}, "", false, 2, 100 * time.Millisecond, -1},
		{"URL overrides timeout and retries", "redis://h:1/0?read_timeout=2s&max_retries=3", []string{"h:1"}, "", false, 0, 2 * time.Second, 3},
		{"sentinel", "redis://s1:26379/1?master_name=mymaster&addr=s2:26379", []string{"s1:26379", "s2:26379"}, "mymaster", false, 1, 100 * time.Millisecond, -1},
		{"cluster", "redis://n1:7000?addr=n2:7000&addr=n3:7000", []string{"n1:7000", "n2:7000", "n3:7000"}, "", true, 0, 100 * time.Millisecond, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseRedisURL(tt.url)
			if err != nil {
				t.Fatalf("ParseRedisURL(%q) error: %v", tt.url, err)
			}
			if strings.Join(o.Addrs, ",") != strings.Join(tt.wantAddrs, ",") {
				t.Errorf("Addrs = %v, want %v", o.Addrs, tt.wantAddrs)
			}
			if o.MasterName != tt.wantMaster || o.IsClusterMode != tt.wantCluster || o.DB != tt.wantDB {
				t.Errorf("MasterName, IsClusterMode, DB = %q, %v, %d; want %q, %v, %d",
					o.MasterName, o.IsClusterMode, o.DB, tt.wantMaster, tt.wantCluster, tt.wantDB)
			}
			if o.ReadTimeout != tt.wantRead || o.MaxRetries != tt.wantRetries {
				t.Errorf("ReadTimeout, MaxRetries = %v, %d; want %v, %d", o.ReadTimeout, o.MaxRetries, tt.wantRead, tt.wantRetries)
			}
			if o.DialTimeout != DefaultRedisDialTimeout || o.WriteTimeout != DefaultRedisIOTimeout || !o.ContextTimeoutEnabled {
				t.Errorf("DialTimeout, WriteTimeout, ContextTimeoutEnabled = %v, %v, %v; want %v, %v, true",
					o.DialTimeout, o.WriteTimeout, o.ContextTimeoutEnabled, DefaultRedisDialTimeout, DefaultRedisIOTimeout)
			}
		})
	}
}

func TestParseRedisURLErrorsHideSecrets(t *testing.T) {
	for _, raw := range []string{
		"http://user:hunter2@h:6379",
		"redis://user:hunter2@h:6379/notanumber",
		"redis://user:hunter2@h:6379/0?bogus=1",
		"redis://user:hunter2@h:6379/0?master_name=m&bogus=1",
		"redis://user:hunter2@h:6379/0?addr=h2:1&bogus=1",
		"redis://user:hunter2@h:6379/\x7f",
	} {
		_, err := ParseRedisURL(raw)
		if err == nil {
			t.Errorf("ParseRedisURL(%q) error = nil, want an error", raw)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseRedisURL(%q) error = %q, which contains the password", raw, err)
		}
	}
}
