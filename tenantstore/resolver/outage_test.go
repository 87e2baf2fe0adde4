package resolver

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

func TestRedisKilledMidTest(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	srv := startRedisServer(t)
	databaseURL := testenv.NewDatabase(t)
	store := newStore(t, databaseURL)
	other := newStore(t, databaseURL) // another process's store, which notifies nobody
	cfg := Config{BaseDomain: "example.com", KeyPrefix: "tg:", MACKeys: testenv.EntryKeys()}
	r := startResolver(t, cfg, store, newRedisClient(t, srv.url()))
	store.SetNotifier(r)
	acme := insertTenant(t, store, "acme")
	globex := insertTenant(t, store, "globex")
	if _, err := r.ResolveHost(ctx, "acme.example.com"); err != nil {
		t.Fatalf("warming: %v", err)
	}

	srv.stop()

	tests := []struct {
		host    string
		wantID  string
		wantErr error
	}{
		{"acme.example.com", acme.ID, nil},     // from memory
		{"globex.example.com", globex.ID, nil}, // never seen: from PostgreSQL
		{"nope.example.com", "", tenantstore.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			for i := range 3 {
				got, err := r.ResolveHost(ctx, tt.host)
				if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil || idOf(got) != tt.wantID {
					t.Fatalf("call %d with Redis down: ResolveHost(%s) = %q, %v; want %q, %v", i, tt.host, idOf(got), err, tt.wantID, tt.wantErr)
				}
			}
		})
	}
	waitFor(t, 10*time.Second, "the subscription to be reported down", func() bool { return !r.Stats().Subscribed })

	// A change made here is seen here at once, although it cannot be published.
	acme.Status = tenantstore.StatusMaintenance
	if err := store.Update(ctx, acme); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got, err := r.ResolveHost(ctx, "acme.example.com"); err != nil || got.Status != tenantstore.StatusMaintenance {
		t.Errorf("ResolveHost(acme) after a local change = %+v, %v; want status maintenance", got, err)
	}
	// A change made elsewhere is seen once the shortened memory TTL runs out.
	globex.MaxUsers = 77
	if err := other.Update(ctx, globex); err != nil {
		t.Fatalf("Update: %v", err)
	}
	resolveUntil(t, r, "globex.example.com", 3*DefaultDegradedTTL, "max users 77",
		func(got *tenantstore.Tenant, err error) bool { return err == nil && got.MaxUsers == 77 })

	st := r.Stats()
	if st.RedisErrors == 0 || st.SubscriptionLosses == 0 {
		t.Errorf("Stats() RedisErrors, SubscriptionLosses = %d, %d; want both > 0", st.RedisErrors, st.SubscriptionLosses)
	}

	// Redis comes back: the resolver subscribes again and changes flow.
	srv.start()
	waitFor(t, 10*time.Second, "the resolver to subscribe again", func() bool { return r.Stats().Subscribed })
	if _, err := r.ResolveHost(ctx, "globex.example.com"); err != nil {
		t.Fatalf("ResolveHost(globex): %v", err)
	}
	second := startResolver(t, cfg, store, newRedisClient(t, srv.url()))
	store.SetNotifier(second)
	globex.MaxUsers = 78
	if err := store.Update(ctx, globex); err != nil {
		t.Fatalf("Update: %v", err)
	}
	resolveUntil(t, r, "globex.example.com", changeLimit, "max users 78",
		func(got *tenantstore.Tenant, err error) bool { return err == nil && got.MaxUsers == 78 })
}

func TestSourceUnreachable(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	proxy := startPGProxy(t)
	store := newStore(t, proxy.databaseURL(t))
	acme := insertTenant(t, store, "acme")
	globex := insertTenant(t, store, "globex")
	cfg := testConfig(t)
	cfg.TTL = 50 * time.Millisecond // answers go stale quickly, so the source is asked again

	// memoryOnly has no Redis; edge1 and edge2 share one.
	memoryOnly, err := New(cfg, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = memoryOnly.Close() })
	edge1 := startResolver(t, cfg, store, newRedisClient(t, testenv.RedisURL()))
	edge2 := startResolver(t, cfg, store, newRedisClient(t, testenv.RedisURL()))
	for _, host := range []string{"acme.example.com", "nope.example.com"} {
		_, _ = memoryOnly.ResolveHost(ctx, host)
	}
	if _, err := edge1.ResolveHost(ctx, "globex.example.com"); err != nil { // now in Redis
		t.Fatalf("warming: %v", err)
	}

	proxy.stop()
	time.Sleep(2 * cfg.TTL)

	tests := []struct {
		name    string
		r       *Resolver
		host    string
		wantID  string
		wantErr error
	}{
		{"stale from memory", memoryOnly, "acme.example.com", acme.ID, nil},
		{"stale negative from memory", memoryOnly, "nope.example.com", "", tenantstore.ErrNotFound},
		{"never seen", memoryOnly, "globex.example.com", "", tenantstore.ErrUnavailable},
		{"never seen custom domain", memoryOnly, "shop.unknown.test", "", tenantstore.ErrUnavailable},
		{"from Redis", edge2, "globex.example.com", globex.ID, nil},
		{"never seen, with Redis", edge2, "acme.example.com", "", tenantstore.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.ResolveHost(ctx, tt.host)
			if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil || idOf(got) != tt.wantID {
				t.Errorf("with PostgreSQL down: ResolveHost(%s) = %q, %v; want %q, %v", tt.host, idOf(got), err, tt.wantID, tt.wantErr)
			}
		})
	}
	if id, err := memoryOnly.ResolveID(ctx, acme.ID); err != nil || id.ID != acme.ID {
		t.Errorf("with PostgreSQL down: ResolveID(acme) = %v, %v; want the stale tenant", id, err)
	}
	if st := memoryOnly.Stats(); st.StaleAnswers < 2 || st.Unavailable < 2 || st.SourceErrors < 4 {
		t.Errorf("Stats() StaleAnswers, Unavailable, SourceErrors = %d, %d, %d; want at least 2, 2, 4",
			st.StaleAnswers, st.Unavailable, st.SourceErrors)
	}

	// PostgreSQL is back: fresh answers, and the tenant never seen is found.
	proxy.start()
	resolveUntil(t, memoryOnly, "globex.example.com", 10*time.Second, "globex",
		func(got *tenantstore.Tenant, err error) bool { return err == nil && got.ID == globex.ID })
}

func TestRedisFrozen(t *testing.T) {
	testenv.Integration(t)
	srv := startRedisServer(t)
	store := newStore(t, "")
	cfg := Config{BaseDomain: "example.com", KeyPrefix: "tg:", HealthCheckInterval: 200 * time.Millisecond, MACKeys: testenv.EntryKeys()}
	r := startResolver(t, cfg, store, newRedisClient(t, srv.url()))
	tenants := []*tenantstore.Tenant{insertTenant(t, store, "acme"), insertTenant(t, store, "globex")}

	// A frozen Redis accepts connections and never answers.
	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("freezing redis-server: %v", err)
	}
	t.Cleanup(func() { _ = srv.cmd.Process.Signal(syscall.SIGCONT) })
	for _, tn := range tenants {
		host := tn.Subdomain + ".example.com"
		// go-redis' defaults would wait 3 s per read: the answer must come
		// from PostgreSQL well within the caller's one-second budget.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		got, err := r.ResolveHost(ctx, host)
		cancel()
		if err != nil || got.ID != tn.ID {
			t.Errorf("with Redis frozen: ResolveHost(%s) = %q, %v; want %q within 1 s", host, idOf(got), err, tn.ID)
		}
	}
	// The idle subscription's unanswered ping reveals the frozen server.
	waitFor(t, 10*cfg.HealthCheckInterval, "the frozen subscription to be reported down",
		func() bool { return !r.Stats().Subscribed })
}
