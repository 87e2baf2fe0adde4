package appserver

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
)

// TestResourceListsSearchSortPage checks the lists' ?q=, ?sort= and
// ?offset= (issue 13): a search matches case-insensitively and treats LIKE
// wildcards literally, a sort orders both ways, offsets page forward and
// back, and an unknown sort key is refused naming the field.
func TestResourceListsSearchSortPage(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	for _, n := range []string{"Charlie", "alpha", "Bravo", "50% Off"} {
		e.must(201, e.do(acme, call{method: "POST", path: "/api/customers", body: map[string]string{"name": n}}), "create "+n)
	}
	names := func(r response) []string {
		var out []string
		for _, it := range r.Body["items"].([]any) {
			out = append(out, it.(map[string]any)["name"].(string))
		}
		return out
	}
	r := e.must(200, e.do(acme, call{method: "GET", path: "/api/customers?sort=name"}), "sorted")
	if got := fmt.Sprint(names(r)); got != "[50% Off alpha Bravo Charlie]" {
		t.Errorf("sort=name = %s", got)
	}
	r = e.must(200, e.do(acme, call{method: "GET", path: "/api/customers?sort=-name&limit=2&offset=2"}), "second page desc")
	if got := fmt.Sprint(names(r)); got != "[alpha 50% Off]" || r.Body["total"].(float64) != 4 {
		t.Errorf("sort=-name offset 2 = %s total %v", got, r.Body["total"])
	}
	r = e.must(200, e.do(acme, call{method: "GET", path: "/api/customers?q=BRA"}), "search")
	if got := fmt.Sprint(names(r)); got != "[Bravo]" {
		t.Errorf("q=BRA = %s", got)
	}
	r = e.must(200, e.do(acme, call{method: "GET", path: "/api/customers?q=%25"}), "search for %")
	if got := fmt.Sprint(names(r)); got != "[50% Off]" {
		t.Errorf("q=%% = %s, want only the name with a literal %%", got)
	}
	r = e.do(acme, call{method: "GET", path: "/api/customers?sort=password_hash"})
	if r.Status != 400 || r.errorField() != "sort" {
		t.Errorf("sort=password_hash = %d %s, want 400 on field sort", r.Status, r.Raw)
	}
	// Without the new parameters the list keeps its cursor shape.
	r = e.must(200, e.do(acme, call{method: "GET", path: "/api/customers?limit=1"}), "cursor list")
	if _, ok := r.Body["next_cursor"]; !ok {
		t.Errorf("plain list = %s, want the cursor page", r.Raw)
	}
	for _, path := range []string{"/api/products?sort=-price&q=x", "/api/expenses?sort=spent_on", "/api/users?sort=email&q=admin"} {
		e.must(200, e.do(acme, call{method: "GET", path: path}), path)
	}
}

// TestUserManagement checks user PATCH and DELETE, seats, the password
// change and settings (issue 13).
func TestUserManagement(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 2)
	globex := e.addTenant("globex", 2)
	u := e.must(201, e.do(acme, call{method: "POST", path: "/api/users", body: map[string]string{"email": "bob@acme.example.com", "password": "bob-password"}}), "create bob")
	bobID := u.Body["id"].(string)
	seats := e.must(200, e.do(acme, call{method: "GET", path: "/api/users/seats"}), "seats")
	if seats.Body["used"].(float64) != 2 || seats.Body["max"].(float64) != 2 {
		t.Errorf("seats = %s, want 2 of 2", seats.Raw)
	}
	r := e.do(acme, call{method: "POST", path: "/api/users", body: map[string]string{"email": "carol@acme.example.com", "password": "carol-password"}})
	if r.errorCode() != "user_limit_reached" {
		t.Errorf("third user on max 2 = %d %s", r.Status, r.Raw)
	}
	// Bob logs in, then is deactivated: his session ends and he cannot log in.
	login := e.must(200, e.do(acme, call{method: "POST", path: "/api/auth/login", noSession: true, body: map[string]string{"email": "bob@acme.example.com", "password": "bob-password"}}), "bob logs in")
	bobSession, _ := login.Body["token"].(string)
	e.must(200, e.do(acme, call{method: "GET", path: "/api/me", session: bobSession}), "bob's session works")
	r = e.must(200, e.do(acme, call{method: "PATCH", path: "/api/users/" + bobID, body: map[string]any{"active": false, "role": "admin"}}), "deactivate bob")
	if r.Body["active"] != false || r.Body["role"] != "admin" {
		t.Errorf("PATCH = %s", r.Raw)
	}
	if r := e.do(acme, call{method: "GET", path: "/api/me", session: bobSession}); r.Status != 401 {
		t.Errorf("deactivated bob's session: GET /api/me = %d, want 401", r.Status)
	}
	r = e.do(acme, call{method: "POST", path: "/api/auth/login", noSession: true, body: map[string]string{"email": "bob@acme.example.com", "password": "bob-password"}})
	if r.Status != 401 {
		t.Errorf("deactivated bob logs in = %d %s, want 401", r.Status, r.Raw)
	}
	// The admin cannot demote, deactivate or delete themselves.
	for _, c := range []call{
		{method: "PATCH", path: "/api/users/" + acme.AdminID, body: map[string]any{"role": "member"}},
		{method: "PATCH", path: "/api/users/" + acme.AdminID, body: map[string]any{"active": false}},
		{method: "DELETE", path: "/api/users/" + acme.AdminID},
	} {
		if r := e.do(acme, c); r.Status != 409 || r.errorCode() != "self" {
			t.Errorf("%s own user %v = %d %s, want 409 self", c.method, c.body, r.Status, r.Raw)
		}
	}
	// Another tenant's user id is not found.
	if r := e.do(globex, call{method: "PATCH", path: "/api/users/" + bobID, body: map[string]any{"name": "x"}}); r.Status != 404 {
		t.Errorf("globex PATCH acme's user = %d, want 404", r.Status)
	}
	if r := e.do(globex, call{method: "DELETE", path: "/api/users/" + bobID}); r.Status != 404 {
		t.Errorf("globex DELETE acme's user = %d, want 404", r.Status)
	}
	r = e.do(acme, call{method: "PATCH", path: "/api/users/" + bobID, body: map[string]any{"role": "owner"}})
	if r.Status != 400 || r.errorField() != "role" {
		t.Errorf("role owner = %d %s", r.Status, r.Raw)
	}
	e.must(204, e.do(acme, call{method: "DELETE", path: "/api/users/" + bobID}), "delete bob")
	e.must(201, e.do(acme, call{method: "POST", path: "/api/users", body: map[string]string{"email": "carol@acme.example.com", "password": "carol-password"}}), "the freed seat")

	// Password: the current one is required, the new one 8–72 bytes; both
	// refusals come at once (the API names the first).
	r = e.do(acme, call{method: "POST", path: "/api/me/password", body: map[string]string{"current_password": "wrong", "new_password": "short"}})
	if r.Status != 400 || r.errorField() != "current_password" {
		t.Errorf("wrong current password = %d %s", r.Status, r.Raw)
	}
	r = e.do(acme, call{method: "POST", path: "/api/me/password", body: map[string]string{"current_password": testPassword, "new_password": string(make([]byte, 73))}})
	if r.Status != 400 || r.errorField() != "new_password" {
		t.Errorf("73-byte password = %d %s", r.Status, r.Raw)
	}
	e.must(204, e.do(acme, call{method: "POST", path: "/api/me/password", body: map[string]string{"current_password": testPassword, "new_password": "a-new-password"}}), "change password")
	e.must(200, e.do(acme, call{method: "GET", path: "/api/me"}), "own session survives the change")
	e.must(200, e.do(acme, call{method: "POST", path: "/api/auth/login", noSession: true, body: map[string]string{"email": "admin@acme.example.com", "password": "a-new-password"}}), "log in with the new password")

	// Settings: the currency defaults from Accept-Language, an admin sets it.
	r = e.must(200, e.do(acme, call{method: "GET", path: "/api/settings", header: http.Header{"Accept-Language": {"de-DE,de;q=0.9"}}}), "settings")
	if r.Body["currency"] != "EUR" || r.Body["currency_is_default"] != true {
		t.Errorf("default settings for de-DE = %s", r.Raw)
	}
	r = e.do(acme, call{method: "PATCH", path: "/api/settings", body: map[string]string{"currency": "<b>"}})
	if r.Status != 400 || r.errorField() != "currency" {
		t.Errorf("currency <b> = %d %s", r.Status, r.Raw)
	}
	r = e.must(200, e.do(acme, call{method: "PATCH", path: "/api/settings", body: map[string]string{"currency": "gbp"}}), "set currency")
	if r.Body["currency"] != "GBP" || r.Body["currency_is_default"] != false {
		t.Errorf("after PATCH = %s", r.Raw)
	}
}

// TestEveryInvalidFieldReported checks the API still names one field (the
// first), while the whole collection reaches the pages (see the sales
// room's page tests).
func TestEveryInvalidFieldReported(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	r := e.do(acme, call{method: "POST", path: "/api/products", body: map[string]string{"sku": "", "name": "", "price": "-1"}})
	if r.Status != 400 || r.errorField() != "sku" {
		t.Errorf("empty product = %d %s, want 400 on sku", r.Status, r.Raw)
	}
}
