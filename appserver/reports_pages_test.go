package appserver

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestPagesReports checks the reports page (per location with paid,
// outstanding, expenses and margin; per day) and its CSV download, whose
// cells cannot run as spreadsheet formulas.
func TestPagesReports(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	evil := `=HYPERLINK("http://evil.example","x")`
	loc := tenantstore.Location{ID: "8a0c6a51-3f39-4a55-9d4b-7d1c0d1e0f02", Code: "evil", Name: evil, Active: true}
	e.dir.mu.Lock()
	e.dir.locations[acme.ID] = []tenantstore.Location{loc}
	e.dir.mu.Unlock()
	cust := e.must(201, e.do(acme, call{method: "POST", path: "/api/customers", body: map[string]string{"name": "Ann"}}), "customer").Body["id"]
	prod := e.must(201, e.do(acme, call{method: "POST", path: "/api/products", body: map[string]any{"sku": "A", "name": "Apple", "price": "10.00"}}), "product").Body["id"]
	for _, c := range []struct{ status, qty, on string }{{"paid", "3", "2026-03-02"}, {"issued", "1", "2026-03-05"}, {"draft", "9", ""}} {
		body := map[string]any{"customer_id": cust, "location_id": "evil", "status": c.status, "lines": []map[string]any{{"product_id": prod, "quantity": c.qty}}}
		if c.on != "" {
			body["issued_on"] = c.on
		}
		e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: body}), "invoice "+c.status)
	}
	e.must(201, e.do(acme, call{method: "POST", path: "/api/expenses", body: map[string]any{"description": "Rent", "amount": "55.00", "spent_on": "2026-03-03", "location_id": "evil"}}), "expense")
	page := func(path string) response {
		t.Helper()
		return e.do(acme, pageCall(acme, "GET", path, nil, acme.Session))
	}

	res := page("/reports?from=2026-03-01&to=2026-03-31")
	body := string(res.Raw)
	if res.Status != 200 {
		t.Fatalf("GET /reports = %d; body %.500s", res.Status, body)
	}
	// Sales 40.00 = paid 30.00 + outstanding 10.00; expenses 55.00; margin −15.00.
	for _, want := range []string{`<td class="num">40.00</td><td class="num">30.00</td><td class="num">10.00</td><td class="num">55.00</td><td class="num report-margin negative">-15.00</td>`,
		"2026-03-02", "2026-03-05", "=HYPERLINK(&#34;http://evil.example&#34;,&#34;x&#34;)", `href="/reports.csv?from=2026-03-01&amp;table=locations&amp;to=2026-03-31"`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /reports lacks %s", want)
		}
	}

	res = page("/reports.csv?from=2026-03-01&to=2026-03-31&table=locations")
	if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("GET /reports.csv = %d %s %s", res.Status, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(strings.NewReader(string(res.Raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"location", "invoices", "sales", "paid", "outstanding", "expenses", "margin"},
		{"'" + evil, "2", "40.00", "30.00", "10.00", "55.00", "-15.00"},
		{"All locations", "2", "40.00", "30.00", "10.00", "55.00", "-15.00"}}
	if got, w := fmtRows(rows), fmtRows(want); got != w {
		t.Errorf("locations CSV =\n%s\nwant\n%s", got, w)
	}
	res = page("/reports.csv?" + url.Values{"from": {"2026-03-01"}, "to": {"2026-03-31"}, "table": {"days"}}.Encode())
	if rows, _ := csv.NewReader(strings.NewReader(string(res.Raw))).ReadAll(); len(rows) != 3 || rows[1][0] != "2026-03-02" || rows[1][1] != "'"+evil || rows[2][3] != "10.00" {
		t.Errorf("days CSV = %q, want two days at the escaped location", rows)
	}

	for _, c := range []struct{ path, field string }{
		{"/reports?from=2020-01-01&to=2026-03-31", "from"},
		{"/reports?from=nonsense", "from"},
	} {
		res := page(c.path)
		if res.Status != http.StatusBadRequest || fieldErrorOf(string(res.Raw), c.field) == "" {
			t.Errorf("GET %s = %d, want 400 with an error beside %s", c.path, res.Status, c.field)
		}
	}
	if res := page("/reports.csv?table=bogus"); res.Status != http.StatusBadRequest {
		t.Errorf("GET /reports.csv?table=bogus = %d, want 400", res.Status)
	}
	if res := e.do(acme, pageCall(acme, "GET", "/reports", nil, "")); res.Status != http.StatusSeeOther {
		t.Errorf("GET /reports without a session = %d, want 303 to /login", res.Status)
	}
}

func fmtRows(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, " | ") + "\n")
	}
	return b.String()
}
