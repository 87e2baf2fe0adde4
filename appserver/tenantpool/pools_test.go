package tenantpool

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// closedPortURL is a database URL nothing listens on.
func closedPortURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "postgres://postgres@" + addr + "/nothing?sslmode=disable"
}

func TestPoolsManager(t *testing.T) {
	testenv.Integration(t)
	url := testenv.NewDatabase(t)
	ctx := context.Background()

	t.Run("concurrent first acquires open once", func(t *testing.T) {
		p := New(Config{})
		defer p.Close()
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				l, err := p.Acquire(ctx, "t1", url)
				if err != nil {
					t.Errorf("Acquire = %v", err)
					return
				}
				defer l.Release()
				if err := l.Pool().Ping(ctx); err != nil {
					t.Errorf("Ping = %v", err)
				}
			})
		}
		wg.Wait()
		if st := p.Stats(); st.Opens != 1 || st.Open != 1 {
			t.Errorf("after 20 concurrent first acquires: opens %d, open %d; want 1, 1", st.Opens, st.Open)
		}
	})

	t.Run("a pool in use is never closed for another tenant", func(t *testing.T) {
		p := New(Config{MaxPools: 1})
		defer p.Close()
		a, err := p.Acquire(ctx, "a", url)
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, err := p.Acquire(short, "b", url); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire(b) while the only pool is in use = %v, want to wait until its deadline", err)
		}
		if err := a.Pool().Ping(ctx); err != nil {
			t.Fatalf("the held pool was closed under its holder: %v", err)
		}
		done := make(chan error, 1)
		go func() {
			l, err := p.Acquire(ctx, "b", url)
			if err == nil {
				l.Release()
			}
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		a.Release()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Acquire(b) after a's release = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Acquire(b) still waiting 5s after a's release")
		}
		if st := p.Stats(); st.EvictedLRU != 1 || st.Open != 1 {
			t.Errorf("after b replaced a: LRU evictions %d, open %d; want 1, 1", st.EvictedLRU, st.Open)
		}
	})

	t.Run("least recently used idle pool closes first", func(t *testing.T) {
		p := New(Config{MaxPools: 2})
		defer p.Close()
		for _, id := range []string{"a", "b", "a", "c"} { // b is least recent when c arrives
			l, err := p.Acquire(ctx, id, url)
			if err != nil {
				t.Fatal(err)
			}
			l.Release()
		}
		p.mu.Lock()
		_, hasA := p.entries["a"]
		_, hasB := p.entries["b"]
		p.mu.Unlock()
		if !hasA || hasB {
			t.Errorf("after a, b, a, c with 2 slots: a open %v, b open %v; want a kept, b closed", hasA, hasB)
		}
	})

	t.Run("database URL change reopens", func(t *testing.T) {
		p := New(Config{})
		defer p.Close()
		l, err := p.Acquire(ctx, "t", url)
		if err != nil {
			t.Fatal(err)
		}
		old := l.Pool()
		l.Release()
		l, err = p.Acquire(ctx, "t", url+"&application_name=moved")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		if l.Pool() == old {
			t.Error("Acquire with a new URL returned the old pool")
		}
		if st := p.Stats(); st.Opens != 2 || st.EvictedChange != 1 || st.Open != 1 {
			t.Errorf("after a URL change: opens %d, changed evictions %d, open %d; want 2, 1, 1", st.Opens, st.EvictedChange, st.Open)
		}
	})

	t.Run("invalidate while in use closes after release", func(t *testing.T) {
		p := New(Config{})
		defer p.Close()
		l, err := p.Acquire(ctx, "t", url)
		if err != nil {
			t.Fatal(err)
		}
		p.Invalidate("t")
		if err := l.Pool().Ping(ctx); err != nil {
			t.Fatalf("pool closed under its holder after Invalidate: %v", err)
		}
		l.Release()
		if st := p.Stats(); st.Open != 0 {
			t.Errorf("open pools after the invalidated pool's release = %d, want 0", st.Open)
		}
	})

	t.Run("idle pools close after the idle timeout", func(t *testing.T) {
		p := New(Config{IdleTimeout: 40 * time.Millisecond})
		defer p.Close()
		l, err := p.Acquire(ctx, "t", url)
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
		deadline := time.Now().Add(3 * time.Second)
		for p.Stats().Open != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("idle pool still open 3s after a 40ms idle timeout")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if st := p.Stats(); st.EvictedIdle != 1 {
			t.Errorf("idle evictions = %d, want 1", st.EvictedIdle)
		}
	})

	t.Run("breaker retries after its interval", func(t *testing.T) {
		now := time.Now()
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		p := New(Config{BreakerRetry: 5 * time.Second, Now: clock})
		defer p.Close()
		bad := closedPortURL(t)
		for range 3 {
			if _, err := p.Acquire(ctx, "t", bad); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Acquire of a down database = %v, want ErrUnavailable", err)
			}
		}
		if st := p.Stats(); st.OpenFailures != 1 {
			t.Errorf("open attempts within the retry interval = %d, want 1", st.OpenFailures)
		}
		mu.Lock()
		now = now.Add(6 * time.Second)
		mu.Unlock()
		if _, err := p.Acquire(ctx, "t", bad); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Acquire after the interval = %v, want ErrUnavailable", err)
		}
		if st := p.Stats(); st.OpenFailures != 2 {
			t.Errorf("open attempts after the retry interval = %d, want 2", st.OpenFailures)
		}
		if err := func() error { l, err := p.Acquire(ctx, "other", url); l.Release(); return err }(); err != nil {
			t.Errorf("another tenant while one breaker is open = %v", err)
		}
	})

	t.Run("closed manager refuses", func(t *testing.T) {
		p := New(Config{})
		p.Close()
		p.Close()
		if _, err := p.Acquire(ctx, "t", url); !errors.Is(err, ErrClosed) {
			t.Errorf("Acquire after Close = %v, want ErrClosed", err)
		}
	})

	t.Run("errors carry no password", func(t *testing.T) {
		p := New(Config{})
		defer p.Close()
		u := strings.Replace(closedPortURL(t), "postgres@", "postgres:s3cret@", 1)
		_, err := p.Acquire(ctx, "t", u)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Acquire error = %v, want an error without the password", err)
		}
	})
}
