package admission

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// queueUp starts n Acquires of key on s and waits until they are queued;
// each reports its result on the returned channel in the order granted.
func queueUp(t *testing.T, s *Shedder, key string, n int, order chan<- string) {
	t.Helper()
	before := s.Queued()
	for range n {
		go func() {
			if err := s.Acquire(context.Background(), key); err == nil {
				order <- key
			} else {
				order <- key + ":" + err.Error()
			}
		}()
		synctest.Wait()
	}
	if got := s.Queued(); got != before+int64(n) {
		t.Fatalf("queued = %d, want %d", got, before+int64(n))
	}
}

// TestShedderServesKeysInTurn: a key with 50 waiting does not keep one with
// a single waiter from the next free slots.
func TestShedderServesKeysInTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShedder(1, 100, time.Hour)
		if err := s.Acquire(context.Background(), "noisy"); err != nil {
			t.Fatal(err)
		}
		order := make(chan string, 100)
		queueUp(t, s, "noisy", 50, order)
		queueUp(t, s, "quiet", 1, order)
		for i := 0; ; i++ {
			s.Release()
			synctest.Wait()
			if got := <-order; got == "quiet" {
				if i > 1 {
					t.Errorf("quiet admitted after %d releases, want at most 2", i+1)
				}
				break
			}
		}
		if got := s.InFlight(); got != 1 {
			t.Errorf("in flight = %d, want 1", got)
		}
		time.Sleep(2 * time.Hour) // the rest time out
	})
}

func TestShedderTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShedder(1, 10, 100*time.Millisecond)
		if err := s.Acquire(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := s.Acquire(context.Background(), "b")
		if !errors.Is(err, ErrOverloaded) {
			t.Fatalf("Acquire with every slot held = %v, want ErrOverloaded", err)
		}
		if waited := time.Since(start); waited != 100*time.Millisecond {
			t.Errorf("waited %v, want the queue timeout 100ms", waited)
		}
		if q := s.Queued(); q != 0 {
			t.Errorf("queued after the timeout = %d, want 0", q)
		}
	})
}

// TestShedderFullQueuePushesOutTheLongest: when the queue is full, a key
// with fewer waiting takes the place of the newest of the key with most.
func TestShedderFullQueuePushesOutTheLongest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShedder(1, 4, time.Hour)
		if err := s.Acquire(context.Background(), "noisy"); err != nil {
			t.Fatal(err)
		}
		order := make(chan string, 10)
		queueUp(t, s, "noisy", 4, order)
		// Full: another noisy one is refused at once.
		if err := s.Acquire(context.Background(), "noisy"); !errors.Is(err, ErrOverloaded) {
			t.Fatalf("noisy Acquire on a full queue = %v, want ErrOverloaded", err)
		}
		go func() {
			if err := s.Acquire(context.Background(), "quiet"); err == nil {
				order <- "quiet"
			}
		}()
		synctest.Wait()
		if got := <-order; got != "noisy:overloaded" {
			t.Errorf("pushed out = %q, want a noisy waiter refused", got)
		}
		if q := s.Queued(); q != 4 {
			t.Errorf("queued = %d, want 4", q)
		}
		s.Release()
		synctest.Wait()
		s.Release()
		synctest.Wait()
		got := []string{<-order, <-order}
		if got[0] != "quiet" && got[1] != "quiet" {
			t.Errorf("first two admitted = %v, want quiet among them", got)
		}
		time.Sleep(2 * time.Hour) // the rest time out
	})
}

// TestShedderClientGoneLeavesQueue: a waiter whose context ends leaves the
// queue and holds no slot.
func TestShedderClientGoneLeavesQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShedder(1, 10, time.Hour)
		if err := s.Acquire(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Acquire(ctx, "b") }()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire after cancel = %v, want context.Canceled", err)
		}
		if q, n := s.Queued(), s.InFlight(); q != 0 || n != 1 {
			t.Errorf("queued %d, in flight %d; want 0 and 1", q, n)
		}
		s.Release()
		if err := s.Acquire(context.Background(), "c"); err != nil {
			t.Errorf("Acquire after release = %v, want nil", err)
		}
	})
}

func TestShedderOff(t *testing.T) {
	s := NewShedder(0, 0, 0)
	for range 1000 {
		if err := s.Acquire(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.InFlight(); n != 1000 {
		t.Errorf("in flight = %d, want 1000 (counted, not bounded)", n)
	}
}

// TestShedderConcurrentBoundHolds races many acquirers of a few keys: the
// bound holds, every Acquire ends, and nothing is left queued or held.
func TestShedderConcurrentBoundHolds(t *testing.T) {
	const limit = 3
	s := NewShedder(limit, 8, 20*time.Millisecond)
	var cur, peak, admitted, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			key := []string{"a", "b", "c", "d"}[g%4]
			for range 300 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(g%3)*time.Millisecond+time.Millisecond)
				err := s.Acquire(ctx, key)
				cancel()
				if err != nil {
					refused.Add(1)
					continue
				}
				admitted.Add(1)
				n := cur.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(50 * time.Microsecond)
				cur.Add(-1)
				s.Release()
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > limit {
		t.Errorf("peak in flight = %d, want at most %d", p, limit)
	}
	if s.InFlight() != 0 || s.Queued() != 0 {
		t.Errorf("after everything ended: in flight %d, queued %d; want 0, 0", s.InFlight(), s.Queued())
	}
	if admitted.Load() == 0 {
		t.Errorf("nothing admitted (refused %d)", refused.Load())
	}
}

// BenchmarkShedderUncontended is the cost of Acquire and Release while
// slots are free: what every request pays with shedding on.
func BenchmarkShedderUncontended(b *testing.B) {
	s := NewShedder(1<<20, 0, time.Second)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Acquire(ctx, "acme"); err != nil {
				b.Fatal(err)
			}
			s.Release()
		}
	})
}
