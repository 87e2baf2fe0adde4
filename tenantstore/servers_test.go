package tenantstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// serverSecret is the operator password the tests' servers are given
// through SECOND_PASSWORD: nothing may ever show it.
const serverSecret = "s3cret-operator-pw-7f2a"

// newServersManager is a Manager whose environment holds SECOND_PASSWORD,
// and the URL of a second, private PostgreSQL (trust authentication: the
// password is sent and ignored).
func newServersManager(t *testing.T) (*Manager, string) {
	t.Helper()
	testenv.Integration(t)
	second := testenv.StartPostgres(t)
	s := newTestStore(t)
	tmpl, err := DefaultTemplate(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SECOND_PASSWORD": serverSecret}
	m, err := NewManager(ManagerConfig{Store: s, DSN: DSNConfig{Template: tmpl, Getenv: func(k string) string { return env[k] }},
		DatabasePrefix: testenv.TenantPrefix(t), BaseDomain: "example.com", BcryptCost: 4, AnyDatabaseHost: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, second
}

func fieldOf(err error) string {
	var ve *ValidationError
	var ce *ConflictError
	switch {
	case errors.As(err, &ve):
		return "invalid " + ve.Field
	case errors.As(err, &ce):
		return "conflict " + ce.Field
	}
	return fmt.Sprint(err)
}

func TestAddServerRefusesBadInput(t *testing.T) {
	m, second := newServersManager(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE ROLE weak LOGIN"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	weak := strings.Replace(second, "postgres@", "weak@", 1)
	withPassword := strings.Replace(second, "postgres@", "postgres:"+serverSecret+"@", 1)
	tests := []struct {
		name string
		req  AddServerRequest
		want string
	}{
		{"bad name", AddServerRequest{Name: "Bad Name!", URL: second}, "invalid name"},
		{"SQL in the name", AddServerRequest{Name: "x'; DROP TABLE tenants; --", URL: second}, "invalid name"},
		{"not a URL", AddServerRequest{Name: "s2", URL: "host=x"}, "invalid url"},
		{"password in the URL", AddServerRequest{Name: "s2", URL: withPassword}, "invalid url"},
		{"password as a parameter", AddServerRequest{Name: "s2", URL: second + "&password=" + serverSecret}, "invalid url"},
		{"another secret as the password", AddServerRequest{Name: "s2", URL: second, PasswordEnv: "ADMIN_TOKENS"}, "invalid password_env"},
		{"unset password variable", AddServerRequest{Name: "s2", URL: second, PasswordEnv: "UNSET_PASSWORD"}, "invalid password_env"},
		{"negative capacity", AddServerRequest{Name: "s2", URL: second, Capacity: -1}, "invalid capacity"},
		{"huge capacity", AddServerRequest{Name: "s2", URL: second, Capacity: 1 << 40}, "invalid capacity"},
		{"unreachable", AddServerRequest{Name: "s2", URL: "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2"}, "invalid url"},
		{"role without CREATEDB", AddServerRequest{Name: "s2", URL: weak}, "invalid url"},
		{"the template's server", AddServerRequest{Name: "s2", URL: testenv.PostgresURL()}, "conflict url"},
		{"the default's name", AddServerRequest{Name: DefaultServer, URL: second}, "conflict name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.AddServer(ctx, tt.req)
			if got := fieldOf(err); got != tt.want {
				t.Errorf("AddServer(%s) = %v, want %s", tt.name, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), serverSecret) {
				t.Errorf("AddServer(%s) error shows the password: %v", tt.name, err)
			}
		})
	}
	if _, err := m.AddServer(ctx, AddServerRequest{Name: "s2", URL: second}); err != nil {
		t.Fatalf("AddServer(good) = %v", err)
	}
	if _, err := m.AddServer(ctx, AddServerRequest{Name: "s3", URL: second}); fieldOf(err) != "conflict url" {
		t.Errorf("AddServer(the same server twice) = %v, want a conflict naming url", err)
	}
}

// serverOf names the registered server of tenant sub.
func serverOf(t *testing.T, m *Manager, sub string) string {
	t.Helper()
	tn, err := m.Get(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.ServerOf(context.Background(), tn)
	if err != nil {
		t.Fatalf("ServerOf(%s) = %v", sub, err)
	}
	return s.Name
}

func TestPlacementSpreadsDrainsAndRespectsCapacity(t *testing.T) {
	m, second := newServersManager(t)
	ctx := context.Background()
	if _, err := m.AddServer(ctx, AddServerRequest{Name: "second", URL: second, PasswordEnv: "SECOND_PASSWORD", Capacity: 10}); err != nil {
		t.Fatalf("AddServer = %v", err)
	}
	ten := 10
	if _, err := m.UpdateServer(ctx, DefaultServer, ServerPatch{Capacity: &ten}); err != nil {
		t.Fatal(err)
	}
	create := func(sub, server string) (*Tenant, error) {
		tn, _, err := m.Create(ctx, CreateRequest{Name: "Org " + sub, Subdomain: sub, AdminEmail: "a@example.com", AdminPassword: "password-1", Server: server})
		return tn, err
	}
	placed := map[string]int{}
	for _, sub := range []string{"p1", "p2", "p3", "p4"} {
		if _, err := create(sub, ""); err != nil {
			t.Fatalf("Create(%s) = %v", sub, err)
		}
		placed[serverOf(t, m, sub)]++
	}
	if placed[DefaultServer] != 2 || placed["second"] != 2 {
		t.Errorf("4 tenants over two empty servers of equal capacity went %v, want 2 and 2", placed)
	}

	t.Run("a tenant on the second server is on its own role", func(t *testing.T) {
		tn, err := m.Get(ctx, "p2")
		if err != nil {
			t.Fatal(err)
		}
		if serverOf(t, m, "p2") != "second" {
			tn, _ = m.Get(ctx, "p1")
		}
		u, err := m.DatabaseURL(tn)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(u, serverSecret) {
			t.Errorf("the tenant's URL holds the operator's password")
		}
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatalf("connecting as the tenant: %v", err)
		}
		defer conn.Close(ctx)
		var user, owner string
		var users int
		if err := conn.QueryRow(ctx, `SELECT current_user, pg_get_userbyid(datdba), (SELECT count(*) FROM users)
			FROM pg_database WHERE datname = current_database()`).Scan(&user, &owner, &users); err != nil {
			t.Fatal(err)
		}
		if user != tn.Placement.RoleName || owner != user || users != 1 {
			t.Errorf("on the second server: current_user %s, owner %s, %d users; want the tenant's role %s owning it and its first admin",
				user, owner, users, tn.Placement.RoleName)
		}
		usage := m.DatabaseUsage(ctx, tn)
		if usage.Server != "second" || usage.SizeBytes == nil || *usage.SizeBytes <= 0 || usage.Connections == nil || *usage.Connections < 1 {
			t.Errorf("DatabaseUsage = %+v, want server second, a size and this test's connection", usage)
		}
	})

	t.Run("a drained server gets none", func(t *testing.T) {
		yes, no := true, false
		if _, err := m.UpdateServer(ctx, "second", ServerPatch{Draining: &yes}); err != nil {
			t.Fatal(err)
		}
		for _, sub := range []string{"d1", "d2"} {
			if _, err := create(sub, ""); err != nil {
				t.Fatalf("Create(%s) = %v", sub, err)
			}
			if got := serverOf(t, m, sub); got != DefaultServer {
				t.Errorf("with second draining, %s went to %s", sub, got)
			}
		}
		if _, err := create("d3", "second"); fieldOf(err) != "conflict server" {
			t.Errorf("Create(on a draining server) = %v, want a conflict naming server", err)
		}
		if _, err := m.UpdateServer(ctx, "second", ServerPatch{Draining: &no}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("capacity is respected", func(t *testing.T) {
		two := 2
		if _, err := m.UpdateServer(ctx, "second", ServerPatch{Capacity: &two}); err != nil {
			t.Fatal(err)
		}
		if _, err := create("c1", ""); err != nil {
			t.Fatal(err)
		}
		if got := serverOf(t, m, "c1"); got != DefaultServer {
			t.Errorf("with second full (2 of 2), c1 went to %s", got)
		}
		if _, err := create("c2", "second"); fieldOf(err) != "conflict server" {
			t.Errorf("Create(on a full server) = %v, want a conflict naming server", err)
		}
		if _, err := create("c3", "nowhere"); fieldOf(err) != "invalid server" {
			t.Errorf("Create(on an unknown server) = %v, want invalid server", err)
		}
		five := 5
		if _, err := m.UpdateServer(ctx, DefaultServer, ServerPatch{Capacity: &five}); err != nil {
			t.Fatal(err)
		}
		if _, err := create("c4", ""); fieldOf(err) != "conflict server" {
			t.Errorf("Create(with every server full) = %v, want a conflict naming server", err)
		}
		zero := 0
		if _, err := m.UpdateServer(ctx, "second", ServerPatch{Capacity: &zero}); fieldOf(err) != "invalid capacity" {
			t.Errorf("UpdateServer(capacity 0) = %v, want invalid capacity", err)
		}
	})

	t.Run("servers list figures hold no secret", func(t *testing.T) {
		list, err := m.Servers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(list)
		if strings.Contains(string(b), serverSecret) {
			t.Fatalf("Servers JSON shows the operator password: %s", b)
		}
		got := map[string]*ServerStats{}
		for _, s := range list {
			got[s.Name] = s
		}
		sec, def := got["second"], got[DefaultServer]
		if sec == nil || def == nil || sec.Tenants != 2 || def.Tenants != 5 {
			t.Fatalf("Servers = %s, want second with 2 tenants and default with 5", b)
		}
		if sec.SizeBytes == nil || *sec.SizeBytes <= 0 || sec.Connections == nil || sec.MaxConnections == nil || *sec.MaxConnections != 50 || sec.Error != "" {
			t.Errorf("second's figures = %s, want a size, connections and max_connections 50", b)
		}
		if sec.PasswordEnv != "SECOND_PASSWORD" || strings.Contains(sec.URL, ":"+serverSecret) {
			t.Errorf("second = %+v, want the variable's name and a URL without password", sec.Server)
		}
	})

	t.Run("a server that is down has no figures and the call succeeds", func(t *testing.T) {
		port := testenv.FreePort(t)
		down := &Server{Name: "down", URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?connect_timeout=2", port),
			hostKey: fmt.Sprintf("127.0.0.1:%d", port), Capacity: 5}
		if err := m.registry().insert(ctx, down); err != nil {
			t.Fatal(err)
		}
		ghost := &Tenant{Name: "Ghost", Subdomain: "ghost", AdminEmail: "a@example.com", Status: StatusSuspended, MaxUsers: 5,
			DatabaseName: "ghost_db", DatabaseServer: down.hostKey, Placement: Placement{URL: down.URL, RoleName: "ghost"}}
		if err := m.store.Insert(ctx, ghost); err != nil {
			t.Fatal(err)
		}
		list, err := m.Servers(ctx)
		if err != nil {
			t.Fatalf("Servers with one down = %v", err)
		}
		for _, s := range list {
			if s.Name == "down" && (s.SizeBytes != nil || s.Connections != nil || s.Error == "" || s.Tenants != 1) {
				t.Errorf("down server = %+v, want 1 tenant, no figures and an error", s)
			}
		}
		u := m.DatabaseUsage(ctx, ghost)
		if u.Server != "down" || u.SizeBytes != nil || u.Connections != nil || u.Error == "" {
			t.Errorf("DatabaseUsage(on a down server) = %+v, want no figures and an error", u)
		}
		if err := m.store.Delete(ctx, ghost.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a host tenants use but nobody registered is listed as such", func(t *testing.T) {
		stray := &Tenant{Name: "Stray", Subdomain: "stray", AdminEmail: "a@example.com", Status: StatusSuspended, MaxUsers: 5,
			DatabaseName: "stray_db", DatabaseServer: "db9.internal:5432", Placement: Placement{URL: "postgres://db9.internal:5432/stray_db"}}
		if err := m.store.Insert(ctx, stray); err != nil {
			t.Fatal(err)
		}
		defer m.store.Delete(ctx, stray.ID)
		list, err := m.Servers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last := list[len(list)-1]
		if last.Registered || last.Host != "db9.internal:5432" || last.Tenants != 1 || last.Name != "" || last.Error == "" {
			t.Errorf("Servers()[last] = %+v, want db9.internal:5432 unregistered with 1 tenant and a note", last)
		}
		if _, err := m.ServerOf(ctx, stray); !errors.Is(err, ErrNotFound) {
			t.Errorf("ServerOf(a tenant on an unregistered host) = %v, want ErrNotFound", err)
		}
	})

	t.Run("delete drops the database on its server with that server's operator", func(t *testing.T) {
		for _, sub := range []string{"p1", "p2", "p3", "p4"} {
			tn, err := m.Get(ctx, sub)
			if err != nil {
				t.Fatal(err)
			}
			if serverOf(t, m, sub) != "second" {
				continue
			}
			if _, err := m.SetStatus(ctx, sub, StatusSuspended); err != nil {
				t.Fatal(err)
			}
			res, err := m.Delete(ctx, sub, DeleteOptions{DropDatabase: true})
			if err != nil || !res.DatabaseDropped {
				t.Fatalf("Delete(%s, drop) = %+v, %v", sub, res, err)
			}
			conn, err := pgx.Connect(ctx, second)
			if err != nil {
				t.Fatal(err)
			}
			var left int
			err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_database WHERE datname = $1) + (SELECT count(*) FROM pg_roles WHERE rolname = $2)`,
				tn.DatabaseName, tn.Placement.RoleName).Scan(&left)
			conn.Close(ctx)
			if err != nil || left != 0 {
				t.Errorf("after Delete(%s, drop): %d of its database and role left on the second server (%v)", sub, left, err)
			}
		}
	})
}
