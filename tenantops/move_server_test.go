package tenantops_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantops"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// ownership is what the tenant sees of its database when it connects as
// the app does.
type ownership struct {
	user, dbOwner string
	foreign       int // public tables owned by another role
}

func ownershipOf(t *testing.T, conn *pgx.Conn) ownership {
	t.Helper()
	var o ownership
	err := conn.QueryRow(context.Background(), `SELECT current_user, pg_get_userbyid(d.datdba),
		(SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> current_user)::int
		FROM pg_database d WHERE d.datname = current_database()`).Scan(&o.user, &o.dbOwner, &o.foreign)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestMoveToServer(t *testing.T) {
	e := newEnv(t)
	second := testenv.StartPostgres(t)
	ctx := context.Background()
	tn := e.createTenant(t, "acme", 25)

	// tenantctl's Manager: any host may be registered.
	m, err := tenantstore.NewManager(tenantstore.ManagerConfig{Store: e.store, DSN: e.dsn, DatabasePrefix: e.prefix,
		BcryptCost: bcrypt.MinCost, AnyDatabaseHost: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.AddServer(ctx, tenantstore.AddServerRequest{Name: "second", URL: second, Capacity: 5}); err != nil {
		t.Fatalf("AddServer: %v", err)
	}
	ops, err := tenantops.New(tenantops.Config{Store: e.store, DSN: e.dsn, Servers: e.store, Drain: 100 * time.Millisecond,
		QuietTimeout: 5 * time.Second, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("refusals name to_server and change nothing", func(t *testing.T) {
		yes, no := true, false
		if _, err := m.UpdateServer(ctx, "second", tenantstore.ServerPatch{Draining: &yes}); err != nil {
			t.Fatal(err)
		}
		defer m.UpdateServer(ctx, "second", tenantstore.ServerPatch{Draining: &no})
		var ve *tenantstore.ValidationError
		var ce *tenantstore.ConflictError
		if _, err := ops.MoveToServer(ctx, "acme", "nowhere", tenantops.MoveOptions{}, nil); !errors.As(err, &ve) || ve.Field != "to_server" {
			t.Errorf("MoveToServer(unknown) = %v, want invalid to_server", err)
		}
		if _, err := ops.MoveToServer(ctx, "acme", tenantstore.DefaultServer, tenantops.MoveOptions{}, nil); !errors.As(err, &ce) || ce.Field != "to_server" {
			t.Errorf("MoveToServer(its own server) = %v, want a conflict naming to_server", err)
		}
		if _, err := ops.MoveToServer(ctx, "acme", "second", tenantops.MoveOptions{}, nil); !errors.As(err, &ce) || ce.Field != "to_server" {
			t.Errorf("MoveToServer(draining) = %v, want a conflict naming to_server", err)
		}
		if after := e.tenant(t, "acme"); !tenantops.SameDatabase(tn, after) || after.Status != tenantstore.StatusActive {
			t.Errorf("a refused move changed the tenant: %+v", after)
		}
	})

	// A database of the tenant's name already exists there: the move takes
	// a fresh name and leaves it alone.
	conn, err := pgx.Connect(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{tn.DatabaseName}.Sanitize()); err != nil {
		t.Fatal(err)
	}

	res, err := ops.MoveToServer(ctx, "acme", "second", tenantops.MoveOptions{}, nil)
	if err != nil {
		t.Fatalf("MoveToServer(second): %v", err)
	}
	moved := e.tenant(t, "acme")
	if s, err := m.ServerOf(ctx, moved); err != nil || s.Name != "second" {
		t.Fatalf("after the move the tenant is on %v (%v), want second", s, err)
	}
	if moved.DatabaseName == tn.DatabaseName || res.NewDatabase != moved.DatabaseName {
		t.Errorf("moved into %q (result %q) beside an existing %q, want a fresh name", moved.DatabaseName, res.NewDatabase, tn.DatabaseName)
	}
	if got := e.count(t, moved, "customers"); got != 25 {
		t.Errorf("customers after the move = %d, want 25", got)
	}
	if got := e.count(t, moved, "users"); got != 1 {
		t.Errorf("users after the move = %d, want 1", got)
	}
	if o := ownershipOf(t, e.conn(t, moved)); o.user != moved.Placement.RoleName || o.dbOwner != o.user || o.foreign != 0 || o.user == "postgres" {
		t.Errorf("on the second server the tenant is %+v, want its own role %q owning the database and every table", o, moved.Placement.RoleName)
	}
	if u := m.DatabaseUsage(ctx, moved); u.Server != "second" || u.SizeBytes == nil {
		t.Errorf("DatabaseUsage after the move = %+v, want second with a size", u)
	}

	t.Run("and back to default", func(t *testing.T) {
		if _, err := ops.MoveToServer(ctx, "acme", tenantstore.DefaultServer, tenantops.MoveOptions{}, nil); err != nil {
			t.Fatalf("MoveToServer(default): %v", err)
		}
		back := e.tenant(t, "acme")
		if s, err := m.ServerOf(ctx, back); err != nil || s.Name != tenantstore.DefaultServer {
			t.Fatalf("after moving back the tenant is on %v (%v), want default", s, err)
		}
		if got := e.count(t, back, "customers"); got != 25 {
			t.Errorf("customers after moving back = %d, want 25", got)
		}
		if o := ownershipOf(t, e.conn(t, back)); o.user != back.Placement.RoleName || o.dbOwner != o.user || o.foreign != 0 {
			t.Errorf("back on default the tenant is %+v, want its own role owning everything", o)
		}
	})
}
