package latency

import (
	"testing"
	"time"
)

func TestIndexFallsInsideBounds(t *testing.T) {
	for _, d := range []time.Duration{0, 1, Unit - 1, Unit, Unit + 1, 3 * Unit / 2, 2 * Unit, 3 * Unit, time.Millisecond,
		7 * time.Millisecond, 100 * time.Millisecond, time.Second, 30 * time.Second, 60 * time.Second} {
		i := Index(d)
		lo, hi := Bounds(i)
		if d < lo || d >= hi {
			t.Errorf("Index(%v) = %d with bounds [%v, %v), want d inside", d, i, lo, hi)
		}
	}
	if got := Index(time.Hour); got != Buckets-1 {
		t.Errorf("Index(1h) = %d, want the last bucket %d", got, Buckets-1)
	}
}

func TestBucketsAreContiguous(t *testing.T) {
	for i := 1; i < Buckets; i++ {
		_, prevHi := Bounds(i - 1)
		lo, _ := Bounds(i)
		if lo != prevHi {
			t.Errorf("Bounds(%d).lo = %v, want Bounds(%d).hi = %v", i, lo, i-1, prevHi)
		}
	}
}

func TestQuantileOfMergedHistograms(t *testing.T) {
	var a, b []int64
	a = make([]int64, Buckets)
	b = make([]int64, Buckets)
	for range 98 {
		a[Index(2*time.Millisecond)]++
	}
	b[Index(2*time.Millisecond)]++
	b[Index(900*time.Millisecond)]++
	h := Add(Add(nil, a), b)
	p50 := Quantile(h, 0.5)
	if lo, hi := Bounds(Index(2 * time.Millisecond)); p50 < lo || p50 >= hi {
		t.Errorf("p50 = %v, want inside [%v, %v)", p50, lo, hi)
	}
	p99 := Quantile(h, 0.99)
	if p99 > 4*time.Millisecond {
		t.Errorf("p99 of 99×2ms + 1×900ms = %v, want about 2ms", p99)
	}
	if got := Quantile(h, 1); got < 600*time.Millisecond {
		t.Errorf("p100 = %v, want about 900ms", got)
	}
	if got := Quantile(nil, 0.5); got != 0 {
		t.Errorf("Quantile(empty) = %v, want 0", got)
	}
}
