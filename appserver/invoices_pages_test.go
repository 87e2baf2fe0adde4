package appserver

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
)

// TestPagesInvoiceLifecycle drives the invoice pages as a browser without
// JavaScript would: the untouched form is refused, lines are added and
// removed by the form's own buttons, a draft is created, issued, paid and
// printed, refused moves are explained, drafts alone are deleted (after a
// confirmation), and another tenant's invoice is unknown.
func TestPagesInvoiceLifecycle(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	globex := e.addTenant("globex", 10)
	cust := e.must(201, e.do(acme, call{method: "POST", path: "/api/customers", body: map[string]any{"name": "Road Runner", "address": "1 Desert Rd"}}), "customer").Body["id"].(string)
	seed := e.must(201, e.do(acme, call{method: "POST", path: "/api/products", body: map[string]any{"sku": "SEED", "name": "Bird seed", "price": "2.50"}}), "product").Body["id"].(string)
	page := func(method, path string, form url.Values) response {
		t.Helper()
		return e.do(acme, pageCall(acme, method, path, form, acme.Session))
	}
	countInvoices := func() int {
		return len(e.must(200, e.do(acme, call{method: "GET", path: "/api/invoices"}), "list").Body["items"].([]any))
	}

	// The form exactly as the page draws it: a customer chosen, status
	// draft, two rows of quantity 1 and no product.
	untouched := url.Values{"customer_id": {cust}, "status": {"draft"}, "line_count": {"2"},
		"lines[0].quantity": {"1"}, "lines[1].quantity": {"1"}}
	res := page("POST", "/invoices", untouched)
	if res.Status != 400 || !strings.Contains(string(res.Raw), `id="lines-error"`) {
		t.Fatalf("POST the untouched invoice form = %d, want 400 with an error on the lines; body %.300s", res.Status, res.Raw)
	}
	if n := countInvoices(); n != 0 {
		t.Fatalf("the untouched form created %d invoices, want none", n)
	}

	// Every invalid field at once, each beside its input.
	bad := url.Values{"customer_id": {cust}, "status": {"draft"}, "line_count": {"2"}, "issued_on": {"yesterday"},
		"lines[0].quantity": {"2"}, "lines[0].unit_price": {"1"},
		"lines[1].product_id": {seed}, "lines[1].quantity": {"0"}}
	res = page("POST", "/invoices", bad)
	for _, f := range []string{"issued_on", "lines[0].product_id", "lines[1].quantity"} {
		if res.Status != 400 || fieldErrorOf(string(res.Raw), f) == "" {
			t.Errorf("POST a form with three bad fields = %d: no error beside %s", res.Status, f)
		}
	}

	// Add line (no JavaScript): the form comes back with three rows, what
	// was typed kept, and the total of what can be priced.
	form := url.Values{"customer_id": {cust}, "status": {"draft"}, "line_count": {"2"},
		"lines[0].product_id": {seed}, "lines[0].quantity": {"2"},
		"lines[1].product_id": {seed}, "lines[1].quantity": {"1.5"}, "lines[1].unit_price": {"4.00"}, "add": {"1"}}
	res = page("POST", "/invoices", form)
	body := string(res.Raw)
	if res.Status != 200 || !strings.Contains(body, `name="lines[2].quantity"`) || !strings.Contains(body, `value="1.5"`) {
		t.Fatalf("Add line = %d, want the form with a third row and the values kept; body %.500s", res.Status, body)
	}
	if !strings.Contains(body, `<output id="invoice-total" aria-live="polite">11.00</output>`) {
		t.Errorf("Add line: the total of 2 × 2.50 + 1.5 × 4.00 is not shown as 11.00")
	}
	form.Del("add")
	form.Set("line_count", "3")
	form.Set("lines[2].quantity", "1")
	form.Set("remove", "0")
	res = page("POST", "/invoices", form)
	if body := string(res.Raw); res.Status != 200 || strings.Contains(body, `name="lines[2].quantity"`) || !strings.Contains(body, `<output id="invoice-total" aria-live="polite">6.00</output>`) {
		t.Errorf("Remove line 1 = %d, want two rows left and the total 6.00; body %.500s", res.Status, body)
	}

	// Create the draft with two lines; the list links to it, newest first.
	form.Del("remove")
	res = page("POST", "/invoices", form)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("create = %d, want 303; body %.500s", res.Status, res.Raw)
	}
	res = page("GET", "/invoices", nil)
	m := regexp.MustCompile(`href="/invoices/([0-9a-f-]{36})"`).FindStringSubmatch(string(res.Raw))
	if m == nil {
		t.Fatalf("GET /invoices: no link to the invoice; body %.500s", res.Raw)
	}
	id := m[1]
	res = page("GET", "/invoices/"+id, nil)
	body = string(res.Raw)
	for _, want := range []string{"Road Runner", `<td class="num">1.5</td>`, `<td class="num">2</td>`, "11.00", "Issue invoice", "Delete…"} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /invoices/%s lacks %q", id, want)
		}
	}

	t.Run("another tenant's invoice is unknown", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{{"GET", "/invoices/" + id}, {"GET", "/invoices/" + id + "/print"}, {"POST", "/invoices/" + id + "/status"}, {"POST", "/invoices/" + id + "/delete"}} {
			var f url.Values
			if c.method == "POST" {
				f = url.Values{"status": {"issued"}}
			}
			if r := e.do(globex, pageCall(globex, c.method, c.path, f, globex.Session)); r.Status != 404 {
				t.Errorf("globex %s %s = %d, want 404", c.method, c.path, r.Status)
			}
		}
	})
	t.Run("a post from another site is refused", func(t *testing.T) {
		c := pageCall(acme, "POST", "/invoices/"+id+"/status", url.Values{"status": {"issued"}}, acme.Session)
		c.header.Set("Origin", "https://evil.example")
		if r := e.do(acme, c); r.Status != 403 {
			t.Errorf("cross-site POST status = %d, want 403", r.Status)
		}
	})

	// draft → issued → paid; then void and edit are refused with a reason.
	for _, to := range []string{"issued", "paid"} {
		res = page("POST", "/invoices/"+id+"/status", url.Values{"status": {to}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("status → %s = %d, want 303; body %.300s", to, res.Status, res.Raw)
		}
		res = page("GET", res.Header.Get("Location"), nil)
		if !strings.Contains(string(res.Raw), `id="invoice-status">`+to+`<`) {
			t.Errorf("after → %s the invoice does not show it; body %.300s", to, res.Raw)
		}
	}
	res = page("POST", "/invoices/"+id+"/void", url.Values{})
	if res.Status != 409 || !strings.Contains(string(res.Raw), "cannot go from paid to void") {
		t.Errorf("void a paid invoice = %d, want 409 explaining it; body %.300s", res.Status, res.Raw)
	}
	if res = page("GET", "/invoices/"+id+"/edit", nil); res.Status != 409 {
		t.Errorf("edit a paid invoice = %d, want 409", res.Status)
	}
	if res = page("POST", "/invoices/"+id+"/delete", url.Values{}); res.Status != 409 || !strings.Contains(string(res.Raw), "only a draft invoice can be deleted") {
		t.Errorf("delete a paid invoice = %d, want 409; body %.300s", res.Status, res.Raw)
	}
	if res = page("GET", "/invoices/"+id+"/delete", nil); res.Status != 409 || !strings.Contains(string(res.Raw), "A paid invoice cannot be deleted.") {
		t.Errorf("the delete confirmation of a paid invoice = %d, want 409 saying why; body %.300s", res.Status, res.Raw)
	}
	res = page("GET", "/invoices/"+id+"/print", nil)
	if body := string(res.Raw); res.Status != 200 || !strings.Contains(body, "1 Desert Rd") || !strings.Contains(body, "@media print") || !strings.Contains(body, "<strong>11.00</strong>") {
		t.Errorf("print view = %d, want the address, the total and print CSS", res.Status)
	}

	// A draft is edited, then deleted after its confirmation page.
	form = url.Values{"customer_id": {cust}, "status": {"draft"}, "line_count": {"1"}, "lines[0].product_id": {seed}, "lines[0].quantity": {"1"}}
	e.must(http.StatusSeeOther, page("POST", "/invoices", form), "second draft")
	res = page("GET", "/invoices", nil)
	draft := regexp.MustCompile(`href="/invoices/([0-9a-f-]{36})"`).FindStringSubmatch(string(res.Raw))[1]
	if draft == id {
		t.Fatalf("the list is not newest first")
	}
	form.Set("lines[0].quantity", "4")
	if res = page("POST", "/invoices/"+draft+"/edit", form); res.Status != http.StatusSeeOther {
		t.Fatalf("edit draft = %d; body %.300s", res.Status, res.Raw)
	}
	if body := string(page("GET", "/invoices/"+draft, nil).Raw); !strings.Contains(body, "10.00") {
		t.Errorf("the edited draft does not show 4 × 2.50 = 10.00")
	}
	if res = page("GET", "/invoices/"+draft+"/delete", nil); res.Status != 200 || !strings.Contains(string(res.Raw), "Delete this draft invoice?") {
		t.Errorf("delete confirmation = %d", res.Status)
	}
	e.must(http.StatusSeeOther, page("POST", "/invoices/"+draft+"/delete", url.Values{}), "delete draft")
	if r := page("GET", "/invoices/"+draft, nil); r.Status != 404 {
		t.Errorf("the deleted draft = %d, want 404", r.Status)
	}

	t.Run("hostile search values", func(t *testing.T) {
		res := page("GET", "/invoices?q="+url.QueryEscape(`<script>alert(1)</script>`), nil)
		if res.Status != 200 || strings.Contains(string(res.Raw), "<script>alert") {
			t.Errorf("search with markup = %d, or not escaped", res.Status)
		}
		if res := page("GET", "/invoices?cursor=garbage", nil); res.Status != 400 {
			t.Errorf("a bad cursor = %d, want 400 on the page", res.Status)
		}
	})
	t.Run("form script", func(t *testing.T) {
		res := page("GET", "/invoice-form.js", nil)
		if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("GET /invoice-form.js = %d %s", res.Status, res.Header.Get("Content-Type"))
		}
	})
}

// TestPagesInvoiceSort covers the invoice list's sortable headers (issue 13
// item 1): a header sorts by its column and then reverses, aria-sort names
// the order, the order survives paging and searching, and a hand-made
// ?sort= falls back to newest first.
func TestPagesInvoiceSort(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	cust := e.must(201, e.do(acme, call{method: "POST", path: "/api/customers", body: map[string]any{"name": "Road Runner"}}), "customer").Body["id"].(string)
	prod := e.must(201, e.do(acme, call{method: "POST", path: "/api/products", body: map[string]any{"sku": "SEED", "name": "Bird seed", "price": "1.00"}}), "product").Body["id"].(string)
	// 30 invoices (more than a page of 25); invoice n totals (31-n) × 1.00,
	// so ascending total is descending number.
	for n := 1; n <= 30; n++ {
		e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{"customer_id": cust,
			"lines": []map[string]any{{"product_id": prod, "quantity": strconv.Itoa(31 - n)}}}}), "invoice")
	}
	page := func(path string) string {
		t.Helper()
		res := e.do(acme, pageCall(acme, "GET", path, nil, acme.Session))
		if res.Status != 200 {
			t.Fatalf("GET %s = %d, want 200; body %.300s", path, res.Status, res.Raw)
		}
		return string(res.Raw)
	}
	firstNumber := func(body string) string {
		m := regexp.MustCompile(`<a href="/invoices/[0-9a-f-]+">(\d+)</a>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no invoice row in %.300s", body)
		}
		return m[1]
	}

	body := page("/invoices")
	if firstNumber(body) != "30" || strings.Contains(body, "aria-sort") {
		t.Errorf("/invoices starts with %s (aria-sort shown: %v), want 30, newest first, no aria-sort", firstNumber(body), strings.Contains(body, "aria-sort"))
	}
	for _, key := range []string{"number", "customer", "status", "total", "issued"} {
		if !strings.Contains(body, `href="/invoices?sort=`+key+`"`) {
			t.Errorf("/invoices has no header link sorting by %s", key)
		}
	}

	body = page("/invoices?sort=total")
	if firstNumber(body) != "30" || !strings.Contains(body, `aria-sort="ascending"><a href="/invoices?sort=-total">Total`) {
		t.Errorf("/invoices?sort=total starts with %s, want 30 and the Total header ascending, linking to -total; body %.2000s", firstNumber(body), body)
	}
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(body)
	if next == nil || !strings.Contains(next[1], "sort=total") {
		t.Fatalf("/invoices?sort=total: next link %v, want one keeping sort=total", next)
	}
	body = page(strings.ReplaceAll(next[1], "&amp;", "&"))
	if firstNumber(body) != "5" || !strings.Contains(body, `aria-sort="ascending"`) {
		t.Errorf("page 2 of ?sort=total starts with %s, want 5, still ascending by total", firstNumber(body))
	}
	prev := regexp.MustCompile(`<a href="([^"]+)" rel="prev">`).FindStringSubmatch(body)
	if prev == nil || !strings.Contains(prev[1], "sort=total") {
		t.Fatalf("page 2 of ?sort=total: prev link %v, want one keeping sort=total", prev)
	}
	if body = page(strings.ReplaceAll(prev[1], "&amp;", "&")); firstNumber(body) != "30" {
		t.Errorf("back to page 1 of ?sort=total starts with %s, want 30", firstNumber(body))
	}

	body = page("/invoices?sort=-number&q=runner")
	if firstNumber(body) != "30" || !strings.Contains(body, `aria-sort="descending"`) || !strings.Contains(body, `<input type="hidden" name="sort" value="-number">`) {
		t.Errorf("/invoices?sort=-number&q=runner: want 30 first, aria-sort descending and the search form keeping the sort")
	}
	if !strings.Contains(body, `href="/invoices?q=runner&amp;sort=customer"`) {
		t.Errorf("/invoices?sort=-number&q=runner: the Customer header does not keep the search")
	}

	body = page("/invoices?sort=" + url.QueryEscape("total; DROP TABLE invoices"))
	if firstNumber(body) != "30" || strings.Contains(body, "aria-sort") {
		t.Errorf("a hand-made ?sort= starts with %s, want the default order (30 first, no aria-sort)", firstNumber(body))
	}
}
