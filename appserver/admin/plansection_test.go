package admin

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestDashboardPlanSection: the tenant page shows the plan, the features
// and the limits; its forms (CSRF-guarded like the others) change the
// plan and the features, and a bad value is shown beside its field.
func TestDashboardPlanSection(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	e.insertAcme(0)
	session, csrf := e.login()
	post := func(path string, form url.Values) string {
		t.Helper()
		form.Set("csrf", csrf)
		return e.follow(e.browse(http.MethodPost, path, form, session, nil), session, "/tenants/acme")
	}
	page := e.browse(http.MethodGet, "/tenants/acme", nil, session, nil).Body.String()
	for _, want := range []string{`id="plan-section"`, `<option value="standard" selected>`, `id="feature-reports">on<`, `id="limits"`} {
		if !strings.Contains(page, want) {
			t.Errorf("tenant page lacks %s", want)
		}
	}
	for _, path := range []string{"/tenants/acme/plan", "/tenants/acme/features"} {
		if rec := e.browse(http.MethodPost, path, url.Values{"plan": {"free"}}, session, nil); rec.Code != http.StatusForbidden {
			t.Errorf("POST %s without the CSRF token = %d, want 403", path, rec.Code)
		}
	}

	page = post("/tenants/acme/plan", url.Values{"plan": {"free"}})
	if !strings.Contains(page, "now on plan free") || !strings.Contains(page, `id="feature-reports">off<`) || !strings.Contains(page, "5/s") {
		t.Errorf("after moving to free the page lacks the notice, reports off or free's rate 5/s")
	}
	page = post("/tenants/acme/features", url.Values{"feature_reports": {"on"}, "feature_expenses": {"default"}})
	if !strings.Contains(page, `id="feature-reports">on<`) || !strings.Contains(page, `id="feature-expenses">off<`) {
		t.Errorf("after reports on: reports not on or expenses not the plan's off")
	}
	if got, _ := e.m.Get(ctx, "acme"); got == nil || got.Plan != "free" || !got.FeatureEnabled("reports") {
		t.Errorf("stored acme = %+v, want free with reports on", got)
	}

	for _, form := range []url.Values{{"plan": {"platinum"}}, {"feature_reports": {"maybe"}}} {
		path := "/tenants/acme/plan"
		if form.Has("feature_reports") {
			path = "/tenants/acme/features"
		}
		form.Set("csrf", csrf)
		rec := e.browse(http.MethodPost, path, form, session, nil)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("POST %s %v = %d, want 400 with the page", path, form, rec.Code)
		}
	}
}

// TestDashboardEditKeepsPlanMaxUsers: saving the edit form of a tenant
// that follows its plan's user limit (the field shown empty) keeps it
// following the plan; a number makes it its own, empty returns it.
func TestDashboardEditKeepsPlanMaxUsers(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	e.insertAcme(0)
	session, csrf := e.login()
	edit := func(maxUsers string) *tenantstore.Tenant {
		t.Helper()
		form := url.Values{"csrf": {csrf}, "name": {"Acme"}, "admin_email": {"a@acme.test"}, "max_users": {maxUsers}}
		e.follow(e.browse(http.MethodPost, "/tenants/acme", form, session, nil), session, "/tenants/acme")
		got, err := e.m.Get(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if page := e.browse(http.MethodGet, "/tenants/acme", nil, session, nil).Body.String(); !strings.Contains(page, `name="max_users" type="number" value=""`) {
		t.Errorf("edit form of a tenant on its plan's limit does not show max users empty")
	}
	if got := edit(""); got.OwnMaxUsers != nil || got.MaxUsers != 50 {
		t.Errorf("after saving with max users empty: own %v, max %d; want the plan's 50", got.OwnMaxUsers, got.MaxUsers)
	}
	if got := edit("9"); got.OwnMaxUsers == nil || got.MaxUsers != 9 {
		t.Errorf("after saving 9: own %v, max %d; want its own 9", got.OwnMaxUsers, got.MaxUsers)
	}
	if got := edit(""); got.OwnMaxUsers != nil || got.MaxUsers != 50 {
		t.Errorf("after emptying: own %v, max %d; want the plan's 50 again", got.OwnMaxUsers, got.MaxUsers)
	}
}
