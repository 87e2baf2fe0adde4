package loginlimit

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

var rule = Rule{Max: 3, Window: time.Minute}

// attempts makes n attempts on key and returns how many were refused.
func attempts(t *testing.T, l *Limiter, n int, keys ...Key) (refused int) {
	t.Helper()
	for range n {
		err := l.Attempt(context.Background(), keys...)
		var le *LimitedError
		switch {
		case err == nil:
		case errors.As(err, &le) && errors.Is(err, ErrLimited):
			if le.RetryAfter <= 0 || le.RetryAfter > rule.Window {
				t.Errorf("RetryAfter = %v, want within (0, %v]", le.RetryAfter, rule.Window)
			}
			refused++
		default:
			t.Fatalf("Attempt = %v, want nil or a *LimitedError", err)
		}
	}
	return refused
}

func TestLimiter(t *testing.T) {
	testenv.Integration(t)
	shared := func(t *testing.T) (*Limiter, *Limiter) {
		prefix, rdb := testenv.KeyPrefix(t), testenv.Redis(t)
		return New(Config{Redis: rdb, KeyPrefix: prefix}), New(Config{Redis: rdb, KeyPrefix: prefix})
	}
	tests := []struct {
		name  string
		pair  func(t *testing.T) (*Limiter, *Limiter)
		share bool // the two limiters see each other's attempts
	}{
		{"redis, shared by two processes", shared, true},
		{"memory only", func(*testing.T) (*Limiter, *Limiter) { return New(Config{}), New(Config{}) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.pair(t)
			k := Key{Name: "acct:x", Rule: rule}
			if got := attempts(t, a, 2, k); got != 0 {
				t.Fatalf("2 attempts under a rule of 3: %d refused, want 0", got)
			}
			want := 0
			if tc.share {
				want = 1
			}
			if got := attempts(t, b, 2, k); got != want {
				t.Errorf("2 more attempts on the other limiter: %d refused, want %d", got, want)
			}
			if got := attempts(t, a, 2, k); got != want+1 {
				t.Errorf("2 more attempts on the first limiter: %d refused, want %d", got, want+1)
			}
			// A success gives its attempt back; failures stay counted.
			other := Key{Name: "acct:y", Rule: rule}
			for range 5 {
				if err := a.Attempt(context.Background(), other); err != nil {
					t.Fatalf("attempt before success: %v", err)
				}
				a.Succeeded(context.Background(), other)
			}
			if got := attempts(t, a, 3, other); got != 0 {
				t.Errorf("3 attempts after 5 successes: %d refused, want 0", got)
			}
			// Any key over its rule refuses the attempt.
			if got := attempts(t, a, 1, Key{Name: "ip:1", Rule: rule}, k); got != 1 {
				t.Errorf("attempt with one key over its rule: %d refused, want 1", got)
			}
		})
	}
}

// TestLimiterRedisDown: with Redis unreachable the limiter counts in
// memory, and says so.
func TestLimiterRedisDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	var failures atomic.Int32
	lim := New(Config{Redis: rdb, KeyPrefix: "x:", OnRedisError: func(error) { failures.Add(1) }})
	if got := attempts(t, lim, 5, Key{Name: "acct:z", Rule: rule}); got != 2 {
		t.Errorf("5 attempts under a rule of 3 with Redis down: %d refused, want 2", got)
	}
	if failures.Load() == 0 {
		t.Error("OnRedisError was not called with Redis down")
	}
}

// TestLimiterLocalOverflow: a flood of distinct keys beyond MaxLocalKeys
// shares one counter instead of going unlimited.
func TestLimiterLocalOverflow(t *testing.T) {
	lim := New(Config{MaxLocalKeys: 10})
	refused := 0
	for i := range 30 {
		refused += attempts(t, lim, 1, Key{Name: "acct:" + string(rune('a'+i)), Rule: rule})
	}
	if refused != 30-10-rule.Max {
		t.Errorf("30 distinct keys, 10 slots, rule of 3: %d refused, want %d", refused, 30-10-rule.Max)
	}
}
