package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantops"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

const testAdminToken = "admin-token-for-tests-0123456789"

// adminEnv is the admin API over a real control plane and Manager: the
// Store's Notifier is resolver A (as in the appserver), and resolver B is an
// independent process's resolver that must see every change.
type adminEnv struct {
	t       *testing.T
	m       *tenantstore.Manager
	store   *tenantstore.Store
	handler http.Handler
	resB    *resolver.Resolver

	prefix  string // TENANT_DB_PREFIX: every database and role under it is dropped
	control string // the control-plane database's URL
	backups string // the backup directory

	mu  sync.Mutex
	txt map[string][]string // the fake DNS of domain verification
}

// envOption changes the Manager's and the operations' configuration of a
// test's adminEnv before they are built.
type envOption func(*tenantstore.ManagerConfig, *tenantops.Config)

func newAdminEnv(t *testing.T, opts ...envOption) *adminEnv {
	t.Helper()
	testenv.Integration(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	controlURL := testenv.NewDatabase(t)
	store, err := tenantstore.Open(ctx, controlURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	rcfg := resolver.Config{BaseDomain: "localhost", KeyPrefix: testenv.KeyPrefix(t), MACKeys: testenv.EntryKeys()}
	resA, err := resolver.New(rcfg, store, testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resA.Close() })
	resA.Start(ctx)
	store.SetNotifier(resA)
	resB, err := resolver.New(rcfg, store, testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resB.Close() })
	resB.Start(ctx)

	e := &adminEnv{t: t, store: store, resB: resB, txt: map[string][]string{}, prefix: testenv.TenantPrefix(t), backups: t.TempDir(), control: controlURL}
	tmpl, err := tenantstore.DefaultTemplate(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	mcfg := tenantstore.ManagerConfig{
		Store: store, DSN: tenantstore.DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }},
		DatabasePrefix: e.prefix, BaseDomain: "localhost", BcryptCost: 4,
		LookupTXT: func(_ context.Context, name string) ([]string, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.txt[name], nil
		},
	}
	manifestKeys, err := tenantops.ManifestKeys([]tenanttoken.Key{{ID: "k1", Secret: randomBytes(32)}}, "")
	if err != nil {
		t.Fatal(err)
	}
	ocfg := tenantops.Config{Store: store, DSN: tenantstore.DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }}, Drain: 100 * time.Millisecond,
		ManifestKeys: manifestKeys}
	for _, o := range opts {
		o(&mcfg, &ocfg)
	}
	e.m, err = tenantstore.NewManager(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.m.Close)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ops, err := tenantops.New(ocfg)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := tenantops.OpenJobs(ctx, tenantops.JobsConfig{DatabaseURL: controlURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(jobs.Close)
	adm, err := New(Config{Manager: e.m, Tokens: []string{"other-token", testAdminToken}, Logger: logger,
		Ops: &Ops{Ops: ops, Jobs: jobs, BackupDir: e.backups}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	// The admin router as appserver mounts it on the admin listener.
	r := mux.NewRouter()
	adm.Routes(r)
	e.handler = r
	return e
}

// api calls the admin API with the test token.
// insertAcme inserts into the control plane an active tenant "acme" with
// maxUsers users (0: its plan's) and no database of its own.
func (e *adminEnv) insertAcme(maxUsers int) *tenantstore.Tenant {
	e.t.Helper()
	tn := &tenantstore.Tenant{Name: "Acme", Subdomain: "acme", AdminEmail: "a@acme.test", Status: tenantstore.StatusActive, MaxUsers: maxUsers, DatabaseName: "x_acme"}
	if err := e.store.Insert(context.Background(), tn); err != nil {
		e.t.Fatal(err)
	}
	return tn
}

func (e *adminEnv) api(method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	res := response{Status: rec.Code, Raw: rec.Body.Bytes(), Header: rec.Header()}
	_ = json.Unmarshal(res.Raw, &res.Body)
	return res
}

func (e *adminEnv) must(want int, r response, what string) response {
	e.t.Helper()
	if r.Status != want {
		e.t.Fatalf("%s: status = %d, want %d; body %s", what, r.Status, want, r.Raw)
	}
	return r
}

// eventually polls cond for up to d (generously every 20 ms).
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAdminTenants(t *testing.T) {
	e := newAdminEnv(t)
	ok := map[string]any{"name": "Acme Corp", "subdomain": "acme", "admin_email": "boss@acme.example.com"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range ok {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	invalid := []struct {
		name  string
		body  any
		field string
	}{
		{"no name", with("name", nil), "name"},
		{"bad subdomain", with("subdomain", "Bad_Sub!"), "subdomain"},
		{"reserved subdomain", with("subdomain", "admin"), "subdomain"},
		{"bad e-mail", with("admin_email", "boss-at-acme"), "admin_email"},
		{"zero max_users", with("max_users", 0), "max_users"},
		{"negative max_users", with("max_users", -3), "max_users"},
		{"max_users not a number", with("max_users", "many"), "max_users"},
		{"short password", with("admin_password", "short"), "admin_password"},
		{"bad database_url", with("database_url", "not a url"), "database_url"},
		{"unknown field", with("colour", "red"), "colour"},
		{"not JSON", "{", "body"},
	}
	for _, tc := range invalid {
		t.Run("create/"+tc.name, func(t *testing.T) {
			res := e.api(http.MethodPost, "/api/tenants", tc.body)
			if res.Status != http.StatusBadRequest || res.errorField() != tc.field {
				t.Errorf("POST /api/tenants (%s) = %d field %q, want 400 naming %q; body %s", tc.name, res.Status, res.errorField(), tc.field, res.Raw)
			}
		})
	}

	res := e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", ok), "create acme")
	if res.Body["subdomain"] != "acme" || res.Body["id"] == "" || res.Body["status"] != "active" {
		t.Errorf("create answer = %s, want the active tenant at the top level", res.Raw)
	}
	if pw, _ := res.Body["initial_admin_password"].(string); len(pw) < 12 {
		t.Errorf("initial_admin_password = %q, want a generated password", pw)
	}
	stored, err := e.store.GetBySubdomain(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if rp := stored.Placement.RolePassword; rp == "" || bytes.Contains(res.Raw, []byte(rp)) {
		t.Errorf("create answer shows the role password (or there is none: %q)", rp)
	}
	res = e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{
		"name": "Globex", "subdomain": "globex", "admin_email": "hank@globex.example.com", "admin_password": "globex-password", "max_users": 3, "multi_location": true,
	}), "create globex")
	if _, has := res.Body["initial_admin_password"]; has {
		t.Errorf("create with admin_password answered initial_admin_password")
	}

	conflicts := []struct {
		name, field string
		body        any
	}{
		{"duplicate subdomain", "subdomain", with("name", "Acme Two")},
		{"duplicate subdomain, other case", "subdomain", map[string]any{"name": "Acme Three", "subdomain": "ACME", "admin_email": "x@example.com"}},
		{"duplicate name", "name", with("subdomain", "acme-two")},
	}
	for _, tc := range conflicts {
		t.Run("create/"+tc.name, func(t *testing.T) {
			res := e.api(http.MethodPost, "/api/tenants", tc.body)
			if res.Status != http.StatusConflict || res.errorField() != tc.field {
				t.Errorf("POST /api/tenants (%s) = %d field %q, want 409 naming %q; body %s", tc.name, res.Status, res.errorField(), tc.field, res.Raw)
			}
		})
	}

	t.Run("list", func(t *testing.T) {
		subs := func(r response) []string {
			var out []string
			items, _ := r.Body["items"].([]any)
			for _, it := range items {
				out = append(out, it.(map[string]any)["subdomain"].(string))
			}
			return out
		}
		res := e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants", nil), "list")
		if got := strings.Join(subs(res), ","); got != "acme,globex" {
			t.Errorf("GET /api/tenants = %s, want acme,globex", got)
		}
		res = e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants?limit=1", nil), "list page 1")
		next, _ := res.Body["next_cursor"].(string)
		if got := strings.Join(subs(res), ","); got != "acme" || next == "" {
			t.Fatalf("GET /api/tenants?limit=1 = %s next %q, want acme and a cursor", got, next)
		}
		res = e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants?limit=1&cursor="+url.QueryEscape(next), nil), "list page 2")
		if got := strings.Join(subs(res), ","); got != "globex" || res.Body["next_cursor"] != "" {
			t.Errorf("page 2 = %s next %v, want globex and no cursor", got, res.Body["next_cursor"])
		}
		res = e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants?status=suspended", nil), "list suspended")
		if got := subs(res); len(got) != 0 {
			t.Errorf("GET /api/tenants?status=suspended = %v, want none", got)
		}
		for _, q := range []string{"status=bogus", "limit=0", "limit=501", "cursor=!!"} {
			res := e.api(http.MethodGet, "/api/tenants?"+q, nil)
			want, _, _ := strings.Cut(q, "=")
			if res.Status != http.StatusBadRequest || res.errorField() != want {
				t.Errorf("GET /api/tenants?%s = %d field %q, want 400 naming %s", q, res.Status, res.errorField(), want)
			}
		}
	})

	t.Run("show", func(t *testing.T) {
		res := e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/acme", nil), "show")
		if res.Body["database_status"] != "ok" {
			t.Errorf("database_status = %v, want ok", res.Body["database_status"])
		}
		if _, ok := res.Body["latency_ms"].(float64); !ok {
			t.Errorf("latency_ms = %v, want a number", res.Body["latency_ms"])
		}
		e.must(http.StatusNotFound, e.api(http.MethodGet, "/api/tenants/nobody", nil), "show unknown")
		// An unreachable database is reported, not an error.
		// (A database that does not exist on the template's server: since
		// issue 11 an admin may not name another server, such as port 1;
		// nor a superuser's URL: without user info it is globex's role.)
		nowhere := strings.Replace(testenv.WithDatabase(testenv.PostgresURL(), e.prefix+"none"), "postgres@", "", 1)
		e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/globex", map[string]any{"database_url": nowhere}), "point globex nowhere")
		res = e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/globex", nil), "show globex")
		if res.Body["database_status"] != "unreachable" {
			t.Errorf("database_status of a dead database = %v, want unreachable", res.Body["database_status"])
		}
		e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/globex", map[string]any{"database_url": ""}), "point globex back")
	})

	t.Run("patch", func(t *testing.T) {
		for _, tc := range []struct {
			body  any
			field string
		}{
			{map[string]any{"max_users": 0}, "max_users"},
			{map[string]any{"status": "gone"}, "status"},
			{map[string]any{"name": " "}, "name"},
			{map[string]any{"subdomain": "www"}, "subdomain"},
			{map[string]any{"database_url": "nope"}, "database_url"},
			{map[string]any{"multi_location": "yes"}, "multi_location"},
		} {
			res := e.api(http.MethodPatch, "/api/tenants/acme", tc.body)
			if res.Status != http.StatusBadRequest || res.errorField() != tc.field {
				t.Errorf("PATCH %v = %d field %q, want 400 naming %s", tc.body, res.Status, res.errorField(), tc.field)
			}
		}
		res := e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/acme", map[string]any{"name": "Acme Corporation", "max_users": 7, "multi_location": true}), "patch")
		if res.Body["name"] != "Acme Corporation" || res.Body["max_users"] != 7.0 || res.Body["multi_location"] != true {
			t.Errorf("PATCH answer = %s, want the new values", res.Raw)
		}
		res = e.api(http.MethodPatch, "/api/tenants/acme", map[string]any{"subdomain": "globex"})
		if res.Status != http.StatusConflict || res.errorField() != "subdomain" {
			t.Errorf("rename onto globex = %d field %q, want 409 naming subdomain", res.Status, res.errorField())
		}
		res = e.api(http.MethodPatch, "/api/tenants/acme", map[string]any{"name": "x", "version": 1})
		if res.Status != http.StatusConflict || res.errorCode() != "stale_version" {
			t.Errorf("PATCH with an old version = %d %q, want 409 stale_version", res.Status, res.errorCode())
		}
	})

	t.Run("locations", func(t *testing.T) {
		base := "/api/tenants/acme/locations"
		e.must(http.StatusCreated, e.api(http.MethodPost, base, map[string]any{"name": "Main store", "code": "main", "address": "1 Road"}), "add location")
		e.must(http.StatusCreated, e.api(http.MethodPost, base, map[string]any{"name": "Depot", "code": "depot"}), "add second location")
		if res := e.api(http.MethodPost, base, map[string]any{"name": "Again", "code": "main"}); res.Status != http.StatusConflict || res.errorField() != "code" {
			t.Errorf("duplicate code = %d field %q, want 409 naming code", res.Status, res.errorField())
		}
		if res := e.api(http.MethodPost, base, map[string]any{"name": "Bad", "code": "no spaces"}); res.Status != http.StatusBadRequest || res.errorField() != "code" {
			t.Errorf("bad code = %d field %q, want 400 naming code", res.Status, res.errorField())
		}
		if res := e.api(http.MethodPost, base, map[string]any{"code": "x"}); res.Status != http.StatusBadRequest || res.errorField() != "name" {
			t.Errorf("no name = %d field %q, want 400 naming name", res.Status, res.errorField())
		}
		res := e.must(http.StatusOK, e.api(http.MethodPatch, base+"/depot", map[string]any{"name": "North depot", "active": false}), "patch location")
		if res.Body["name"] != "North depot" || res.Body["active"] != false {
			t.Errorf("PATCH location = %s", res.Raw)
		}
		e.must(http.StatusNotFound, e.api(http.MethodPatch, base+"/nope", map[string]any{"name": "x"}), "patch unknown location")
		e.must(http.StatusNoContent, e.api(http.MethodDelete, base+"/depot", nil), "delete location")
		e.must(http.StatusNotFound, e.api(http.MethodDelete, base+"/depot", nil), "delete location again")
		res = e.must(http.StatusOK, e.api(http.MethodGet, base, nil), "list locations")
		if items, _ := res.Body["items"].([]any); len(items) != 1 {
			t.Errorf("locations = %s, want main only", res.Raw)
		}
		e.must(http.StatusNotFound, e.api(http.MethodGet, "/api/tenants/nobody/locations", nil), "locations of unknown tenant")
	})

	t.Run("domains", func(t *testing.T) {
		ctx := context.Background()
		base := "/api/tenants/acme/domains"
		if res := e.api(http.MethodPost, base, map[string]any{"hostname": "not a host"}); res.Status != http.StatusBadRequest || res.errorField() != "hostname" {
			t.Errorf("bad hostname = %d field %q, want 400 naming hostname", res.Status, res.errorField())
		}
		res := e.must(http.StatusCreated, e.api(http.MethodPost, base, map[string]any{"hostname": "Shop.Example.com"}), "add domain")
		token, _ := res.Body["verification_token"].(string)
		if token == "" || res.Body["verification_record"] != "_tenantgate.shop.example.com" || res.Body["verified"] != false {
			t.Fatalf("add domain = %s, want an unverified domain with a token and its record", res.Raw)
		}
		if res := e.api(http.MethodPost, base, map[string]any{"hostname": "shop.example.com"}); res.Status != http.StatusConflict {
			t.Errorf("duplicate domain = %d, want 409", res.Status)
		}
		if res := e.api(http.MethodPost, base+"/shop.example.com/verify", nil); res.Status != http.StatusBadRequest || res.errorField() != "hostname" {
			t.Errorf("verify without the TXT record = %d field %q, want 400 naming hostname", res.Status, res.errorField())
		}
		if _, err := e.resB.ResolveHost(ctx, "shop.example.com"); !errors.Is(err, tenantstore.ErrNotFound) {
			t.Errorf("unverified domain resolves: err = %v, want ErrNotFound", err)
		}
		e.mu.Lock()
		e.txt["_tenantgate.shop.example.com"] = []string{"unrelated", token}
		e.mu.Unlock()
		res = e.must(http.StatusOK, e.api(http.MethodPost, base+"/shop.example.com/verify", nil), "verify")
		if res.Body["verified"] != true {
			t.Errorf("verify = %s, want verified", res.Raw)
		}
		if !eventually(time.Second, func() bool {
			tn, err := e.resB.ResolveHost(ctx, "shop.example.com")
			return err == nil && tn.Subdomain == "acme"
		}) {
			t.Errorf("verified domain not resolved to acme within 1 s")
		}
		res = e.must(http.StatusOK, e.api(http.MethodGet, base, nil), "list domains")
		if items, _ := res.Body["items"].([]any); len(items) != 1 {
			t.Errorf("domains = %s, want one", res.Raw)
		}
		e.must(http.StatusNoContent, e.api(http.MethodDelete, base+"/shop.example.com", nil), "remove domain")
		if !eventually(time.Second, func() bool {
			_, err := e.resB.ResolveHost(ctx, "shop.example.com")
			return errors.Is(err, tenantstore.ErrNotFound)
		}) {
			t.Errorf("removed domain still resolves after 1 s")
		}
		e.must(http.StatusNotFound, e.api(http.MethodDelete, base+"/shop.example.com", nil), "remove domain again")
	})

	t.Run("migrations", func(t *testing.T) {
		res := e.must(http.StatusOK, e.api(http.MethodPost, "/api/tenants/acme/migrate", nil), "migrate")
		if res.Body["subdomain"] != "acme" || res.Body["to"] != res.Body["latest"] {
			t.Errorf("migrate = %s, want acme at the latest version", res.Raw)
		}
		e.must(http.StatusNotFound, e.api(http.MethodPost, "/api/tenants/nobody/migrate", nil), "migrate unknown")
		res = e.must(http.StatusOK, e.api(http.MethodGet, "/api/migrations/status", nil), "status")
		items, _ := res.Body["items"].([]any)
		if len(items) != 2 || res.Body["behind"] != 0.0 {
			t.Errorf("migration status = %s, want two tenants, none behind", res.Raw)
		}
	})

	t.Run("rename", func(t *testing.T) {
		ctx := context.Background()
		if _, err := e.resB.ResolveHost(ctx, "acme.localhost"); err != nil {
			t.Fatalf("resolver B: acme.localhost: %v", err) // now cached in B
		}
		e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/acme", map[string]any{"subdomain": "acme-renamed"}), "rename")
		if !eventually(time.Second, func() bool {
			_, err := e.resB.ResolveHost(ctx, "acme.localhost")
			tn, err2 := e.resB.ResolveHost(ctx, "acme-renamed.localhost")
			return errors.Is(err, tenantstore.ErrNotFound) && err2 == nil && tn.Subdomain == "acme-renamed"
		}) {
			t.Errorf("within 1 s of the rename, resolver B must not know acme.localhost and must serve acme-renamed.localhost")
		}
		e.must(http.StatusNotFound, e.api(http.MethodGet, "/api/tenants/acme", nil), "old name")
		e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/acme-renamed", nil), "new name")
	})

	t.Run("delete", func(t *testing.T) {
		res := e.api(http.MethodDelete, "/api/tenants/acme-renamed", nil)
		if res.Status != http.StatusConflict || res.errorField() != "status" {
			t.Errorf("DELETE an active tenant = %d field %q, want 409 naming status", res.Status, res.errorField())
		}
		if res := e.api(http.MethodDelete, "/api/tenants/acme-renamed?drop_database=maybe", nil); res.Status != http.StatusBadRequest || res.errorField() != "drop_database" {
			t.Errorf("DELETE ?drop_database=maybe = %d field %q, want 400 naming drop_database", res.Status, res.errorField())
		}
		e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/acme-renamed", map[string]any{"status": "suspended"}), "suspend")
		dbName := e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/acme-renamed", nil), "show").Body["database_name"].(string)
		e.must(http.StatusNoContent, e.api(http.MethodDelete, "/api/tenants/acme-renamed?drop_database=true", nil), "delete")
		e.must(http.StatusNotFound, e.api(http.MethodGet, "/api/tenants/acme-renamed", nil), "show deleted")
		var exists bool
		if err := testenv.Admin(t).QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", dbName).Scan(&exists); err != nil || exists {
			t.Errorf("database %s exists after delete with drop_database (err %v)", dbName, err)
		}
	})
}
