package admin

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/latency"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestAdminTenantUsage: GET /api/tenants/{sub}/usage answers the stored
// minutes as JSON and CSV, with p50/p99 from the merged histograms of two
// edges; a bad or too large range is a 400 naming the field; no token, 401;
// and the dashboard's tenant page draws the chart as inline SVG.
func TestAdminTenantUsage(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	tn := e.insertAcme(5)
	minute := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
	hist := func(d time.Duration, n int64) []int64 {
		h := make([]int64, latency.Buckets)
		h[latency.Index(d)] = n
		return h
	}
	db := int64(12345)
	if err := e.store.AddUsage(ctx, []tenantstore.UsageRow{
		{TenantID: tn.ID, Minute: minute, UsageCounts: tenantstore.UsageCounts{Requests: 99, Status2xx: 90, Status4xx: 6, Status5xx: 3,
			RateLimited: 4, BytesOut: 1000, Latency: hist(5*time.Millisecond, 99)}},
		{TenantID: tn.ID, Minute: minute, ActiveUserIDs: []string{"u1", "u2"}, UsageCounts: tenantstore.UsageCounts{InvoicesCreated: 2}, DatabaseBytes: &db},
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddUsage(ctx, []tenantstore.UsageRow{ // a second edge, one slow request
		{TenantID: tn.ID, Minute: minute, UsageCounts: tenantstore.UsageCounts{Requests: 1, Status2xx: 1, Latency: hist(2*time.Second, 1)}},
	}); err != nil {
		t.Fatal(err)
	}
	from := minute.Add(-5 * time.Minute).Format(time.RFC3339)
	to := minute.Add(5 * time.Minute).Format(time.RFC3339)
	path := "/api/tenants/acme/usage?step=1m&from=" + from + "&to=" + to

	r := e.must(http.StatusOK, e.api(http.MethodGet, path, nil), "usage JSON")
	var body struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Items) != 10 {
		t.Fatalf("items = %d, want 10 minutes", len(body.Items))
	}
	it := body.Items[5]
	want := map[string]float64{"requests": 100, "status_2xx": 91, "status_4xx": 6, "status_5xx": 3, "rate_limited": 4,
		"bytes_out": 1000, "active_users": 2, "invoices_created": 2, "database_bytes": 12345}
	for k, v := range want {
		if it[k] != v {
			t.Errorf("item %s: %s = %v, want %v", it["at"], k, it[k], v)
		}
	}
	if p50, _ := it["p50_ms"].(float64); p50 < 4 || p50 > 8 {
		t.Errorf("p50_ms = %v, want about 5", it["p50_ms"])
	}
	if p99, _ := it["p99_ms"].(float64); p99 < 4 || p99 > 8 {
		t.Errorf("p99_ms = %v, want about 5 (99 of 100 requests took 5 ms)", it["p99_ms"])
	}
	if empty := body.Items[0]; empty["requests"] != 0.0 || empty["p99_ms"] != nil || empty["database_bytes"] != nil {
		t.Errorf("empty minute = %v, want zero requests and null p99_ms and database_bytes", empty)
	}

	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Accept", "text/csv")
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("usage CSV = %d %q, want 200 text/csv", rec.Code, rec.Header().Get("Content-Type"))
	}
	recs, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v", err)
	}
	if len(recs) != 11 || recs[0][0] != "at" || recs[0][1] != "requests" || recs[6][1] != "100" || recs[6][12] != "12345" {
		t.Errorf("CSV = %q, want a header and 10 rows, the sixth with 100 requests and 12345 bytes", recs)
	}

	for _, tc := range []struct{ query, field string }{
		{"step=5m", "step"},
		{"step=1m&from=yesterday", "from"},
		{"step=1m&to=2026-13-01", "to"},
		{"step=1h&from=2026-01-02&to=2026-01-01", "from"},
		{"step=1m&from=2026-01-01&to=2026-01-03", "from"}, // 2880 minutes
		{"step=1d&from=0001-01-01&to=9999-01-01", "from"},
	} {
		r := e.api(http.MethodGet, "/api/tenants/acme/usage?"+tc.query, nil)
		if r.Status != http.StatusBadRequest || r.errorField() != tc.field {
			t.Errorf("usage?%s = %d field %q, want 400 naming %s; body %s", tc.query, r.Status, r.errorField(), tc.field, r.Raw)
		}
	}
	if r := e.api(http.MethodGet, "/api/tenants/nobody/usage", nil); r.Status != http.StatusNotFound {
		t.Errorf("usage of an unknown tenant = %d, want 404", r.Status)
	}
	req = httptest.NewRequest(http.MethodGet, path, nil)
	rec = httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("usage without a token = %d, want 401", rec.Code)
	}

	session, _ := e.login()
	page := e.browse(http.MethodGet, "/tenants/acme", nil, session, nil)
	html := page.Body.String()
	if page.Code != http.StatusOK || !strings.Contains(html, `<svg id="usage-chart"`) || strings.Count(html, "<rect ") < 48 ||
		!strings.Contains(html, `<span id="usage-total">100</span>`) || !strings.Contains(html, "<polyline") {
		t.Errorf("tenant page = %d, want the usage chart (24 hourly bars, 100 requests, a p99 line); section: %.1500s", page.Code, between(html, `id="usage"`, "</svg>"))
	}
	if strings.Contains(between(html, `id="usage"`, "</svg>"), "style=") || strings.Contains(html, "<script") {
		t.Errorf("the usage chart uses style attributes or script, which the page's CSP forbids")
	}
}
