package appserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/internal/testenv"
)

// Tests of the pool manager under the whole server: token, session, handler.

// closedPortURL is a database URL nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "postgres://postgres@" + addr + "/nothing?sslmode=disable"
}

// countConnections counts server connections to the test's tenant databases.
func countConnections(ctx context.Context, conn *pgx.Conn, prefix string) (int, error) {
	var n int
	err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname LIKE $1 || '%'`, prefix).Scan(&n)
	return n, err
}

func TestPoolsBudgetUnderLoad(t *testing.T) {
	const tenants, maxPools, maxConns = 50, 10, 4
	e := newEnv(t, tenantpool.Config{MaxPools: maxPools, MaxConns: maxConns})
	fixtures := make([]*tenantFixture, tenants)
	for i := range fixtures {
		fixtures[i] = e.addTenant(fmt.Sprintf("t%02d", i), 10)
	}
	admin := testenv.Admin(t)
	ctx, cancel := context.WithCancel(context.Background())
	var peak, peakOpen atomic.Int64
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for ctx.Err() == nil {
			n, err := countConnections(ctx, admin, e.prefix)
			if err == nil && int64(n) > peak.Load() {
				peak.Store(int64(n))
			}
			if o := int64(e.srv.Pools().Stats().Open); o > peakOpen.Load() {
				peakOpen.Store(o)
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	var wg sync.WaitGroup
	var failures atomic.Int64
	for w := range 40 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 25 {
				f := fixtures[rng.IntN(tenants)]
				r := e.do(f, call{method: "GET", path: "/api/customers"})
				if r.Status != 200 {
					failures.Add(1)
					t.Errorf("GET /api/customers on %s under load = %d %s, want 200", f.Subdomain, r.Status, r.Raw)
				}
			}
		})
	}
	wg.Wait()
	cancel()
	sampler.Wait()
	if budget := int64(maxPools * maxConns); peak.Load() > budget {
		t.Errorf("peak connections to tenant databases = %d, want ≤ %d (MAX_TENANT_POOLS × TENANT_POOL_MAX_CONNS)", peak.Load(), budget)
	}
	if peakOpen.Load() > maxPools {
		t.Errorf("peak open pools = %d, want ≤ %d", peakOpen.Load(), maxPools)
	}
	st := e.srv.Pools().Stats()
	if st.EvictedLRU == 0 {
		t.Errorf("LRU evictions under load over %d tenants = 0, want some", tenants)
	}
	t.Logf("peak connections %d, peak pools %d, opens %d, LRU evictions %d", peak.Load(), peakOpen.Load(), st.Opens, st.EvictedLRU)
}

func TestUnreachableTenantFailsFast(t *testing.T) {
	e := newEnv(t, tenantpool.Config{BreakerRetry: time.Hour})
	good := e.addTenant("good", 10)
	bad := e.addTenant("bad", 10)
	down := *bad.Tenant
	down.Placement.URL = closedPortURL(t)
	e.dir.put(&down)

	const deadline = 100 * time.Millisecond
	for i := range 5 {
		start := time.Now()
		r := e.do(bad, call{method: "GET", path: "/api/customers"})
		took := time.Since(start)
		if r.Status != 503 || r.errorCode() != "tenant_database_unavailable" {
			t.Fatalf("request %d to a tenant with its database down = %d %s, want 503 tenant_database_unavailable", i, r.Status, r.Raw)
		}
		if took > deadline {
			t.Errorf("request %d to a tenant with its database down took %v, want ≤ %v", i, took, deadline)
		}
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
	if st := e.srv.Pools().Stats(); st.OpenFailures != 1 || st.BreakersOpen != 1 {
		t.Errorf("after 5 requests to a down tenant: open failures %d, breakers open %d; want 1, 1 (breaker fails the rest fast)", st.OpenFailures, st.BreakersOpen)
	}
	e.must(200, e.do(good, call{method: "GET", path: "/api/customers"}), "the other tenant")

	t.Run("database refusing connections under an open pool", func(t *testing.T) {
		e.must(200, e.do(good, call{method: "GET", path: "/api/customers"}), "warm")
		admin := testenv.Admin(t)
		ctx := context.Background()
		db := pgx.Identifier{good.DatabaseName}.Sanitize()
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" WITH ALLOW_CONNECTIONS false"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = admin.Exec(ctx, "ALTER DATABASE "+db+" WITH ALLOW_CONNECTIONS true") })
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", good.DatabaseName); err != nil {
			t.Fatal(err)
		}
		// The first request may see the dead connection; within a few the
		// breaker must be open and answers fast.
		var last response
		for range 3 {
			last = e.do(good, call{method: "GET", path: "/api/customers"})
		}
		if last.Status != 503 || last.errorCode() != "tenant_database_unavailable" {
			t.Fatalf("request to a database refusing connections = %d %s, want 503 tenant_database_unavailable", last.Status, last.Raw)
		}
		start := time.Now()
		r := e.do(good, call{method: "GET", path: "/api/customers"})
		if took := time.Since(start); r.Status != 503 || took > deadline {
			t.Errorf("next request = %d in %v, want 503 within %v", r.Status, took, deadline)
		}
		// Fixing the database and telling the server (as the invalidation
		// message does) serves the tenant again at once.
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" WITH ALLOW_CONNECTIONS true"); err != nil {
			t.Fatal(err)
		}
		e.srv.Pools().Invalidate(good.ID)
		e.must(200, e.do(good, call{method: "GET", path: "/api/customers"}), "after recovery")
	})
}

func TestUnreachableTenantDoesNotSlowOthers(t *testing.T) {
	// A database that accepts TCP but never answers: the worst case, an open
	// that waits for its connect timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	e := newEnv(t, tenantpool.Config{ConnectTimeout: 2 * time.Second, BreakerRetry: time.Hour})
	good := e.addTenant("good", 10)
	bad := e.addTenant("bad", 10)
	down := *bad.Tenant
	down.Placement.URL = "postgres://postgres@" + l.Addr().String() + "/x?sslmode=disable"
	e.dir.put(&down)
	e.must(200, e.do(good, call{method: "GET", path: "/api/customers"}), "warm")

	badDone := make(chan response, 1)
	go func() { badDone <- e.do(bad, call{method: "GET", path: "/api/customers"}) }()
	waitFor(t, 2*time.Second, "the hanging open to start", func() bool { return e.srv.Pools().Stats().Open == 2 })
	// While the bad tenant's open hangs (up to its 2 s connect timeout),
	// the other tenant is served: its answer comes first.
	for range 3 {
		e.must(200, e.do(good, call{method: "GET", path: "/api/customers"}), "other tenant while one database hangs")
	}
	select {
	case r := <-badDone:
		t.Fatalf("the hanging tenant answered (%d) before the other tenant's requests were served", r.Status)
	default:
	}
	if r := <-badDone; r.Status != 503 {
		t.Errorf("request to a hanging database = %d, want 503", r.Status)
	}
	start := time.Now()
	r := e.do(bad, call{method: "GET", path: "/api/customers"})
	if took := time.Since(start); r.Status != 503 || took > 100*time.Millisecond {
		t.Errorf("request after the failed open = %d in %v, want 503 within 100ms (breaker)", r.Status, took)
	}
}

// With TENANT_CONNS_MAX spent on one tenant's busy connection, another
// tenant's API request and page wait TENANT_CONNS_WAIT, then get 503
// tenant_database_busy with Retry-After; once the connection is free, they
// are served (no breaker opened).
func TestFullConnectionBudgetAnswersBusy(t *testing.T) {
	e := newEnv(t, tenantpool.Config{MaxConns: 1, ConnsMax: 1, ConnsWait: 100 * time.Millisecond})
	acme := e.addTenant("acme", 10)
	globex := e.addTenant("globex", 10)
	ctx := context.Background()
	l, err := e.srv.Pools().Acquire(ctx, acme.ID, acme.Placement.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := l.Pool().Acquire(ctx) // the budget's only connection, in use
	if err != nil {
		t.Fatal(err)
	}

	r := e.do(globex, call{method: "GET", path: "/api/customers"})
	if r.Status != http.StatusServiceUnavailable || r.errorCode() != "tenant_database_busy" {
		t.Errorf("API request with the budget full = %d %s, want 503 tenant_database_busy", r.Status, r.Raw)
	}
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("API busy Retry-After = %q, want 1", got)
	}
	p := e.do(globex, pageCall(globex, http.MethodGet, "/customers", nil, globex.Session))
	if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Header.Get("Content-Type"), "text/html") {
		t.Errorf("page with the budget full = %d (%s), want a 503 HTML page", p.Status, p.Header.Get("Content-Type"))
	}
	if got := p.Header.Get("Retry-After"); got != "1" {
		t.Errorf("page busy Retry-After = %q, want 1", got)
	}

	conn.Release()
	l.Release()
	e.must(http.StatusOK, e.do(globex, call{method: "GET", path: "/api/customers"}), "the other tenant once the connection is free")
	if st := e.srv.Pools().Stats(); st.BreakersOpen != 0 || st.Budget.Timeouts < 2 {
		t.Errorf("after two busy refusals: %d breakers open, %d budget timeouts; want 0, ≥ 2", st.BreakersOpen, st.Budget.Timeouts)
	}
}
