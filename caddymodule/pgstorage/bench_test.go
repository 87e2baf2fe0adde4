package pgstorage

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkLoad measures Load of a certificate-sized value (3 KiB, sealed
// with AES-256-GCM) from the real PostgreSQL; p50-ms and p99-ms are the
// per-call latency percentiles.
func BenchmarkLoad(b *testing.B) {
	url := newDB(b)
	s := &Storage{b: open(b, url, testKey, DefaultLockLease, DefaultLockPollInterval)}
	ctx := context.Background()
	value := make([]byte, 3<<10)
	_, _ = rand.Read(value)
	const names = 100
	for i := range names {
		if err := s.Store(ctx, certKey(i), value); err != nil {
			b.Fatal(err)
		}
	}
	var durations []time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := s.Load(ctx, certKey(i%names)); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
		i++
	}
	reportPercentiles(b, durations)
}

// BenchmarkLockUnlock measures an uncontended TryLock + Unlock pair.
func BenchmarkLockUnlock(b *testing.B) {
	url := newDB(b)
	s := &Storage{b: open(b, url, "", DefaultLockLease, DefaultLockPollInterval)}
	ctx := context.Background()
	for b.Loop() {
		if ok, err := s.TryLock(ctx, "issue_cert_bench"); !ok || err != nil {
			b.Fatal(ok, err)
		}
		if err := s.Unlock(ctx, "issue_cert_bench"); err != nil {
			b.Fatal(err)
		}
	}
}

func certKey(i int) string {
	n := fmt.Sprintf("t%04d.example.com", i)
	return "certificates/acme-v02.api.letsencrypt.org-directory/" + n + "/" + n + ".crt"
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	pct := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
