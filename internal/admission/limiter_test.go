package admission

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable monotonic clock in nanoseconds.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() int64              { return c.ns.Load() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestTableRateAndBurst(t *testing.T) {
	tests := []struct {
		name      string
		limits    Limits
		wantFirst int           // admitted back to back at one instant
		wantWait  time.Duration // the wait told to the first refused
	}{
		{"5/s burst 5", Limits{Rate: 5, Burst: 5}, 5, 200 * time.Millisecond},
		{"5/s burst 1", Limits{Rate: 5, Burst: 1}, 1, 200 * time.Millisecond},
		{"burst defaults to a second of rate", Limits{Rate: 3}, 3, time.Second / 3},
		{"fractional rate", Limits{Rate: 0.5}, 1, 2 * time.Second},
		{"unlimited", Limits{}, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{}
			c.advance(time.Hour)
			tab := NewTable[struct{}](c.now)
			admitted := 0
			var wait time.Duration
			for range 100 {
				k, d, w := tab.Acquire("acme", "acme", tt.limits)
				if d == Admitted {
					admitted++
					k.Release()
					continue
				}
				if d != RateLimited {
					t.Fatalf("Acquire = %v, want Admitted or RateLimited", d)
				}
				if wait == 0 {
					wait = w
				}
			}
			if admitted != tt.wantFirst {
				t.Errorf("admitted %d of 100 at once, want %d", admitted, tt.wantFirst)
			}
			if wait != tt.wantWait {
				t.Errorf("first refusal's wait = %v, want %v", wait, tt.wantWait)
			}
			if tt.wantWait == 0 {
				return
			}
			// After the wait told, exactly one more is admitted.
			c.advance(wait)
			if _, d, _ := tab.Acquire("acme", "acme", tt.limits); d != Admitted {
				t.Errorf("Acquire after the wait = %v, want Admitted", d)
			}
			if _, d, _ := tab.Acquire("acme", "acme", tt.limits); d != RateLimited {
				t.Errorf("second Acquire after the wait = %v, want RateLimited", d)
			}
		})
	}
}

func TestTableKeysAreIndependent(t *testing.T) {
	c := &clock{}
	tab := NewTable[struct{}](c.now)
	l := Limits{Rate: 1, Burst: 1}
	if _, d, _ := tab.Acquire("noisy", "noisy", l); d != Admitted {
		t.Fatalf("noisy first = %v", d)
	}
	if _, d, _ := tab.Acquire("noisy", "noisy", l); d != RateLimited {
		t.Fatalf("noisy second = %v, want RateLimited", d)
	}
	if _, d, _ := tab.Acquire("quiet", "quiet", l); d != Admitted {
		t.Errorf("quiet = %v while noisy is limited, want Admitted", d)
	}
}

func TestTableInFlightCap(t *testing.T) {
	tab := NewTable[struct{}](nil)
	l := Limits{MaxInFlight: 3}
	var held []*Key[struct{}]
	for i := range 3 {
		k, d, _ := tab.Acquire("acme", "acme", l)
		if d != Admitted {
			t.Fatalf("Acquire %d = %v, want Admitted", i, d)
		}
		held = append(held, k)
	}
	if _, d, _ := tab.Acquire("acme", "acme", l); d != InFlightLimited {
		t.Fatalf("fourth Acquire = %v, want InFlightLimited", d)
	}
	held[0].Release()
	if _, d, _ := tab.Acquire("acme", "acme", l); d != Admitted {
		t.Errorf("Acquire after a Release = %v, want Admitted", d)
	}
	// Raising the cap applies to the next request: limits are read per call.
	if _, d, _ := tab.Acquire("acme", "acme", Limits{MaxInFlight: 4}); d != Admitted {
		t.Errorf("Acquire under a raised cap = %v, want Admitted", d)
	}
}

func TestTableSweep(t *testing.T) {
	c := &clock{}
	tab := NewTable[struct{}](c.now)
	l := Limits{Rate: 1, Burst: 1}
	busy, _, _ := tab.Acquire("busy", "busy", l) // held: in flight
	k, _, _ := tab.Acquire("idle", "idle", l)
	k.Release()
	tab.Sweep(nil) // both seen since the last sweep: both stay
	if n := tab.Len(); n != 2 {
		t.Fatalf("Len after first sweep = %d, want 2", n)
	}
	c.advance(2 * time.Second) // idle's bucket is full again
	seen := map[string]int64{}
	tab.Sweep(func(k *Key[struct{}], n int64) { seen[k.Label] = n })
	if _, ok := seen["idle"]; ok || tab.Len() != 1 {
		t.Errorf("after the second sweep keys = %v (Len %d), want only busy", seen, tab.Len())
	}
	// The in-flight count survives sweeps: releasing it then makes it idle.
	if got := busy.InFlight(); got != 1 {
		t.Errorf("busy in flight = %d, want 1", got)
	}
	busy.Release()
	tab.Sweep(nil)
	if n := tab.Len(); n != 0 {
		t.Errorf("Len after everything went idle = %d, want 0", n)
	}
	// A swept key comes back fresh.
	if _, d, _ := tab.Acquire("idle", "idle", l); d != Admitted {
		t.Errorf("Acquire of a swept key = %v, want Admitted", d)
	}
}

// TestTableConcurrentCapHolds races acquirers, releasers and the sweeper:
// the in-flight cap is never exceeded.
func TestTableConcurrentCapHolds(t *testing.T) {
	tab := NewTable[struct{}](nil)
	const limit = 4
	var cur, peak atomic.Int64
	stop := make(chan struct{})
	var sweeper sync.WaitGroup
	sweeper.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				tab.Sweep(nil)
			}
		}
	})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 2000 {
				k, d, _ := tab.Acquire("acme", "acme", Limits{MaxInFlight: limit})
				if d != Admitted {
					continue
				}
				n := cur.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				cur.Add(-1)
				k.Release()
			}
		})
	}
	wg.Wait()
	close(stop)
	sweeper.Wait()
	if p := peak.Load(); p > limit {
		t.Errorf("peak in flight = %d, want at most %d", p, limit)
	}
}

// BenchmarkTableAcquireParallel is the per-request cost of a tenant's
// limits under parallel load: many keys, rate and cap on.
func BenchmarkTableAcquireParallel(b *testing.B) {
	tab := NewTable[struct{}](nil)
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = time.Duration(i).String()
	}
	l := Limits{Rate: 1e6, Burst: 1e6, MaxInFlight: 1000}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			id := ids[i%len(ids)]
			i++
			k, d, _ := tab.Acquire(id, id, l)
			if d == Admitted {
				k.Release()
			}
		}
	})
}
