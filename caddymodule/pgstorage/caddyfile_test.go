package pgstorage

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Storage
		wantErr string
	}{
		{"bare", `postgres`, Storage{}, ""},
		{"inline url", `postgres postgres://db/x`, Storage{DatabaseURL: "postgres://db/x"}, ""},
		{"block", `postgres {
			database_url {env.DATABASE_URL}
			encryption_key {env.CERT_STORAGE_KEY}
			lock_lease 12s
			lock_poll_interval 500ms
		}`, Storage{DatabaseURL: "{env.DATABASE_URL}", EncryptionKey: "{env.CERT_STORAGE_KEY}", LockLease: caddy.Duration(12 * time.Second), LockPollInterval: caddy.Duration(500 * time.Millisecond)}, ""},
		{"unknown option", `postgres {
			table certs
		}`, Storage{}, "unrecognized"},
		{"missing value", `postgres {
			encryption_key
		}`, Storage{}, "wrong argument count"},
		{"bad duration", `postgres {
			lock_lease soon
		}`, Storage{}, "lock_lease"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got Storage
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("UnmarshalCaddyfile(%q) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.DatabaseURL != tc.want.DatabaseURL || got.EncryptionKey != tc.want.EncryptionKey || got.LockLease != tc.want.LockLease || got.LockPollInterval != tc.want.LockPollInterval {
				t.Errorf("UnmarshalCaddyfile(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// TestAdaptGlobalOption: the global storage option of SPEC §10 adapts to
// the module, with the key left as a runtime placeholder (never expanded
// into the JSON config).
func TestAdaptGlobalOption(t *testing.T) {
	src := `{
	storage postgres {
		database_url {env.DATABASE_URL}
		encryption_key {env.CERT_STORAGE_KEY}
	}
}
:8080 {
	respond ok
}
`
	out, _, err := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}.Adapt([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Storage map[string]any `json:"storage"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"module": "postgres", "database_url": "{env.DATABASE_URL}", "encryption_key": "{env.CERT_STORAGE_KEY}"}
	for k, v := range want {
		if cfg.Storage[k] != v {
			t.Errorf("adapted storage[%q] = %v, want %v (config %s)", k, cfg.Storage[k], v, out)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, s := range []Storage{
		{LockLease: caddy.Duration(20 * time.Second)},
		{LockPollInterval: caddy.Duration(2 * time.Second)},
		{LockLease: caddy.Duration(time.Millisecond)},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", s)
		}
	}
	if err := (&Storage{}).Validate(); err != nil {
		t.Errorf("Validate of the defaults = %v", err)
	}
}
