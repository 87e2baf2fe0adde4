package tenantpool

import (
	"context"
	"fmt"
	"testing"

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
