package appserver

import (
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/internal/meter"
)

// TestUsageCountsUsersAndInvoices: each tenant request with a session
// counts its user as active, and each invoice created (not a refused one)
// is counted for its tenant.
func TestUsageCountsUsersAndInvoices(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	usage := new(meter.App)
	e.srv.cfg.Usage = usage
	acme := e.addTenant("acme", 10)
	globex := e.addTenant("globex", 10)
	cust := e.must(201, e.do(acme, call{method: "POST", path: "/api/customers", body: map[string]string{"name": "Ann"}}), "customer").Body["id"]
	prod := e.must(201, e.do(acme, call{method: "POST", path: "/api/products", body: map[string]any{"sku": "A", "name": "Apple", "price": "10.00"}}), "product").Body["id"]
	line := []map[string]any{{"product_id": prod, "quantity": "1"}}
	for range 2 {
		e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{"customer_id": cust, "lines": line}}), "invoice")
	}
	e.must(400, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{"customer_id": cust}}), "invoice without lines")
	e.must(200, e.do(globex, call{method: "GET", path: "/api/customers"}), "globex customers")

	rows := usage.Drain(time.Now().Truncate(time.Minute))
	byTenant := map[string]int{}
	for i, r := range rows {
		byTenant[r.TenantID] = i
	}
	if len(rows) != 2 {
		t.Fatalf("rows = %+v, want one for acme and one for globex", rows)
	}
	a := rows[byTenant[acme.ID]]
	if a.InvoicesCreated != 2 || len(a.ActiveUserIDs) != 1 || a.ActiveUserIDs[0] != acme.AdminID {
		t.Errorf("acme = %+v, want 2 invoices and its admin %s as the one active user", a, acme.AdminID)
	}
	g := rows[byTenant[globex.ID]]
	if g.InvoicesCreated != 0 || len(g.ActiveUserIDs) != 1 || g.ActiveUserIDs[0] != globex.AdminID {
		t.Errorf("globex = %+v, want no invoice and its admin as active", g)
	}
}
