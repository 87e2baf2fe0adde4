package admin

import (
	"net/http"
	"strings"
	"testing"
)

// TestAdminBadInputIsA400NamingTheField sends the admin API values that
// used to reach bcrypt, PostgreSQL's int4 or the terminal unchecked (issue
// 11 item 9): every one must be a 400 naming the field, never a 500 or 503,
// and none may change anything.
func TestAdminBadInputIsA400NamingTheField(t *testing.T) {
	e := newAdminEnv(t)
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{
		"name": "Acme", "subdomain": "acme", "admin_email": "boss@acme.example.com", "multi_location": true,
	}), "create acme")
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants/acme/locations", map[string]any{
		"name": "Main", "code": "main",
	}), "add location")

	create := func(k, v string) string {
		body := map[string]string{"name": `"Beta"`, "subdomain": `"beta"`, "admin_email": `"boss@beta.example.com"`}
		body[k] = v
		var b strings.Builder
		b.WriteString("{")
		for k, v := range body {
			if b.Len() > 1 {
				b.WriteString(",")
			}
			b.WriteString(`"` + k + `":` + v)
		}
		return b.String() + "}"
	}
	tests := []struct {
		name, method, path, body, field string
	}{
		{"domain: IPv4", "POST", "/api/tenants/acme/domains", `{"hostname": "203.0.113.7"}`, "hostname"},
		{"domain: IPv4 with a trailing dot", "POST", "/api/tenants/acme/domains", `{"hostname": "203.0.113.7."}`, "hostname"},
		{"domain: IPv4 with a port", "POST", "/api/tenants/acme/domains", `{"hostname": "203.0.113.7:443"}`, "hostname"},
		{"domain: IPv6", "POST", "/api/tenants/acme/domains", `{"hostname": "2001:db8::1"}`, "hostname"},
		{"domain: bracketed IPv6", "POST", "/api/tenants/acme/domains", `{"hostname": "[2001:db8::1]"}`, "hostname"},
		{"domain: IPv4-mapped IPv6", "POST", "/api/tenants/acme/domains", `{"hostname": "::ffff:203.0.113.7"}`, "hostname"},
		{"domain: all-numeric last label", "POST", "/api/tenants/acme/domains", `{"hostname": "shop.example.123"}`, "hostname"},
		{"domain: short IPv4 form", "POST", "/api/tenants/acme/domains", `{"hostname": "127.1"}`, "hostname"},
		{"domain: invalid xn-- label", "POST", "/api/tenants/acme/domains", `{"hostname": "xn--a.example.com"}`, "hostname"},
		{"location: name with a control character", "POST", "/api/tenants/acme/locations", `{"name": "Down\u0000town", "code": "dt"}`, "name"},
		{"location: address with an escape sequence", "POST", "/api/tenants/acme/locations", `{"name": "Downtown", "code": "dt", "address": "1 Main St\u001b[8m"}`, "address"},
		{"location: address too long", "POST", "/api/tenants/acme/locations", `{"name": "Downtown", "code": "dt", "address": "` + strings.Repeat("a", 501) + `"}`, "address"},
		{"location: name not a string", "POST", "/api/tenants/acme/locations", `{"name": 5, "code": "dt"}`, "name"},
		{"location patch: name with a newline", "PATCH", "/api/tenants/acme/locations/main", `{"name": "Main\nFake"}`, "name"},
		{"location patch: address with a paragraph separator", "PATCH", "/api/tenants/acme/locations/main", `{"address": "a\u2029b"}`, "address"},
		// bcrypt refuses more than 72 bytes: 73 ASCII, and 37 two-byte runes.
		{"create: admin_password of 73 bytes", "POST", "/api/tenants", create("admin_password", `"`+strings.Repeat("p", 73)+`"`), "admin_password"},
		{"create: admin_password of 37 runes, 74 bytes", "POST", "/api/tenants", create("admin_password", `"`+strings.Repeat("é", 37)+`"`), "admin_password"},
		{"create: max_users beyond int32", "POST", "/api/tenants", create("max_users", "2147483648"), "max_users"},
		{"create: max_users beyond int64", "POST", "/api/tenants", create("max_users", "1e20"), "max_users"},
		{"create: max_users a fraction", "POST", "/api/tenants", create("max_users", "2.5"), "max_users"},
		{"create: name with an escape sequence", "POST", "/api/tenants", create("name", `"Beta\u001b[2J\u001b[31m"`), "name"},
		{"create: name with a newline", "POST", "/api/tenants", create("name", `"Beta\nacme  active  50"`), "name"},
		{"create: name with a carriage return", "POST", "/api/tenants", create("name", `"Beta\rAcme"`), "name"},
		{"create: name with DEL", "POST", "/api/tenants", create("name", `"Beta\u007f"`), "name"},
		{"create: name with C1 CSI", "POST", "/api/tenants", create("name", `"Beta\u009b31m"`), "name"},
		{"create: name with a line separator", "POST", "/api/tenants", create("name", `"Beta\u2028Acme"`), "name"},
		{"create: name with a bidi override", "POST", "/api/tenants", create("name", `"Beta\u202eemca"`), "name"},
		{"create: name with a zero-width space", "POST", "/api/tenants", create("name", `"Be\u200bta"`), "name"},
		{"create: admin_email with a bidi override", "POST", "/api/tenants", create("admin_email", `"bo\u202ess@beta.example.com"`), "admin_email"},
		{"create: admin_email with a zero-width space", "POST", "/api/tenants", create("admin_email", `"bo\u200bss@beta.example.com"`), "admin_email"},
		{"create: subdomain an invalid xn-- label", "POST", "/api/tenants", create("subdomain", `"xn--a"`), "subdomain"},
		{"create: subdomain xn-- of plain ASCII", "POST", "/api/tenants", create("subdomain", `"xn--beta-"`), "subdomain"},
		{"create: max_users beyond the bound", "POST", "/api/tenants", create("max_users", "1000001"), "max_users"},
		{"create: body a list", "POST", "/api/tenants", `[{"name": "Beta"}]`, "body"},
		{"create: body a string", "POST", "/api/tenants", `"Beta"`, "body"},
		{"patch: max_users beyond int32", "PATCH", "/api/tenants/acme", `{"max_users": 2147483648}`, "max_users"},
		{"patch: max_users beyond the bound", "PATCH", "/api/tenants/acme", `{"max_users": 5000000}`, "max_users"},
		{"patch: max_users beyond int64", "PATCH", "/api/tenants/acme", `{"max_users": 1e20}`, "max_users"},
		{"patch: name with an escape sequence", "PATCH", "/api/tenants/acme", `{"name": "Acme\u001b]0;owned\u0007"}`, "name"},
		{"patch: name with a bidi isolate", "PATCH", "/api/tenants/acme", `{"name": "Acme\u2066x"}`, "name"},
		{"patch: subdomain an invalid xn-- label", "PATCH", "/api/tenants/acme", `{"subdomain": "xn--zz"}`, "subdomain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.api(tc.method, tc.path, tc.body)
			if res.Status != http.StatusBadRequest || res.errorField() != tc.field {
				t.Errorf("%s %s (%s) = %d field %q, want 400 naming %q; body %s", tc.method, tc.path, tc.name, res.Status, res.errorField(), tc.field, res.Raw)
			}
		})
	}

	// Nothing was created or changed by the refused requests.
	res := e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants", nil), "list")
	if items, _ := res.Body["items"].([]any); len(items) != 1 {
		t.Errorf("tenants after the refused requests = %s, want acme only", res.Raw)
	}
	res = e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/acme", nil), "show acme")
	if res.Body["name"] != "Acme" || res.Body["max_users"] != float64(50) || res.Body["subdomain"] != "acme" {
		t.Errorf("acme after the refused patches = %s, want name Acme, max_users 50", res.Raw)
	}
	if domains, _ := res.Body["domains"].([]any); len(domains) != 0 {
		t.Errorf("acme's domains after the refused adds = %v, want none", domains)
	}
	res = e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/acme/locations", nil), "list locations")
	if items, _ := res.Body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "Main" {
		t.Errorf("locations after the refused requests = %s, want Main only", res.Raw)
	}

	// The bound itself, a valid A-label and non-Latin names are accepted.
	e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/acme", `{"max_users": 1000000, "name": "Acme Ünïcode 株式会社 ✓"}`), "patch within bounds")
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants/acme/domains", `{"hostname": "xn--mnchen-3ya.example.com"}`), "add IDN domain")
}
