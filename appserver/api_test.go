package appserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/sales"
	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
)

func TestTokenFaultsAreRefused(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	now := time.Now()
	secret := func() []byte { return randomBytes(32) }()
	// forge signs arbitrary claims with the test's real key unless key is given.
	forge := func(method jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, claims)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": tenanttoken.Issuer, "aud": tenanttoken.Audience, "sub": acme.ID, "tenant": "acme",
			"host": acme.Host, "iat": now.Unix(), "exp": now.Add(tenanttoken.Lifetime).Unix()}
	}
	with := func(k string, v any) jwt.MapClaims { c := good(); c[k] = v; return c }
	otherSigner, _ := tenanttoken.NewSigner([]tenanttoken.Key{{ID: "k1", Secret: secret}})
	wrongKey, _ := otherSigner.Sign(acme.ID, "acme", acme.Host, now)
	valid, _ := e.signer.Sign(acme.ID, "acme", acme.Host, now)
	tests := []struct {
		name  string
		token string
		host  string
		noTok bool
	}{
		{name: "missing", noTok: true},
		{name: "malformed", token: "not.a.jwt"},
		{name: "garbage", token: "%%%"},
		{name: "signed with another key", token: wrongKey},
		{name: "unknown kid", token: forge(jwt.SigningMethodHS256, "nope", secret, good())},
		{name: "alg none", token: forge(jwt.SigningMethodNone, "k1", jwt.UnsafeAllowNoneSignatureType, good())},
		{name: "expired", token: mustSign(t, e.signer, acme, now.Add(-2*time.Minute))},
		{name: "issued in the future", token: mustSign(t, e.signer, acme, now.Add(time.Minute))},
		{name: "another audience", token: forgeWithSigner(t, e, with("aud", "someone-else"))},
		{name: "another issuer", token: forgeWithSigner(t, e, with("iss", "mallory"))},
		{name: "host differs", token: valid, host: "globex.localhost"},
		{name: "token host differs", token: forgeWithSigner(t, e, with("host", "globex.localhost"))},
		{name: "bad request host", token: valid, host: "acme.localhost:x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(acme, call{method: "GET", path: "/api/me", token: tc.token, host: tc.host, noToken: tc.noTok})
			if r.Status != http.StatusUnauthorized || r.errorCode() != "invalid_tenant_token" {
				t.Errorf("GET /api/me with %s token = %d %s, want 401 invalid_tenant_token", tc.name, r.Status, r.Raw)
			}
		})
	}
	t.Run("valid token, cached, still accepted", func(t *testing.T) {
		for range 2 {
			r := e.do(acme, call{method: "GET", path: "/api/me", token: valid})
			if r.Status != http.StatusOK {
				t.Fatalf("GET /api/me with a valid token = %d %s, want 200", r.Status, r.Raw)
			}
		}
	})
	t.Run("unknown route without token", func(t *testing.T) {
		r := e.do(acme, call{method: "GET", path: "/api/nothing-here", noToken: true})
		if r.Status != http.StatusUnauthorized {
			t.Errorf("GET /api/nothing-here without token = %d, want 401", r.Status)
		}
	})
}

func mustSign(t *testing.T, s *tenanttoken.Signer, f *tenantFixture, at time.Time) string {
	t.Helper()
	tok, err := s.Sign(f.ID, f.Subdomain, f.Host, at)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// forgeWithSigner signs claims with the env's real key, as a compromised or
// buggy issuer could; the claims themselves must still be refused.
func forgeWithSigner(t *testing.T, e *env, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(e.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSessionRequired(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	tests := []struct {
		name    string
		session string
		none    bool
	}{
		{name: "no session", none: true},
		{name: "unknown bearer", session: "does-not-exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(acme, call{method: "GET", path: "/api/customers", session: tc.session, noSession: tc.none})
			if r.Status != http.StatusUnauthorized || r.errorCode() != "unauthenticated" {
				t.Errorf("GET /api/customers with %s = %d %s, want 401 unauthenticated", tc.name, r.Status, r.Raw)
			}
		})
	}
}

func TestLoginAndCookie(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	tests := []struct {
		name, email, password string
		want                  int
		code                  string
	}{
		{"right password", "admin@acme.example.com", testPassword, 200, ""},
		{"e-mail case ignored", "ADMIN@acme.example.com", testPassword, 200, ""},
		{"wrong password", "admin@acme.example.com", "wrong password", 401, "invalid_credentials"},
		{"unknown e-mail", "nobody@acme.example.com", testPassword, 401, "invalid_credentials"},
		{"missing password", "admin@acme.example.com", "", 400, "invalid_field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(acme, call{method: "POST", path: "/api/auth/login", noSession: true,
				body: map[string]string{"email": tc.email, "password": tc.password}})
			if r.Status != tc.want || r.errorCode() != tc.code {
				t.Fatalf("login(%s) = %d %s, want %d %q", tc.name, r.Status, r.Raw, tc.want, tc.code)
			}
			if tc.want != 200 {
				return
			}
			tok, _ := r.Body["token"].(string)
			cookie := r.Header.Get("Set-Cookie")
			for _, attr := range []string{"session=" + tok, "HttpOnly", "Secure", "SameSite=Lax"} {
				if !strings.Contains(cookie, attr) {
					t.Errorf("login Set-Cookie = %q, want it to contain %q", cookie, attr)
				}
			}
			if strings.Contains(strings.ToLower(cookie), "domain=") {
				t.Errorf("login Set-Cookie = %q, want a host-only cookie", cookie)
			}
			me := e.do(acme, call{method: "GET", path: "/api/me", session: tok})
			user, _ := me.Body["user"].(map[string]any)
			tenant, _ := me.Body["tenant"].(map[string]any)
			if me.Status != 200 || user["id"] != acme.AdminID || tenant["subdomain"] != "acme" {
				t.Errorf("GET /api/me with the new token = %d %s, want the admin of acme", me.Status, me.Raw)
			}
		})
	}
}

func TestCookieWritesNeedSameOrigin(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	cookie := http.Header{"Cookie": {sales.SessionCookie + "=" + acme.Session}}
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"same origin", http.Header{"Origin": {"https://acme.localhost:8443"}}, 201},
		{"same host referer", http.Header{"Referer": {"https://acme.localhost/customers"}}, 201},
		{"other origin", http.Header{"Origin": {"https://evil.example"}}, 403},
		{"other tenant origin", http.Header{"Origin": {"https://globex.localhost"}}, 403},
		{"no origin at all", http.Header{}, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header.Clone()
			h["Cookie"] = cookie["Cookie"]
			r := e.do(acme, call{method: "POST", path: "/api/customers", noSession: true, header: h, body: map[string]string{"name": "Ann"}})
			if r.Status != tc.want {
				t.Errorf("cookie POST with %s = %d %s, want %d", tc.name, r.Status, r.Raw, tc.want)
			}
		})
	}
	t.Run("cookie reads need no origin", func(t *testing.T) {
		r := e.do(acme, call{method: "GET", path: "/api/customers", noSession: true, header: cookie})
		if r.Status != 200 {
			t.Errorf("cookie GET = %d %s, want 200", r.Status, r.Raw)
		}
	})
}

func TestTenantsNeverSeeEachOther(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	globex := e.addTenant("globex", 10)
	ids := map[string]string{}
	for _, f := range []*tenantFixture{acme, globex} {
		r := e.must(201, e.do(f, call{method: "POST", path: "/api/customers", body: map[string]string{"name": "Customer of " + f.Subdomain}}), "create customer")
		ids[f.Subdomain] = r.Body["id"].(string)
		e.must(201, e.do(f, call{method: "POST", path: "/api/products", body: map[string]string{"sku": "SKU-1", "name": "Widget " + f.Subdomain, "price": "1.00"}}), "create product")
	}
	for _, tc := range []struct{ f, other *tenantFixture }{{acme, globex}, {globex, acme}} {
		t.Run(tc.f.Subdomain, func(t *testing.T) {
			for _, path := range []string{"/api/customers", "/api/products", "/api/users"} {
				r := e.must(200, e.do(tc.f, call{method: "GET", path: path}), path)
				items, _ := r.Body["items"].([]any)
				if len(items) != 1 {
					t.Fatalf("GET %s on %s = %d items, want 1", path, tc.f.Subdomain, len(items))
				}
				if strings.Contains(string(r.Raw), tc.other.Subdomain) {
					t.Errorf("GET %s on %s = %s, mentions %s", path, tc.f.Subdomain, r.Raw, tc.other.Subdomain)
				}
			}
			r := e.do(tc.f, call{method: "GET", path: "/api/customers/" + ids[tc.other.Subdomain]})
			if r.Status != 404 {
				t.Errorf("GET the other tenant's customer on %s = %d, want 404", tc.f.Subdomain, r.Status)
			}
			r = e.do(tc.f, call{method: "GET", path: "/api/me", session: tc.other.Session})
			if r.Status != 401 || r.errorCode() != "unauthenticated" {
				t.Errorf("GET /api/me on %s with %s's session = %d %s, want 401 unauthenticated", tc.f.Subdomain, tc.other.Subdomain, r.Status, r.Raw)
			}
			// The other tenant's token on this tenant's host is refused too.
			tok, _ := e.signer.Sign(tc.other.ID, tc.other.Subdomain, tc.other.Host, time.Now())
			r = e.do(tc.f, call{method: "GET", path: "/api/me", token: tok, session: tc.other.Session})
			if r.Status != 401 || r.errorCode() != "invalid_tenant_token" {
				t.Errorf("GET /api/me on %s with %s's token = %d %s, want 401 invalid_tenant_token", tc.f.Subdomain, tc.other.Subdomain, r.Status, r.Raw)
			}
		})
	}
}

func TestInvoiceTotalsAreExact(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	loc := tenantstore.Location{ID: uuid.NewString(), TenantID: acme.ID, Name: "Main", Code: "main", Active: true, CreatedAt: time.Now()}
	e.dir.mu.Lock()
	e.dir.locations[acme.ID] = []tenantstore.Location{loc}
	e.dir.mu.Unlock()
	cust := e.must(201, e.do(acme, call{method: "POST", path: "/api/customers", body: map[string]string{"name": "Ann"}}), "customer")
	p1 := e.must(201, e.do(acme, call{method: "POST", path: "/api/products", body: map[string]any{"sku": "A", "name": "Apple", "price": "19.99"}}), "product")
	p2 := e.must(201, e.do(acme, call{method: "POST", path: "/api/products", body: `{"sku":"B","name":"Bean","price":0.01}`}), "product")
	inv := e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{
		"customer_id": cust.Body["id"], "location_id": "main", "status": "issued",
		"lines": []map[string]any{{"product_id": p1.Body["id"], "quantity": "3"}, {"product_id": p2.Body["id"], "quantity": 1}},
	}}), "invoice")
	if got := inv.Body["total"]; got != "59.98" {
		t.Errorf("invoice total of 3 × 19.99 + 1 × 0.01 = %v, want \"59.98\"", got)
	}
	lines, _ := inv.Body["lines"].([]any)
	if len(lines) != 2 {
		t.Fatalf("invoice lines = %d, want 2", len(lines))
	}
	if l := lines[0].(map[string]any); l["unit_price"] != "19.99" || l["amount"] != "59.97" {
		t.Errorf("line 1 = %v, want unit_price 19.99 (the product's) and amount 59.97", l)
	}
	if inv.Body["location_id"] != loc.ID || inv.Body["issued_on"] == nil {
		t.Errorf("invoice location/issued_on = %v/%v, want %s and today", inv.Body["location_id"], inv.Body["issued_on"], loc.ID)
	}
	rep := e.must(200, e.do(acme, call{method: "GET", path: "/api/reports/sales?location=main"}), "report")
	items, _ := rep.Body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["total"] != "59.98" || items[0].(map[string]any)["location_code"] != "main" {
		t.Errorf("sales report = %s, want one row of 59.98 at main", rep.Raw)
	}
	t.Run("patch rules", func(t *testing.T) {
		id := inv.Body["id"].(string)
		r := e.do(acme, call{method: "PATCH", path: "/api/invoices/" + id, body: map[string]any{"lines": []any{}}})
		if r.Status != 409 || r.errorCode() != "invoice_not_draft" {
			t.Errorf("PATCH lines of an issued invoice = %d %s, want 409 invoice_not_draft", r.Status, r.Raw)
		}
		r = e.do(acme, call{method: "PATCH", path: "/api/invoices/" + id, body: map[string]any{"status": "paid"}})
		if r.Status != 200 || r.Body["status"] != "paid" {
			t.Errorf("PATCH status issued → paid = %d %s, want 200 paid", r.Status, r.Raw)
		}
		r = e.do(acme, call{method: "PATCH", path: "/api/invoices/" + id, body: map[string]any{"status": "draft"}})
		if r.Status != 409 {
			t.Errorf("PATCH status paid → draft = %d %s, want 409", r.Status, r.Raw)
		}
	})
	t.Run("unit price given, fractional quantity, rounding", func(t *testing.T) {
		r := e.must(201, e.do(acme, call{method: "POST", path: "/api/invoices", body: map[string]any{
			"customer_id": cust.Body["id"],
			"lines":       []map[string]any{{"product_id": p1.Body["id"], "quantity": "0.333", "unit_price": "10.00"}},
		}}), "invoice")
		if r.Body["total"] != "3.33" || r.Body["status"] != "draft" {
			t.Errorf("total of 0.333 × 10.00 = %v (%v), want 3.33 draft", r.Body["total"], r.Body["status"])
		}
	})
}

func TestValidationNamesTheField(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	e.must(201, e.do(acme, call{method: "POST", path: "/api/products", body: map[string]any{"sku": "X", "name": "X", "price": "1"}}), "product")
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code, field        string
	}{
		{"price not decimal", "POST", "/api/products", map[string]any{"sku": "Y", "name": "Y", "price": "abc"}, 400, "invalid_field", "price"},
		{"price three decimals", "POST", "/api/products", map[string]any{"sku": "Y", "name": "Y", "price": "1.001"}, 400, "invalid_field", "price"},
		{"sku taken", "POST", "/api/products", map[string]any{"sku": "X", "name": "Y", "price": "1"}, 409, "sku_taken", "sku"},
		{"customer without name", "POST", "/api/customers", map[string]any{"email": "a@b.example"}, 400, "invalid_field", "name"},
		{"customer bad email", "POST", "/api/customers", map[string]any{"name": "A", "email": "nope"}, 400, "invalid_field", "email"},
		{"unknown field", "POST", "/api/customers", map[string]any{"name": "A", "colour": "red"}, 400, "invalid_field", "colour"},
		{"wrong type", "POST", "/api/customers", map[string]any{"name": 5}, 400, "invalid_field", "name"},
		{"expense bad date", "POST", "/api/expenses", map[string]any{"description": "Rent", "amount": "10", "spent_on": "yesterday"}, 400, "invalid_field", "spent_on"},
		{"expense unknown location", "POST", "/api/expenses", map[string]any{"description": "Rent", "amount": "10", "spent_on": "2026-01-02", "location_id": uuid.NewString()}, 400, "invalid_field", "location_id"},
		{"invoice unknown product", "POST", "/api/invoices", map[string]any{"customer_id": uuid.NewString(), "lines": []map[string]any{{"product_id": "x", "quantity": "1"}}}, 400, "invalid_field", "lines[0].product_id"},
		{"invoice zero quantity", "POST", "/api/invoices", map[string]any{"customer_id": uuid.NewString(), "lines": []map[string]any{{"product_id": uuid.NewString(), "quantity": "0"}}}, 400, "invalid_field", "lines[0].quantity"},
		{"invoice unknown customer", "POST", "/api/invoices", map[string]any{"customer_id": uuid.NewString()}, 400, "invalid_field", "customer_id"},
		{"limit too big", "GET", "/api/customers?limit=501", nil, 400, "invalid_field", "limit"},
		{"bad cursor", "GET", "/api/customers?cursor=zzz", nil, 400, "invalid_field", "cursor"},
		{"report from after to", "GET", "/api/reports/sales?from=2026-02-01&to=2026-01-01", nil, 400, "invalid_field", "from"},
		{"invoice over MaxInvoiceLines", "POST", "/api/invoices", map[string]any{"customer_id": uuid.NewString(), "lines": make([]map[string]any, sales.MaxInvoiceLines+1)}, 400, "invalid_field", "lines"},
		{"report longer than MaxReportDays", "GET", "/api/reports/sales?from=1900-01-01&to=2026-01-01", nil, 400, "invalid_field", "from"},
		{"malformed id", "GET", "/api/customers/42", nil, 404, "not_found", ""},
		{"user short password", "POST", "/api/users", map[string]any{"email": "x@acme.example", "password": "short"}, 400, "invalid_field", "password"},
		{"user password over 72 bytes", "POST", "/api/users", map[string]any{"email": "x@acme.example", "password": strings.Repeat("é", 37)}, 400, "invalid_field", "password"},
		{"user bad role", "POST", "/api/users", map[string]any{"email": "x@acme.example", "password": "long enough", "role": "god"}, 400, "invalid_field", "role"},
		{"user email taken", "POST", "/api/users", map[string]any{"email": "admin@acme.example.com", "password": "long enough"}, 409, "email_taken", "email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(acme, call{method: tc.method, path: tc.path, body: tc.body})
			if r.Status != tc.status || r.errorCode() != tc.code || r.errorField() != tc.field {
				t.Errorf("%s %s = %d %s, want %d %s field %q", tc.method, tc.path, r.Status, r.Raw, tc.status, tc.code, tc.field)
			}
		})
	}
}

func TestCRUDAndPagination(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	var ids []string
	for i := range 5 {
		r := e.must(201, e.do(acme, call{method: "POST", path: "/api/customers", body: map[string]string{"name": fmt.Sprintf("C%d", i)}}), "create")
		ids = append(ids, r.Body["id"].(string))
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		r := e.must(200, e.do(acme, call{method: "GET", path: "/api/customers?limit=2&cursor=" + cursor}), "list")
		for _, it := range r.Body["items"].([]any) {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		cursor, _ = r.Body["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if fmt.Sprint(seen) != fmt.Sprint(ids) {
		t.Errorf("paged customers = %v, want %v in creation order", seen, ids)
	}
	r := e.must(200, e.do(acme, call{method: "PATCH", path: "/api/customers/" + ids[0], body: map[string]string{"phone": "555"}}), "patch")
	if r.Body["phone"] != "555" || r.Body["name"] != "C0" {
		t.Errorf("PATCH phone = %s, want phone 555 and name kept", r.Raw)
	}
	e.must(204, e.do(acme, call{method: "DELETE", path: "/api/customers/" + ids[0]}), "delete")
	e.must(404, e.do(acme, call{method: "GET", path: "/api/customers/" + ids[0]}), "get deleted")
	e.must(404, e.do(acme, call{method: "DELETE", path: "/api/customers/" + ids[0]}), "delete again")

	ex := e.must(201, e.do(acme, call{method: "POST", path: "/api/expenses", body: map[string]any{"description": "Rent", "amount": "1200.50", "spent_on": "2026-11-01"}}), "expense")
	if ex.Body["amount"] != "1200.50" || ex.Body["spent_on"] != "2026-11-01" || ex.Body["location_id"] != nil {
		t.Errorf("created expense = %s, want amount 1200.50 on 2026-11-01 without location", ex.Raw)
	}
	ex = e.must(200, e.do(acme, call{method: "PATCH", path: "/api/expenses/" + ex.Body["id"].(string), body: map[string]any{"amount": "99"}}), "patch expense")
	if ex.Body["amount"] != "99.00" {
		t.Errorf("patched expense amount = %v, want 99.00", ex.Body["amount"])
	}
}

func TestMaxUsersHoldsUnderConcurrency(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	const maxUsers = 5
	acme := e.addTenant("acme", maxUsers) // the admin is user 1
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Go(func() {
			r := e.do(acme, call{method: "POST", path: "/api/users", body: map[string]any{
				"email": fmt.Sprintf("u%d@acme.example.com", i), "password": "long enough", "name": "U"}})
			statuses[i] = r.Status
			if r.Status == 422 && r.errorCode() != "user_limit_reached" {
				t.Errorf("over-limit create = %s, want user_limit_reached", r.Raw)
			}
		})
	}
	wg.Wait()
	created, refused := 0, 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 422:
			refused++
		default:
			t.Errorf("concurrent create status = %d, want 201 or 422", s)
		}
	}
	if created != maxUsers-1 || refused != 10-(maxUsers-1) {
		t.Errorf("10 concurrent creates with max_users %d = %d created, %d refused; want %d, %d", maxUsers, created, refused, maxUsers-1, 10-(maxUsers-1))
	}
	conn, err := pgx.Connect(context.Background(), acme.Placement.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != maxUsers {
		t.Errorf("users after concurrent creates = %d, want %d", n, maxUsers)
	}
	t.Run("members cannot create users", func(t *testing.T) {
		// A member's session: log in as one of the created users.
		var email string
		for i, s := range statuses {
			if s == 201 {
				email = fmt.Sprintf("u%d@acme.example.com", i)
				break
			}
		}
		login := e.must(200, e.do(acme, call{method: "POST", path: "/api/auth/login", noSession: true, body: map[string]string{"email": email, "password": "long enough"}}), "login")
		r := e.do(acme, call{method: "POST", path: "/api/users", session: login.Body["token"].(string), body: map[string]any{"email": "z@acme.example.com", "password": "long enough"}})
		if r.Status != 403 {
			t.Errorf("member creating a user = %d %s, want 403", r.Status, r.Raw)
		}
	})
}

func TestTenantStatusRefused(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	for _, tc := range []struct {
		status tenantstore.Status
		want   int
	}{{tenantstore.StatusSuspended, 403}, {tenantstore.StatusMaintenance, 503}} {
		t.Run(string(tc.status), func(t *testing.T) {
			cp := *acme.Tenant
			cp.Status = tc.status
			e.dir.put(&cp)
			r := e.do(acme, call{method: "GET", path: "/api/me"})
			if r.Status != tc.want {
				t.Errorf("GET /api/me of a %s tenant = %d, want %d", tc.status, r.Status, tc.want)
			}
		})
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	e.must(200, e.do(acme, call{method: "GET", path: "/api/me"}), "warm a pool")
	admin := e.srv.AdminHandler()
	metrics := MetricsHandler(e.srv.registry)
	for _, tc := range []struct {
		h    http.Handler
		path string
		want string
	}{
		{e.handler, "/healthz", "ok"},
		{e.handler, "/readyz", "ready"},
		{admin, "/healthz", "ok"},
		{admin, "/readyz", "ready"},
		{metrics, "/metrics", "tenantgate_tenant_pool_open 1"},
		{metrics, "/metrics", `tenantgate_http_requests_total{code="200",listener="app"}`},
	} {
		req, _ := http.NewRequest("GET", tc.path, nil)
		rec := newRecorder()
		tc.h.ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("GET %s = %d %q, want 200 containing %q", tc.path, rec.Code, rec.Body.String(), tc.want)
		}
	}
}
