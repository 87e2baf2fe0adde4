package tenantstore

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"shop.example.com", "shop.example.com", true},
		{" Shop.Example.COM. ", "shop.example.com", true},
		{"xn--mnchen-3ya.example.de", "xn--mnchen-3ya.example.de", true},
		{"1.example.com", "1.example.com", true}, // numeric labels are fine, except the last
		{"example.c0m", "example.c0m", true},
		{"localhost", "", false},
		{"203.0.113.7", "", false},
		{"203.0.113.7.", "", false},
		{"203.0.113.7:443", "", false},
		{"127.1", "", false},
		{"shop.example.123", "", false},
		{"a.0x7f", "", false},
		{"a.0X7F", "", false},
		{"a.0x", "", false},
		{"2001:db8::1", "", false},
		{"[2001:db8::1]", "", false},
		{"::ffff:203.0.113.7", "", false},
		{"shop.example.com:8443", "", false},
		{"user@shop.example.com", "", false},
		{"xn--a.example.com", "", false},
		{"shop.xn--acme-", "", false},
		{"shop..example.com", "", false},
		{"shop\x1b.example.com", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		if tt.ok {
			if err != nil || got != tt.want {
				t.Errorf("NormalizeDomain(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			}
			continue
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "hostname" {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want a validation error for field hostname", tt.in, got, err)
		}
	}
}

func TestValidateEmailRefusesInvisibleCharacters(t *testing.T) {
	for _, addr := range []string{"a\u202eb@example.com", "a@exa\u200bmple.com", "\"a\tb\"@example.com"} {
		var ve *ValidationError
		if err := ValidateEmail("admin_email", addr); !errors.As(err, &ve) || ve.Field != "admin_email" {
			t.Errorf("ValidateEmail(%q) = %v, want a validation error for field admin_email", addr, err)
		}
	}
	if err := ValidateEmail("admin_email", "ü@example.com"); err != nil {
		t.Errorf("ValidateEmail(ü@example.com) = %v, want nil", err)
	}
}

func TestValidateText(t *testing.T) {
	for _, s := range []string{"Acme", "Acme Ünïcode 株式会社 ✓", "O'Brien & Sons, Ltd. (HQ) #1", "مرحبا", "Zürich — 1 Main St"} {
		if err := ValidateText("name", s, MaxNameLength); err != nil {
			t.Errorf("ValidateText(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range []string{"a\x00b", "a\tb", "a\nb", "a\rb", "a\x1b[31m", "a\x7f", "a\u0085", "a\u009b", "a\u00a0b",
		"a\u200bb", "a\u200db", "a\u2028b", "a\u2029b", "a\u202eb", "a\u2066b", "a\ufeffb", "a\ue000b", "a\xffb",
		strings.Repeat("x", MaxNameLength+1)} {
		var ve *ValidationError
		if err := ValidateText("name", s, MaxNameLength); !errors.As(err, &ve) || ve.Field != "name" {
			t.Errorf("ValidateText(%q) = %v, want a validation error for field name", s, err)
		}
	}
}

// validatorManager is a Manager with only what the validators read.
func validatorManager() *Manager {
	return &Manager{reserved: DefaultReservedSubdomains, base: "example.com", dsn: DSNConfig{Getenv: func(string) string { return "" }}}
}

// checkValidationError fails unless err is a *ValidationError naming a
// field, as the admin API needs to answer 400 with that field.
func checkValidationError(t *testing.T, what string, err error) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field == "" || ve.Message == "" {
		t.Fatalf("%s error = %#v, want a *ValidationError naming a field", what, err)
	}
}

// checkTenant fails unless every field a create or a patch sets is
// normalised, printable and within bounds.
func checkValidTenant(t *testing.T, what string, tn *Tenant) {
	t.Helper()
	if tn.Name == "" || tn.Name != strings.TrimSpace(tn.Name) || utf8.RuneCountInString(tn.Name) > MaxNameLength || !printable(tn.Name) {
		t.Fatalf("%s accepted name %q", what, tn.Name)
	}
	if again, err := NormalizeSubdomain(tn.Subdomain, DefaultReservedSubdomains); err != nil || again != tn.Subdomain {
		t.Fatalf("%s accepted subdomain %q, not normal (%q, %v)", what, tn.Subdomain, again, err)
	}
	if err := ValidateEmail("admin_email", tn.AdminEmail); err != nil || !printable(tn.AdminEmail) {
		t.Fatalf("%s accepted admin_email %q (%v)", what, tn.AdminEmail, err)
	}
	// 0: the tenant follows its plan's user limit (issue 17).
	if tn.MaxUsers < 0 || tn.MaxUsers > MaxMaxUsers {
		t.Fatalf("%s accepted max_users %d", what, tn.MaxUsers)
	}
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

func FuzzValidateCreate(f *testing.F) {
	f.Add("Acme", "acme", "boss@acme.example.com", 0, "")
	f.Add("Acme\x1b[2J", "acme", "boss@acme.example.com", 10, "password1")
	f.Add(" Ünïcode 株式会社 ", "XN--MNCHEN-3YA", "a@b.example", 1_000_000, strings.Repeat("é", 36))
	f.Add("Acme\u2028", "xn--a", "a@localhost", 1_000_001, strings.Repeat("p", 73))
	f.Add("x", "admin", "\"a b\"@example.com", -1, "short")
	f.Add("x", "a", "a@b.c", 1<<40, "")
	f.Fuzz(func(t *testing.T, name, sub, email string, maxUsers int, password string) {
		m := validatorManager()
		req := CreateRequest{Name: name, Subdomain: sub, AdminEmail: email, MaxUsers: maxUsers, AdminPassword: password}
		tn, err := m.validateCreate(&req)
		if err != nil {
			checkValidationError(t, "validateCreate", err)
			return
		}
		checkValidTenant(t, "validateCreate", tn)
		if len(req.AdminPassword) > MaxPasswordBytes {
			t.Fatalf("validateCreate accepted a password of %d bytes", len(req.AdminPassword))
		}
		if tn.MaxUsers != maxUsers { // 0 follows the plan

			t.Fatalf("validateCreate(max_users %d) = %d", maxUsers, tn.MaxUsers)
		}
	})
}

func FuzzApplyPatch(f *testing.F) {
	f.Add(uint8(0xff), "Acme 2", "acme-2", "new@acme.example.com", "suspended", 20)
	f.Add(uint8(0x01), "Acme\x1b]0;x\x07", "", "", "", 0)
	f.Add(uint8(0x02), "", "xn--zz", "", "", 0)
	f.Add(uint8(0x10), "", "", "", "", 2147483648)
	f.Add(uint8(0x08), "", "", "", "provisioning", 0)
	f.Add(uint8(0x1f), "\u202e", "WWW", "not-an-email", "bogus", -5)
	f.Fuzz(func(t *testing.T, set uint8, name, sub, email, status string, maxUsers int) {
		m := validatorManager()
		tn := &Tenant{Name: "Acme", Subdomain: "acme", AdminEmail: "boss@acme.example.com", Status: StatusActive, MaxUsers: 50}
		st := Status(status)
		p := Patch{}
		if set&0x01 != 0 {
			p.Name = &name
		}
		if set&0x02 != 0 {
			p.Subdomain = &sub
		}
		if set&0x04 != 0 {
			p.AdminEmail = &email
		}
		if set&0x08 != 0 {
			p.Status = &st
		}
		if set&0x10 != 0 {
			p.MaxUsers = &maxUsers
		}
		if err := m.applyPatch(tn, p); err != nil {
			checkValidationError(t, "applyPatch", err)
			return
		}
		checkValidTenant(t, "applyPatch", tn)
		if !tn.Status.Valid() {
			t.Fatalf("applyPatch accepted status %q", tn.Status)
		}
	})
}

func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"shop.example.com", "Shop.Example.COM.", "203.0.113.7", "127.1", "a.0x7f", "[::1]", "2001:db8::1",
		"::ffff:1.2.3.4", "xn--mnchen-3ya.de", "xn--a.com", "shop.example.com:443", "a..b", "", "example.com", "x.example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeDomain(in)
		if err == nil {
			// The Manager adds one rule: nothing inside BASE_DOMAIN.
			_, err = validatorManager().normalizeDomain(in)
			if err == nil && (got == "example.com" || strings.HasSuffix(got, ".example.com")) {
				t.Fatalf("normalizeDomain(%q) = %q, inside the base domain", in, got)
			}
			err = nil
		}
		if err != nil {
			checkValidationError(t, "NormalizeDomain", err)
			return
		}
		if _, perr := netip.ParseAddr(got); perr == nil {
			t.Fatalf("NormalizeDomain(%q) = %q, an IP address", in, got)
		}
		last := got[strings.LastIndexByte(got, '.')+1:]
		if !strings.Contains(got, ".") || strings.Trim(last, "0123456789") == "" {
			t.Fatalf("NormalizeDomain(%q) = %q, not a name of two labels with a non-numeric last", in, got)
		}
		if h, ok := NormalizeHost(got); !ok || h != got || strings.ToLower(got) != got || !printable(got) {
			t.Fatalf("NormalizeDomain(%q) = %q, not a normal host name", in, got)
		}
		if again, err := NormalizeDomain(got); err != nil || again != got {
			t.Fatalf("NormalizeDomain(%q) = %q, %v; want idempotent %q", got, again, err, got)
		}
	})
}

func FuzzValidateText(f *testing.F) {
	for _, s := range []string{"Acme", "a\x1b[2J", "株式会社", "a\u202eb", "\xff", "a b\tc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateText("name", s, MaxNameLength)
		if err != nil {
			checkValidationError(t, "ValidateText", err)
			return
		}
		if !printable(s) || utf8.RuneCountInString(s) > MaxNameLength {
			t.Fatalf("ValidateText accepted %q", s)
		}
	})
}
