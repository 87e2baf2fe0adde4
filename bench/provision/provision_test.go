// Package provision measures tenant provisioning and the migration check on
// the real PostgreSQL. It asserts nothing; run it by hand:
//
//	go test ./bench/provision -run '^$' -bench . -benchtime 20x
//
// BenchmarkCreate creates one tenant per iteration (after a first create
// that builds the template database) and reports p50/p95 create time;
// BenchmarkMigrateCheck200 provisions 200 tenants, then times
// Manager.Migrate with Check over all of them (what `tenantctl migrate
// --check` does). Targets on the 2-core dev machine: create ≤ 400 ms p50,
// check ≤ 2 s.
package provision

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

func newManager(b *testing.B) *tenantstore.Manager {
	return newManagerPrefix(b, testenv.TenantPrefix(b))
}

// newManagerPrefix returns a Manager creating databases under prefix.
func newManagerPrefix(b *testing.B, prefix string) *tenantstore.Manager {
	b.Helper()
	testenv.Integration(b)
	ctx := context.Background()
	store, err := tenantstore.Open(ctx, testenv.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(store.Close)
	tmpl, err := tenantstore.DefaultTemplate(testenv.PostgresURL())
	if err != nil {
		b.Fatal(err)
	}
	m, err := tenantstore.NewManager(tenantstore.ManagerConfig{Store: store,
		DSN:            tenantstore.DSNConfig{Template: tmpl, Getenv: func(string) string { return "" }},
		DatabasePrefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Close)
	return m
}

func create(ctx context.Context, m *tenantstore.Manager, sub string) error {
	_, _, err := m.Create(ctx, tenantstore.CreateRequest{Name: "Org " + sub, Subdomain: sub, AdminEmail: "admin@" + sub + ".test"})
	return err
}

func BenchmarkCreate(b *testing.B) {
	m := newManager(b)
	ctx := context.Background()
	start := time.Now()
	if err := create(ctx, m, "warmup"); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "first-create-ms")
	var took []time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		t0 := time.Now()
		if err := create(ctx, m, fmt.Sprintf("bench-%d", i)); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t0))
	}
	slices.Sort(took)
	b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
	b.ReportMetric(ms(took[min(len(took)-1, len(took)*95/100)]), "p95-ms")
}

func BenchmarkMigrateCheck200(b *testing.B) {
	const tenants = 200
	prefix := testenv.TenantPrefix(b)
	// Dropping 200 databases outlasts testenv's clean-up deadline: drop them
	// first, in parallel, with time to spare (clean-ups run last-in first-out).
	b.Cleanup(func() { dropAll(b, prefix) })
	m := newManagerPrefix(b, prefix)
	ctx := context.Background()
	if err := create(ctx, m, "t-0"); err != nil { // builds the template
		b.Fatal(err)
	}
	var next atomic.Int64
	var firstErr atomic.Value
	setup := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { setup <- struct{}{} }()
			for n := next.Add(1); n < tenants; n = next.Add(1) {
				if err := create(ctx, m, fmt.Sprintf("t-%d", n)); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	for range 4 {
		<-setup
	}
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		results, err := m.Migrate(ctx, tenantstore.MigrateOptions{Check: true})
		if err != nil || len(results) != tenants {
			b.Fatalf("Migrate(check) = %d results, %v; want %d", len(results), err, tenants)
		}
		for _, r := range results {
			if !r.OK() {
				b.Fatalf("tenant %s not up to date: %+v", r.Subdomain, r)
			}
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// dropAll drops every database and role starting with prefix.
func dropAll(b *testing.B, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, testenv.PostgresURL())
	if err != nil {
		b.Errorf("cleanup: %v", err)
		return
	}
	defer pool.Close()
	for _, q := range []struct{ list, drop string }{
		{"SELECT datname FROM pg_database WHERE starts_with(datname, $1)", "DROP DATABASE IF EXISTS %s WITH (FORCE)"},
		{"SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)", "DROP ROLE IF EXISTS %s"},
	} {
		rows, _ := pool.Query(ctx, q.list, prefix)
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			b.Errorf("cleanup: %v", err)
			return
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for _, n := range names {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if _, err := pool.Exec(ctx, fmt.Sprintf(q.drop, pgx.Identifier{n}.Sanitize())); err != nil {
					b.Errorf("cleanup: dropping %s: %v", n, err)
				}
			})
		}
		wg.Wait()
	}
}
