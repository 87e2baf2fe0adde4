package resolver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// changeLimit is the deadline for another process to see a change.
const changeLimit = time.Second

func TestChangeSeenByAnotherResolverWithinOneSecond(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	store := newStore(t, "")
	cfg := testConfig(t)
	// Two processes: separate memory, one Redis. The writer's resolver is
	// the store's notifier, as in the appserver.
	writer := startResolver(t, cfg, store, newRedisClient(t, testenv.RedisURL()))
	reader := startResolver(t, cfg, store, newRedisClient(t, testenv.RedisURL()))
	store.SetNotifier(writer)
	store.SetNotifyErrorHandler(func(c tenantstore.Change, err error) { t.Errorf("Notify(%+v): %v", c, err) })
	var mu sync.Mutex
	var seen []tenantstore.Change
	reader.OnChange(func(c tenantstore.Change) { mu.Lock(); seen = append(seen, c); mu.Unlock() })

	tests := []struct {
		name   string
		warm   []string // hosts (with %s for the subdomain) resolved before the change
		change func(t *testing.T, tn *tenantstore.Tenant)
		host   string // host to check after the change
		want   func(*tenantstore.Tenant, error) bool
		what   string
	}{
		{
			name: "suspend", warm: []string{"%s.example.com"},
			change: func(t *testing.T, tn *tenantstore.Tenant) {
				tn.Status = tenantstore.StatusSuspended
				mustUpdate(t, store, tn)
			},
			host: "%s.example.com",
			want: func(got *tenantstore.Tenant, err error) bool {
				return err == nil && got.Status == tenantstore.StatusSuspended
			},
			what: "the suspended tenant",
		},
		{
			name: "rename invalidates the old host", warm: []string{"%s.example.com"},
			change: func(t *testing.T, tn *tenantstore.Tenant) {
				tn.Subdomain += "-new"
				mustUpdate(t, store, tn)
			},
			host: "%s.example.com", want: isNotFound, what: "ErrNotFound for the old host",
		},
		{
			name: "rename serves the new host", warm: []string{"%s-new.example.com"},
			change: func(t *testing.T, tn *tenantstore.Tenant) {
				tn.Subdomain += "-new"
				mustUpdate(t, store, tn)
			},
			host: "%s-new.example.com",
			want: func(got *tenantstore.Tenant, err error) bool { return err == nil },
			what: "the renamed tenant",
		},
		{
			name: "delete", warm: []string{"%s.example.com"},
			change: func(t *testing.T, tn *tenantstore.Tenant) {
				if err := store.Delete(ctx, tn.ID); err != nil {
					t.Fatalf("Delete: %v", err)
				}
			},
			host: "%s.example.com", want: isNotFound, what: "ErrNotFound",
		},
		{
			name: "custom domain verified", warm: []string{"shop.%s.test"},
			change: func(t *testing.T, tn *tenantstore.Tenant) {
				host := "shop." + tn.Subdomain + ".test"
				if _, err := store.AddDomain(ctx, tn.ID, host); err != nil {
					t.Fatalf("AddDomain: %v", err)
				}
				if _, err := store.MarkDomainVerified(ctx, tn.ID, host); err != nil {
					t.Fatalf("MarkDomainVerified: %v", err)
				}
			},
			host: "shop.%s.test",
			want: func(got *tenantstore.Tenant, err error) bool { return err == nil },
			what: "the tenant",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := fmt.Sprintf("change%d", i)
			tn := insertTenant(t, store, sub)
			for _, h := range tt.warm {
				host := fmt.Sprintf(h, sub)
				_, _ = reader.ResolveHost(ctx, host)
				_, _ = writer.ResolveHost(ctx, host)
			}
			tt.change(t, tn)
			host := fmt.Sprintf(tt.host, sub)
			// The writer sees its own change at once; the reader within 1 s.
			if got, err := writer.ResolveHost(ctx, host); !tt.want(got, err) {
				t.Errorf("writer: ResolveHost(%s) = %+v, %v right after the change; want %s", host, got, err, tt.what)
			}
			resolveUntil(t, reader, host, changeLimit, tt.what, tt.want)
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Errorf("reader's OnChange was never called")
	}
}

func mustUpdate(t *testing.T, s *tenantstore.Store, tn *tenantstore.Tenant) {
	t.Helper()
	if err := s.Update(context.Background(), tn); err != nil {
		t.Fatalf("Update(%s): %v", tn.Subdomain, err)
	}
}

func TestPublisherInvalidatesResolvers(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	store := newStore(t, "")
	cfg := testConfig(t)
	rdb := newRedisClient(t, testenv.RedisURL())
	r := startResolver(t, cfg, store, rdb)
	// tenantctl: a store whose notifier only publishes.
	store.SetNotifier(mustPublisher(t, rdb, cfg))
	tn := insertTenant(t, store, "acme")
	if got, err := r.ResolveID(ctx, tn.ID); err != nil || got.MaxUsers != 5 {
		t.Fatalf("ResolveID() = %+v, %v; want max users 5", got, err)
	}
	tn.MaxUsers = 9
	mustUpdate(t, store, tn)
	deadline := time.Now().Add(changeLimit)
	for {
		got, err := r.ResolveID(ctx, tn.ID)
		if err == nil && got.MaxUsers == 9 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ResolveID() = %+v, %v after %v; want max users 9", got, err, changeLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRedisHoldsNoSecret: tenants with a role password and with an explicit
// URL holding a password, resolved by host and by id and answered from
// Redis by another resolver: no key under the prefix holds a password or a
// URL with credentials, the answers carry none either, and DatabaseURLs
// gives the appserver the full URL from the control plane (SPEC §9).
func TestRedisHoldsNoSecret(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	store := newStore(t, "")
	cfg := testConfig(t)
	acme := insertTenant(t, store, "acme") // template placement, role password pw-acme
	globex := insertTenant(t, store, "globex")
	globex.Placement = tenantstore.Placement{URL: "postgres://app:url-secret@db.internal:5432/sales_globex?sslmode=disable"}
	mustUpdate(t, store, globex)

	first := startResolver(t, cfg, store, newRedisClient(t, testenv.RedisURL()))
	for _, tn := range []*tenantstore.Tenant{acme, globex} {
		if _, err := first.ResolveHost(ctx, tn.Subdomain+".example.com"); err != nil {
			t.Fatalf("ResolveHost(%s): %v", tn.Subdomain, err)
		}
		if _, err := first.ResolveID(ctx, tn.ID); err != nil {
			t.Fatalf("ResolveID(%s): %v", tn.Subdomain, err)
		}
	}
	counting := newCountingSource(store)
	second := startResolver(t, cfg, counting, newRedisClient(t, testenv.RedisURL()))
	urls, err := NewDatabaseURLs(DatabaseURLsConfig{Source: store, URL: func(tn *tenantstore.Tenant) (string, error) {
		if tn.Placement.URL != "" {
			return tn.Placement.URL, nil
		}
		return "postgres://" + tn.Placement.RoleName + ":" + tn.Placement.RolePassword + "@db/" + tn.DatabaseName, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(urls.Close)
	for _, tt := range []struct {
		tn      *tenantstore.Tenant
		wantURL string
	}{
		{acme, "postgres://sales_acme:pw-acme@db/sales_acme"},
		{globex, globex.Placement.URL},
	} {
		got, err := second.ResolveHost(ctx, tt.tn.Subdomain+".example.com")
		if err != nil {
			t.Fatalf("second ResolveHost(%s): %v", tt.tn.Subdomain, err)
		}
		if got.Placement.RolePassword != "" || got.Placement.URL != "" {
			t.Errorf("tenant %s from Redis has role password %q and URL %q, want neither", tt.tn.Subdomain,
				got.Placement.RolePassword, tenantstore.RedactURL(got.Placement.URL))
		}
		if u, err := urls.URL(ctx, got); err != nil || u != tt.wantURL {
			t.Errorf("DatabaseURLs.URL(%s) = %q, %v; want the URL with its password from the control plane",
				tt.tn.Subdomain, tenantstore.RedactURL(u), err)
		}
	}
	if n := counting.total.Load(); n != 0 {
		t.Errorf("source queries of the second resolver = %d, want 0 (answered by Redis)", n)
	}
	keys := scanPrefix(t, cfg.KeyPrefix)
	if len(keys) < 4 {
		t.Fatalf("keys under %s = %v, want the tenants' host and id entries", cfg.KeyPrefix, keys)
	}
	for key, val := range keys {
		if why := secretIn(val, "pw-acme", "pw-globex", "url-secret"); why != "" {
			t.Errorf("Redis %s holds %s: %q", key, why, val)
		}
	}
}

func TestFloodOfUnknownHostsCostsOneQueryEach(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	store := newStore(t, "")
	insertTenant(t, store, "acme")
	cfg := testConfig(t)
	counting := newCountingSource(store)
	const hosts = 1000
	hostName := func(i int) string {
		if i%2 == 1 { // half unknown custom domains, half unknown subdomains
			return fmt.Sprintf("ghost%d.attacker.test", i)
		}
		return fmt.Sprintf("ghost%d.example.com", i)
	}
	flood := func(r *Resolver, workers, rounds int) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for round := range rounds {
					for i := range hosts {
						host := hostName((i + w*hosts/workers) % hosts) // workers start apart
						if _, err := r.ResolveHost(ctx, host); !errors.Is(err, tenantstore.ErrNotFound) {
							t.Errorf("round %d: ResolveHost(%s) error = %v, want ErrNotFound", round, host, err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
	}

	// One edge process, flooded by concurrent clients, several times over.
	first := startResolver(t, cfg, counting, newRedisClient(t, testenv.RedisURL()))
	flood(first, 8, 3)
	if key, n := counting.maxPerKey(); n > 1 {
		t.Errorf("source queries for %s = %d, want at most 1 within the negative TTL", key, n)
	}
	if n := counting.total.Load(); n != hosts {
		t.Errorf("source queries for %d unknown hosts = %d, want %d", hosts, n, hosts)
	}
	// Another process, same flood: Redis holds the negative answers.
	second := startResolver(t, cfg, counting, newRedisClient(t, testenv.RedisURL()))
	flood(second, 8, 1)
	if n := counting.total.Load(); n != hosts {
		t.Errorf("source queries after a second process's flood = %d, want still %d (answered by Redis)", n, hosts)
	}
}

func TestOutdatedLoadCannotRepopulateRedis(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	store := newStore(t, "")
	cfg := testConfig(t)
	rdb := newRedisClient(t, testenv.RedisURL())
	tn := insertTenant(t, store, "acme")
	old := *tn
	// Not started: only the Redis guard stands between the outdated answer
	// and the cache.
	r, err := New(cfg, store, rdb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	gen := r.mem.gen.Load() // a load begins and reads the old tenant…

	tn.Status = tenantstore.StatusSuspended // …the tenant changes…
	mustUpdate(t, store, tn)
	if err := mustPublisher(t, rdb, cfg).Notify(ctx, tenantstore.Change{TenantID: tn.ID, Subdomains: []string{"acme"}}); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	r.toRedis(ctx, kindHost, "acme.example.com", &old, gen) // …and the load writes back.

	for _, key := range []string{r.cfg.redisKey(kindHost, "acme.example.com"), r.cfg.redisKey(kindID, tn.ID)} {
		if got, err := rdb.Get(ctx, key).Result(); err != nil || !isTombstone(cfg, key, got) {
			t.Errorf("Redis %s = %q, %v after an outdated write-back; want the tombstone", key, got, err)
		}
	}
	if got, err := r.ResolveHost(ctx, "acme.example.com"); err != nil || got.Status != tenantstore.StatusSuspended {
		t.Errorf("ResolveHost(acme) = %+v, %v; want the suspended tenant", got, err)
	}
}
