package appserver

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantgate/tenantgate/appserver/sales"
	"github.com/tenantgate/tenantgate/appserver/tenantpool"
)

// form is a posted HTML form's header.
var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

// page fetches a tenant page and fails unless it answers want.
func (e *env) page(f *tenantFixture, method, path string, form url.Values, want int, session ...string) string {
	e.t.Helper()
	c := call{method: method, path: path}
	if len(session) > 0 {
		c.session = session[0]
	}
	if form != nil {
		c.body, c.header = form.Encode(), formHeader
	}
	r := e.do(f, c)
	if r.Status != want {
		e.t.Fatalf("%s %s = %d, want %d; body %.600s", method, path, r.Status, want, r.Raw)
	}
	if r.Status == http.StatusSeeOther {
		return r.Header.Get("Location")
	}
	return string(r.Raw)
}

// idOf is the id of the one item of the API list path matching q.
func (e *env) idOf(f *tenantFixture, path, q string) string {
	e.t.Helper()
	r := e.must(200, e.do(f, call{method: "GET", path: path + "?q=" + url.QueryEscape(q)}), "find "+q)
	items, _ := r.Body["items"].([]any)
	if len(items) != 1 {
		e.t.Fatalf("%s?q=%s = %s, want one item", path, q, r.Raw)
	}
	return items[0].(map[string]any)["id"].(string)
}

// TestResourcePages walks the customers' pages as a browser without
// JavaScript would (issue 13): every invalid field at once with the typed
// values kept, create, detail, edit, a delete refused while an invoice
// uses the customer, a confirmed delete, search and sort, another tenant's
// id, a hostile value.
func TestResourcePages(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	globex := e.addTenant("globex", 10)

	// Two invalid fields, both reported beside their inputs; the typed
	// values stay.
	body := e.page(acme, "POST", "/customers", url.Values{"name": {""}, "email": {"not-an-address"}, "phone": {"+1 555"}}, 400)
	for _, want := range []string{`id="name-error"`, `id="email-error"`, `value="not-an-address"`, `value="&#43;1 555"`, "2 fields need your attention"} {
		if !strings.Contains(body, want) {
			t.Errorf("refused customer form lacks %q", want)
		}
	}
	evil := `<script>alert(1)</script>`
	loc := e.page(acme, "POST", "/customers", url.Values{"name": {evil}, "email": {"wile@acme.example.com"}}, 303)
	if loc != "/customers?done=created" {
		t.Fatalf("create went to %q", loc)
	}
	body = e.page(acme, "GET", loc, nil, 200)
	if strings.Contains(body, evil) || !strings.Contains(body, "Customer added.") {
		t.Errorf("list after create: escaped name and notice expected:\n%.2000s", body)
	}
	path := "/customers/" + e.idOf(acme, "/api/customers", "wile@")
	if body = e.page(acme, "GET", path, nil, 200); strings.Contains(body, evil) || !strings.Contains(body, "wile@acme.example.com") {
		t.Errorf("detail page: escaped name and e-mail expected")
	}
	// Edit: a refused edit keeps what was typed; a good one saves.
	body = e.page(acme, "POST", path+"/edit", url.Values{"name": {"Wile"}, "email": {"bad"}}, 400)
	if !strings.Contains(body, `id="email-error"`) || !strings.Contains(body, `value="bad"`) {
		t.Errorf("refused edit lacks the error or the typed value")
	}
	e.page(acme, "POST", path+"/edit", url.Values{"name": {"Wile E. Coyote"}, "email": {""}, "phone": {"+1 555 0100"}}, 303)
	body = e.page(acme, "GET", path, nil, 200)
	if !strings.Contains(body, "Wile E. Coyote") || strings.Contains(body, "wile@acme.example.com") {
		t.Errorf("after edit the detail should show the new name and no e-mail")
	}
	// Another tenant's id, and a malformed one, are not found.
	e.page(globex, "GET", path, nil, 404)
	e.page(globex, "POST", path+"/delete", url.Values{}, 404)
	e.page(acme, "GET", "/customers/not-a-uuid/edit", nil, 404)
	e.page(acme, "GET", "/customers/"+uuid.NewString(), nil, 404)

	// An invoice uses the customer: the delete is refused with a notice.
	id := strings.TrimPrefix(path, "/customers/")
	prod := e.must(201, e.do(acme, call{method: "POST", path: "/api/products", body: map[string]string{"sku": "R1", "name": "Rocket", "price": "10.00"}}), "product")
	e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{"customer_id": id,
		"lines": []map[string]string{{"product_id": prod.Body["id"].(string), "quantity": "1"}}}}), "invoice")
	body = e.page(acme, "GET", path+"/delete", nil, 200)
	if !strings.Contains(body, "Delete the customer Wile E. Coyote?") || !strings.Contains(body, `action="`+path+`/delete"`) {
		t.Errorf("confirmation page lacks its question or form")
	}
	body = e.page(acme, "POST", path+"/delete", url.Values{}, 409)
	if !strings.Contains(body, "cannot be deleted: the customer has invoices") {
		t.Errorf("refused delete lacks its reason:\n%.1500s", body)
	}
	body = e.page(acme, "POST", "/products/"+prod.Body["id"].(string)+"/delete", url.Values{}, 409)
	if !strings.Contains(body, "the product appears on invoices") {
		t.Errorf("refused product delete lacks its reason")
	}
	// A customer without invoices goes.
	e.page(acme, "POST", "/customers", url.Values{"name": {"Road Runner"}}, 303)
	rr := "/customers/" + e.idOf(acme, "/api/customers", "Road Runner")
	if loc := e.page(acme, "POST", rr+"/delete", url.Values{}, 303); loc != "/customers?done=deleted" {
		t.Errorf("delete went to %q", loc)
	}
	e.page(acme, "GET", rr, nil, 404)

	// Search and sort.
	e.page(acme, "POST", "/customers", url.Values{"name": {"Acme Anvils"}}, 303)
	body = e.page(acme, "GET", "/customers?q=anvil", nil, 200)
	if !strings.Contains(body, "Acme Anvils") || strings.Contains(body, "Wile E. Coyote") {
		t.Errorf("search for anvil should list only Acme Anvils")
	}
	body = e.page(acme, "GET", "/customers?sort=-name", nil, 200)
	if strings.Index(body, "Wile E. Coyote") > strings.Index(body, "Acme Anvils") || !strings.Contains(body, `aria-sort="descending"`) {
		t.Errorf("sort=-name should list Wile before Acme, marked descending")
	}
	e.page(acme, "GET", "/customers?sort=password_hash&offset=-5", nil, 200) // hand-made parameters fall back

	// Paging forward and back under a sort: 27 products, 25 a page.
	for i := 2; i <= 27; i++ {
		e.must(201, e.do(acme, call{method: "POST", path: "/api/products", body: map[string]string{"sku": fmt.Sprintf("P%02d", i), "name": "Part", "price": "1.00"}}), "product")
	}
	body = e.page(acme, "GET", "/products?sort=-sku", nil, 200)
	if !strings.Contains(body, "1–25 of 27") || !strings.Contains(body, `href="/products?offset=25&amp;sort=-sku" rel="next"`) || strings.Contains(body, `rel="prev"`) {
		t.Errorf("first page of products lacks its count or next link")
	}
	body = e.page(acme, "GET", "/products?offset=25&sort=-sku", nil, 200)
	if !strings.Contains(body, "26–27 of 27") || !strings.Contains(body, `href="/products?sort=-sku" rel="prev"`) || strings.Contains(body, `rel="next"`) ||
		!strings.Contains(body, "P02") || strings.Contains(body, "P27") {
		t.Errorf("second page of products lacks its count, previous link or last items:\n%.3000s", body)
	}

	// Expenses, locations, settings and the account pages answer.
	e.page(acme, "POST", "/expenses", url.Values{"description": {"Paint"}, "amount": {"12.50"}, "spent_on": {"2026-11-01"}}, 303)
	body = e.page(acme, "POST", "/expenses", url.Values{"description": {""}, "amount": {"x"}, "spent_on": {"nope"}, "location_id": {uuid.NewString()}}, 400)
	for _, f := range []string{"description", "amount", "spent_on", "location_id"} {
		if !strings.Contains(body, `id="`+f+`-error"`) {
			t.Errorf("refused expense lacks the error of %s", f)
		}
	}
	body = e.page(acme, "GET", "/expenses", nil, 200)
	if !strings.Contains(body, "Amount (USD)") || !strings.Contains(body, "12.50") {
		t.Errorf("expenses list should show the amount in USD")
	}
	e.page(acme, "GET", "/locations", nil, 200)
	e.page(acme, "POST", "/settings", url.Values{"currency": {"eur"}}, 303)
	if body = e.page(acme, "GET", "/expenses", nil, 200); !strings.Contains(body, "Amount (EUR)") {
		t.Errorf("after choosing EUR the expenses list should say so")
	}
	if body = e.page(acme, "GET", "/", nil, 200); !strings.Contains(body, `id="currency-shown" title="Amounts are in EUR">EUR<`) {
		t.Errorf("the dashboard's header should show the currency EUR")
	}
	body = e.page(acme, "POST", "/settings", url.Values{"currency": {"euro"}}, 400)
	if !strings.Contains(body, `id="currency-error"`) {
		t.Errorf("a bad currency should be refused beside its field")
	}
}

// TestUserPages checks the users' pages: admins only, the seat count, a
// deactivation with its confirmation, the own password.
func TestUserPages(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 3)
	body := e.page(acme, "GET", "/users", nil, 200)
	if !strings.Contains(body, "1 of 3 users") {
		t.Errorf("users page lacks the seat count")
	}
	body = e.page(acme, "POST", "/users", url.Values{"email": {"nope"}, "role": {"owner"}, "password": {"short"}}, 400)
	for _, f := range []string{"email", "role", "password"} {
		if !strings.Contains(body, `id="`+f+`-error"`) {
			t.Errorf("refused user form lacks the error of %s", f)
		}
	}
	e.page(acme, "POST", "/users", url.Values{"email": {"bob@acme.example.com"}, "name": {"Bob"}, "role": {"member"}, "password": {"bob-password"}}, 303)
	bob := "/users/" + e.idOf(acme, "/api/users", "bob@")
	login := e.must(200, e.do(acme, call{method: "POST", path: "/api/auth/login", noSession: true, body: map[string]string{"email": "bob@acme.example.com", "password": "bob-password"}}), "bob logs in")
	bobSession := login.Body["token"].(string)
	// A member gets the 403 page.
	body = e.page(acme, "GET", "/users", nil, 403, bobSession)
	if !strings.Contains(body, "tenant administrators only") {
		t.Errorf("member on /users should see why")
	}
	e.page(acme, "GET", bob+"/deactivate", nil, 403, bobSession)
	if body = e.page(acme, "GET", "/", nil, 200, bobSession); strings.Contains(body, `href="/users"`) {
		t.Errorf("a member's navigation should not offer Users")
	}
	// Role change, then deactivation after confirmation: bob is logged out.
	e.page(acme, "POST", bob+"/edit", url.Values{"name": {"Bob B."}, "role": {"admin"}}, 303)
	body = e.page(acme, "GET", bob+"/deactivate", nil, 200)
	if !strings.Contains(body, "Deactivate bob@acme.example.com?") {
		t.Errorf("deactivation confirmation lacks its question")
	}
	e.page(acme, "POST", bob+"/deactivate", url.Values{}, 303)
	if loc := e.page(acme, "GET", "/", nil, 303, bobSession); loc != "/login" {
		t.Errorf("deactivated bob's page went to %q, want /login", loc)
	}
	body = e.page(acme, "GET", bob, nil, 200)
	if !strings.Contains(body, "Inactive") || !strings.Contains(body, "Reactivate") {
		t.Errorf("bob's page should show him inactive with a Reactivate button")
	}
	// Deactivating yourself is refused with a notice.
	body = e.page(acme, "POST", "/users/"+acme.AdminID+"/deactivate", url.Values{}, 409)
	if !strings.Contains(body, "you cannot change your own role") {
		t.Errorf("self-deactivation should be refused with a notice")
	}
	// The own password: wrong current and short new, both reported.
	body = e.page(acme, "POST", "/account/password", url.Values{"current_password": {"wrong"}, "new_password": {"short"}}, 400)
	if !strings.Contains(body, `id="current_password-error"`) || !strings.Contains(body, `id="new_password-error"`) {
		t.Errorf("password form should report both fields")
	}
	e.page(acme, "POST", "/account/password", url.Values{"current_password": {testPassword}, "new_password": {"a-new-password"}}, 303)
}

// TestResourcePagesRefuseCrossSiteForms checks that the new page forms
// (delete, deactivate, password, settings) are refused for a cookie
// session when the post comes from another site, and served from the
// same one.
func TestResourcePagesRefuseCrossSiteForms(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	e.page(acme, "POST", "/customers", url.Values{"name": {"Ann"}}, 303)
	ann := "/customers/" + e.idOf(acme, "/api/customers", "Ann")
	cookie := sales.SessionCookie + "=" + acme.Session
	post := func(path string, form url.Values, origin string) int {
		h := http.Header{"Cookie": {cookie}, "Content-Type": {"application/x-www-form-urlencoded"}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return e.do(acme, call{method: "POST", path: path, noSession: true, header: h, body: form.Encode()}).Status
	}
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{ann + "/delete", url.Values{}},
		{ann + "/edit", url.Values{"name": {"Mallory"}}},
		{"/users/" + acme.AdminID + "/deactivate", url.Values{}},
		{"/account/password", url.Values{"current_password": {testPassword}, "new_password": {"hijacked-password"}}},
		{"/settings", url.Values{"currency": {"XXX"}}},
	} {
		if got := post(c.path, c.form, "https://evil.example"); got != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d, want 403", c.path, got)
		}
		if got := post(c.path, c.form, ""); got != http.StatusForbidden {
			t.Errorf("POST %s without Origin or Referer = %d, want 403", c.path, got)
		}
	}
	if got := post(ann+"/delete", url.Values{}, "https://acme.localhost"); got != http.StatusSeeOther {
		t.Errorf("same-site delete = %d, want 303", got)
	}
	if r := e.do(acme, call{method: "HEAD", path: "/customers"}); r.Status != 200 {
		t.Errorf("HEAD /customers = %d, want 200", r.Status)
	}
}
