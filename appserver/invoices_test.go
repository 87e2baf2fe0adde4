package appserver

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestInvoicesAPI covers issue 13's invoice rules through the API: no
// invoice without lines, only drafts deleted, another tenant's invoice is
// unknown, the list newest first with search and paging both ways, and the
// summary report (paid against outstanding, expenses and margin).
func TestInvoicesAPI(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	globex := e.addTenant("globex", 10)
	loc := tenantstore.Location{ID: "8a0c6a51-3f39-4a55-9d4b-7d1c0d1e0f01", Code: "main", Name: "Main St", Active: true}
	e.dir.mu.Lock()
	e.dir.locations[acme.ID] = []tenantstore.Location{loc}
	e.dir.mu.Unlock()
	ann := e.must(201, e.do(acme, call{method: "POST", path: "/api/customers", body: map[string]string{"name": "Ann Archer"}}), "customer").Body["id"]
	bob := e.must(201, e.do(acme, call{method: "POST", path: "/api/customers", body: map[string]string{"name": "Bob Baker"}}), "customer").Body["id"]
	prod := e.must(201, e.do(acme, call{method: "POST", path: "/api/products", body: map[string]any{"sku": "A", "name": "Apple", "price": "10.00"}}), "product").Body["id"]
	line := []map[string]any{{"product_id": prod, "quantity": "1"}}

	t.Run("no invoice without lines", func(t *testing.T) {
		for _, body := range []map[string]any{{"customer_id": ann}, {"customer_id": ann, "lines": []any{}}} {
			r := e.do(acme, call{method: "POST", path: "/api/invoices", body: body})
			if r.Status != 400 || r.errorField() != "lines" {
				t.Errorf("POST /api/invoices %v = %d %s, want 400 on lines", body, r.Status, r.Raw)
			}
		}
		inv := e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{"customer_id": ann, "lines": line}}), "draft")
		r := e.do(acme, call{method: "PATCH", path: "/api/invoices/" + inv.Body["id"].(string), body: map[string]any{"lines": []any{}}})
		if r.Status != 400 || r.errorField() != "lines" {
			t.Errorf("PATCH a draft's lines to none = %d %s, want 400 on lines", r.Status, r.Raw)
		}
	})

	t.Run("delete drafts only", func(t *testing.T) {
		draft := e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{"customer_id": ann, "lines": line}}), "draft").Body["id"].(string)
		issued := e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{"customer_id": ann, "status": "issued", "lines": line}}), "issued").Body["id"].(string)
		if r := e.do(globex, call{method: "DELETE", path: "/api/invoices/" + draft}); r.Status != 404 {
			t.Errorf("globex DELETE acme's draft = %d, want 404", r.Status)
		}
		if r := e.do(acme, call{method: "DELETE", path: "/api/invoices/" + issued}); r.Status != 409 || r.errorCode() != "invoice_not_draft" {
			t.Errorf("DELETE an issued invoice = %d %s, want 409 invoice_not_draft", r.Status, r.Raw)
		}
		e.must(204, e.do(acme, call{method: "DELETE", path: "/api/invoices/" + draft}), "delete draft")
		if r := e.do(acme, call{method: "GET", path: "/api/invoices/" + draft}); r.Status != 404 {
			t.Errorf("GET a deleted draft = %d, want 404", r.Status)
		}
		// issued → draft refused, → paid allowed, then paid → void refused.
		for _, c := range []struct {
			to   string
			want int
		}{{"draft", 409}, {"paid", 200}, {"void", 409}} {
			r := e.do(acme, call{method: "PATCH", path: "/api/invoices/" + issued, body: map[string]any{"status": c.to}})
			if r.Status != c.want {
				t.Errorf("PATCH status → %s = %d %s, want %d", c.to, r.Status, r.Raw, c.want)
			}
		}
	})

	t.Run("list newest first, search, paging both ways", func(t *testing.T) {
		for range 3 {
			e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{"customer_id": bob, "lines": line}}), "bob's invoice")
		}
		all := e.must(200, e.do(acme, call{method: "GET", path: "/api/invoices?limit=100"}), "list")
		items := all.Body["items"].([]any)
		var last float64 = 1 << 50
		for _, it := range items {
			n := it.(map[string]any)["number"].(float64)
			if n >= last {
				t.Fatalf("invoice list not newest first: %v after %v", n, last)
			}
			last = n
		}
		bobs := e.must(200, e.do(acme, call{method: "GET", path: "/api/invoices?q=BAKER"}), "search").Body["items"].([]any)
		if len(bobs) != 3 {
			t.Errorf("search BAKER = %d invoices, want Bob's 3", len(bobs))
		}
		first := items[0].(map[string]any)["number"].(float64)
		byNumber := e.must(200, e.do(acme, call{method: "GET", path: "/api/invoices?q=" + url.QueryEscape("#"+strconv.FormatFloat(first, 'f', 0, 64))}), "by number").Body["items"].([]any)
		if len(byNumber) != 1 {
			t.Errorf("search by number %v = %d invoices, want 1", first, len(byNumber))
		}
		p1 := e.must(200, e.do(acme, call{method: "GET", path: "/api/invoices?limit=2"}), "page 1")
		if p1.Body["prev_cursor"] != "" {
			t.Errorf("first page has prev_cursor %v", p1.Body["prev_cursor"])
		}
		p2 := e.must(200, e.do(acme, call{method: "GET", path: "/api/invoices?limit=2&cursor=" + p1.Body["next_cursor"].(string)}), "page 2")
		back := e.must(200, e.do(acme, call{method: "GET", path: "/api/invoices?limit=2&before=" + p2.Body["prev_cursor"].(string)}), "back")
		if numbers(back) != numbers(p1) || back.Body["prev_cursor"] != "" {
			t.Errorf("back from page 2 = %s (prev %v), want page 1 %s", numbers(back), back.Body["prev_cursor"], numbers(p1))
		}
		if r := e.do(acme, call{method: "GET", path: "/api/invoices?status=bogus"}); r.Status != 400 {
			t.Errorf("?status=bogus = %d, want 400", r.Status)
		}
	})

	t.Run("summary report", func(t *testing.T) {
		e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{"customer_id": ann, "location_id": "main", "status": "paid", "lines": []map[string]any{{"product_id": prod, "quantity": "3"}}}}), "paid")
		e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{"customer_id": ann, "location_id": "main", "status": "issued", "lines": line}}), "issued")
		e.must(201, e.do(acme, call{method: "POST", path: "/api/expenses", body: map[string]any{"description": "Rent", "amount": "12.50", "spent_on": today(), "location_id": "main"}}), "expense")
		rep := e.must(200, e.do(acme, call{method: "GET", path: "/api/reports/summary"}), "summary")
		var main, none map[string]any
		for _, it := range rep.Body["items"].([]any) {
			switch m := it.(map[string]any); {
			case m["location_code"] == "main":
				main = m
			case m["location_id"] == nil:
				none = m
			}
		}
		// Money always has two decimals, even where nothing was spent.
		if none == nil || none["sales"] != "10.00" || none["expenses"] != "0.00" || none["margin"] != "10.00" {
			t.Errorf("summary without location = %v, want sales 10.00, expenses 0.00, margin 10.00", none)
		}
		if main == nil || main["sales"] != "40.00" || main["paid"] != "30.00" || main["outstanding"] != "10.00" || main["expenses"] != "12.50" || main["margin"] != "27.50" {
			t.Errorf("summary at main = %v, want sales 40.00, paid 30.00, outstanding 10.00, expenses 12.50, margin 27.50", main)
		}
		if r := e.do(acme, call{method: "GET", path: "/api/reports/summary?from=2020-01-01&to=2024-01-01"}); r.Status != 400 || r.errorField() != "from" {
			t.Errorf("a range over 366 days = %d %s, want 400 on from", r.Status, r.Raw)
		}
	})
}

// numbers lists the invoice numbers of a list answer, in order.
func numbers(r response) string {
	var ns []string
	for _, it := range r.Body["items"].([]any) {
		ns = append(ns, strconv.FormatFloat(it.(map[string]any)["number"].(float64), 'f', 0, 64))
	}
	return strings.Join(ns, ",")
}

func today() string { return time.Now().UTC().Format(time.DateOnly) }
