package tenantpool

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after 10s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A tenant with fifty waiting connections and one with a single waiter:
// the lone one is served second, not after the fifty.
func TestBudgetServesTenantsRoundRobin(t *testing.T) {
	b := NewBudget(BudgetConfig{Max: 1, Wait: time.Hour})
	ctx := context.Background()
	if err := b.acquire(ctx, "holder"); err != nil {
		t.Fatal(err)
	}
	served := make(chan string, 64)
	enqueue := func(tenant string) {
		n := b.waiting.Load()
		go func() {
			if err := b.acquire(ctx, tenant); err != nil {
				t.Errorf("acquire(%s) = %v", tenant, err)
			}
			served <- tenant
		}()
		// One at a time, so that the queue's order is the test's.
		waitFor(t, tenant+" to queue", func() bool { return b.waiting.Load() == n+1 })
	}
	for range 50 {
		enqueue("busy")
	}
	enqueue("lone")

	var order []string
	for range 51 {
		b.release() // hands the token to the next waiter
		order = append(order, <-served)
	}
	pos := -1
	for i, tenant := range order {
		if tenant == "lone" {
			pos = i
		}
	}
	if pos != 1 {
		t.Errorf("the lone tenant was served %d-th of 51 (after %d of the busy tenant's 50 waiters), want 2nd", pos+1, pos)
	}
	if st := b.Stats(); st.InUse != 1 || st.Waiting != 0 || st.Waits != 51 {
		t.Errorf("after serving every waiter: %+v, want 1 in use, 0 waiting, 51 waits", st)
	}
}

func TestBudgetWaitIsBounded(t *testing.T) {
	b := NewBudget(BudgetConfig{Max: 1, Wait: 50 * time.Millisecond})
	ctx := context.Background()
	if err := b.acquire(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	err := b.acquire(ctx, "b")
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("acquire with the budget full = %v, want ErrBusy", err)
	}
	if !strings.Contains(err.Error(), "TENANT_CONNS_MAX 1") {
		t.Errorf("ErrBusy = %q, want it to name TENANT_CONNS_MAX", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.acquire(canceled, "b"); !errors.Is(err, ErrBusy) {
		t.Errorf("acquire whose context ended while waiting = %v, want ErrBusy (a full budget, not a database fault)", err)
	}
	if st := b.Stats(); st.Timeouts != 2 || st.Waiting != 0 || st.InUse != 1 {
		t.Errorf("after two failed waits: %+v, want 2 timeouts, nobody waiting, 1 in use", st)
	}
	b.release()
	if err := b.acquire(ctx, "b"); err != nil {
		t.Errorf("acquire after a release = %v, want the free token", err)
	}
}

// backends counts the server's connections to database name.
func backends(t *testing.T, name string) int {
	t.Helper()
	var n int
	if err := testenv.Admin(t).QueryRow(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func databaseName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// Twenty tenants (sharing one database, so one count covers them all), each
// with a pool of 4, hammered by 60 goroutines: never more than the budget's
// 6 connections on the server, every query served, no token left behind.
func TestBudgetNeverExceededUnderLoad(t *testing.T) {
	testenv.Integration(t)
	dsn := testenv.NewDatabase(t)
	name := databaseName(t, dsn)
	const budget, tenants, workers = 6, 20, 60
	p := New(Config{MaxConns: 4, ConnsMax: budget, ConnsWait: time.Minute})
	admin := testenv.Admin(t)
	ctx, stop := context.WithCancel(context.Background())
	var peak, peakInUse atomic.Int64
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for ctx.Err() == nil {
			var n int64
			if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, name).Scan(&n); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			if u := int64(p.Stats().Budget.InUse); u > peakInUse.Load() {
				peakInUse.Store(u)
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	var wg sync.WaitGroup
	var served atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for i := range 15 {
				tenant := fmt.Sprint("t", (w*7+i)%tenants)
				l, err := p.Acquire(context.Background(), tenant, dsn)
				if err != nil {
					t.Errorf("Acquire(%s) = %v", tenant, err)
					return
				}
				_, err = l.Pool().Exec(context.Background(), "SELECT pg_sleep(0.005)")
				l.Release()
				if err != nil {
					t.Errorf("query of %s = %v", tenant, err)
					return
				}
				served.Add(1)
			}
		})
	}
	wg.Wait()
	stop()
	sampler.Wait()
	if peak.Load() > budget || peakInUse.Load() > budget {
		t.Errorf("peak connections on the server %d, peak tokens in use %d; want both ≤ the budget %d", peak.Load(), peakInUse.Load(), budget)
	}
	if served.Load() != workers*15 {
		t.Errorf("served %d queries of %d", served.Load(), workers*15)
	}
	if st := p.Stats().Budget; st.Waits == 0 {
		t.Errorf("budget stats %+v: nobody waited, so the test did not fill the budget", st)
	}
	p.Close()
	if st := p.Stats().Budget; st.InUse != 0 {
		t.Errorf("tokens in use after Close = %d, want 0 (a token leaked)", st.InUse)
	}
	waitFor(t, "the server connections to close", func() bool { return backends(t, name) == 0 })
}

// Tenant A keeps the whole budget in idle connections; tenant B needs one:
// A's idle connections are closed and B is served within the wait.
func TestBudgetReclaimsIdleConnectionsOfOtherTenants(t *testing.T) {
	testenv.Integration(t)
	dsn := testenv.NewDatabase(t)
	ctx := context.Background()
	// The idle timeout is far away: only the budget can close A's idle
	// connections within B's wait.
	p := New(Config{MaxConns: 3, ConnsMax: 3, ConnsWait: 5 * time.Second, IdleTimeout: time.Hour})
	defer p.Close()
	a, err := p.Acquire(ctx, "a", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var held []*pgxpool.Conn
	for range 3 {
		c, err := a.Pool().Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		c.Release()
	}
	a.Release()
	// Released connections reach the idle list from a goroutine of pgxpool.
	waitFor(t, "tenant a's 3 connections to be idle", func() bool { return a.Pool().Stat().IdleConns() == 3 })

	bl, err := p.Acquire(ctx, "b", dsn)
	if err != nil {
		t.Fatalf("tenant b with the budget full of a's idle connections: %v", err)
	}
	defer bl.Release()
	if _, err := bl.Pool().Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("query of tenant b: %v", err)
	}
	if n := a.Pool().Stat().TotalConns(); n == 3 {
		t.Errorf("tenant a still holds %d connections, want its idle ones closed for b", n)
	}
	if st := p.Stats().Budget; st.Reclaims == 0 || st.Timeouts != 0 || st.InUse > 3 {
		t.Errorf("budget stats %+v, want a reclaim, no timeout, at most 3 in use", st)
	}
}

// A full budget answers ErrBusy, never ErrUnavailable, and opens no breaker:
// the tenant's next request, once there is room, is served.
func TestBudgetBusyIsNotUnavailable(t *testing.T) {
	testenv.Integration(t)
	dsn := testenv.NewDatabase(t)
	ctx := context.Background()
	p := New(Config{MaxConns: 1, ConnsMax: 1, ConnsWait: 100 * time.Millisecond, BreakerRetry: time.Hour})
	defer p.Close()
	a, err := p.Acquire(ctx, "a", dsn)
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Pool().Acquire(ctx) // a's only connection, in use: nothing to reclaim
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Acquire(ctx, "b", dsn)
	if !errors.Is(err, ErrBusy) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("opening b's pool with the budget full = %v, want ErrBusy and not ErrUnavailable", err)
	}
	c.Release()
	a.Release()
	l, err := p.Acquire(ctx, "b", dsn)
	if err != nil {
		t.Fatalf("b after a's connection was released = %v, want served (no breaker for a busy budget)", err)
	}
	defer l.Release()
	if st := p.Stats(); st.BreakersOpen != 0 || st.OpenFailures != 0 {
		t.Errorf("after a busy refusal: %d breakers open, %d open failures; want 0, 0", st.BreakersOpen, st.OpenFailures)
	}
}

// A connection that fails to open gives its token back.
func TestBudgetFailedConnectReturnsToken(t *testing.T) {
	ctx := context.Background()
	p := New(Config{ConnsMax: 2})
	defer p.Close()
	bad := closedPortURL(t)
	for i := range 3 {
		if _, err := p.Acquire(ctx, fmt.Sprint("down", i), bad); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Acquire of a down database = %v, want ErrUnavailable", err)
		}
	}
	if st := p.Stats().Budget; st.InUse != 0 || st.Timeouts != 0 {
		t.Errorf("after 3 failed connects with a budget of 2: %+v, want 0 in use and no timeout", st)
	}
}

func TestCapacityPlanFits(t *testing.T) {
	pg := ServerLimits{MaxConnections: 100, SuperuserReserved: 3}
	cases := []struct {
		name string
		plan CapacityPlan
		want bool
	}{
		{"make run's defaults", CapacityPlan{Appservers: 2, Budget: 25, PerAppserver: 12, Margin: 16}, true},
		{"exactly the available 97", CapacityPlan{Appservers: 2, Budget: 30, PerAppserver: 12, Margin: 13}, true},
		{"one over", CapacityPlan{Appservers: 2, Budget: 30, PerAppserver: 12, Margin: 14}, false},
		{"the old 200 pools × 4", CapacityPlan{Appservers: 2, Budget: 800, PerAppserver: 12, Margin: 16}, false},
		{"three appservers at 25", CapacityPlan{Appservers: 3, Budget: 25, PerAppserver: 12, Margin: 16}, false},
	}
	for _, tc := range cases {
		if got := tc.plan.Fits(pg); got != tc.want {
			t.Errorf("%s: need %d of %d available: Fits = %v, want %v", tc.name, tc.plan.Need(), pg.Available(), got, tc.want)
		}
	}
	if got := (ServerLimits{MaxConnections: 100, SuperuserReserved: 3, Reserved: 5}).Available(); got != 92 {
		t.Errorf("Available with 5 reserved_connections = %d, want 92", got)
	}
}

func TestReadServerLimits(t *testing.T) {
	testenv.Integration(t)
	ctx := context.Background()
	l, err := ReadServerLimits(ctx, testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	var want int
	if err := testenv.Admin(t).QueryRow(ctx, "SELECT setting::int FROM pg_settings WHERE name = 'max_connections'").Scan(&want); err != nil {
		t.Fatal(err)
	}
	if l.MaxConnections != want || l.SuperuserReserved < 0 || l.Available() > want {
		t.Errorf("ReadServerLimits = %+v, want max_connections %d and no more available", l, want)
	}
	if _, err := ReadServerLimits(ctx, closedPortURL(t)); err == nil {
		t.Error("ReadServerLimits of a closed port succeeded")
	}
}
