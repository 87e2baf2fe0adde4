package appserver

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/appserver/sales"
	"github.com/tenantgate/tenantgate/appserver/tenantpool"
)

// pageCall is a browser-like request to a tenant page: form-encoded body,
// the session cookie, and the Origin a browser sends with a form post.
func pageCall(f *tenantFixture, method, path string, form url.Values, cookie string) call {
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", sales.SessionCookie+"="+cookie)
	}
	c := call{method: method, path: path, noSession: true, header: h}
	if form != nil {
		c.body = form.Encode()
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		h.Set("Origin", "https://"+f.Host)
	}
	return c
}

// fieldErrorOf returns the message shown beside the field with id, or "".
func fieldErrorOf(html, id string) string {
	re := regexp.MustCompile(`<span class="field-error" id="` + regexp.QuoteMeta(id) + `-error">([^<]*)</span>`)
	if m := re.FindStringSubmatch(html); m != nil {
		return m[1]
	}
	return ""
}

func TestPagesLogin(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)

	res := e.do(acme, pageCall(acme, http.MethodGet, "/login", nil, ""))
	body := string(res.Raw)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /login = %d, want 200", res.Status)
	}
	for _, want := range []string{`<label for="email">`, `<label for="password">`, `<div class="org"><span id="brand-name">acme</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /login: page lacks %q", want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("GET /login: Content-Security-Policy = %q, want default-src 'none'", csp)
	}

	tests := []struct {
		name      string
		form      url.Values
		status    int
		errField  string
		errSubstr string
	}{
		{"no e-mail", url.Values{"email": {""}, "password": {"x"}}, http.StatusBadRequest, "email", "required"},
		{"wrong password", url.Values{"email": {"admin@acme.example.com"}, "password": {"wrong password"}}, http.StatusUnauthorized, "password", "wrong"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(acme, pageCall(acme, http.MethodPost, "/login", tc.form, ""))
			if res.Status != tc.status {
				t.Fatalf("POST /login = %d, want %d", res.Status, tc.status)
			}
			if msg := fieldErrorOf(string(res.Raw), tc.errField); !strings.Contains(msg, tc.errSubstr) {
				t.Errorf("error beside %s = %q, want it to contain %q", tc.errField, msg, tc.errSubstr)
			}
		})
	}

	res = e.do(acme, pageCall(acme, http.MethodPost, "/login", url.Values{"email": {"admin@acme.example.com"}, "password": {testPassword}}, ""))
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("POST /login with the right password = %d to %q, want 303 to /", res.Status, res.Header.Get("Location"))
	}
	var session string
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == sales.SessionCookie {
			session = c.Value
			if !c.HttpOnly || !c.Secure {
				t.Errorf("session cookie HttpOnly=%v Secure=%v, want both", c.HttpOnly, c.Secure)
			}
		}
	}
	if session == "" {
		t.Fatal("POST /login set no session cookie")
	}
	if res := e.do(acme, pageCall(acme, http.MethodGet, "/", nil, session)); res.Status != http.StatusOK {
		t.Errorf("GET / with the new session = %d, want 200", res.Status)
	}
	if res := e.do(acme, pageCall(acme, http.MethodGet, "/customers", nil, "")); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Errorf("GET /customers without a session = %d to %q, want 303 to /login", res.Status, res.Header.Get("Location"))
	}
	res = e.do(acme, pageCall(acme, http.MethodPost, "/logout", url.Values{}, session))
	if res.Status != http.StatusSeeOther {
		t.Errorf("POST /logout = %d, want 303", res.Status)
	}
	if res := e.do(acme, pageCall(acme, http.MethodGet, "/", nil, session)); res.Status != http.StatusSeeOther {
		t.Errorf("GET / after logout = %d, want 303 to /login", res.Status)
	}
}

func TestPagesCustomersAndProducts(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	globex := e.addTenant("globex", 10)

	tests := []struct {
		name     string
		path     string
		form     url.Values
		status   int
		errField string // a message must be shown beside it
	}{
		{"customer without a name", "/customers", url.Values{"name": {" "}, "email": {"a@b.example"}}, http.StatusBadRequest, "name"},
		{"customer with a bad e-mail", "/customers", url.Values{"name": {"Ann"}, "email": {"not-an-address"}}, http.StatusBadRequest, "email"},
		{"customer", "/customers", url.Values{"name": {"Wile E. Coyote"}, "email": {"wile@example.com"}}, http.StatusSeeOther, ""},
		{"product with a bad price", "/products", url.Values{"sku": {"R-1"}, "name": {"Rocket"}, "price": {"12,50"}}, http.StatusBadRequest, "price"},
		{"product", "/products", url.Values{"sku": {"R-1"}, "name": {"Rocket"}, "price": {"12.50"}}, http.StatusSeeOther, ""},
		{"product with a taken SKU", "/products", url.Values{"sku": {"R-1"}, "name": {"Rocket 2"}, "price": {"1"}}, http.StatusConflict, "sku"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(acme, pageCall(acme, http.MethodPost, tc.path, tc.form, acme.Session))
			if res.Status != tc.status {
				t.Fatalf("POST %s = %d, want %d; body %.300s", tc.path, res.Status, tc.status, res.Raw)
			}
			if tc.errField == "" {
				return
			}
			body := string(res.Raw)
			if fieldErrorOf(body, tc.errField) == "" {
				t.Errorf("POST %s: no error shown beside %s", tc.path, tc.errField)
			}
			// The form keeps what was typed.
			for k, v := range tc.form {
				if k != tc.errField && strings.TrimSpace(v[0]) != "" && !strings.Contains(body, `value="`+v[0]+`"`) {
					t.Errorf("POST %s: field %s lost its value %q", tc.path, k, v[0])
				}
			}
		})
	}

	res := e.do(acme, pageCall(acme, http.MethodGet, "/customers", nil, acme.Session))
	if !strings.Contains(string(res.Raw), "Wile E. Coyote") {
		t.Errorf("acme's /customers does not list the customer it created")
	}
	res = e.do(globex, pageCall(globex, http.MethodGet, "/customers", nil, globex.Session))
	if res.Status != http.StatusOK || strings.Contains(string(res.Raw), "Wile E. Coyote") {
		t.Errorf("globex's /customers = %d, lists acme's customer: %v", res.Status, strings.Contains(string(res.Raw), "Wile E. Coyote"))
	}
	res = e.do(acme, pageCall(acme, http.MethodGet, "/products", nil, acme.Session))
	if !strings.Contains(string(res.Raw), "Rocket") || !strings.Contains(string(res.Raw), "12.50") {
		t.Errorf("/products does not list the product created")
	}

	// A form posted from another site with the session cookie is refused.
	c := pageCall(acme, http.MethodPost, "/customers", url.Values{"name": {"Evil"}}, acme.Session)
	c.header.Set("Origin", "https://evil.example")
	if res := e.do(acme, c); res.Status != http.StatusForbidden {
		t.Errorf("cross-site POST /customers = %d, want 403", res.Status)
	}
}

func TestPagesInvoicesAndDashboard(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	cust := e.must(http.StatusCreated, e.do(acme, call{method: "POST", path: "/api/customers", body: map[string]any{"name": "Road Runner"}}), "create customer")
	prod := e.must(http.StatusCreated, e.do(acme, call{method: "POST", path: "/api/products", body: map[string]any{"sku": "SEED", "name": "Bird seed", "price": "2.50"}}), "create product")
	custID, prodID := cust.Body["id"].(string), prod.Body["id"].(string)

	// A bad quantity on the third form row is shown beside that row, even
	// though the empty rows before it are not sent.
	form := url.Values{"customer_id": {custID}, "status": {"issued"},
		"lines[0].product_id": {prodID}, "lines[0].quantity": {"4"},
		"lines[2].product_id": {prodID}, "lines[2].quantity": {"-1"}}
	res := e.do(acme, pageCall(acme, http.MethodPost, "/invoices", form, acme.Session))
	if res.Status != http.StatusBadRequest {
		t.Fatalf("POST /invoices with a bad quantity = %d, want 400", res.Status)
	}
	if fieldErrorOf(string(res.Raw), "lines[2].quantity") == "" {
		t.Errorf("POST /invoices: no error beside lines[2].quantity; body %s", res.Raw)
	}

	form.Set("lines[2].quantity", "2")
	form.Set("lines[2].unit_price", "1.25")
	res = e.do(acme, pageCall(acme, http.MethodPost, "/invoices", form, acme.Session))
	if res.Status != http.StatusSeeOther {
		t.Fatalf("POST /invoices = %d, want 303; body %.500s", res.Status, res.Raw)
	}
	res = e.do(acme, pageCall(acme, http.MethodGet, "/invoices", nil, acme.Session))
	body := string(res.Raw)
	// The list shows headers only: how many lines, not which.
	for _, want := range []string{"Road Runner", "12.50", `<td class="num">2</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /invoices lacks %q", want)
		}
	}

	res = e.do(acme, pageCall(acme, http.MethodGet, "/", nil, acme.Session))
	body = string(res.Raw)
	if res.Status != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", res.Status)
	}
	for _, want := range []string{"<svg", "<table", "All sales", "12.50"} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
}
