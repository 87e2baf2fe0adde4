package resolver

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// newMemoryResolver returns a resolver over src without Redis.
func newMemoryResolver(t testing.TB, src Source, cfg Config) *Resolver {
	t.Helper()
	if cfg.BaseDomain == "" {
		cfg.BaseDomain = "example.com"
	}
	r, err := New(cfg, src, nil)
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestResolve(t *testing.T) {
	acme := newTenant("acme", tenantstore.Domain{Hostname: "shop.acme.test", Verified: true},
		tenantstore.Domain{Hostname: "pending.acme.test"})
	src := newFakeSource(acme)
	r := newMemoryResolver(t, src, Config{})
	ctx := context.Background()

	tests := []struct {
		name    string
		resolve func() (*tenantstore.Tenant, error)
		wantID  string
		wantErr error
	}{
		{"subdomain host", func() (*tenantstore.Tenant, error) { return r.ResolveHost(ctx, "acme.example.com") }, acme.ID, nil},
		{"verified custom domain", func() (*tenantstore.Tenant, error) { return r.ResolveHost(ctx, "shop.acme.test") }, acme.ID, nil},
		{"unverified custom domain", func() (*tenantstore.Tenant, error) { return r.ResolveHost(ctx, "pending.acme.test") }, "", tenantstore.ErrNotFound},
		{"unknown subdomain", func() (*tenantstore.Tenant, error) { return r.ResolveHost(ctx, "nope.example.com") }, "", tenantstore.ErrNotFound},
		{"two levels below base", func() (*tenantstore.Tenant, error) { return r.ResolveHost(ctx, "x.acme.example.com") }, "", tenantstore.ErrNotFound},
		{"empty host", func() (*tenantstore.Tenant, error) { return r.ResolveHost(ctx, "") }, "", tenantstore.ErrNotFound},
		{"id", func() (*tenantstore.Tenant, error) { return r.ResolveID(ctx, acme.ID) }, acme.ID, nil},
		{"unknown id", func() (*tenantstore.Tenant, error) { return r.ResolveID(ctx, uuid.NewString()) }, "", tenantstore.ErrNotFound},
		{"malformed id", func() (*tenantstore.Tenant, error) { return r.ResolveID(ctx, "not-a-uuid") }, "", tenantstore.ErrNotFound},
		{"urn id", func() (*tenantstore.Tenant, error) { return r.ResolveID(ctx, "urn:uuid:"+acme.ID) }, "", tenantstore.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 2 { // the second answer comes from memory
				got, err := tt.resolve()
				if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
					t.Fatalf("call %d: error = %v, want %v", i, err, tt.wantErr)
				}
				if gotID := idOf(got); gotID != tt.wantID {
					t.Fatalf("call %d: tenant = %q, want %q", i, gotID, tt.wantID)
				}
			}
		})
	}
}

func idOf(t *tenantstore.Tenant) string {
	if t == nil {
		return ""
	}
	return t.ID
}

func TestResolveCachesAnswers(t *testing.T) {
	acme := newTenant("acme")
	tests := []struct {
		name      string
		host      string
		wantCalls int64
	}{
		{"known host", "acme.example.com", 1},
		{"unknown host", "nope.example.com", 1},
		{"unknown custom domain", "www.other.test", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFakeSource(acme)
			r := newMemoryResolver(t, src, Config{})
			for range 10 {
				_, _ = r.ResolveHost(context.Background(), tt.host)
			}
			if got := src.calls.Load(); got != tt.wantCalls {
				t.Errorf("source calls for 10 lookups of %s = %d, want %d", tt.host, got, tt.wantCalls)
			}
		})
	}
}

func TestResolveByHostCachesByID(t *testing.T) {
	acme := newTenant("acme")
	src := newFakeSource(acme)
	r := newMemoryResolver(t, src, Config{})
	ctx := context.Background()
	if _, err := r.ResolveHost(ctx, "acme.example.com"); err != nil {
		t.Fatalf("ResolveHost() error: %v", err)
	}
	got, err := r.ResolveID(ctx, acme.ID)
	if err != nil || got.Subdomain != "acme" {
		t.Fatalf("ResolveID(%s) = %v, %v; want acme", acme.ID, got, err)
	}
	if calls := src.calls.Load(); calls != 1 {
		t.Errorf("source calls = %d, want 1 (the id lookup should come from memory)", calls)
	}
}

func TestConcurrentMissesMakeOneLookup(t *testing.T) {
	src := newFakeSource(newTenant("acme"))
	src.delay = 50 * time.Millisecond
	r := newMemoryResolver(t, src, Config{})
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if _, err := r.ResolveHost(context.Background(), "acme.example.com"); err != nil {
				t.Errorf("ResolveHost() error: %v", err)
			}
		})
	}
	wg.Wait()
	if got := src.calls.Load(); got != 1 {
		t.Errorf("source calls for 100 concurrent misses = %d, want 1", got)
	}
}

func TestCallerContextEndsWaitNotLoad(t *testing.T) {
	src := newFakeSource(newTenant("acme"))
	src.delay = 100 * time.Millisecond
	r := newMemoryResolver(t, src, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := r.ResolveHost(ctx, "acme.example.com"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ResolveHost(short deadline) error = %v, want deadline exceeded", err)
	}
	// The load went on and a later caller gets its answer.
	if _, err := r.ResolveHost(context.Background(), "acme.example.com"); err != nil {
		t.Fatalf("ResolveHost() error: %v", err)
	}
	if got := src.calls.Load(); got != 1 {
		t.Errorf("source calls = %d, want 1", got)
	}
}

func TestSourceDownServesStale(t *testing.T) {
	acme := newTenant("acme")
	src := newFakeSource(acme)
	r := newMemoryResolver(t, src, Config{})
	ctx := context.Background()
	if _, err := r.ResolveHost(ctx, "acme.example.com"); err != nil {
		t.Fatalf("warming: %v", err)
	}
	// Expire the entry (as after TTL) and take the source down.
	r.mem.invalidateAll()
	src.setErr(errors.New("connection refused"))

	got, err := r.ResolveHost(ctx, "acme.example.com")
	if err != nil || idOf(got) != acme.ID {
		t.Errorf("ResolveHost(known host, source down) = %q, %v; want %q (stale)", idOf(got), err, acme.ID)
	}
	if _, err := r.ResolveHost(ctx, "never.example.com"); !errors.Is(err, tenantstore.ErrUnavailable) {
		t.Errorf("ResolveHost(unseen host, source down) error = %v, want ErrUnavailable", err)
	}
	st := r.Stats()
	if st.StaleAnswers != 1 || st.Unavailable != 1 {
		t.Errorf("Stats() stale, unavailable = %d, %d; want 1, 1", st.StaleAnswers, st.Unavailable)
	}

	// Back up: fresh answers again.
	src.setErr(nil)
	acme.Name = "Renamed"
	src.put(acme)
	if got, err := r.ResolveHost(ctx, "acme.example.com"); err != nil || got.Name != "Renamed" {
		t.Errorf("ResolveHost(after recovery) = %v, %v; want the current tenant", got, err)
	}
}

func TestNotifyWithoutRedis(t *testing.T) {
	acme := newTenant("acme")
	src := newFakeSource(acme)
	r := newMemoryResolver(t, src, Config{})
	ctx := context.Background()
	var changes []tenantstore.Change
	r.OnChange(func(c tenantstore.Change) { changes = append(changes, c) })

	if _, err := r.ResolveHost(ctx, "acme.example.com"); err != nil {
		t.Fatalf("warming: %v", err)
	}
	// Rename acme → acme2.
	acme.Subdomain = "acme2"
	src.put(acme)
	change := tenantstore.Change{TenantID: acme.ID, Subdomains: []string{"acme", "acme2"}}
	if err := r.Notify(ctx, change); err != nil {
		t.Fatalf("Notify() error: %v", err)
	}
	if _, err := r.ResolveHost(ctx, "acme.example.com"); !errors.Is(err, tenantstore.ErrNotFound) {
		t.Errorf("ResolveHost(old host) error = %v, want ErrNotFound", err)
	}
	if got, err := r.ResolveHost(ctx, "acme2.example.com"); err != nil || got.ID != acme.ID {
		t.Errorf("ResolveHost(new host) = %v, %v; want the tenant", got, err)
	}
	if got, err := r.ResolveID(ctx, acme.ID); err != nil || got.Subdomain != "acme2" {
		t.Errorf("ResolveID() = %v, %v; want subdomain acme2", got, err)
	}
	if len(changes) != 1 || changes[0].TenantID != acme.ID {
		t.Errorf("OnChange calls = %v, want one for %s", changes, acme.ID)
	}
}

func TestNotifyEvictsHostsOfCachedTenant(t *testing.T) {
	acme := newTenant("acme", tenantstore.Domain{Hostname: "shop.acme.test", Verified: true})
	src := newFakeSource(acme)
	r := newMemoryResolver(t, src, Config{})
	ctx := context.Background()
	if _, err := r.ResolveHost(ctx, "shop.acme.test"); err != nil {
		t.Fatalf("warming: %v", err)
	}
	acme.Status = tenantstore.StatusSuspended
	src.put(acme)
	// A change naming only the id still drops the host entries.
	if err := r.Notify(ctx, tenantstore.Change{TenantID: acme.ID}); err != nil {
		t.Fatalf("Notify() error: %v", err)
	}
	for _, host := range []string{"shop.acme.test", "acme.example.com"} {
		if got, err := r.ResolveHost(ctx, host); err != nil || got.Status != tenantstore.StatusSuspended {
			t.Errorf("ResolveHost(%s) = %v, %v; want the suspended tenant", host, got, err)
		}
	}
}

func TestLoadStartedBeforeInvalidationIsNotCached(t *testing.T) {
	acme := newTenant("acme")
	src := newFakeSource(acme)
	src.delay = 100 * time.Millisecond
	r := newMemoryResolver(t, src, Config{})
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = r.ResolveHost(ctx, "acme.example.com") // reads the old tenant
	}()
	time.Sleep(20 * time.Millisecond) // the load is under way
	suspended := *acme
	suspended.Status = tenantstore.StatusSuspended
	src.put(&suspended)
	if err := r.Notify(ctx, tenantstore.Change{TenantID: acme.ID, Subdomains: []string{"acme"}}); err != nil {
		t.Fatalf("Notify() error: %v", err)
	}
	<-done
	src.delay = 0
	if got, err := r.ResolveHost(ctx, "acme.example.com"); err != nil || got.Status != tenantstore.StatusSuspended {
		t.Errorf("ResolveHost() after change = %v, %v; want the suspended tenant", got, err)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	acme := newTenant("acme")
	r := newMemoryResolver(t, newFakeSource(acme), Config{})
	ctx := context.Background()
	for _, host := range []string{"acme.example.com", "nope.example.com"} {
		_, _ = r.ResolveHost(ctx, host)
		if got := testing.AllocsPerRun(1000, func() { _, _ = r.ResolveHost(ctx, host) }); got != 0 {
			t.Errorf("allocations per warm ResolveHost(%s) = %v, want 0", host, got)
		}
	}
	_, _ = r.ResolveID(ctx, acme.ID)
	if got := testing.AllocsPerRun(1000, func() { _, _ = r.ResolveID(ctx, acme.ID) }); got != 0 {
		t.Errorf("allocations per warm ResolveID = %v, want 0", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative TTL", Config{TTL: -time.Second}},
		{"stale shorter than TTL", Config{TTL: time.Hour, StaleTTL: time.Minute}},
		{"negative max entries", Config{MaxEntries: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg, newFakeSource(), nil); err == nil {
				t.Errorf("New(%+v) error = nil, want an error", tt.cfg)
			}
		})
	}
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Errorf("New(nil source) error = nil, want an error")
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	r, err := New(Config{}, newFakeSource(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background())
	for i := range 2 {
		if err := r.Close(); err != nil {
			t.Errorf("Close() #%d error: %v", i+1, err)
		}
	}
}
