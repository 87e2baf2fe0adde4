package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAdminPlans: plans listed, created, patched (the change reaching
// another process's resolver within a second for the plan's tenants), a
// tenant's plan and features patched with null back to the plan; every
// route refuses a caller without the admin token, and bad input is a 400
// naming the field.
func TestAdminPlans(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	e.insertAcme(0)
	if _, err := e.resB.ResolveHost(ctx, "acme.localhost"); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/plans", ""}, {"POST", "/api/plans", `{"name": "x"}`},
		{"GET", "/api/plans/free", ""}, {"PATCH", "/api/plans/free", `{"max_users": 9}`},
	} {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token = %d, want 401", c.method, c.path, rec.Code)
		}
	}

	list := e.must(200, e.api("GET", "/api/plans", nil), "list")
	if items, _ := list.Body["items"].([]any); len(items) != 3 {
		t.Errorf("GET /api/plans = %s, want the 3 seeded plans", list.Raw)
	}
	created := e.must(201, e.api("POST", "/api/plans", `{"name": "team", "max_users": 20, "limits": {"rate_per_second": 50}, "features": {"reports": false}}`), "create team")
	if created.Body["max_users"] != 20.0 || created.Body["features"].(map[string]any)["reports"] != false {
		t.Errorf("created plan = %s", created.Raw)
	}
	if r := e.api("POST", "/api/plans", `{"name": "team"}`); r.Status != http.StatusConflict {
		t.Errorf("creating team twice = %d %s, want 409", r.Status, r.Raw)
	}

	// The tenant moves to team: its features and max users follow.
	r := e.must(200, e.api("PATCH", "/api/tenants/acme", `{"plan": "team", "features": {"expenses": false}}`), "move acme to team")
	feats, _ := r.Body["features"].(map[string]any)
	if r.Body["plan"] != "team" || r.Body["max_users"] != 20.0 || feats["reports"] != false || feats["expenses"] != false || feats["locations"] != true {
		t.Errorf("acme on team = %s, want team, 20 users, reports and expenses off, locations on", r.Raw)
	}
	r = e.must(200, e.api("PATCH", "/api/tenants/acme", `{"features": {"expenses": null, "reports": true}}`), "overrides")
	feats, _ = r.Body["features"].(map[string]any)
	if feats["expenses"] != true || feats["reports"] != true {
		t.Errorf("after expenses null and reports true: %s", r.Raw)
	}
	e.must(200, e.api("PATCH", "/api/tenants/acme", `{"features": null}`), "every override back to the plan")
	if r := e.must(200, e.api("PATCH", "/api/tenants/acme", `{"max_users": 7}`), "own max users"); r.Body["max_users"] != 7.0 || r.Body["own_max_users"] != 7.0 {
		t.Errorf("after max_users 7: %s", r.Raw)
	}
	if r := e.must(200, e.api("PATCH", "/api/tenants/acme", `{"max_users": null}`), "max users back to the plan"); r.Body["max_users"] != 20.0 || r.Body["own_max_users"] != nil {
		t.Errorf("after max_users null: %s, want team's 20 and no own", r.Raw)
	}

	// A plan change reaches the other process's resolver within a second.
	e.must(200, e.api("PATCH", "/api/plans/team", `{"features": {"locations": false}, "limits": {"burst": 40}}`), "patch team")
	if !eventually(time.Second, func() bool {
		got, err := e.resB.ResolveHost(ctx, "acme.localhost")
		return err == nil && !got.FeatureEnabled("locations") && got.EffectiveLimits().Burst != nil && *got.EffectiveLimits().Burst == 40
	}) {
		t.Errorf("another resolver did not see team's change within 1 s")
	}

	for _, c := range []struct{ method, path, body, field string }{
		{"POST", "/api/plans", `{"name": "Bad Name"}`, "name"},
		{"POST", "/api/plans", `{"name": "p2", "max_users": 0}`, "max_users"},
		{"POST", "/api/plans", `{"name": "p2", "max_users": -3}`, "max_users"},
		{"POST", "/api/plans", `{"name": "p2", "max_users": 1e12}`, "max_users"},
		{"POST", "/api/plans", `{"name": "p2", "features": {"teleport": true}}`, "features.teleport"},
		{"POST", "/api/plans", `{"name": "p2", "features": {"reports": "yes"}}`, "features.reports"},
		{"POST", "/api/plans", `{"name": "p2", "limits": {"burst": -1}}`, "limits.burst"},
		{"PATCH", "/api/plans/team", `{"name": "other"}`, "name"},
		{"PATCH", "/api/plans/standard", `{"default": false}`, "default"},
		{"PATCH", "/api/tenants/acme", `{"plan": "platinum"}`, "plan"},
		{"PATCH", "/api/tenants/acme", `{"plan": "'; DROP TABLE plans; --"}`, "plan"},
		{"PATCH", "/api/tenants/acme", `{"features": {"teleport": false}}`, "features.teleport"},
		{"PATCH", "/api/tenants/acme", `{"features": ["reports"]}`, "features"},
		{"PATCH", "/api/tenants/acme", `{"max_users": "many"}`, "max_users"},
		{"PATCH", "/api/tenants/acme", `{"max_users": -1}`, "max_users"},
		{"PATCH", "/api/tenants/acme", `{"max_users": 2.5}`, "max_users"},
	} {
		r := e.api(c.method, c.path, c.body)
		if r.Status != http.StatusBadRequest || r.errorField() != c.field {
			t.Errorf("%s %s %s = %d %s, want 400 naming %s", c.method, c.path, c.body, r.Status, r.Raw, c.field)
		}
	}
	if r := e.api("PATCH", "/api/plans/nope", `{"max_users": 3}`); r.Status != http.StatusNotFound {
		t.Errorf("PATCH an unknown plan = %d, want 404", r.Status)
	}
}
