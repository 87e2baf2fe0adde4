package resolver

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// BenchmarkResolveHostMemoryHit is the hot path: 10,000 tenants cached, every
// goroutine resolving hosts spread over all of them.
func BenchmarkResolveHostMemoryHit(b *testing.B) {
	const tenants = 10_000
	src := newFakeSource()
	hosts := make([]string, tenants)
	for i := range tenants {
		tn := newTenant(fmt.Sprintf("tenant%05d", i))
		src.put(tn)
		hosts[i] = tn.Subdomain + ".example.com"
	}
	r := newMemoryResolver(b, src, Config{MaxEntries: 2 * tenants})
	ctx := context.Background()
	for _, h := range hosts {
		if _, err := r.ResolveHost(ctx, h); err != nil {
			b.Fatalf("warming %s: %v", h, err)
		}
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := r.ResolveHost(ctx, hosts[i]); err != nil {
				b.Errorf("ResolveHost(%s): %v", hosts[i], err)
				return
			}
			if i++; i == len(hosts) {
				i = 0
			}
		}
	})
	b.StopTimer()
	// ns/op is wall time and grows when other processes take the CPUs;
	// CPU time per lookup (this process, all threads) does not.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if misses := r.Stats().Misses; misses > uint64(tenants) {
		b.Errorf("memory misses during the benchmark = %d, want none after warming", misses-uint64(tenants))
	}
}

// BenchmarkResolveHostRedisHit measures a memory miss answered by Redis
// (each iteration first drops the host from memory).
func BenchmarkResolveHostRedisHit(b *testing.B) {
	testenv.Integration(b)
	store := newStore(b, "")
	tn := insertTenant(b, store, "acme")
	r := startResolver(b, testConfig(b), store, newRedisClient(b, testenv.RedisURL()))
	ctx := context.Background()
	host := "acme.example.com"
	if _, err := r.ResolveHost(ctx, host); err != nil { // fills Redis
		b.Fatal(err)
	}
	queries := r.Stats().SourceQueries
	b.ReportAllocs()
	for b.Loop() {
		r.mem.hosts.Invalidate(host)
		got, err := r.ResolveHost(ctx, host)
		if err != nil || got.ID != tn.ID {
			b.Fatalf("ResolveHost(%s) = %v, %v", host, got, err)
		}
	}
	b.StopTimer()
	// Should be 0; a Redis call slower than RedisTimeout (a loaded machine)
	// falls through to the source.
	b.ReportMetric(float64(r.Stats().SourceQueries-queries)/float64(b.N), "source-queries/op")
}

// BenchmarkResolveHostSourceMiss measures a full miss: memory and Redis
// empty, answered by PostgreSQL and written back to Redis (each iteration
// first drops the host from memory and deletes its Redis key).
func BenchmarkResolveHostSourceMiss(b *testing.B) {
	testenv.Integration(b)
	store := newStore(b, "")
	tn := insertTenant(b, store, "acme")
	cfg := testConfig(b)
	rdb := newRedisClient(b, testenv.RedisURL())
	r := startResolver(b, cfg, store, rdb)
	ctx := context.Background()
	host := "acme.example.com"
	key := r.cfg.redisKey(kindHost, host)
	queries := r.Stats().SourceQueries
	b.ReportAllocs()
	for b.Loop() {
		r.mem.hosts.Invalidate(host)
		rdb.Del(ctx, key)
		got, err := r.ResolveHost(ctx, host)
		if err != nil || got.ID != tn.ID {
			b.Fatalf("ResolveHost(%s) = %v, %v", host, got, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(r.Stats().SourceQueries-queries)/float64(b.N), "source-queries/op")
}

// cpuTime returns the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
