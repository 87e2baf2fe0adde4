package admin

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// databaseExists reports whether the shared test server has database name.
func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var ok bool
	if err := testenv.Admin(t).QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestAdminDatabaseURLCannotShareDatabase is the hole of issue 11 item 2: an
// admin database_url pointed tenant X at tenant Y's database, and DELETE
// X?drop_database=true then dropped Y's database. Every way of making two
// tenants share a database answers 409 database_in_use naming database_url,
// and a delete drops only a database tenantgate created for that tenant.
func TestAdminDatabaseURLCannotShareDatabase(t *testing.T) {
	e := newAdminEnv(t)
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{"name": "Victim", "subdomain": "victim", "admin_email": "v@victim.example.com"}), "create victim")
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{"name": "Attacker", "subdomain": "attacker", "admin_email": "a@attacker.example.com"}), "create attacker")
	victim, err := e.store.GetBySubdomain(context.Background(), "victim")
	if err != nil {
		t.Fatal(err)
	}
	victimURL := testenv.WithDatabase(testenv.PostgresURL(), victim.DatabaseName)
	// The same database spelled differently: another host name for the
	// server, and the default port made explicit.
	sameDB := strings.Replace(victimURL, "127.0.0.1:5432", "127.0.0.1", 1)

	for _, tc := range []struct {
		name, method, path string
		body               map[string]any
	}{
		{"patch", http.MethodPatch, "/api/tenants/attacker", map[string]any{"database_url": victimURL}},
		{"patch, other spelling", http.MethodPatch, "/api/tenants/attacker", map[string]any{"database_url": sameDB}},
		{"create", http.MethodPost, "/api/tenants", map[string]any{"name": "Third", "subdomain": "third", "admin_email": "t@third.example.com", "database_url": victimURL}},
		{"move", http.MethodPost, "/api/tenants/attacker/move", map[string]any{"new_url": victimURL}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			field := "database_url"
			if tc.name == "move" {
				field = "new_url" // the field of the request that named the database
			}
			res := e.api(tc.method, tc.path, tc.body)
			if res.Status != http.StatusConflict || res.errorCode() != "database_in_use" || res.errorField() != field {
				t.Errorf("%s %s with victim's database = %d %s, want 409 database_in_use naming %s", tc.method, tc.path, res.Status, res.Raw, field)
			}
			if id, ok := res.Body["id"].(string); ok && res.Status == http.StatusAccepted {
				e.waitJob(id)
			}
		})
	}

	// Whatever the API let through, deleting the attacker with its database
	// must leave the victim's database alone.
	e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/attacker", map[string]any{"status": "suspended"}), "suspend attacker")
	e.api(http.MethodDelete, "/api/tenants/attacker?drop_database=true", nil)
	if !databaseExists(t, victim.DatabaseName) {
		t.Fatalf("deleting the attacker with drop_database dropped the victim's database %s", victim.DatabaseName)
	}
	e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/victim", nil), "victim still there")

	t.Run("a database tenantgate did not create is detached, not dropped", func(t *testing.T) {
		name := e.prefix + "foreign"
		if _, err := testenv.Admin(t).Exec(context.Background(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{"name": "Foreign", "subdomain": "foreign",
			"admin_email": "f@foreign.example.com", "database_url": testenv.WithDatabase(testenv.PostgresURL(), name)}), "create on an existing empty database")
		e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/foreign", map[string]any{"status": "suspended"}), "suspend foreign")
		res := e.api(http.MethodDelete, "/api/tenants/foreign?drop_database=true", nil)
		if res.Status != http.StatusOK || res.Body["database_dropped"] != false || !strings.Contains(fmt.Sprint(res.Body["warning"]), "not created by tenantgate") {
			t.Errorf("DELETE foreign?drop_database=true = %d %s, want 200 saying the database was not dropped", res.Status, res.Raw)
		}
		if !databaseExists(t, name) {
			t.Errorf("the database %s, which tenantgate did not create, was dropped", name)
		}
		e.must(http.StatusNotFound, e.api(http.MethodGet, "/api/tenants/foreign", nil), "foreign detached")
	})
}

// TestAdminCreateOnRenamedSubdomain is issue 11 item 3: creating a tenant on
// a subdomain that a rename freed failed with 500, because the derived role
// (and database) name still belonged to the renamed tenant.
func TestAdminCreateOnRenamedSubdomain(t *testing.T) {
	e := newAdminEnv(t)
	first := e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{"name": "Acme", "subdomain": "acme", "admin_email": "a@acme.example.com"}), "create acme")
	e.must(http.StatusOK, e.api(http.MethodPatch, "/api/tenants/acme", map[string]any{"subdomain": "acme-old"}), "rename acme")
	res := e.api(http.MethodPost, "/api/tenants", map[string]any{"name": "New Acme", "subdomain": "acme", "admin_email": "n@acme.example.com"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create on the freed subdomain = %d %s, want 201", res.Status, res.Raw)
	}
	oldDB, newDB := first.Body["database_name"], res.Body["database_name"]
	if oldDB == newDB {
		t.Errorf("new acme got database %v, the renamed tenant's", newDB)
	}
	role := func(r response) any { return r.Body["database"].(map[string]any)["role"] }
	if role(first) == role(res) {
		t.Errorf("new acme got role %v, the renamed tenant's", role(res))
	}
	e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/acme-old", nil), "renamed tenant still there")
}

// TestAdminDatabaseHostAllowList is issue 11 item 10 (database URLs): an
// admin may name only the template's server or a host of
// TENANT_DATABASE_HOSTS, so the admin API cannot probe ports. A refused host
// is a 400 naming the field, without any connection attempt.
func TestAdminDatabaseHostAllowList(t *testing.T) {
	e := newAdminEnv(t)
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{"name": "Acme", "subdomain": "acme", "admin_email": "a@acme.example.com"}), "create acme")
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := probe.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	probed := "postgres://postgres@" + probe.Addr().String() + "/probe?sslmode=disable&connect_timeout=2"
	for _, tc := range []struct {
		name, method, path, field string
		body                      map[string]any
	}{
		{"create", http.MethodPost, "/api/tenants", "database_url", map[string]any{"name": "Probe", "subdomain": "probe", "admin_email": "p@probe.example.com", "database_url": probed}},
		{"patch", http.MethodPatch, "/api/tenants/acme", "database_url", map[string]any{"database_url": probed}},
		{"patch, as the fallback of a multi-host URL", http.MethodPatch, "/api/tenants/acme", "database_url", map[string]any{
			"database_url": "postgres://postgres@127.0.0.1:5432," + probe.Addr().String() + "/probe?sslmode=disable"}},
		{"patch, as a host parameter", http.MethodPatch, "/api/tenants/acme", "database_url", map[string]any{
			"database_url": "postgres://postgres@127.0.0.1:5432/probe?sslmode=disable&host=127.0.0.1&port=" + fmt.Sprint(probe.Addr().(*net.TCPAddr).Port)}},
		{"move", http.MethodPost, "/api/tenants/acme/move", "new_url", map[string]any{"new_url": probed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.api(tc.method, tc.path, tc.body)
			if res.Status != http.StatusBadRequest || res.errorField() != tc.field {
				t.Errorf("%s %s naming %s = %d %s, want 400 naming %s", tc.method, tc.path, probe.Addr(), res.Status, res.Raw, tc.field)
			}
			if id, ok := res.Body["id"].(string); ok && res.Status == http.StatusAccepted {
				e.waitJob(id) // the refused host must not be connected to by the job either
			}
		})
	}
	select {
	case <-accepted:
		t.Errorf("the appserver connected to %s, a host outside the allow-list", probe.Addr())
	case <-time.After(100 * time.Millisecond):
	}
}
