package tenantstore

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// TestCheckProgress: Check calls CheckOptions.Progress once per tenant as
// each finishes, one call at a time even when tenants are checked in
// parallel, so a caller's counter needs no lock.
func TestCheckProgress(t *testing.T) {
	s := newTestStore(t)
	tmpl, _ := DefaultTemplate(testenv.PostgresURL())
	m, err := NewManager(ManagerConfig{Store: s, DSN: DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }},
		DatabasePrefix: testenv.TenantPrefix(t), BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ctx := context.Background()
	subs := []string{"alpha", "beta", "gamma", "delta"}
	for _, sub := range subs {
		if _, _, err := m.Create(ctx, CreateRequest{Name: sub, Subdomain: sub, AdminEmail: "a@example.com", AdminPassword: "given-password"}); err != nil {
			t.Fatalf("Create(%s): %v", sub, err)
		}
	}
	var inFlight, overlaps atomic.Int32
	var seen []string // unguarded on purpose: -race reports concurrent calls
	results := m.Check(ctx, CheckOptions{Parallel: len(subs), Progress: func(r CheckResult) {
		if inFlight.Add(1) > 1 {
			overlaps.Add(1)
		}
		time.Sleep(5 * time.Millisecond) // widen the window a second call would hit
		seen = append(seen, r.Subdomain)
		if r.Err != nil || r.Latency <= 0 {
			t.Errorf("Progress(%+v), want a reachable tenant with its latency", r)
		}
		inFlight.Add(-1)
	}})
	if len(results) != len(subs) {
		t.Fatalf("Check = %d results, want %d", len(results), len(subs))
	}
	slices.Sort(seen)
	if want := slices.Sorted(slices.Values(subs)); !slices.Equal(seen, want) {
		t.Errorf("Progress saw %v, want each of %v once", seen, want)
	}
	if n := overlaps.Load(); n > 0 {
		t.Errorf("Progress was called %d times while another call ran, want one at a time", n)
	}
	if r := m.Check(ctx, CheckOptions{}); len(r) != len(subs) {
		t.Errorf("Check without Progress = %d results, want %d", len(r), len(subs))
	}
}
