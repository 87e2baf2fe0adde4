package appserver

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestDisabledFeature: with reports and expenses off for acme (its plan
// and an override), their API routes answer 403 feature_disabled, their
// pages a 403 page, and the navigation no longer offers them; locations,
// still on, keep working; globex, with every feature, is untouched; and a
// caller without a session gets 401, learning nothing of the features.
func TestDisabledFeature(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	globex := e.addTenant("globex", 10)
	off := *acme.Tenant
	off.Features = tenantstore.EffectiveFeatures(map[string]bool{"reports": false}, map[string]bool{"expenses": false})
	e.dir.put(&off)

	for _, path := range []string{"/api/expenses", "/api/expenses/00000000-0000-0000-0000-000000000000", "/api/reports/sales?from=2026-01-01&to=2026-01-31", "/api/reports/summary"} {
		res := e.do(acme, call{method: http.MethodGet, path: path})
		if res.Status != http.StatusForbidden || res.errorCode() != "feature_disabled" {
			t.Errorf("acme GET %s = %d %s, want 403 feature_disabled", path, res.Status, res.Raw)
		}
	}
	if res := e.do(acme, call{method: http.MethodPost, path: "/api/expenses", body: map[string]any{"description": "x", "amount": "1", "spent_on": "2026-01-01"}}); res.errorCode() != "feature_disabled" {
		t.Errorf("acme POST /api/expenses = %d %s, want 403 feature_disabled", res.Status, res.Raw)
	}
	if res := e.do(acme, call{method: http.MethodGet, path: "/api/expenses", noSession: true}); res.Status != http.StatusUnauthorized {
		t.Errorf("acme GET /api/expenses without a session = %d, want 401", res.Status)
	}
	e.must(http.StatusOK, e.do(acme, call{method: http.MethodGet, path: "/api/locations"}), "acme GET /api/locations (on)")
	e.must(http.StatusOK, e.do(globex, call{method: http.MethodGet, path: "/api/expenses"}), "globex GET /api/expenses")
	e.must(http.StatusOK, e.do(globex, call{method: http.MethodGet, path: "/api/reports/summary"}), "globex GET /api/reports/summary")

	for _, path := range []string{"/reports", "/reports.csv?table=days", "/expenses", "/expenses/00000000-0000-0000-0000-000000000000"} {
		res := e.do(acme, pageCall(acme, http.MethodGet, path, nil, acme.Session))
		if res.Status != http.StatusForbidden || !strings.Contains(string(res.Raw), "not enabled for this organization") ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("acme page %s = %d %.200s, want a 403 page saying the feature is not enabled", path, res.Status, res.Raw)
		}
	}

	home := string(e.must(http.StatusOK, e.do(acme, pageCall(acme, http.MethodGet, "/", nil, acme.Session)), "acme /").Raw)
	for link, want := range map[string]bool{`href="/reports"`: false, `href="/expenses"`: false, `href="/locations"`: true, `href="/invoices"`: true} {
		if got := strings.Contains(home, link); got != want {
			t.Errorf("acme navigation has %s = %v, want %v", link, got, want)
		}
	}
	other := string(e.must(http.StatusOK, e.do(globex, pageCall(globex, http.MethodGet, "/", nil, globex.Session)), "globex /").Raw)
	for _, link := range []string{`href="/reports"`, `href="/expenses"`, `href="/locations"`} {
		if !strings.Contains(other, link) {
			t.Errorf("globex navigation lacks %s", link)
		}
	}
}
