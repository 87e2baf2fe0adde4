package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkColdEdgeFirstHandshake: 1,000 certificates (tls internal) are in
// storage, issued by a warm edge; each iteration starts a new edge and
// measures its first handshake for every one of them, one at a time.
// p50-ms and p99-ms are over those 1,000 first handshakes.
func BenchmarkColdEdgeFirstHandshake(b *testing.B) {
	const n = 1000
	f := newFleet(b, "", "internal", map[string]string{})
	warm := f.start("warm")
	warm.waitReady(b)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("c%04d.tenants.example.com", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := warm.handshake(ctx, name); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	var all []time.Duration
	i := 0
	for b.Loop() {
		cold := f.start(fmt.Sprintf("cold%d", i))
		cold.waitReady(b)
		for _, name := range names {
			start := time.Now()
			if _, err := cold.handshake(ctx, name); err != nil {
				b.Fatal(err)
			}
			all = append(all, time.Since(start))
		}
		i++
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(all[len(all)-1])/float64(time.Millisecond), "max-ms")
}
