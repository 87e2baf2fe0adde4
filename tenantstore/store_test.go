package tenantstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// recorder is a Notifier that keeps every change.
type recorder struct {
	mu      sync.Mutex
	changes []Change
}

func (r *recorder) Notify(_ context.Context, c Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
	return nil
}

func (r *recorder) last() Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.changes) == 0 {
		return Change{}
	}
	return r.changes[len(r.changes)-1]
}

func newTestStore(t *testing.T) *Store {
	t.Helper()
	testenv.Integration(t)
	s, err := Open(context.Background(), testenv.NewDatabase(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func insertTenant(t *testing.T, s *Store, sub string) *Tenant {
	t.Helper()
	tn := &Tenant{Name: "Org " + sub, Subdomain: sub, AdminEmail: "a@example.com", Status: StatusActive, MaxUsers: 5, DatabaseName: "db_" + sub}
	if err := s.Insert(context.Background(), tn); err != nil {
		t.Fatalf("Insert(%s): %v", sub, err)
	}
	return tn
}

func TestOpenCreatesMissingDatabase(t *testing.T) {
	testenv.Integration(t)
	name := testenv.UniqueName("tg_test_")
	t.Cleanup(func() { testenv.DropDatabases(t, name) })
	url := testenv.WithDatabase(testenv.PostgresURL(), name)
	// Concurrent first Opens: one creates the database and migrates, the
	// others wait or find it done.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(context.Background(), url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Open #%d of a missing database: %v", i+1, err)
		}
	}
	for i := range 2 { // later Opens find the database and the migrations applied
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatalf("Open #%d of a missing database: %v", i+1, err)
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Errorf("Ping after Open = %v, want nil", err)
		}
		s.Close()
		s.Close() // idempotent
	}
}

func TestTenantCRUD(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	rec := &recorder{}
	s.SetNotifier(rec)
	a := insertTenant(t, s, "acme")
	insertTenant(t, s, "globex")

	got, err := s.GetBySubdomain(ctx, "ACME")
	if err != nil || got.ID != a.ID || got.Version != 1 || got.Domains == nil {
		t.Fatalf("GetBySubdomain(ACME) = %+v, %v; want tenant %s at version 1", got, err, a.ID)
	}
	if got, err := s.Get(ctx, a.ID); err != nil || got.Subdomain != "acme" {
		t.Errorf("Get(id) = %v, %v; want acme", got, err)
	}
	for _, id := range []string{"nope", "00000000-0000-0000-0000-000000000000"} {
		if _, err := s.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want ErrNotFound", id, err)
		}
	}

	t.Run("duplicate subdomain and name", func(t *testing.T) {
		for _, tc := range []struct{ field, name, sub string }{{"subdomain", "Other", "acme"}, {"name", "ORG ACME", "other"}} {
			err := s.Insert(ctx, &Tenant{Name: tc.name, Subdomain: tc.sub, AdminEmail: "x@example.com", MaxUsers: 1, DatabaseName: "x"})
			var ce *ConflictError
			if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrConflict) {
				t.Errorf("Insert(duplicate %s) error = %v, want a conflict naming %s", tc.field, err, tc.field)
			}
		}
	})

	t.Run("optimistic update", func(t *testing.T) {
		first, _ := s.GetBySubdomain(ctx, "acme")
		second, _ := s.GetBySubdomain(ctx, "acme")
		first.Subdomain = "acme-corp"
		if err := s.Update(ctx, first); err != nil || first.Version != 2 {
			t.Fatalf("Update = %v (version %d); want nil, version 2", err, first.Version)
		}
		if c := rec.last(); !slices.Contains(c.Subdomains, "acme") || !slices.Contains(c.Subdomains, "acme-corp") {
			t.Errorf("notified %+v; want old and new subdomain", c)
		}
		second.MaxUsers = 9
		if err := s.Update(ctx, second); !errors.Is(err, ErrStaleVersion) || !errors.Is(err, ErrConflict) {
			t.Errorf("Update(stale) error = %v, want ErrStaleVersion", err)
		}
		if _, err := s.GetBySubdomain(ctx, "acme"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetBySubdomain(old name) error = %v, want ErrNotFound", err)
		}
	})

	t.Run("list with status filter and cursor", func(t *testing.T) {
		insertTenant(t, s, "initech")
		g, _ := s.GetBySubdomain(ctx, "globex")
		g.Status = StatusSuspended
		if err := s.Update(ctx, g); err != nil {
			t.Fatal(err)
		}
		var subs []string
		opts := ListOptions{Limit: 2}
		for {
			page, next, err := s.List(ctx, opts)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			for _, tn := range page {
				subs = append(subs, tn.Subdomain)
			}
			if next == "" {
				break
			}
			opts.Cursor = next
		}
		if want := []string{"acme-corp", "globex", "initech"}; !slices.Equal(subs, want) {
			t.Errorf("List pages = %v, want %v", subs, want)
		}
		active, _, err := s.List(ctx, ListOptions{Status: StatusActive})
		if err != nil || len(active) != 2 {
			t.Errorf("List(active) = %d tenants, %v; want 2", len(active), err)
		}
		if _, _, err := s.List(ctx, ListOptions{Cursor: "!!"}); err == nil {
			t.Errorf("List(bad cursor) error = nil, want a validation error")
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := s.Delete(ctx, a.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := s.Delete(ctx, a.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete(again) error = %v, want ErrNotFound", err)
		}
	})
}

func TestLocations(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	a, b := insertTenant(t, s, "acme"), insertTenant(t, s, "globex")
	add := func(tn *Tenant, code string) error {
		return s.AddLocation(ctx, &Location{TenantID: tn.ID, Name: "Shop " + code, Code: code, Active: true})
	}
	if err := add(a, "n1"); err != nil {
		t.Fatalf("AddLocation: %v", err)
	}
	var ce *ConflictError
	if err := add(a, "n1"); !errors.As(err, &ce) || ce.Field != "code" {
		t.Errorf("AddLocation(same code) error = %v, want a conflict naming code", err)
	}
	if err := add(b, "n1"); err != nil {
		t.Errorf("AddLocation(same code, other tenant) = %v, want nil", err)
	}
	l, err := s.GetLocation(ctx, a.ID, "n1")
	if err != nil {
		t.Fatalf("GetLocation: %v", err)
	}
	l.Address, l.Active = "Main St 1", false
	if err := s.UpdateLocation(ctx, &l); err != nil {
		t.Fatalf("UpdateLocation: %v", err)
	}
	locs, err := s.ListLocations(ctx, a.ID)
	if err != nil || len(locs) != 1 || locs[0].Address != "Main St 1" || locs[0].Active {
		t.Errorf("ListLocations = %+v, %v; want the updated location", locs, err)
	}
	if err := s.DeleteLocation(ctx, a.ID, "n1"); err != nil {
		t.Errorf("DeleteLocation: %v", err)
	}
	if err := s.DeleteLocation(ctx, a.ID, "n1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteLocation(again) = %v, want ErrNotFound", err)
	}
}

func TestDomains(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	rec := &recorder{}
	s.SetNotifier(rec)
	a, b := insertTenant(t, s, "acme"), insertTenant(t, s, "globex")
	d, err := s.AddDomain(ctx, a.ID, "shop.acme.test")
	if err != nil || d.VerificationToken == "" || d.Verified {
		t.Fatalf("AddDomain = %+v, %v; want an unverified domain with a token", d, err)
	}
	if _, err := s.AddDomain(ctx, b.ID, "shop.acme.test"); !errors.Is(err, ErrConflict) {
		t.Errorf("AddDomain(taken by another tenant) error = %v, want ErrConflict", err)
	}
	if _, err := s.GetByHostname(ctx, "shop.acme.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetByHostname(unverified) error = %v, want ErrNotFound", err)
	}
	if _, err := s.MarkDomainVerified(ctx, a.ID, "shop.acme.test"); err != nil {
		t.Fatalf("MarkDomainVerified: %v", err)
	}
	if c := rec.last(); !slices.Contains(c.Hostnames, "shop.acme.test") || !slices.Contains(c.Subdomains, "acme") {
		t.Errorf("notified %+v; want hostname and subdomain", c)
	}
	got, err := s.GetByHostname(ctx, "shop.acme.test")
	if err != nil || got.ID != a.ID || len(got.Domains) != 1 || !got.Domains[0].Verified {
		t.Errorf("GetByHostname(verified) = %+v, %v; want acme with its verified domain", got, err)
	}
	if err := s.RemoveDomain(ctx, b.ID, "shop.acme.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveDomain(other tenant's) = %v, want ErrNotFound", err)
	}
	if err := s.RemoveDomain(ctx, a.ID, "shop.acme.test"); err != nil {
		t.Errorf("RemoveDomain = %v", err)
	}
	if _, err := s.GetByHostname(ctx, "shop.acme.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetByHostname(removed) error = %v, want ErrNotFound", err)
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	testenv.Integration(t)
	_, err := Open(context.Background(), "postgres://u:secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Open(closed port) error = %v, want ErrUnavailable", err)
	}
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestRedactText(t *testing.T) {
	tests := []struct{ in, secret string }{
		{`failed to connect to postgres://u:hunter2@h:5432/db?sslmode=disable: refused`, "hunter2"},
		{`cannot parse "postgres://u:hunter2@h/db"`, "hunter2"},
		{`host=h user=u password=hunter2 dbname=x`, "hunter2"},
	}
	for _, tt := range tests {
		if got := redactText(tt.in); strings.Contains(got, tt.secret) {
			t.Errorf("redactText(%q) = %q, still shows the password", tt.in, got)
		}
	}
}
