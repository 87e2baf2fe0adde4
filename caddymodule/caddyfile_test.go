package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the golden JSON files of the adapt tests")

// envOfCaddyfile are the variables the project Caddyfile reads at adapt
// time; the golden test runs with them unset, so it shows the defaults.
var envOfCaddyfile = []string{"ACME_EMAIL", "HTTP_PORT", "HTTPS_PORT", "BASE_DOMAIN", "APP_UPSTREAMS", "ADMIN_UPSTREAMS", "CADDY_ADMIN", "CADDY_ADMIN_SOCKET", "ACCESS_LOG", "REDIS_KEY_PREFIX", "CERT_STORAGE", "HEALTH_PORT", "SHUTDOWN_DELAY",
	"TENANT_RATE", "TENANT_BURST", "TENANT_MAX_IN_FLIGHT", "EDGE_MAX_IN_FLIGHT", "EDGE_QUEUE_TIMEOUT", "EDGE_QUEUE_LENGTH"}

// TestAdaptGolden adapts each testdata/adapt/*.caddyfile, and the project's
// Caddyfile, and compares the JSON with the .json file beside it (go test
// -update rewrites them).
func TestAdaptGolden(t *testing.T) {
	for _, k := range envOfCaddyfile {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	files, err := filepath.Glob("testdata/adapt/*.caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{"project Caddyfile": "../Caddyfile", "production Caddyfile": "../Caddyfile.production"}
	for _, f := range files {
		cases[filepath.Base(f)] = f
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			if path == "../Caddyfile.production" {
				// What an operator sets; the rest keeps its default.
				t.Setenv("BASE_DOMAIN", "example.com")
				t.Setenv("ACME_EMAIL", "ops@example.com")
				t.Setenv("APP_UPSTREAMS", "10.0.0.1:8000 10.0.0.2:8000")
				t.Setenv("ADMIN_UPSTREAMS", "10.0.0.1:9000 10.0.0.2:9000")
			}
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out, warnings, err := adapter.Adapt(in, map[string]any{"filename": path})
			if err != nil {
				t.Fatalf("Adapt(%s) = %v", path, err)
			}
			for _, w := range warnings {
				t.Errorf("Adapt(%s) warning: %s", path, w.String())
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "\t"); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden := strings.TrimSuffix(path, ".caddyfile") + ".json"
			switch path {
			case "../Caddyfile":
				golden = "testdata/adapt/project-Caddyfile.json"
			case "../Caddyfile.production":
				golden = "testdata/adapt/production-Caddyfile.json"
			}
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden file (go test -update writes it): %v", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("Adapt(%s) =\n%s\nwant (%s)\n%s", path, pretty.Bytes(), golden, want)
			}
		})
	}
}

// stubDNS stands in for a DNS provider module (github.com/caddy-dns/…), so
// that Caddyfile.production adapts in tests as it does in a build that
// includes one.
type stubDNS struct {
	APIToken string `json:"api_token,omitempty"`
}

func (stubDNS) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "dns.providers.cloudflare", New: func() caddy.Module { return new(stubDNS) }}
}

func (s *stubDNS) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		s.APIToken = d.Val()
	}
	return nil
}

func init() {
	caddy.RegisterModule(stubDNS{})
}

func TestAdaptErrors(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"unknown global option", "{\n\ttenant {\n\t\tcolour blue\n\t}\n}\n:80\n", `unrecognized tenant option "colour"`},
		{"global option without value", "{\n\ttenant {\n\t\tbase_domain\n\t}\n}\n:80\n", "wrong argument count"},
		{"bad duration", "{\n\ttenant {\n\t\tttl soon\n\t}\n}\n:80\n", "tenant option ttl"},
		{"negative cache size", "{\n\ttenant {\n\t\tcache_size -1\n\t}\n}\n:80\n", "cache_size must not be negative"},
		{"limits with an argument", "{\n\ttenant {\n\t\tlimits 5\n\t}\n}\n:80\n", "wrong argument count"},
		{"unknown limits option", "{\n\ttenant {\n\t\tlimits {\n\t\t\trate 5\n\t\t}\n\t}\n}\n:80\n", `unrecognized tenant limits option "rate"`},
		{"rate not a number", "{\n\ttenant {\n\t\tlimits {\n\t\t\trate_per_second fast\n\t\t}\n\t}\n}\n:80\n", "tenant limits rate_per_second"},
		{"negative rate", "{\n\ttenant {\n\t\tlimits {\n\t\t\trate_per_second -1\n\t\t}\n\t}\n}\n:80\n", "must be 0 (unlimited) or from"},
		{"rate too small", "{\n\ttenant {\n\t\tlimits {\n\t\t\trate_per_second 0.001\n\t\t}\n\t}\n}\n:80\n", "must be 0 (unlimited) or from"},
		{"rate NaN", "{\n\ttenant {\n\t\tlimits {\n\t\t\trate_per_second NaN\n\t\t}\n\t}\n}\n:80\n", "is not a number"},
		{"rate huge", "{\n\ttenant {\n\t\tlimits {\n\t\t\trate_per_second 1e300\n\t\t}\n\t}\n}\n:80\n", "must be 0 (unlimited) or from"},
		{"fractional burst", "{\n\ttenant {\n\t\tlimits {\n\t\t\tburst 1.5\n\t\t}\n\t}\n}\n:80\n", "is not a whole number"},
		{"negative in-flight", "{\n\ttenant {\n\t\tlimits {\n\t\t\tmax_in_flight -3\n\t\t}\n\t}\n}\n:80\n", "must be from 0 to 1000000"},
		{"in-flight overflow", "{\n\ttenant {\n\t\tlimits {\n\t\t\tmax_in_flight 99999999999999999999\n\t\t}\n\t}\n}\n:80\n", "is not a whole number"},
		{"limits option without value", "{\n\ttenant {\n\t\tlimits {\n\t\t\tburst\n\t\t}\n\t}\n}\n:80\n", "wrong argument count"},
		{"unknown shed option", "{\n\ttenant {\n\t\tshed {\n\t\t\tqueue 5\n\t\t}\n\t}\n}\n:80\n", `unrecognized tenant shed option "queue"`},
		{"bad queue timeout", "{\n\ttenant {\n\t\tshed {\n\t\t\tqueue_timeout soon\n\t\t}\n\t}\n}\n:80\n", "tenant shed queue_timeout"},
		{"negative queue timeout", "{\n\ttenant {\n\t\tshed {\n\t\t\tqueue_timeout -1s\n\t\t}\n\t}\n}\n:80\n", "must not be negative"},
		{"shed in-flight too large", "{\n\ttenant {\n\t\tshed {\n\t\t\tmax_in_flight 1000001\n\t\t}\n\t}\n}\n:80\n", "must be from 0 to 1000000"},
		{"negative queue length", "{\n\ttenant {\n\t\tshed {\n\t\t\tqueue_length -1\n\t\t}\n\t}\n}\n:80\n", "must be from 0 to 1000000"},
		{"handler argument", ":80 {\n\ttenant acme\n}\n", "wrong argument count"},
		{"unknown handler option", ":80 {\n\ttenant {\n\t\tfoo bar\n\t}\n}\n", `unrecognized tenant handler option "foo"`},
		{"permission argument", "{\n\ton_demand_tls {\n\t\tpermission tenant extra\n\t}\n}\n:80\n", "wrong argument count"},
		{"error page argument", ":80 {\n\thandle_errors {\n\t\ttenant_error x\n\t}\n}\n", "wrong argument count"},
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := adapter.Adapt([]byte(tt.in), nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Adapt(%q) = %v, want an error containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}
