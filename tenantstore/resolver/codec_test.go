package resolver

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/tenantstore"
)

func TestTenantCodecKeepsEveryField(t *testing.T) {
	verified := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		in   *tenantstore.Tenant
	}{
		{"template placement", newTenant("acme")},
		{"explicit URL with secret", func() *tenantstore.Tenant {
			t := newTenant("globex", tenantstore.Domain{Hostname: "shop.globex.test", Verified: true, VerificationToken: "tok", CreatedAt: verified, VerifiedAt: &verified})
			t.Placement = tenantstore.Placement{URL: "postgres://u:pw@db:5432/x", RoleName: "r", RolePassword: "rpw"}
			t.MultiLocation = true
			t.CreatedAt, t.UpdatedAt, t.Version = verified, verified.Add(time.Hour), 7
			return t
		}()},
		{"parts placement", func() *tenantstore.Tenant {
			t := newTenant("initech")
			t.Placement = tenantstore.Placement{Host: "db2", Port: 6432, User: "app", PasswordEnv: "DB2_PASSWORD", RoleName: "r", RolePassword: "p"}
			return t
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeTenant(tt.in)
			if err != nil {
				t.Fatalf("encodeTenant() error: %v", err)
			}
			got, err := decodeTenant(b)
			if err != nil {
				t.Fatalf("decodeTenant(%s) error: %v", b, err)
			}
			if !reflect.DeepEqual(got, tt.in) {
				t.Errorf("decodeTenant(encodeTenant(t)) = %+v, want %+v", got, tt.in)
			}
		})
	}
}

func TestDecodeTenant(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantNil  bool
		wantFail bool
	}{
		{"negative", string(negativeWire), true, false},
		{"other version", `{"v":2,"id":"x","sub":"acme"}`, false, true},
		{"no version", `{"id":"x","sub":"acme"}`, false, true},
		{"missing id", `{"v":1,"sub":"acme"}`, false, true},
		{"not JSON", `acme`, false, true},
		{"public tenant JSON", `{"id":"x","subdomain":"acme"}`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeTenant([]byte(tt.in))
			if (err != nil) != tt.wantFail {
				t.Fatalf("decodeTenant(%s) error = %v, want failure %v", tt.in, err, tt.wantFail)
			}
			if tt.wantNil && got != nil {
				t.Errorf("decodeTenant(%s) = %+v, want nil (not found)", tt.in, got)
			}
		})
	}
}

func FuzzDecodeTenant(f *testing.F) {
	b, _ := encodeTenant(newTenant("acme"))
	f.Add(b)
	f.Add(negativeWire)
	f.Add([]byte(`{"v":1,"id":"x","sub":"y","domains":[{"hostname":"a"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeTenant(data)
		if err != nil || got == nil {
			return
		}
		// Whatever decodes must survive a round trip unchanged.
		once, err := encodeTenant(got)
		if err != nil {
			t.Fatalf("encodeTenant(decoded) error: %v", err)
		}
		got2, err := decodeTenant(once)
		if err != nil {
			t.Fatalf("decodeTenant(%s) error: %v", once, err)
		}
		twice, _ := encodeTenant(got2)
		if !bytes.Equal(once, twice) {
			t.Fatalf("round trip of %q = %s, want %s", data, twice, once)
		}
	})
}

func FuzzParseMessage(f *testing.F) {
	f.Add(`{"id":"x","subdomains":["a","b"],"hostnames":["shop.a.test"]}`)
	f.Add(`{}`)
	f.Add(`garbage`)
	f.Fuzz(func(t *testing.T, payload string) {
		c, err := parseMessage(payload)
		if err != nil {
			return
		}
		cfg := Config{}.withDefaults()
		hosts := changedHosts(&cfg, c)
		if len(hosts) > len(c.Subdomains)+len(c.Hostnames) {
			t.Fatalf("changedHosts(%+v) = %d hosts, want at most %d", c, len(hosts), len(c.Subdomains)+len(c.Hostnames))
		}
		for _, h := range hosts {
			if h == "" || strings.HasPrefix(h, ".") {
				t.Fatalf("changedHosts(%+v) contains %q", c, h)
			}
		}
	})
}
