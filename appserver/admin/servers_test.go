package admin

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantops"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// secondSecret is the operator password of the second server, in the
// environment as SECOND_PASSWORD: no answer may hold it.
const secondSecret = "admin-api-server-pw-93e1"

// withSecondServer lets the admin API register the server at rawURL: its
// host is allowed, SECOND_PASSWORD is set, and moves know the registry.
func withSecondServer(rawURL string) envOption {
	return func(m *tenantstore.ManagerConfig, o *tenantops.Config) {
		env := map[string]string{"SECOND_PASSWORD": secondSecret}
		getenv := func(k string) string { return env[k] }
		u, _ := url.Parse(rawURL)
		m.DSN.Getenv, o.DSN.Getenv = getenv, getenv
		m.DatabaseHosts = []string{u.Host}
		o.Servers = m.Store
	}
}

func TestAdminServers(t *testing.T) {
	testenv.Integration(t)
	second := testenv.StartPostgres(t)
	e := newAdminEnv(t, withSecondServer(second))
	noSecret := func(r response, what string) {
		t.Helper()
		if strings.Contains(string(r.Raw), secondSecret) {
			t.Errorf("%s answers the operator password: %s", what, r.Raw)
		}
	}

	t.Run("401 without a token", func(t *testing.T) {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, httptest.NewRequest(m, "/api/servers", strings.NewReader(`{}`)))
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s /api/servers without a token = %d, want 401", m, rec.Code)
			}
		}
	})

	good := map[string]any{"name": "second", "url": second, "password_env": "SECOND_PASSWORD", "capacity": 3}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = v
		return m
	}
	for _, tt := range []struct {
		name  string
		body  any
		field string
	}{
		{"no name", with("name", ""), "name"},
		{"hostile name", with("name", `x"; DROP TABLE tenants; --`), "name"},
		{"no url", with("url", ""), "url"},
		{"password in the url", with("url", strings.Replace(second, "postgres@", "postgres:"+secondSecret+"@", 1)), "url"},
		{"a host not allowed", with("url", "postgres://postgres@10.1.2.3:5432/postgres"), "url"},
		{"a secret as password_env", with("password_env", "TENANT_SIGNING_KEYS"), "password_env"},
		{"capacity 0", with("capacity", 0), "capacity"},
		{"negative capacity", with("capacity", -5), "capacity"},
		{"huge capacity", with("capacity", 1e12), "capacity"},
		{"capacity as text", with("capacity", "ten"), "capacity"},
	} {
		t.Run("POST "+tt.name, func(t *testing.T) {
			r := e.api(http.MethodPost, "/api/servers", tt.body)
			if r.Status != http.StatusBadRequest || r.errorField() != tt.field {
				t.Errorf("POST /api/servers (%s) = %d field %q (%s), want 400 naming %s", tt.name, r.Status, r.errorField(), r.Raw, tt.field)
			}
			noSecret(r, "a refused POST")
		})
	}

	r := e.must(http.StatusCreated, e.api(http.MethodPost, "/api/servers", good), "register second")
	noSecret(r, "POST /api/servers")
	if r.Body["name"] != "second" || r.Body["password_env"] != "SECOND_PASSWORD" || r.Body["capacity"] != 3.0 {
		t.Errorf("POST /api/servers = %s", r.Raw)
	}
	if r := e.api(http.MethodPost, "/api/servers", with("name", "again")); r.Status != http.StatusConflict || r.errorField() != "url" {
		t.Errorf("registering the same server twice = %d %s, want 409 naming url", r.Status, r.Raw)
	}

	t.Run("PATCH", func(t *testing.T) {
		r := e.must(http.StatusOK, e.api(http.MethodPatch, "/api/servers/second", map[string]any{"draining": true}), "drain second")
		if r.Body["draining"] != true {
			t.Errorf("PATCH draining = %s", r.Raw)
		}
		for _, body := range []any{map[string]any{"capacity": 0}, map[string]any{"capacity": "x"}, map[string]any{}} {
			if r := e.api(http.MethodPatch, "/api/servers/second", body); r.Status != http.StatusBadRequest || r.errorField() != "capacity" {
				t.Errorf("PATCH %v = %d %s, want 400 naming capacity", body, r.Status, r.Raw)
			}
		}
		if r := e.api(http.MethodPatch, "/api/servers/nowhere", map[string]any{"draining": false}); r.Status != http.StatusNotFound {
			t.Errorf("PATCH an unknown server = %d, want 404", r.Status)
		}
	})

	tenant := func(sub string, extra map[string]any) response {
		body := map[string]any{"name": "Org " + sub, "subdomain": sub, "admin_email": "a@" + sub + ".example.com"}
		for k, v := range extra {
			body[k] = v
		}
		return e.api(http.MethodPost, "/api/tenants", body)
	}
	if r := tenant("acme", map[string]any{"server": "second"}); r.Status != http.StatusConflict || r.errorField() != "server" {
		t.Errorf("create on a draining server = %d %s, want 409 naming server", r.Status, r.Raw)
	}
	if r := tenant("acme", map[string]any{"server": "nowhere"}); r.Status != http.StatusBadRequest || r.errorField() != "server" {
		t.Errorf("create on an unknown server = %d %s, want 400 naming server", r.Status, r.Raw)
	}
	e.must(http.StatusOK, e.api(http.MethodPatch, "/api/servers/second", map[string]any{"draining": false}), "undrain second")
	noSecret(e.must(http.StatusCreated, tenant("acme", map[string]any{"server": "second"}), "create acme on second"), "create")

	show := func(what string) map[string]any {
		t.Helper()
		r := e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/acme", nil), what)
		noSecret(r, "GET /api/tenants/acme")
		db, _ := r.Body["database"].(map[string]any)
		if db == nil || db["kind"] == nil || db["role"] == nil {
			t.Fatalf("%s: database = %s, want the placement's keys", what, r.Raw)
		}
		return db
	}
	db := show("show acme")
	if db["server"] != "second" || db["size_bytes"] == nil || db["size_bytes"].(float64) <= 0 || db["connections"] == nil {
		t.Errorf("acme's database = %v, want server second with size_bytes and connections", db)
	}

	t.Run("dashboard tenant page", func(t *testing.T) {
		session, csrf := e.login()
		page := e.browse(http.MethodGet, "/tenants/acme", nil, session, nil).Body.String()
		if !strings.Contains(page, `<span class="mono">second</span>`) || !strings.Contains(page, `id="db-size"`) || !strings.Contains(page, `id="db-connections"`) {
			t.Errorf("the tenant page shows no server, size or connections: %.3000s", page)
		}
		if strings.Contains(page, secondSecret) {
			t.Errorf("the tenant page shows the operator password")
		}
		if !strings.Contains(page, `<option value="default">default</option>`) {
			t.Errorf("the tenant page offers no move to the default server")
		}
		for _, srv := range []string{"nowhere", "second"} {
			rec := e.browse(http.MethodPost, "/tenants/acme/move", url.Values{"csrf": {csrf}, "to_server": {srv}}, session, nil)
			if rec.Code != http.StatusBadRequest && rec.Code != http.StatusConflict {
				t.Errorf("dashboard move to_server=%s = %d, want it refused", srv, rec.Code)
			}
		}
		list := e.browse(http.MethodGet, "/", nil, session, nil).Body.String()
		if !strings.Contains(list, " MB</span>") && !strings.Contains(list, " kB</span>") {
			t.Errorf("the dashboard list shows no database size: %.3000s", list)
		}
	})

	list := e.must(http.StatusOK, e.api(http.MethodGet, "/api/servers", nil), "list servers")
	noSecret(list, "GET /api/servers")
	items, _ := list.Body["items"].([]any)
	found := map[string]map[string]any{}
	for _, it := range items {
		s, _ := it.(map[string]any)
		name, _ := s["name"].(string)
		found[name] = s
	}
	if s := found["second"]; s == nil || s["tenants"] != 1.0 || s["size_bytes"] == nil || s["connections"] == nil {
		t.Errorf("GET /api/servers = %s, want second with 1 tenant, a size and connections", list.Raw)
	}
	if found[tenantstore.DefaultServer] == nil {
		t.Errorf("GET /api/servers = %s, want the default server", list.Raw)
	}

	t.Run("move to_server", func(t *testing.T) {
		for _, tt := range []struct {
			body   map[string]any
			status int
		}{
			{map[string]any{"to_server": "nowhere"}, http.StatusBadRequest},
			{map[string]any{"to_server": "Bad Name"}, http.StatusBadRequest},
			{map[string]any{"to_server": "default", "new_url": second}, http.StatusBadRequest},
			{map[string]any{"to_server": "second"}, http.StatusConflict},
		} {
			if r := e.api(http.MethodPost, "/api/tenants/acme/move", tt.body); r.Status != tt.status || r.errorField() != "to_server" {
				t.Errorf("move %v = %d %s, want %d naming to_server", tt.body, r.Status, r.Raw, tt.status)
			}
		}
		r := e.must(http.StatusAccepted, e.api(http.MethodPost, "/api/tenants/acme/move", map[string]any{"to_server": "default"}), "move acme to default")
		id, _ := r.Body["id"].(string)
		if job := e.waitJob(id); job["status"] != "succeeded" {
			t.Fatalf("move job = %v", job)
		}
		if db := show("show acme after the move"); db["server"] != tenantstore.DefaultServer || db["size_bytes"] == nil {
			t.Errorf("after moving to default, database = %v", db)
		}
	})
}
