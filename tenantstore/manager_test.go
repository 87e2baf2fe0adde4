package tenantstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

func newTestManager(t *testing.T, lookup func(context.Context, string) ([]string, error)) *Manager {
	t.Helper()
	s := newTestStore(t)
	tmpl, err := DefaultTemplate(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(ManagerConfig{Store: s, DSN: DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }},
		DatabasePrefix: testenv.TenantPrefix(t), BaseDomain: "example.com", BcryptCost: 4, LookupTXT: lookup})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func TestManagerCreateValidation(t *testing.T) {
	m := newTestManager(t, nil)
	ok := CreateRequest{Name: "Acme", Subdomain: "acme", AdminEmail: "a@example.com"}
	tests := []struct {
		field  string
		mutate func(*CreateRequest)
	}{
		{"name", func(r *CreateRequest) { r.Name = "  " }},
		{"subdomain", func(r *CreateRequest) { r.Subdomain = "bad_sub" }},
		{"subdomain", func(r *CreateRequest) { r.Subdomain = "admin" }},
		{"admin_email", func(r *CreateRequest) { r.AdminEmail = "nope" }},
		{"max_users", func(r *CreateRequest) { r.MaxUsers = -1 }},
		{"admin_password", func(r *CreateRequest) { r.AdminPassword = "short" }},
		{"database_url", func(r *CreateRequest) { r.Placement.URL = "not a url" }},
		{"database_password_env", func(r *CreateRequest) { r.Placement = Placement{Host: "h", PasswordEnv: "UNSET_VAR_X"} }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			req := ok
			tt.mutate(&req)
			_, _, err := m.Create(context.Background(), req)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field {
				t.Errorf("Create(bad %s) error = %v, want a validation error naming %s", tt.field, err, tt.field)
			}
		})
	}
}

func TestManagerLifecycle(t *testing.T) {
	txt := map[string][]string{}
	m := newTestManager(t, func(_ context.Context, name string) ([]string, error) { return txt[name], nil })
	ctx := context.Background()
	admin := testenv.Admin(t)

	tn, pw, err := m.Create(ctx, CreateRequest{Name: "Acme", Subdomain: "Acme", AdminEmail: "a@example.com"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if tn.Subdomain != "acme" || tn.Status != StatusActive || tn.MaxUsers != DefaultMaxUsers || len(pw) < 16 {
		t.Errorf("Create = %+v, password %d chars; want active acme with 50 users and a generated password", tn, len(pw))
	}
	if _, _, err := m.Create(ctx, CreateRequest{Name: "Other", Subdomain: "acme", AdminEmail: "a@example.com", AdminPassword: "given-password"}); !errors.Is(err, ErrConflict) {
		t.Errorf("Create(taken subdomain) error = %v, want ErrConflict", err)
	}

	if lat, err := m.DatabaseStatus(ctx, tn); err != nil || lat <= 0 {
		t.Errorf("DatabaseStatus = %v, %v; want a latency", lat, err)
	}

	t.Run("locations", func(t *testing.T) {
		if _, err := m.AddLocation(ctx, "acme", LocationInput{Name: "Main", Code: "main"}); err != nil {
			t.Fatalf("AddLocation: %v", err)
		}
		var ce *ConflictError
		if _, err := m.AddLocation(ctx, "acme", LocationInput{Name: "Second", Code: "second"}); !errors.As(err, &ce) || ce.Field != "multi_location" {
			t.Errorf("AddLocation(second, single-location) error = %v, want a conflict on multi_location", err)
		}
		multi := true
		if _, err := m.Update(ctx, "acme", Patch{MultiLocation: &multi}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.AddLocation(ctx, "acme", LocationInput{Name: "Second", Code: "second"}); err != nil {
			t.Errorf("AddLocation(second, multi-location) = %v", err)
		}
		if _, err := m.AddLocation(ctx, "acme", LocationInput{Name: "Dup", Code: "main"}); !errors.As(err, &ce) || ce.Field != "code" {
			t.Errorf("AddLocation(duplicate code) error = %v, want a conflict on code", err)
		}
		addr := "1 Main St"
		if l, err := m.UpdateLocation(ctx, "acme", "main", LocationPatch{Address: &addr}); err != nil || l.Address != addr {
			t.Errorf("UpdateLocation = %+v, %v", l, err)
		}
		if err := m.DeleteLocation(ctx, "acme", "second"); err != nil {
			t.Errorf("DeleteLocation: %v", err)
		}
		if locs, err := m.ListLocations(ctx, "acme"); err != nil || len(locs) != 1 {
			t.Errorf("ListLocations = %v, %v; want 1", locs, err)
		}
	})

	t.Run("domains", func(t *testing.T) {
		if _, err := m.AddDomain(ctx, "acme", "x.example.com"); err == nil {
			t.Errorf("AddDomain(inside BASE_DOMAIN) = nil error")
		}
		d, err := m.AddDomain(ctx, "acme", "Shop.Acme.Test")
		if err != nil {
			t.Fatalf("AddDomain: %v", err)
		}
		var ve *ValidationError
		if _, err := m.VerifyDomain(ctx, "acme", "shop.acme.test"); !errors.As(err, &ve) || !strings.Contains(err.Error(), "_tenantgate.shop.acme.test") {
			t.Errorf("VerifyDomain(no TXT) error = %v, want one naming the record", err)
		}
		txt["_tenantgate.shop.acme.test"] = []string{"other", d.VerificationToken}
		if v, err := m.VerifyDomain(ctx, "acme", "shop.acme.test"); err != nil || !v.Verified {
			t.Fatalf("VerifyDomain = %+v, %v; want verified", v, err)
		}
		if got, err := m.Store().GetByHostname(ctx, "shop.acme.test"); err != nil || got.ID != tn.ID {
			t.Errorf("GetByHostname after verify = %v, %v", got, err)
		}
		if err := m.RemoveDomain(ctx, "acme", "shop.acme.test"); err != nil {
			t.Errorf("RemoveDomain: %v", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		var ce *ConflictError
		if _, err := m.Delete(ctx, "acme", DeleteOptions{DropDatabase: true}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "suspend it first") {
			t.Fatalf("Delete(active) error = %v, want a conflict saying suspend it first", err)
		}
		if _, err := m.SetStatus(ctx, "acme", "bogus"); err == nil {
			t.Errorf("SetStatus(bogus) = nil error")
		}
		if _, err := m.SetStatus(ctx, "acme", StatusSuspended); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Delete(ctx, "acme", DeleteOptions{DropDatabase: true}); err != nil {
			t.Fatalf("Delete(suspended): %v", err)
		}
		if exists(t, admin, "database", tn.DatabaseName) || exists(t, admin, "role", tn.Placement.RoleName) {
			t.Errorf("Delete(drop) left database or role %s", tn.DatabaseName)
		}
		if _, err := m.Get(ctx, "acme"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(deleted) error = %v, want ErrNotFound", err)
		}
	})

	t.Run("delete keeps the database detached", func(t *testing.T) {
		g, _, err := m.Create(ctx, CreateRequest{Name: "Globex", Subdomain: "globex", AdminEmail: "g@example.com", AdminPassword: "given-password"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetStatus(ctx, "globex", StatusSuspended); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Delete(ctx, "globex", DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if !exists(t, admin, "database", g.DatabaseName) {
			t.Errorf("Delete without drop removed database %s", g.DatabaseName)
		}
	})
}

func TestManagerUpdateStaleVersion(t *testing.T) {
	m := newTestManager(t, nil)
	ctx := context.Background()
	if _, _, err := m.Create(ctx, CreateRequest{Name: "Acme", Subdomain: "acme", AdminEmail: "a@example.com", AdminPassword: "given-password"}); err != nil {
		t.Fatal(err)
	}
	old := int64(1)
	n := 7
	if _, err := m.Update(ctx, "acme", Patch{MaxUsers: &n, Version: &old}); !errors.Is(err, ErrStaleVersion) {
		t.Errorf("Update(version 1 after activation) error = %v, want ErrStaleVersion", err)
	}
	zero := 0
	var ve *ValidationError
	if _, err := m.Update(ctx, "acme", Patch{MaxUsers: &zero}); !errors.As(err, &ve) || ve.Field != "max_users" {
		t.Errorf("Update(max_users 0) error = %v, want a validation error naming max_users", err)
	}
	name := "Acme Two"
	if got, err := m.Update(ctx, "acme", Patch{Name: &name}); err != nil || got.Name != name || got.Version != 3 {
		t.Errorf("Update(name) = %+v, %v; want version 3", got, err)
	}
}
