package main

import (
	"context"
	"strings"
	"testing"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// TestCLIRefusesBadInputNamingTheField: what the admin API answers with 400
// (issue 11 item 9), tenantctl refuses with exit 2 and a message naming the
// field, before anything is created.
func TestCLIRefusesBadInputNamingTheField(t *testing.T) {
	c := newCLI(t)
	c.env["LONG_PW"] = strings.Repeat("é", 37) // 37 runes, 74 bytes: over bcrypt's 72
	tests := []struct {
		name  string
		args  []string
		field string
	}{
		{"password over 72 bytes", []string{"create", "Acme", "acme", "a@acme.test", "--admin-password-env", "LONG_PW"}, "admin_password"},
		{"max users beyond int32", []string{"create", "Acme", "acme", "a@acme.test", "--max-users", "2147483648"}, "max_users"},
		{"max users beyond the bound", []string{"create", "Acme", "acme", "a@acme.test", "--max-users", "1000001"}, "max_users"},
		{"name with an escape sequence", []string{"create", "Acme\x1b[2J", "acme", "a@acme.test"}, "name"},
		{"name with a newline", []string{"create", "Acme\nglobex", "acme", "a@acme.test"}, "name"},
		{"invalid xn-- subdomain", []string{"create", "Acme", "xn--a", "a@acme.test"}, "subdomain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := c.run(tc.args...)
			if code != exitUsage || !strings.Contains(errs, tc.field) {
				t.Errorf("tenantctl %q = exit %d, stderr %q; want 2 naming %s", tc.args, code, errs, tc.field)
			}
		})
	}
	c.must(0, "create", "Acme", "acme", "a@acme.test")
	for _, args := range [][]string{
		{"domains", "add", "acme", "203.0.113.7"},
		{"domains", "add", "acme", "shop.example.123"},
		{"locations", "add", "acme", "--name", "Main\x1b[8m", "--code", "main"},
		{"locations", "add", "acme", "--name", "Main", "--code", "main", "--address", "1 Main St\r\nFake"},
	} {
		if code, _, errs := c.run(args...); code != exitUsage || errs == "" {
			t.Errorf("tenantctl %q = exit %d, stderr %q; want 2 with a message", args, code, errs)
		}
	}
	out, _ := c.must(0, "list", "--json")
	if n := strings.Count(strings.TrimSpace(out), "\n") + 1; n != 1 {
		t.Errorf("tenants after the refused creates = %d, want 1:\n%s", n, out)
	}
}

// TestCLIListAndShowEscapeWhatTheyPrint stores names that an older version
// accepted (terminal escape sequences, a newline that fakes a table row,
// bidi overrides) straight in the control plane, and checks that list, show
// and locations list print them escaped: one row per tenant and no control
// or invisible formatting character reaches the terminal.
func TestCLIListAndShowEscapeWhatTheyPrint(t *testing.T) {
	c := newCLI(t)
	c.must(0, "create", "Acme", "acme", "boss@acme.test", "--multi-location")
	c.must(0, "locations", "add", "acme", "--name", "Main", "--code", "main")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	evil := "Acme\x1b[2J\x1b]0;pwned\x07\r\nglobex  Globex  active  50\u2028\u202etxt.exe\u009b31m\x7f\tx"
	if _, err := conn.Exec(ctx, `UPDATE tenants SET name = $1 WHERE subdomain = 'acme'`, evil); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE tenant_locations SET name = $1, address = $1`, evil); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"list"}, {"show", "acme"}, {"locations", "list", "acme"}} {
		out, _ := c.must(0, args...)
		for _, r := range out {
			if r != '\n' && !unicode.IsPrint(r) {
				t.Errorf("tenantctl %s prints %U unescaped:\n%q", strings.Join(args, " "), r, out)
				break
			}
		}
		if !strings.Contains(out, `\x1b[2J`) {
			t.Errorf("tenantctl %s = %q, want the escape sequence shown escaped", strings.Join(args, " "), out)
		}
		if args[0] != "show" {
			if rows := strings.Count(out, "\n"); rows != 2 {
				t.Errorf("tenantctl %s printed %d lines, want a header and one row:\n%s", strings.Join(args, " "), rows, out)
			}
		}
	}
	out, _ := c.must(0, "show", "acme")
	if !strings.Contains(out, "globex  Globex") || strings.Contains(out, "\nglobex") {
		t.Errorf("show acme = %q, want the newline in the name escaped, not a new line", out)
	}
}
