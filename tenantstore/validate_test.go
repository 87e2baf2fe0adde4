package tenantstore

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

func TestNormalizeSubdomain(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"simple", "acme", "acme", true},
		{"upper-case folds", "AcMe", "acme", true},
		{"digits and hyphen", "a1-b2", "a1-b2", true},
		{"one char", "a", "a", true},
		{"63 chars", strings.Repeat("a", 63), strings.Repeat("a", 63), true},
		{"64 chars", strings.Repeat("a", 64), "", false},
		{"empty", "", "", false},
		{"leading hyphen", "-acme", "", false},
		{"trailing hyphen", "acme-", "", false},
		{"underscore", "ac_me", "", false},
		{"dot", "ac.me", "", false},
		{"space", "ac me", "", false},
		{"unicode", "acmé", "", false},
		{"reserved", "admin", "", false},
		{"reserved any case", "WWW", "", false},
		{"sql", "a'; drop table tenants; --", "", false},
		{"valid A-label", "xn--mnchen-3ya", "xn--mnchen-3ya", true},
		{"valid A-label, upper-case", "XN--MNCHEN-3YA", "xn--mnchen-3ya", true},
		{"double hyphen elsewhere", "ab--cd", "ab--cd", true},
		{"xn-- not punycode", "xn--a", "", false},
		{"xn-- of plain ASCII", "xn--acme-", "", false},
		{"xn-- of plain ASCII, no trailing hyphen", "xn--acme", "", false},
		{"bare xn--", "xn--", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeSubdomain(tt.in, DefaultReservedSubdomains)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Errorf("NormalizeSubdomain(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "subdomain" {
				t.Errorf("NormalizeSubdomain(%q) = %q, %v; want a validation error for field subdomain", tt.in, got, err)
			}
		})
	}
}

func FuzzNormalizeSubdomain(f *testing.F) {
	for _, s := range []string{"acme", "A-1", "-x", "x-", "", "admin", strings.Repeat("z", 64), "é", "xn--mnchen-3ya", "xn--a", "xn--acme-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeSubdomain(in, DefaultReservedSubdomains)
		if err != nil {
			return
		}
		if !isLabel(got) || got != strings.ToLower(in) {
			t.Fatalf("NormalizeSubdomain(%q) = %q, not a lower-case label of the input", in, got)
		}
		if u, err := idna.Registration.ToUnicode(got); strings.HasPrefix(got, "xn--") && (err != nil || u == got) {
			t.Fatalf("NormalizeSubdomain(%q) = %q, an xn-- label that is not a valid A-label (%v)", in, got, err)
		}
		if again, err := NormalizeSubdomain(got, DefaultReservedSubdomains); err != nil || again != got {
			t.Fatalf("NormalizeSubdomain(%q) = %q, %v; want idempotent %q", got, again, err, got)
		}
		if name := DatabaseName("sales_", got); len(name) > 63 {
			t.Fatalf("DatabaseName(sales_, %q) = %q, longer than 63 bytes", got, name)
		}
	})
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"acme.localhost", "ACME.Example.COM:8443", "x.", "[::1]:80", "a..b", "u@h", "", ":80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := NormalizeHost(in)
		if !ok {
			return
		}
		if got == "" || len(got) > 253 || strings.ToLower(got) != got || strings.ContainsAny(got, ":@/[] ") {
			t.Fatalf("NormalizeHost(%q) = %q, not a normal host name", in, got)
		}
		if again, ok := NormalizeHost(got); !ok || again != got {
			t.Fatalf("NormalizeHost(%q) = %q, %v; want idempotent %q", got, again, ok, got)
		}
	})
}
