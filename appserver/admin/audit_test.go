package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/actor"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantops"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// auditPage is one GET /api/audit answer.
type auditPage struct {
	Items      []tenantstore.AuditEntry `json:"items"`
	NextCursor string                   `json:"next_cursor"`
}

func (e *adminEnv) audit(query string) auditPage {
	e.t.Helper()
	res := e.must(http.StatusOK, e.api(http.MethodGet, "/api/audit"+query, nil), "GET /api/audit"+query)
	var p auditPage
	if err := json.Unmarshal(res.Raw, &p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// TestAuditTrail runs every kind of change through the admin API and the
// dashboard, then reads the trail: each change is there with its actor
// (the token's id and the client IP, or the dashboard), before and after,
// no row holds a password, a role password, a token or a key, pages follow
// their cursor, bad parameters are 400 naming the field, and no token is
// 401.
func TestAuditTrail(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	const adminPW, operatorSecret = "acme-admin-pw-audit-1", "operator-url-secret-audit"
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{"name": "Acme", "subdomain": "acme",
		"admin_email": "boss@acme.example.com", "admin_password": adminPW, "multi_location": true}), "create acme")
	ou, _ := url.Parse(testenv.WithDatabase(testenv.PostgresURL(), e.prefix+"explicit_globex"))
	ou.User = url.UserPassword("postgres", operatorSecret)
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{"name": "Globex", "subdomain": "globex",
		"admin_email": "ceo@globex.example.com", "database_url": ou.String()}), "create globex on an operator URL")
	e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/acme", map[string]any{"name": "Acme Corp", "max_users": 7}), "patch acme")
	e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/acme", map[string]any{"limits": map[string]any{"rate_per_second": 5}}), "limit acme")
	e.must(http.StatusOK, e.api(http.MethodPut, "/api/tenants/acme/branding", map[string]any{"display_name": "Acme Rockets", "primary_color": "#b4141e"}), "brand acme")
	e.must(http.StatusOK, e.api(http.MethodPatch, "/api/plans/enterprise", map[string]any{"max_users": 900}), "patch a plan")
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants/acme/locations", map[string]any{"name": "Main", "code": "main"}), "add location")
	e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/acme/locations/main", map[string]any{"name": "Main store"}), "patch location")
	e.must(http.StatusNoContent, e.api(http.MethodDelete, "/api/tenants/acme/locations/main", nil), "delete location")
	dom := e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants/acme/domains", map[string]any{"hostname": "shop.acme.test"}), "add domain")
	verification, _ := dom.Body["verification_token"].(string)
	e.mu.Lock()
	e.txt[tenantstore.VerificationRecord("shop.acme.test")] = []string{verification}
	e.mu.Unlock()
	e.must(http.StatusOK, e.api(http.MethodPost, "/api/tenants/acme/domains/shop.acme.test/verify", nil), "verify domain")
	e.must(http.StatusNoContent, e.api(http.MethodDelete, "/api/tenants/acme/domains/shop.acme.test", nil), "remove domain")
	imp := e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants/acme/impersonate", map[string]any{"email": "boss@acme.example.com"}), "impersonate")
	impToken := imp.Body["url"].(string)[strings.LastIndex(imp.Body["url"].(string), "/")+1:]
	job := e.must(http.StatusAccepted, e.api(http.MethodPost, "/api/tenants/acme/backups", nil), "backup")
	jobID, _ := job.Body["id"].(string)
	if !eventually(60e9, func() bool {
		r := e.api(http.MethodGet, "/api/jobs/"+jobID, nil)
		return r.Body["status"] == string(tenantops.JobSucceeded) || r.Body["status"] == string(tenantops.JobFailed)
	}) {
		t.Fatal("the backup job did not finish")
	}
	e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/globex", map[string]any{"status": "suspended"}), "suspend globex")
	e.must(http.StatusNoContent, e.api(http.MethodDelete, "/api/tenants/globex?drop_database=true", nil), "delete globex")

	// The dashboard: log in, suspend acme through its form.
	session, csrf := e.login()
	if rec := e.browse(http.MethodPost, "/tenants/acme/status", url.Values{"status": {"suspended"}, "confirm": {"yes"}, "csrf": {csrf}}, session, nil); rec.Code != http.StatusSeeOther {
		t.Fatalf("dashboard suspend = %d %s", rec.Code, rec.Body)
	}

	all := e.audit("?limit=500")
	var actions []string
	tokenID := actor.TokenID(testAdminToken)
	for i := len(all.Items) - 1; i >= 0; i-- {
		it := all.Items[i]
		actions = append(actions, it.Action+":"+it.Subdomain)
		want := actor.Actor{Kind: actor.AdminToken, ID: tokenID, IP: "192.0.2.1"}
		if it.Action == tenantstore.ActionTenantUpdate && strings.Contains(string(it.After), `"suspended"`) && it.Subdomain == "acme" {
			want.Kind = actor.Dashboard
		}
		if it.Actor != want {
			t.Errorf("%s on %s: actor = %+v, want %+v", it.Action, it.Subdomain, it.Actor, want)
		}
	}
	want := "tenant.create:acme,tenant.create:globex,tenant.update:acme,tenant.update:acme,tenant.branding:acme,plan.update:,location.add:acme,location.update:acme,location.delete:acme," +
		"domain.add:acme,domain.verify:acme,domain.remove:acme,impersonate.issue:acme,job.backup:acme,tenant.update:globex,tenant.delete:globex,tenant.update:acme"
	if got := strings.Join(actions, ","); got != want {
		t.Errorf("audit actions, oldest first =\n%s\nwant\n%s", got, want)
	}
	for _, it := range all.Items {
		if it.Action == tenantstore.ActionTenantUpdate && it.Subdomain == "acme" && strings.Contains(string(it.Before), `"name":"Acme"`) {
			if !strings.Contains(string(it.After), `"name":"Acme Corp"`) || !strings.Contains(string(it.After), `"max_users":7`) {
				t.Errorf("patch entry before %s after %s, want the old name and the new max_users", it.Before, it.After)
			}
		}
	}

	// No secret anywhere in the trail.
	acme, err := e.store.GetBySubdomain(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(e.audit("?limit=500"))
	secrets := map[string]string{"admin password": adminPW, "operator URL password": operatorSecret, "acme role password": acme.Placement.RolePassword,
		"admin token": testAdminToken, "other admin token": "other-token", "impersonation token": impToken, "verification token": verification}
	for what, s := range secrets {
		if s == "" {
			t.Errorf("%s is empty: the scan would prove nothing", what)
		} else if strings.Contains(string(raw), s) {
			t.Errorf("the audit trail holds the %s", what)
		}
	}

	t.Run("pages", func(t *testing.T) {
		var ids []int64
		cursor := ""
		for range 20 {
			p := e.audit("?limit=4&cursor=" + url.QueryEscape(cursor))
			for _, it := range p.Items {
				ids = append(ids, it.ID)
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if len(ids) != len(all.Items) {
			t.Fatalf("paged %d entries, want %d", len(ids), len(all.Items))
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] >= ids[i-1] {
				t.Fatalf("paged ids %v, want newest first without repeats", ids)
			}
		}
		only := e.audit("?tenant=globex")
		if len(only.Items) != 3 {
			t.Errorf("?tenant=globex (deleted) = %d entries, want its create, suspend and delete", len(only.Items))
		}
		for _, it := range only.Items {
			if it.Subdomain != "globex" {
				t.Errorf("?tenant=globex answered %s on %q", it.Action, it.Subdomain)
			}
		}
	})

	t.Run("bad parameters and no token", func(t *testing.T) {
		for q, field := range map[string]string{"?limit=0": "limit", "?limit=501": "limit", "?limit=x": "limit", "?cursor=@@": "cursor", "?cursor=LTE": "cursor"} {
			if r := e.api(http.MethodGet, "/api/audit"+q, nil); r.Status != http.StatusBadRequest || r.errorField() != field {
				t.Errorf("GET /api/audit%s = %d field %q, want 400 naming %s", q, r.Status, r.errorField(), field)
			}
		}
		req := httptest.NewRequest(http.MethodGet, "/api/audit", nil)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("GET /api/audit without a token = %d, want 401", rec.Code)
		}
	})
}

// TestAuditDashboard: the audit page and the tenant page's audit section
// show the changes; the tenant page's impersonate form gives a link once,
// names the field of a bad e-mail, and is audited as the dashboard.
func TestAuditDashboard(t *testing.T) {
	e := newAdminEnv(t)
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{"name": "Acme", "subdomain": "acme",
		"admin_email": "boss@acme.example.com", "admin_password": "acme-admin-pw-dash"}), "create acme")
	session, csrf := e.login()

	page := e.browse(http.MethodGet, "/tenants/acme", nil, session, nil).Body.String()
	for _, want := range []string{`id="audit"`, "tenant.create", "admin-token", actor.TokenID(testAdminToken), `action="/tenants/acme/impersonate"`} {
		if !strings.Contains(page, want) {
			t.Errorf("tenant page lacks %q", want)
		}
	}
	rec := e.browse(http.MethodPost, "/tenants/acme/impersonate", url.Values{"email": {"nobody@acme.example.com"}, "csrf": {csrf}}, session, nil)
	if rec.Code != http.StatusBadRequest || fieldErrorOf(rec.Body.String(), "email") == "" {
		t.Errorf("impersonate an unknown user = %d, want 400 with the error beside the e-mail", rec.Code)
	}
	rec = e.browse(http.MethodPost, "/tenants/acme/impersonate", url.Values{"email": {"boss@acme.example.com"}}, session, nil)
	if rec.Code != http.StatusForbidden {
		t.Errorf("impersonate without the CSRF token = %d, want 403", rec.Code)
	}
	rec = e.browse(http.MethodPost, "/tenants/acme/impersonate", url.Values{"email": {"boss@acme.example.com"}, "csrf": {csrf}}, session, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="impersonation-url" href="https://acme.localhost/impersonate/`) ||
		rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("impersonate form = %d (Cache-Control %q), want the link to acme's host, not cached; %.400s", rec.Code, rec.Header().Get("Cache-Control"), rec.Body)
	}

	audit := e.browse(http.MethodGet, "/audit?tenant=acme", nil, session, nil)
	body := audit.Body.String()
	if audit.Code != http.StatusOK || !strings.Contains(body, "impersonate.issue") || !strings.Contains(body, "dashboard") || !strings.Contains(body, "tenant.create") {
		t.Errorf("GET /audit?tenant=acme = %d, want the create and the dashboard's impersonation; %.500s", audit.Code, body)
	}
	if strings.Contains(body, "acme-admin-pw-dash") {
		t.Errorf("the audit page shows the admin password")
	}
	if rec := e.browse(http.MethodGet, "/audit?limit=9999", nil, session, nil); rec.Code != http.StatusBadRequest {
		t.Errorf("GET /audit?limit=9999 = %d, want 400", rec.Code)
	}
	if rec := e.browse(http.MethodGet, "/audit", nil, "", nil); strings.Contains(rec.Body.String(), "tenant.create") {
		t.Errorf("GET /audit without a session shows the trail")
	}
}
