package tenantstore

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDSNConfigURL(t *testing.T) {
	env := map[string]string{
		"TENANT_ACME_CORP_DATABASE_URL": "postgres://o:override-pw@other:5432/acme",
		"GLOBEX_DB_PASSWORD":            "parts-pw",
	}
	cfg := DSNConfig{
		Template: "postgres://admin:admin-pw@db.internal:5432/{database}?sslmode=disable",
		Getenv:   func(k string) string { return env[k] },
	}
	role := Placement{RoleName: "sales_acme", RolePassword: "role-pw"}
	tests := []struct {
		name string
		t    Tenant
		want string
	}{
		{"template with role", Tenant{Subdomain: "acme", DatabaseName: "sales_acme", Placement: role},
			"postgres://sales_acme:role-pw@db.internal:5432/sales_acme?sslmode=disable"},
		{"template without role keeps template user", Tenant{Subdomain: "acme", DatabaseName: "sales_acme"},
			"postgres://admin:admin-pw@db.internal:5432/sales_acme?sslmode=disable"},
		{"explicit URL beats template", Tenant{Subdomain: "acme", DatabaseName: "x", Placement: Placement{URL: "postgres://u:p@h/x"}},
			"postgres://u:p@h/x"},
		{"parts with password variable", Tenant{Subdomain: "globex", DatabaseName: "gx",
			Placement: Placement{Host: "pg2", Port: 6432, User: "gx", PasswordEnv: "GLOBEX_DB_PASSWORD"}},
			"postgres://gx:parts-pw@pg2:6432/gx"},
		{"env override beats explicit", Tenant{Subdomain: "acme-corp", DatabaseName: "x", Placement: Placement{URL: "postgres://u:p@h/x"}},
			"postgres://o:override-pw@other:5432/acme"},
		{"env override beats template", Tenant{Subdomain: "acme-corp", DatabaseName: "x", Placement: role},
			"postgres://o:override-pw@other:5432/acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cfg.URL(&tt.t)
			if err != nil || got != tt.want {
				t.Errorf("URL() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestDSNConfigErrorsHidePasswords(t *testing.T) {
	tests := []struct {
		name string
		cfg  DSNConfig
		t    Tenant
	}{
		{"no template", DSNConfig{Getenv: func(string) string { return "" }}, Tenant{Subdomain: "a", DatabaseName: "a"}},
		{"template without placeholder", DSNConfig{Template: "postgres://admin:s3cret-pw@h/db", Getenv: func(string) string { return "" }},
			Tenant{Subdomain: "a", DatabaseName: "a"}},
		{"unparsable template", DSNConfig{Template: "postgres://admin:s3cret-pw@h:bad port/{database}", Getenv: func(string) string { return "" }},
			Tenant{Subdomain: "a", DatabaseName: "a"}},
		{"password variable unset", DSNConfig{Getenv: func(string) string { return "" }},
			Tenant{Subdomain: "a", DatabaseName: "a", Placement: Placement{Host: "h", User: "u", PasswordEnv: "A_PW"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.URL(&tt.t)
			if err == nil {
				t.Fatalf("URL() = %q, nil; want an error", got)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("URL() error %q contains the password", err)
			}
		})
	}
}

func TestPlacementJSONHasNoSecret(t *testing.T) {
	tn := Tenant{Subdomain: "a", Placement: Placement{URL: "postgres://u:url-secret@h/db", RoleName: "r", RolePassword: "role-secret"}}
	b, err := json.Marshal(tn)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); strings.Contains(s, "url-secret") || strings.Contains(s, "role-secret") {
		t.Errorf("json.Marshal(tenant) = %s; want no password", s)
	}
}

func TestDatabaseName(t *testing.T) {
	long := strings.Repeat("a", 60)
	tests := []struct{ prefix, sub, want string }{
		{"sales_", "acme", "sales_acme"},
		{"sales_", "acme-corp-2", "sales_acme_corp_2"},
		{"sales_", strings.Repeat("b", 57), "sales_" + strings.Repeat("b", 57)},
	}
	for _, tt := range tests {
		if got := DatabaseName(tt.prefix, tt.sub); got != tt.want {
			t.Errorf("DatabaseName(%q, %q) = %q, want %q", tt.prefix, tt.sub, got, tt.want)
		}
	}
	a, b := DatabaseName("sales_", long+"-x"), DatabaseName("sales_", long+"-y")
	if len(a) != 63 || len(b) != 63 || a == b {
		t.Errorf("DatabaseName(long names) = %q, %q; want two different 63-byte names", a, b)
	}
}

func TestDefaultTemplate(t *testing.T) {
	got, err := DefaultTemplate("postgres://postgres@127.0.0.1:5432/tenantgate?sslmode=disable")
	if want := "postgres://postgres@127.0.0.1:5432/{database}?sslmode=disable"; err != nil || got != want {
		t.Errorf("DefaultTemplate() = %q, %v; want %q", got, err, want)
	}
}

func TestServerKey(t *testing.T) {
	c := DSNConfig{Template: "postgres://postgres@127.0.0.1:5432/{database}?sslmode=disable"}
	tests := []struct {
		name, url, want string
	}{
		{"the template's server", "postgres://u:p@127.0.0.1:5432/x", ""},
		{"the template's server, default port", "postgres://127.0.0.1/x", ""},
		{"another port", "postgres://127.0.0.1:5433/x", "127.0.0.1:5433"},
		{"host names are compared lower-case", "postgres://DB1.Example.:6543/x", "db1.example:6543"},
		{"IPv6", "postgres://[::1]:5433/x", "[::1]:5433"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := c.ServerKey(tt.url); err != nil || got != tt.want {
				t.Errorf("ServerKey(%s) = %q, %v; want %q", tt.url, got, err, tt.want)
			}
		})
	}
}

func TestURLOfAMovedTenantUsesItsRole(t *testing.T) {
	c := DSNConfig{Template: "postgres://postgres@127.0.0.1:5432/{database}", Getenv: func(string) string { return "" }}
	tn := &Tenant{Subdomain: "acme", DatabaseName: "acme_db",
		Placement: Placement{URL: "postgres://db2:5433/acme_db?sslmode=require", RoleName: "acme_role", RolePassword: "s3cret"}}
	got, err := c.URL(tn)
	if want := "postgres://acme_role:s3cret@db2:5433/acme_db?sslmode=require"; err != nil || got != want {
		t.Errorf("URL(placement without credentials, role) = %q, %v; want %q", got, err, want)
	}
	tn.Placement.URL = "postgres://owner:pw@db2:5433/acme_db"
	if got, err := c.URL(tn); err != nil || got != tn.Placement.URL {
		t.Errorf("URL(placement with its own credentials) = %q, %v; want it unchanged", got, err)
	}
	admin, err := c.ServerAdminURL(&Tenant{Placement: Placement{URL: "postgres://db2:5433/acme_db", RoleName: "r"}}, "postgres")
	if want := "postgres://postgres@db2:5433/postgres"; err != nil || admin != want {
		t.Errorf("ServerAdminURL = %q, %v; want the template's user on db2:5433: %q", admin, err, want)
	}
}
