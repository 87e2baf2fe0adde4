package appserver

import (
	"net/url"
	"slices"
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

// TestInvoicesAPISort covers ?sort= of GET /api/invoices (issue 13 item 1):
// every key in both directions, paging forward and back under it, and an
// unknown or hostile key refused on sort before any SQL is built.
func TestInvoicesAPISort(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	cust := map[string]any{}
	for _, n := range []string{"Cy Cole", "ann Archer", "Bob Baker"} {
		cust[n] = e.must(201, e.do(acme, call{method: "POST", path: "/api/customers", body: map[string]string{"name": n}}), "customer").Body["id"]
	}
	prod := e.must(201, e.do(acme, call{method: "POST", path: "/api/products", body: map[string]any{"sku": "A", "name": "Apple", "price": "10.00"}}), "product").Body["id"]
	// Numbers 1..5 in creation order.
	for _, inv := range []struct {
		customer, status, issued, qty string
	}{
		{"Cy Cole", "issued", "2026-03-01", "3"},
		{"ann Archer", "draft", "", "12"},
		{"Bob Baker", "paid", "2026-01-15", "1"},
		{"ann Archer", "void", "2026-02-10", "2"},
		{"Cy Cole", "draft", "", "5"},
	} {
		body := map[string]any{"customer_id": cust[inv.customer], "status": inv.status, "lines": []map[string]any{{"product_id": prod, "quantity": inv.qty}}}
		if inv.issued != "" {
			body["issued_on"] = inv.issued
		}
		e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: body}), "invoice")
	}
	for _, c := range []struct{ sort, want string }{
		{"", "5,4,3,2,1"},
		{"number", "1,2,3,4,5"},
		{"-number", "5,4,3,2,1"},
		{"customer", "2,4,3,1,5"}, // case-insensitive, ties by id
		{"status", "2,5,1,3,4"},
		{"-total", "2,5,1,4,3"},
		{"total", "3,4,1,5,2"},
		{"issued", "2,5,3,4,1"}, // undated drafts first
		{"-issued", "1,4,3,2,5"},
	} {
		t.Run("sort="+c.sort, func(t *testing.T) {
			all := e.must(200, e.do(acme, call{method: "GET", path: "/api/invoices?limit=100&sort=" + c.sort}), "list")
			got := numbers(all)
			if key := strings.TrimPrefix(c.sort, "-"); key == "customer" || key == "status" || key == "issued" {
				got = normalizeTies(key, all)
			}
			if got != c.want {
				t.Fatalf("GET /api/invoices?sort=%s = %s, want %s", c.sort, got, c.want)
			}
			// Page through it two at a time, then back from the last page.
			var pages []response
			path := "/api/invoices?limit=2&sort=" + c.sort
			for p := e.must(200, e.do(acme, call{method: "GET", path: path}), "page 1"); ; {
				pages = append(pages, p)
				next, _ := p.Body["next_cursor"].(string)
				if next == "" || len(pages) > 5 {
					break
				}
				p = e.must(200, e.do(acme, call{method: "GET", path: path + "&cursor=" + next}), "next page")
			}
			var seen []string
			for _, p := range pages {
				seen = append(seen, numbers(p))
			}
			if strings.Join(seen, ",") != numbers(all) {
				t.Errorf("paging ?sort=%s forward = %v, want %s", c.sort, seen, numbers(all))
			}
			for i := len(pages) - 1; i > 0; i-- {
				prev, _ := pages[i].Body["prev_cursor"].(string)
				back := e.must(200, e.do(acme, call{method: "GET", path: path + "&before=" + prev}), "back")
				if numbers(back) != numbers(pages[i-1]) {
					t.Errorf("paging ?sort=%s back from page %d = %s, want %s", c.sort, i+1, numbers(back), numbers(pages[i-1]))
				}
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		p1 := e.must(200, e.do(acme, call{method: "GET", path: "/api/invoices?limit=2&sort=total"}), "page 1")
		for _, path := range []string{
			"/api/invoices?sort=bogus",
			"/api/invoices?sort=" + url.QueryEscape("total; DROP TABLE invoices"),
			"/api/invoices?sort=line_count",
			"/api/invoices?sort=--total",
		} {
			if r := e.do(acme, call{method: "GET", path: path}); r.Status != 400 || r.errorField() != "sort" {
				t.Errorf("GET %s = %d %s, want 400 on sort", path, r.Status, r.Raw)
			}
		}
		// A cursor of one order is no position in another.
		path := "/api/invoices?sort=number&cursor=" + p1.Body["next_cursor"].(string)
		if r := e.do(acme, call{method: "GET", path: path}); r.Status != 400 || r.errorField() != "cursor" {
			t.Errorf("GET %s = %d %s, want 400 on cursor", path, r.Status, r.Raw)
		}
		if n := len(e.must(200, e.do(acme, call{method: "GET", path: "/api/invoices"}), "list").Body["items"].([]any)); n != 5 {
			t.Errorf("after the hostile sorts the list has %d invoices, want 5", n)
		}
	})
}

// normalizeTies is numbers(r) for a sort whose ties are broken by the
// random id: it sorts each run of equal keys by number.
func normalizeTies(key string, r response) string {
	field := map[string]string{"customer": "customer_id", "status": "status", "issued": "issued_on"}[key]
	var runs [][]string
	prev := "\x00"
	for _, it := range r.Body["items"].([]any) {
		m := it.(map[string]any)
		k, _ := m[field].(string)
		n := strconv.FormatFloat(m["number"].(float64), 'f', 0, 64)
		if k != prev {
			runs = append(runs, nil)
			prev = k
		}
		runs[len(runs)-1] = append(runs[len(runs)-1], n)
	}
	var out []string
	for _, run := range runs {
		slices.Sort(run)
		out = append(out, run...)
	}
	return strings.Join(out, ",")
}
