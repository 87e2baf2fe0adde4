package resolver

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestTenantCodecKeepsEveryFieldButSecrets: a Redis entry carries all a
// tenant's fields except its explicit URL (it may hold a password) and its
// role password (SPEC §9).
func TestTenantCodecKeepsEveryFieldButSecrets(t *testing.T) {
	verified := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		in   *tenantstore.Tenant
	}{
		{"template placement", newTenant("acme")},
		{"explicit URL with secret", func() *tenantstore.Tenant {
			t := newTenant("globex", tenantstore.Domain{Hostname: "shop.globex.test", Verified: true, VerificationToken: "tok", CreatedAt: verified, VerifiedAt: &verified})
			t.Placement = tenantstore.Placement{URL: "postgres://u:url-secret@db:5432/x", RoleName: "r", RolePassword: "role-secret-1"}
			t.MultiLocation = true
			t.CreatedAt, t.UpdatedAt, t.Version = verified, verified.Add(time.Hour), 7
			return t
		}()},
		{"own limits", func() *tenantstore.Tenant {
			t := newTenant("hooli")
			rate, burst := 2.5, 10
			t.Limits = tenantstore.TenantLimits{RatePerSecond: &rate, Burst: &burst}
			return t
		}()},
		{"plan, features and plan limits", func() *tenantstore.Tenant {
			t := newTenant("pied")
			rate, users := 5.0, 7
			t.Plan, t.OwnMaxUsers = "free", &users
			t.FeatureOverrides = map[string]bool{"reports": true}
			t.Features = tenantstore.EffectiveFeatures(map[string]bool{"reports": false, "expenses": false}, t.FeatureOverrides)
			t.PlanLimits = tenantstore.TenantLimits{RatePerSecond: &rate}
			return t
		}()},
		{"parts placement", func() *tenantstore.Tenant {
			t := newTenant("initech")
			t.Placement = tenantstore.Placement{Host: "db2", Port: 6432, User: "app", PasswordEnv: "DB2_PASSWORD", RoleName: "r", RolePassword: "role-secret-2"}
			return t
		}()},
		{"branding", func() *tenantstore.Tenant {
			t := newTenant("hooli")
			t.Branding = tenantstore.Branding{DisplayName: "Hooli ✓", PrimaryColor: "#12ab34", LogoSHA256: strings.Repeat("ab", 32), LogoType: "image/svg+xml"}
			return t
		}()},
	}
	now := time.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeTenant(tt.in, now.Add(time.Minute))
			if err != nil {
				t.Fatalf("encodeTenant() error: %v", err)
			}
			got, err := decodeTenant(b, now)
			if err != nil {
				t.Fatalf("decodeTenant(%s) error: %v", b, err)
			}
			if want := withoutSecrets(tt.in); !reflect.DeepEqual(got, want) {
				t.Errorf("decodeTenant(encodeTenant(t)) = %+v, want %+v", got, want)
			}
			if why := secretIn(string(b), "role-secret", "url-secret"); why != "" {
				t.Errorf("encodeTenant() = %s, holds %s", b, why)
			}
		})
	}
}

func TestDecodeTenant(t *testing.T) {
	now := time.Now()
	negative, _ := encodeTenant(nil, now.Add(time.Second))
	stale, _ := encodeTenant(newTenant("acme"), now.Add(-time.Hour))
	tests := []struct {
		name     string
		in       string
		wantNil  bool
		wantErr  error // nil: any error when wantFail
		wantFail bool
	}{
		{"negative", string(negative), true, nil, false},
		{"tombstone", string(encodeTombstone(now.Add(time.Second))), true, errTombstone, true},
		{"expired an hour ago", string(stale), true, errExpired, true},
		{"version 1", `{"v":1,"id":"x","sub":"acme","exp":9999999999}`, false, nil, true},
		{"no version", `{"id":"x","sub":"acme"}`, false, nil, true},
		{"missing id", `{"v":2,"sub":"acme","exp":9999999999}`, false, nil, true},
		{"not JSON", `acme`, false, nil, true},
		{"public tenant JSON", `{"id":"x","subdomain":"acme"}`, false, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeTenant([]byte(tt.in), now)
			if (err != nil) != tt.wantFail {
				t.Fatalf("decodeTenant(%s) error = %v, want failure %v", tt.in, err, tt.wantFail)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("decodeTenant(%s) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if tt.wantNil && got != nil {
				t.Errorf("decodeTenant(%s) = %+v, want nil (not found)", tt.in, got)
			}
		})
	}
}

// TestEntryMAC: an entry verifies only under the key it was sealed for,
// with a listed key, and unaltered.
func TestEntryMAC(t *testing.T) {
	oldKey, newKey, otherKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	payload := []byte(`{"v":2,"id":"x"}`)
	sealed := entryMAC{keys: [][]byte{oldKey}}.seal("tg:host:acme.example.com", payload)
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-2] ^= 1
	tests := []struct {
		name   string
		keys   [][]byte
		key    string
		value  []byte
		wantOK bool
	}{
		{"same key", [][]byte{oldKey}, "tg:host:acme.example.com", sealed, true},
		{"rotated: the old key still listed", [][]byte{newKey, oldKey}, "tg:host:acme.example.com", sealed, true},
		{"rotated: the old key dropped", [][]byte{newKey}, "tg:host:acme.example.com", sealed, false},
		{"copied under another key", [][]byte{oldKey}, "tg:host:evil.example.com", sealed, false},
		{"another deployment's key", [][]byte{otherKey}, "tg:host:acme.example.com", sealed, false},
		{"payload altered", [][]byte{oldKey}, "tg:host:acme.example.com", tampered, false},
		{"no MAC", [][]byte{oldKey}, "tg:host:acme.example.com", payload, false},
		{"empty", [][]byte{oldKey}, "tg:host:acme.example.com", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := entryMAC{keys: tt.keys}.open(tt.key, tt.value)
			if ok != tt.wantOK {
				t.Fatalf("open(%q, %q) ok = %v, want %v", tt.key, tt.value, ok, tt.wantOK)
			}
			if ok && !bytes.Equal(got, payload) {
				t.Errorf("open() payload = %q, want %q", got, payload)
			}
		})
	}
}

func TestEntryKeys(t *testing.T) {
	signing := []tenanttoken.Key{{ID: "a", Secret: bytes.Repeat([]byte{7}, 32)}, {ID: "b", Secret: bytes.Repeat([]byte{8}, 32)}}
	fromSigning, err := EntryKeys("", signing)
	if err != nil || len(fromSigning) != 2 {
		t.Fatalf("EntryKeys(\"\", two signing keys) = %d keys, %v; want 2", len(fromSigning), err)
	}
	if bytes.Equal(fromSigning[0], signing[0].Secret) {
		t.Errorf("EntryKeys() returned the signing key itself, want a derived key")
	}
	k1, k2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)), base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{10}, 40))
	fromCacheKey, err := EntryKeys(k1+", "+k2, signing)
	if err != nil || len(fromCacheKey) != 2 || bytes.Equal(fromCacheKey[0], fromSigning[0]) {
		t.Fatalf("EntryKeys(CACHE_KEY with two keys) = %d keys, %v; want 2 keys other than the signing keys'", len(fromCacheKey), err)
	}
	short := base64.StdEncoding.EncodeToString([]byte("sixteen-byte-key"))
	for _, bad := range []string{short, "not base64!", k1 + ",x"} {
		if _, err := EntryKeys(bad, signing); err == nil {
			t.Errorf("EntryKeys(%q) = nil error, want one", bad)
		} else if strings.Contains(err.Error(), bad) {
			t.Errorf("EntryKeys(%q) error %q contains the key", bad, err)
		}
	}
	if _, err := EntryKeys("", nil); !errors.Is(err, ErrNoEntryKeys) {
		t.Errorf("EntryKeys(\"\", no signing keys) error = %v, want ErrNoEntryKeys", err)
	}
}

func FuzzDecodeTenant(f *testing.F) {
	exp := time.Now().Add(time.Hour)
	b, _ := encodeTenant(newTenant("acme"), exp)
	f.Add(b)
	neg, _ := encodeTenant(nil, exp)
	f.Add(neg)
	f.Add([]byte(`{"v":2,"exp":9999999999,"id":"x","sub":"y","domains":[{"hostname":"a"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeTenant(data, time.Now())
		if err != nil || got == nil {
			return
		}
		// Whatever decodes must survive a round trip unchanged.
		once, err := encodeTenant(got, exp)
		if err != nil {
			t.Fatalf("encodeTenant(decoded) error: %v", err)
		}
		got2, err := decodeTenant(once, time.Now())
		if err != nil {
			t.Fatalf("decodeTenant(%s) error: %v", once, err)
		}
		twice, _ := encodeTenant(got2, exp)
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
