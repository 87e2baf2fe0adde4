package resolver

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestPlanChangeReachesEveryResolverWithinOneSecond: two resolvers (two
// appservers or edges) have the plan's tenants cached; a plan change made
// by a third process (tenantctl: a publisher only) reaches both within a
// second, for every tenant on the plan, through the usual invalidations;
// an override still wins, and a tenant on another plan is untouched.
func TestPlanChangeReachesEveryResolverWithinOneSecond(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	store := newStore(t, "")
	cfg := testConfig(t)
	a := startResolver(t, cfg, store, newRedisClient(t, testenv.RedisURL()))
	b := startResolver(t, cfg, store, newRedisClient(t, testenv.RedisURL()))
	store.SetNotifier(mustPublisher(t, newRedisClient(t, testenv.RedisURL()), cfg))
	var mu sync.Mutex
	planOnly := map[string]bool{}
	b.OnChange(func(c tenantstore.Change) { mu.Lock(); planOnly[c.TenantID] = c.PlanOnly; mu.Unlock() })

	on := []*tenantstore.Tenant{insertTenant(t, store, "p1"), insertTenant(t, store, "p2")}
	keeps := insertTenant(t, store, "p3")
	keeps.FeatureOverrides = map[string]bool{tenantstore.FeatureReports: true}
	mustUpdate(t, store, keeps)
	free := insertTenant(t, store, "p4")
	free.Plan = "free"
	mustUpdate(t, store, free)
	all := append(on, keeps, free)
	for _, r := range []*Resolver{a, b} {
		for _, tn := range all {
			got, err := r.ResolveHost(ctx, tn.Subdomain+".example.com")
			if err != nil {
				t.Fatal(err)
			}
			if got.Plan != tn.Plan {
				t.Fatalf("%s resolved on plan %q, want %q", tn.Subdomain, got.Plan, tn.Plan)
			}
		}
	}

	plan, err := store.GetPlan(ctx, "standard")
	if err != nil {
		t.Fatal(err)
	}
	plan.Features[tenantstore.FeatureReports] = false
	rate := 3.0
	plan.Limits.RatePerSecond = &rate
	if err := store.SavePlan(ctx, plan, false); err != nil {
		t.Fatal(err)
	}
	saved := time.Now()
	reportsOff := func(got *tenantstore.Tenant, err error) bool {
		return err == nil && !got.FeatureEnabled(tenantstore.FeatureReports) &&
			got.EffectiveLimits().RatePerSecond != nil && *got.EffectiveLimits().RatePerSecond == 3
	}
	for name, r := range map[string]*Resolver{"a": a, "b": b} {
		for _, tn := range on {
			resolveUntil(t, r, tn.Subdomain+".example.com", time.Until(saved.Add(changeLimit)), "reports off and rate 3 on resolver "+name, reportsOff)
		}
		// Same deadline, already past: the override and the other plan hold.
		if got, err := r.ResolveHost(ctx, keeps.Subdomain+".example.com"); err != nil || !got.FeatureEnabled(tenantstore.FeatureReports) {
			t.Errorf("resolver %s: %s (reports overridden on) = %+v, %v; want reports on", name, keeps.Subdomain, got, err)
		}
		if got, err := r.ResolveHost(ctx, free.Subdomain+".example.com"); err != nil || got.Plan != "free" || *got.EffectiveLimits().RatePerSecond != 5 {
			t.Errorf("resolver %s: %s on free = %+v, %v; want free's rate 5", name, free.Subdomain, got, err)
		}
	}
	// Subscribers hear the changes as plan-only: appservers keep the pools.
	mu.Lock()
	defer mu.Unlock()
	for _, tn := range on {
		if !planOnly[tn.ID] {
			t.Errorf("OnChange for %s: PlanOnly = false (or not heard), want true", tn.Subdomain)
		}
	}
}
