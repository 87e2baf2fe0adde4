package tenantpool

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// BenchmarkAcquireWarm is the cost every request pays: a lease on a pool
// that is open already.
func BenchmarkAcquireWarm(b *testing.B) {
	testenv.Integration(b)
	url := testenv.NewDatabase(b)
	ctx := context.Background()
	p := New(Config{})
	defer p.Close()
	l, err := p.Acquire(ctx, "t", url)
	if err != nil {
		b.Fatal(err)
	}
	l.Release()
	b.ReportAllocs()
	for b.Loop() {
		l, err := p.Acquire(ctx, "t", url)
		if err != nil {
			b.Fatal(err)
		}
		l.Release()
	}
}

// BenchmarkAcquireWarmParallel is the warm lease under contention for the
// manager's lock, spread over 16 tenants sharing one database.
func BenchmarkAcquireWarmParallel(b *testing.B) {
	testenv.Integration(b)
	url := testenv.NewDatabase(b)
	ctx := context.Background()
	p := New(Config{})
	defer p.Close()
	const tenants = 16
	for i := range tenants {
		l, err := p.Acquire(ctx, fmt.Sprint(i), url)
		if err != nil {
			b.Fatal(err)
		}
		l.Release()
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l, err := p.Acquire(ctx, fmt.Sprint(i%tenants), url)
			if err != nil {
				b.Error(err)
				return
			}
			l.Release()
			i++
		}
	})
}

// BenchmarkAcquireBreakerOpen is what a tenant whose database is down
// costs while its breaker is open: a refusal without a connect attempt.
func BenchmarkAcquireBreakerOpen(b *testing.B) {
	ctx := context.Background()
	p := New(Config{BreakerRetry: 1 << 40})
	defer p.Close()
	bad := closedPortURL(b)
	if _, err := p.Acquire(ctx, "down", bad); err == nil {
		b.Fatal("Acquire of a closed port succeeded")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Acquire(ctx, "down", bad); err == nil {
			b.Fatal("Acquire with the breaker open succeeded")
		}
	}
}

// BenchmarkConnAcquire is one query's connection round trip (Acquire and
// Release of a warm connection) on a plain pgxpool and on a pool under the
// budget, whose hooks add an AfterRelease check (run by pgxpool in a
// goroutine).
func BenchmarkConnAcquire(b *testing.B) {
	testenv.Integration(b)
	url := testenv.NewDatabase(b)
	ctx := context.Background()
	for _, withBudget := range []bool{false, true} {
		name := "plain"
		if withBudget {
			name = "budget"
		}
		b.Run(name, func(b *testing.B) {
			cfg, err := pgxpool.ParseConfig(url)
			if err != nil {
				b.Fatal(err)
			}
			cfg.MaxConns = 4
			if withBudget {
				NewBudget(BudgetConfig{}).hook(cfg, "t")
			}
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			b.ReportAllocs()
			for b.Loop() {
				c, err := pool.Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				c.Release()
			}
		})
	}
}

// BenchmarkBudgetToken is the budget's own cost per new connection when
// there is room: a token taken and given back.
func BenchmarkBudgetToken(b *testing.B) {
	bd := NewBudget(BudgetConfig{Max: 10})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := bd.acquire(ctx, "t"); err != nil {
			b.Fatal(err)
		}
		bd.release()
	}
}
